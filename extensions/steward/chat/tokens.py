"""Quick-add's explicit tokens: the item-type prefix, `#project`, `@label`, `p1`-`p4`, durations.

These are marked by syntax rather than by meaning, so they are taken first and everywhere except
inside protected text: "double-quoted phrases", URLs and e-mail addresses, which stay in the title
untouched. A token must start the text or follow a space, one of `( [ { , ; : - |` or another
token, so "C#", "anna@example.com" and "mp3" are never tokens. `take_marked` repeats until
nothing new is found, and runs again after the dates are taken, so removing a token never leaves
a new one in the title ("#a#b", "tomorrow!!1").
"""

from __future__ import annotations

import re

from steward.chat.scan import Scanner

_LEFT = r"(?:^|(?<=[\s(\[{,;:\-–—|)\]}\x00]))"
_NAME_STOP = r"\s\"“”#@,;()\[\]{}!?\x00"
_NAME = rf"[^{_NAME_STOP}]+"
_GIVE_BACK = ".:'’-"

PROTECTED = re.compile(
    r"https?://[^\s\x00]+|www\.[^\s\x00]+|[\w.+-]+@[\w-]+\.[\w.-]+|\"[^\"]*\"|“[^”]*”",
    re.IGNORECASE,
)
TYPE_PREFIX = re.compile(r"^\s*(?P<word>task|todo|note|idea|event|person|contact|project)\s*:\s*", re.IGNORECASE)
_TYPES = {"todo": "task", "contact": "person"}
QUOTED_PROJECT = re.compile(r"#\"(?P<name>[^\"]*)\"")
PROJECT = re.compile(_LEFT + rf"#(?P<name>{_NAME})")
LABEL = re.compile(_LEFT + rf"@(?P<name>{_NAME})")
PRIORITY = re.compile(_LEFT + r"(?:p(?P<p>[1-4])|!!(?P<bang>[1-4]))(?=$|[\s,;:.!?()\[\]{}\-–—|\x00])", re.IGNORECASE)
ALL_DAY = re.compile(r"\ball[\s-]day\b", re.IGNORECASE)
_LETTER = re.compile(r"[^\W\d_]")

_MIN = r"m|mins?|minutes?"
_HOUR = r"h|hrs?|hours?"
DURATION = re.compile(
    r"(?<![\w.,:/])(?:for\s+)?(?:"
    rf"(?P<h>\d{{1,3}}(?:[.,]\d{{1,2}})?)\s*(?:{_HOUR})(?:\s*(?P<hm>\d{{1,2}})\s*(?:{_MIN})?)?"
    rf"|(?P<m>\d{{1,4}})\s*(?:{_MIN})"
    r")(?![\w:/])"
    r"|\bfor\s+(?P<words>an?\s+hour\s+and\s+a\s+half|half\s+an\s+hour|an?\s+hour|one\s+hour"
    r"|a\s+quarter\s+of\s+an\s+hour|an?\s+half\s+hour)\b",
    re.IGNORECASE,
)
MAX_DURATION_MINUTES = 7 * 24 * 60


def protect(scanner: Scanner) -> None:
    """Hide quoted phrases, URLs and e-mail addresses from every later recogniser."""
    for match in PROTECTED.finditer(scanner.masked):
        scanner.protect(match.start(), match.end())


def take_type(scanner: Scanner) -> str | None:
    """`note: ...`, `idea: ...`, `event: ...`, `person: ...`, `project: ...`, `task: ...` at the start."""
    match = TYPE_PREFIX.match(scanner.masked)
    if not match:
        return None
    item_type = _TYPES.get(match["word"].lower(), match["word"].lower())
    scanner.claim("type", match.start(), match.end(), item_type)
    return item_type


def _name(match: re.Match[str]) -> tuple[str, int] | None:
    """The token's name with trailing punctuation given back, and where the token then ends."""
    name = match["name"].rstrip(_GIVE_BACK)
    if not _LETTER.search(name):
        return None
    return name, match.start("name") + len(name)


def take_quoted_projects(scanner: Scanner) -> None:
    """`#"Client X"` tokens, taken before quoted text is protected."""
    for match in QUOTED_PROJECT.finditer(scanner.masked):
        name = " ".join(match["name"].split())
        if 0 < len(name) <= 80 and scanner.is_free(match.start(), match.end()):
            scanner.claim("project", match.start(), match.end(), name)


def _take_projects(scanner: Scanner) -> int:
    found = 0
    for match in PROJECT.finditer(scanner.masked):
        named = _name(match)
        if named and scanner.is_free(match.start(), named[1]):
            scanner.claim("project", match.start(), named[1], named[0])
            found += 1
    return found


def _take_labels(scanner: Scanner) -> int:
    found = 0
    for match in LABEL.finditer(scanner.masked):
        named = _name(match)
        if named and scanner.is_free(match.start(), named[1]):
            scanner.claim("label", match.start(), named[1], named[0])
            found += 1
    return found


def _take_priorities(scanner: Scanner) -> int:
    found = scanner.claim_first_free("priority", PRIORITY.finditer(scanner.masked), lambda m: f"p{m['p'] or m['bang']}")
    return len(found)


def take_marked(scanner: Scanner) -> None:
    """Claim `#project`, `@label` and `p1`-`p4` tokens until no new one appears."""
    for _ in range(len(scanner.text) + 1):
        if not (_take_projects(scanner) + _take_labels(scanner) + _take_priorities(scanner)):
            return


def marked(scanner: Scanner) -> tuple[list[str], list[str], list[str]]:
    """Projects, labels (de-duplicated case-insensitively) and priorities, in text order."""
    projects: list[str] = []
    labels: list[str] = []
    priorities: list[str] = []
    for claim in sorted(scanner.claims, key=lambda c: c.start):
        if claim.kind == "project":
            projects.append(claim.value)
        elif claim.kind == "priority":
            priorities.append(claim.value)
        elif claim.kind == "label" and claim.value.lower() not in {label.lower() for label in labels}:
            labels.append(claim.value)
    return projects, labels, priorities


def take_all_day(scanner: Scanner) -> bool:
    return bool(scanner.claim_first_free("all_day", ALL_DAY.finditer(scanner.masked), lambda m: True))


def _word_minutes(words: str) -> int:
    if "and a half" in words:
        return 90
    if "quarter" in words:
        return 15
    return 30 if "half" in words else 60


def _minutes(match: re.Match[str]) -> int | None:
    if match["words"]:
        minutes = _word_minutes(match["words"].lower())
    elif match["h"]:
        if match["hm"] and int(match["hm"]) >= 60:
            return None
        minutes = round(float(match["h"].replace(",", ".")) * 60) + int(match["hm"] or 0)
    else:
        minutes = int(match["m"])
    return minutes if 0 < minutes <= MAX_DURATION_MINUTES else None


def take_durations(scanner: Scanner) -> list[int]:
    """`30m`, `2h`, `1h30m`, `1.5h`, `90 min`, `for 45 minutes`, `for an hour` -> minutes."""
    found = scanner.claim_first_free("duration", DURATION.finditer(scanner.masked), _minutes)
    return [claim.value for claim in found]

"""Times of day in a quick-add message: "4pm", "16:00", "at 9", "noon", "3-4pm", "in the morning".

A bare number is a time only after "at" ("at 9", "at 14h"), and a range needs am/pm, a colon or a leading
"from"/"between", so "chapters 3-4", "5 people" and "version 1.5" stay in the title.

Hours without am/pm are read as the working day reads them: 1-6 -> afternoon (13-18), 7-11 ->
morning, 12 -> noon; with a leading zero ("09:30") or above 12 they are taken literally. A part
of the day said with the date ("tonight at 9", "friday evening at 7") puts them in the evening.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time

from steward.chat import vocab
from steward.chat.scan import Scanner

_I = re.IGNORECASE
_AP = r"(?:a\.?m\.?|p\.?m\.?)(?!\w)"
_STOP = r"(?![\w/:%'’]|\.\d)"
_UNIT_WORDS = r"(?:mins?|minutes?|hours?|hrs?|days?|weeks?|months?|years?|people|persons?|kg|km|%)"
_UNITS = rf"(?:\s*{_UNIT_WORDS})"
_CLOCK = r"(?P<h{n}>\d{{1,2}})(?:(?P<sep{n}>[:.])(?P<m{n}>\d{{2}}))?\s*(?P<ap{n}>" + _AP + ")?"
RANGE = re.compile(
    r"(?<![\w/.:\-])(?:(?P<lead>from|between|at)\s+)?"
    + _CLOCK.format(n=1)
    + r"\s*(?:-|–|—|to|until|till|and)\s*"
    + _CLOCK.format(n=2)
    + _STOP
    + rf"(?!{_UNITS})",
    _I,
)
SINGLE = re.compile(
    r"(?<![\w/.:\-])(?:(?P<at>at|@|by)\s*)?"
    r"(?P<h>\d{1,2})(?:(?P<sep>[:.])(?P<m>\d{2})|(?P<hh>h)(?P<hm>\d{2})?)?\s*(?P<ap>" + _AP + ")?" + _STOP,
    _I,
)
WORD = re.compile(r"\b(?:(?:at|by)\s+)?(?P<word>noon|midday|midnight)\b", _I)
PART = re.compile(rf"\b(?:in\s+the|at)\s+(?P<period>{vocab.PERIOD})\b", _I)
_NOT_AFTER_BARE = re.compile(rf"\s*(?:{vocab.ORDINAL_SUFFIX}\b|{vocab.MONTH}\b|[-/.]\d|{_UNIT_WORDS})", _I)


@dataclass(frozen=True)
class Clock:
    """A time of day as written: `meridiem` "am"/"pm" if given, `literal` if 24-hour style."""

    hour: int
    minute: int = 0
    meridiem: str | None = None
    literal: bool = False

    def resolve(self, period: str | None = None) -> time:
        """The 24-hour time, reading a bare hour in the light of the part of the day."""
        hour = self.hour
        if self.meridiem:
            hour = hour % 12 + (12 if self.meridiem == "pm" else 0)
        elif self.ambiguous and (period in ("afternoon", "evening", "night") or (period is None and hour <= 6)):
            hour += 12
        return time(hour, self.minute)

    @property
    def ambiguous(self) -> bool:
        return not self.meridiem and not self.literal and 1 <= self.hour <= 11


@dataclass(frozen=True)
class TimeToken:
    """One time phrase: a clock, a range of two, or only a part of the day ("in the morning")."""

    start: Clock | None
    end: Clock | None = None
    period: str | None = None

    def resolve(self, period: str | None = None) -> time:
        if self.start is None:
            return vocab.PERIOD_CLOCK[self.period or "morning"]
        return self.start.resolve(period or self.period)

    def span_minutes(self, period: str | None = None) -> int | None:
        if self.start is None or self.end is None:
            return None
        a, b = self.start.resolve(period), self.end.resolve(period)
        minutes = (b.hour * 60 + b.minute) - (a.hour * 60 + a.minute)
        return minutes if minutes > 0 else minutes + 24 * 60


def _clock(match: re.Match[str], n: str = "") -> Clock | None:
    groups = match.groupdict()
    if groups.get("hh"):  # French/German style "at 14h", "at 9h30": always 24-hour
        hour, minute = int(groups["h"]), int(groups["hm"] or 0)
        valid = hour <= 23 and minute <= 59 and not groups["ap"] and (groups["at"] or "").lower() in ("at", "@")
        return Clock(hour, minute, literal=True) if valid else None
    hour, minute = int(match["h" + n]), int(match["m" + n] or 0)
    ap, sep = match["ap" + n], match["sep" + n]
    if minute > 59 or hour > 23 or (sep == "." and not ap):
        return None
    if ap:
        return Clock(hour, minute, "pm" if ap.lower().startswith("p") else "am") if 1 <= hour <= 12 else None
    literal = hour == 0 or hour > 12 or match["h" + n].startswith("0")
    return Clock(hour, minute, literal=literal)


def _range(match: re.Match[str]) -> TimeToken | None:
    first, second = _clock(match, "1"), _clock(match, "2")
    if not first or not second:
        return None
    lead = (match["lead"] or "").lower()
    explicit = first.meridiem or second.meridiem or match["sep1"] == ":" or match["sep2"] == ":"
    joiner = match.group().lower()
    if not explicit and lead not in ("from", "between"):
        return None
    if " and " in joiner and lead != "between":
        return None
    if second.meridiem and not first.meridiem and not first.literal:
        same = Clock(first.hour, first.minute, second.meridiem)
        other = Clock(first.hour, first.minute, "am" if second.meridiem == "pm" else "pm")
        first = same if same.resolve() < second.resolve() else other
    elif first.meridiem and not second.meridiem and not second.literal:
        same = Clock(second.hour, second.minute, first.meridiem)
        second = same if same.resolve() > first.resolve() else Clock(second.hour, second.minute, "pm")
    return TimeToken(first, second)


def _single(scanner: Scanner, match: re.Match[str]) -> TimeToken | None:
    clock = _clock(match)
    if clock is None:
        return None
    if not match["ap"] and match["sep"] != ":" and not match["hh"]:
        if (match["at"] or "").lower() not in ("at", "@"):
            return None
        if _NOT_AFTER_BARE.match(scanner.masked, match.end()):
            return None
    return TimeToken(clock)


def _word(match: re.Match[str]) -> TimeToken:
    word = match["word"].lower()
    return TimeToken(Clock(0, 0, literal=True) if word == "midnight" else Clock(12, 0, literal=True))


def take(scanner: Scanner) -> list[TimeToken]:
    """Claim every time of day and time range, in the order they appear."""
    claims = scanner.claim_first_free("time", RANGE.finditer(scanner.masked), _range)
    claims += scanner.claim_first_free("time", WORD.finditer(scanner.masked), _word)
    claims += scanner.claim_first_free("time", SINGLE.finditer(scanner.masked), lambda m: _single(scanner, m))
    claims += scanner.claim_first_free(
        "time", PART.finditer(scanner.masked), lambda m: TimeToken(None, period=m["period"].lower())
    )
    return [claim.value for claim in sorted(claims, key=lambda c: c.start)]

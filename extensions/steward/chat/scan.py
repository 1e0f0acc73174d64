"""The quick-add scanner: which characters of a message recognisers have already taken.

Recognisers run one after another, most specific first. Each searches `masked`, a copy of the
text in which claimed and protected characters are NUL, so a later recogniser can neither reuse
nor bridge across what an earlier one took ("march #acme 3" is not "march 3"). Offsets are those
of the original text, which is what the UI needs to underline the tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

MASK = "\x00"
_SKIP = re.compile(r"[\s\x00]*")


@dataclass
class Claim:
    kind: str
    start: int
    end: int
    value: Any = None
    qualifier: str | None = None


class Scanner:
    """One message being parsed: the text, the masked copy, and the claims made so far."""

    def __init__(self, text: str) -> None:
        self.text = text.replace(MASK, " ")
        self._chars = list(self.text)
        self._masked: str | None = self.text
        self.claims: list[Claim] = []

    @property
    def masked(self) -> str:
        if self._masked is None:
            self._masked = "".join(self._chars)
        return self._masked

    def is_free(self, start: int, end: int) -> bool:
        return MASK not in self._chars[start:end]

    def protect(self, start: int, end: int) -> None:
        """Hide a span (a quoted phrase, a URL) from every recogniser, leaving it in the title."""
        self._chars[start:end] = MASK * (end - start)
        self._masked = None

    def claim(self, kind: str, start: int, end: int, value: Any = None, qualifier: str | None = None) -> Claim:
        found = Claim(kind, start, end, value, qualifier)
        self.claims.append(found)
        self.protect(start, end)
        return found

    def claim_first_free(
        self, kind: str, matches: Iterable[re.Match[str]], build: Callable[[re.Match[str]], Any]
    ) -> list[Claim]:
        """Claim each non-overlapping match, longest first at a position, whose `build` is not None."""
        taken: list[Claim] = []
        for match in sorted(matches, key=lambda m: (m.start(), -(m.end() - m.start()))):
            if match.end() == match.start() or not self.is_free(match.start(), match.end()):
                continue
            value = build(match)
            if value is not None:
                taken.append(self.claim(kind, match.start(), match.end(), value))
        return taken

    def next_index(self, pos: int) -> int:
        """The index of the next character after `pos` that is neither space nor taken."""
        match = _SKIP.match(self.masked, pos)
        return match.end() if match else pos

    def touches_claim(self, start: int, end: int, kinds: set[str]) -> bool:
        """Whether a claim of one of `kinds` sits right before or after [start, end) (spaces aside)."""
        after = _SKIP.match(self.text, end)
        right = after.end() if after else end
        left = len(self.text[:start].rstrip())
        return any(c.kind in kinds and (c.start == right or c.end == left) for c in self.claims)

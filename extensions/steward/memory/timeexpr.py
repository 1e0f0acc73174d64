"""Time expressions in a query ("last week", "3 days ago", "in May 2023", "recently").

They steer ranking, never filter: a memory inside the window the words describe is boosted, the
rest still compete. A parse relative to the wrong "now" (old data, a question asked about the past)
then costs a little ranking instead of an empty answer. Explicit `since`/`until` remain the filters.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a few": 3,
    "few": 3,
    "a couple of": 2,
    "a couple": 2,
    "couple of": 2,
    "several": 4,
}
UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}

_NUM = (
    r"(\d{1,3}|a few|a couple of|a couple|couple of|few|several|an|a|one|two|three|four|five|six|seven|"
    r"eight|nine|ten)"
)
_UNIT = r"(day|week|month|year)s?"
_MONTH = (
    r"(january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)"
)
RECENT = re.compile(
    r"\b(recent(ly)?|lately|latest|currently|current|nowadays|these days|right now|"
    r"most recent|newest|last time|now)\b",
    re.I,
)
HISTORY = re.compile(
    r"\b(used to|previous(ly)?|formerly|originally|at first|initially|any ?more|no longer|"
    r"changed?|before (?:i|we|he|she|they) (?:moved|changed|switched))\b",
    re.I,
)


@dataclass(frozen=True)
class Window:
    expression: str
    since: datetime
    until: datetime


@dataclass(frozen=True)
class TimeIntent:
    window: Window | None
    recency: bool
    history: bool


def _day_start(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def _month_window(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    return start, end


def _number(token: str) -> int:
    token = token.lower()
    return int(token) if token.isdigit() else NUMBERS.get(token, 1)


def _relative(text: str, ref: datetime) -> tuple[str, datetime, datetime] | None:
    today = _day_start(ref)
    rules: list[tuple[str, Callable[[re.Match[str]], tuple[datetime, datetime]]]] = [
        (r"\b(today|this morning|this afternoon|tonight|this evening)\b", lambda m: (today, ref)),
        (r"\b(yesterday|last night)\b", lambda m: (today - timedelta(days=1), today)),
        (r"\bthe day before yesterday\b", lambda m: (today - timedelta(days=2), today - timedelta(days=1))),
        (r"\bthis week\b", lambda m: (today - timedelta(days=today.weekday()), ref)),
        (
            r"\blast week(end)?\b",
            lambda m: (today - timedelta(days=today.weekday() + 7), today - timedelta(days=today.weekday())),
        ),
        (r"\bthis month\b", lambda m: (today.replace(day=1), ref)),
        (r"\blast month\b", lambda m: (_month_window(*_prev_month(today))[0], today.replace(day=1))),
        (r"\bthis year\b", lambda m: (today.replace(month=1, day=1), ref)),
        (
            r"\blast year\b",
            lambda m: (today.replace(year=today.year - 1, month=1, day=1), today.replace(month=1, day=1)),
        ),
        (
            rf"\b(?:in the )?(?:past|last) {_NUM} {_UNIT}\b",
            lambda m: (ref - timedelta(days=_number(m.group(1)) * UNIT_DAYS[m.group(2).lower()]), ref),
        ),
        (rf"\b{_NUM} {_UNIT} ago\b", lambda m: _around(ref, _number(m.group(1)), m.group(2).lower())),
    ]
    for pattern, window in rules:
        match = re.search(pattern, text, re.I)
        if match:
            since, until = window(match)
            return match.group(0), since, until
    return None


def _prev_month(day: datetime) -> tuple[int, int]:
    return (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)


def _around(ref: datetime, count: int, unit: str) -> tuple[datetime, datetime]:
    span = UNIT_DAYS[unit]
    centre = ref - timedelta(days=count * span)
    half = timedelta(days=max(span / 2, 1))
    return centre - half, centre + half


def _absolute(text: str, ref: datetime) -> tuple[str, datetime, datetime] | None:
    match = re.search(
        rf"\b(?:on |in )?{_MONTH}\.? (\d{{1,2}})(?:st|nd|rd|th)?(?:,? (\d{{4}}))?\b", text, re.I
    ) or re.search(rf"\b(?:on )?(?:the )?(\d{{1,2}})(?:st|nd|rd|th)? (?:of )?{_MONTH}(?:,? (\d{{4}}))?\b", text, re.I)
    if match:
        groups = match.groups()
        month_name, day = (groups[0], groups[1]) if not groups[0].isdigit() else (groups[1], groups[0])
        month, year = MONTHS[month_name.lower()], int(groups[2]) if groups[2] else None
        day_num = int(day)
        if 1 <= day_num <= 31:
            year = year or (ref.year if (month, day_num) <= (ref.month, ref.day) else ref.year - 1)
            try:
                start = datetime(year, month, day_num)
            except ValueError:
                return None
            return match.group(0), start, start + timedelta(days=1)
    match = re.search(rf"\b(?:in |during )?{_MONTH}(?:,? (\d{{4}}))?\b", text, re.I)
    if match and (match.group(2) or match.group(0).lower().startswith(("in ", "during "))):
        month = MONTHS[match.group(1).lower()]
        year = int(match.group(2)) if match.group(2) else (ref.year if month <= ref.month else ref.year - 1)
        start, end = _month_window(year, month)
        return match.group(0), start, end
    match = re.search(r"\b(?:in|during|since) ((?:19|20)\d{2})\b", text, re.I)
    if match:
        year = int(match.group(1))
        return match.group(0), datetime(year, 1, 1), datetime(year + 1, 1, 1)
    match = re.search(r"\b(?:on |last )(" + "|".join(WEEKDAYS) + r")\b", text, re.I)
    if match:
        back = (ref.weekday() - WEEKDAYS.index(match.group(1).lower())) % 7 or 7
        start = _day_start(ref) - timedelta(days=back)
        return match.group(0), start, start + timedelta(days=1)
    return None


def parse(query: str, ref: datetime) -> TimeIntent:
    """The time intent of `query`, relative to `ref` (an aware datetime; results share its tzinfo)."""
    naive = ref.replace(tzinfo=None)
    found = _relative(query, naive) or _absolute(query, naive)
    window = None
    if found:
        expression, since, until = found
        window = Window(expression.strip(), since.replace(tzinfo=ref.tzinfo), until.replace(tzinfo=ref.tzinfo))
    return TimeIntent(window=window, recency=bool(RECENT.search(query)), history=bool(HISTORY.search(query)))

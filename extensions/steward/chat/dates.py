"""Calendar phrases in a quick-add message, found by explicit patterns and resolved against `now`.

Finding is strict so titles survive: a phrase is a date only if it matches one of the patterns
below, never because a date library found something date-like ("call mom", "march with the team",
"may I ask" stay text). Calendar dates ("dec 3", "3rd of december 2027", "2026-12-03", "3/12")
are read by dateparser, English only; relative phrases are plain arithmetic on `now`.

Weak phrases (a bare full weekday, a 3/12 or 15.12. date, a bare ordinal, "eom") count
only with a qualifier ("on friday", "next fri", "by the 15th"), right next to a time ("friday
4pm"), or at the end of the text ("buy flowers friday"), so "Review friday standup notes" keeps its
title. Abbreviated weekdays ("fri", "wed", "sat", "sun") need a qualifier or a time.

Rules (documented choices): a bare or "next" weekday is the first one after today, "this
<weekday>" may be today; "next week" is next Monday, "next month" the 1st of next month;
"this weekend" is this week's Saturday (today if it is the weekend), "next weekend" next week's;
"end of week" is Friday; a day-month without a year is the next such date (today counts);
"in 3 hours" is exact, "in 3 days" is a date.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import dateparser
from dateutil.relativedelta import relativedelta

from steward.chat import vocab
from steward.chat.scan import Claim, Scanner

_I = re.IGNORECASE
# Looked for just before a date phrase (not as part of its pattern, which would make every
# position of a long message a candidate): "on friday", "by dec 3", "due: tomorrow".
QUALIFIER_BEFORE = re.compile(
    r"\b(?P<q>on|by|due(?:\s+(?:on|by))?|for|until|till|before|starting(?:\s+on)?)\s*:?\s+$"
    r"|\b(?P<qd>due):\s*$",
    re.IGNORECASE,
)
_POSSESSIVE = r"(?!['’]s\b)"
_PERIOD = rf"(?:\s+(?:in\s+the\s+)?(?P<period>{vocab.PERIOD})\b)?"
_DAY = rf"(?P<d>\d{{1,2}}){vocab.ORDINAL_SUFFIX}?"
_YEAR = r"(?:,?\s+(?P<y>\d{4}))?"
_END = r"(?![\w:])(?!\s*[ap]\.?m\b)"


@dataclass(frozen=True)
class Context:
    now: datetime  # aware, in the user's zone
    date_order: str = "DMY"

    @property
    def today(self) -> date:
        return self.now.date()


@dataclass(frozen=True)
class DateToken:
    """A resolved date phrase: a day (with an optional part of the day) or an exact instant."""

    day: date
    period: str | None = None
    instant: datetime | None = None
    explicit_year: bool = False


Builder = Callable[[re.Match[str], Context], DateToken | None]


def _after(today: date, weekday: int, include_today: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    return today + timedelta(days=ahead if ahead or include_today else 7)


def _period(match: re.Match[str]) -> str | None:
    period = match.groupdict().get("period")
    return period.lower() if period else None


def _relative(match: re.Match[str], ctx: Context) -> DateToken:
    word = " ".join(match["rel"].lower().split())
    if word.startswith("this "):
        return DateToken(ctx.today, word.split()[1])
    if word == "tonight":
        return DateToken(ctx.today, "night")
    shift = {"today": 0}.get(word, 2 if "after" in word else 1)
    return DateToken(ctx.today + timedelta(days=shift), _period(match))


def _weekday(match: re.Match[str], ctx: Context) -> DateToken:
    weekday = vocab.weekday_index(match["wd"])
    mod = (match["mod"] or "").lower()
    if match["nw"]:
        monday = ctx.today - timedelta(days=ctx.today.weekday()) + timedelta(days=7)
        day = monday + timedelta(days=weekday)
        day += timedelta(days=7) if "after" in match["nw"].lower() else timedelta(0)
    else:
        day = _after(ctx.today, weekday, include_today=mod == "this")
    return DateToken(day, _period(match))


def _week_words(match: re.Match[str], ctx: Context) -> DateToken:
    word, today = " ".join(match["ww"].lower().split()), ctx.today
    monday = today - timedelta(days=today.weekday())
    if word == "next week":
        day = monday + timedelta(days=7)
    elif word == "next month":
        day = (today + relativedelta(months=1)).replace(day=1)
    elif word == "next year":
        day = date(today.year + 1, 1, 1)
    elif word == "next weekend":
        day = monday + timedelta(days=12)
    elif word.endswith("weekend"):
        day = today if today.weekday() >= 5 else monday + timedelta(days=5)
    elif word in ("eow", "end of week", "end of the week"):
        day = _after(today, 4, include_today=True)
    elif word in ("eom", "end of month", "end of the month"):
        day = today + relativedelta(day=31)
    else:
        day = date(today.year, 12, 31)
    return DateToken(day, _period(match))


def read_calendar_date(phrase: str, ctx: Context, explicit_year: bool) -> date | None:
    """dateparser's reading of a day-month(-year) phrase; without a year, the next such date."""
    found = dateparser.parse(
        phrase,
        languages=["en"],
        settings={
            "RELATIVE_BASE": ctx.now.replace(tzinfo=None),
            "PREFER_DATES_FROM": "future",
            "DATE_ORDER": ctx.date_order,
            "REQUIRE_PARTS": ["day", "month"],
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if found is None:
        return None
    if explicit_year:
        return found.date()
    for year in range(ctx.today.year, ctx.today.year + 9):
        try:
            candidate = date(year, found.month, found.day)
        except ValueError:
            continue
        if candidate >= ctx.today:
            return candidate
    return None


def _calendar(match: re.Match[str], ctx: Context) -> DateToken | None:
    groups = match.groupdict()
    year = bool(groups.get("y"))
    if groups.get("iso"):
        phrase, year = groups["iso"], True
    elif groups.get("dot_d"):
        month = int(groups["dot_m"])
        if not 1 <= month <= 12:
            return None
        phrase = f"{int(groups['dot_d'])} {calendar.month_abbr[month]}" + (f" {groups['y']}" if year else "")
    elif groups.get("a"):
        phrase = f"{groups['a']}/{groups['b']}" + (f"/{groups['y']}" if year else "")
    else:
        phrase = f"{int(groups['d'])} {groups['mon']}" + (f" {groups['y']}" if year else "")
    day = read_calendar_date(phrase, ctx, year)
    return DateToken(day, _period(match), explicit_year=year) if day else None


def _ordinal(match: re.Match[str], ctx: Context) -> DateToken | None:
    wanted, first = int(match["od"]), ctx.today.replace(day=1)
    for months in range(0, 13):
        month = first + relativedelta(months=months)
        try:
            day = month.replace(day=wanted)
        except ValueError:
            continue
        if day >= ctx.today:
            return DateToken(day, _period(match))
    return None


_UNIT_MINUTES = {"m": 1, "h": 60}


def _offset(match: re.Match[str], ctx: Context) -> DateToken | None:
    unit = match["unit"].lower()
    if match["word"]:
        word = match["word"].lower().split()[0]
        amount: float | None = 0.5 if word == "half" else vocab.number_value(word)
        if len(unit) == 1:
            return None
    else:
        amount = int(match["n"])
    if not amount:
        return None
    if unit[0] in "mh" and not unit.startswith("mon"):
        minutes = int(amount * _UNIT_MINUTES[unit[0]])
        later = ctx.now.astimezone(UTC) + timedelta(minutes=minutes)  # elapsed time, not wall time
        instant = later.astimezone(ctx.now.tzinfo).replace(second=0, microsecond=0)
        return DateToken(instant.date(), instant=instant)
    if unit.startswith("fortnight"):
        return DateToken(ctx.today + timedelta(days=14 * int(amount)))
    if unit[0] == "w":
        return DateToken(ctx.today + timedelta(weeks=int(amount)))
    if unit[0] == "d":
        return DateToken(ctx.today + timedelta(days=int(amount)))
    key = "months" if unit.startswith("mon") else "years"
    return DateToken(ctx.today + relativedelta(**{key: int(amount)}))


def _p(body: str) -> re.Pattern[str]:
    return re.compile(body, _I)


# (pattern, builder, weak): weak phrases must stand alone (see the module docstring).
PATTERNS: list[tuple[re.Pattern[str], Builder, bool]] = [
    (_p(r"(?P<iso>\b\d{4}-\d{1,2}-\d{1,2})(?![\w-])"), _calendar, False),
    (_p(rf"\b(?P<mon>{vocab.MONTH})\.?\s+(?:the\s+)?{_DAY}{_YEAR}{_END}{_PERIOD}"), _calendar, False),
    (_p(rf"\b(?:the\s+)?{_DAY}\s+(?:of\s+)?(?P<mon>{vocab.MONTH})\b\.?{_YEAR}{_END}{_PERIOD}"), _calendar, False),
    (_p(r"(?<![\w/.])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?(?![\w/])" + _PERIOD), _calendar, True),
    # Day-first with dots, as written in much of Europe: "15.12.", "15.12.2026".
    (
        _p(r"(?<![\w.])(?P<dot_d>\d{1,2})\.(?P<dot_m>\d{1,2})\.(?P<y>\d{4}|\d{2})?(?![\w.])" + _PERIOD),
        _calendar,
        True,
    ),
    (
        _p(
            r"\b(?P<rel>today|tonight|tomorrow|tomorow|tmrw|tmr|(?:the\s+)?day\s+after\s+tomorrow"
            rf"|this\s+(?:morning|afternoon|evening))\b{_POSSESSIVE}{_PERIOD}"
        ),
        _relative,
        False,
    ),
    (
        _p(
            rf"\b(?:(?P<mod>next|this|coming|upcoming)\s+)?(?P<wd>{vocab.WEEKDAY})\b{_POSSESSIVE}"
            rf"(?:\s+(?P<nw>next\s+week|after\s+next))?{_PERIOD}"
        ),
        _weekday,
        True,
    ),
    (
        _p(
            r"\b(?P<ww>next\s+week|next\s+month|next\s+year|(?:this|next|over\s+the|on\s+the)\s+weekend"
            r"|end\s+of\s+(?:the\s+)?(?:week|month|year)|eow|eom|eoy)\b" + _POSSESSIVE + _PERIOD
        ),
        _week_words,
        True,
    ),
    (_p(rf"\b(?:the\s+)?(?P<od>\d{{1,2}}){vocab.ORDINAL_SUFFIX}\b{_PERIOD}"), _ordinal, True),
]
OFFSET = re.compile(
    r"\bin\s+(?:(?P<n>\d{1,3})\s*"
    r"|(?P<word>an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|half\s+an?)\s+)"
    r"(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|fortnights?|m|h|d|w)\b",
    _I,
)
DEADLINE = re.compile(r"\bdeadline\s*:?\s*", _I)
BRACES = re.compile(r"\{(?P<inner>[^{}\n]{1,60})\}")


@dataclass(frozen=True)
class _Found:
    start: int  # including the qualifier
    match: re.Match[str]
    builder: Builder
    weak: bool
    qualifier: str | None


def _with_qualifier(scanner: Scanner, match: re.Match[str], builder: Builder, weak: bool) -> _Found:
    before = QUALIFIER_BEFORE.search(scanner.masked, max(0, match.start() - 16), match.start())
    if before is None:
        return _Found(match.start(), match, builder, weak, None)
    word = (before["q"] or before["qd"]).split()[0].lower()
    return _Found(before.start(), match, builder, weak, word)


def _standalone(scanner: Scanner, found: _Found) -> bool:
    """A weak phrase counts with a qualifier, next to a time, or at the end of the text."""
    match, groups = found.match, found.match.groupdict()
    if found.qualifier not in (None, "for") or groups.get("mod") or groups.get("nw") or groups.get("period"):
        return True
    if scanner.touches_claim(found.start, match.end(), {"time"}):
        return True
    if groups.get("wd") and vocab.is_short_weekday(groups["wd"]):
        return False
    if groups.get("ww") and " " in groups["ww"]:
        return True
    nxt = scanner.next_index(match.end())
    return nxt >= len(scanner.masked) or scanner.masked[nxt] in ",;.!?)"


def take(scanner: Scanner, ctx: Context) -> list[Claim]:
    """Claim every date phrase; returns the claims (value: DateToken) in text order."""
    candidates = [
        _with_qualifier(scanner, m, builder, weak)
        for pattern, builder, weak in PATTERNS
        for m in pattern.finditer(scanner.masked)
    ]
    candidates.sort(key=lambda c: (c.start, -(c.match.end() - c.start)))
    claims: list[Claim] = []
    for found in candidates:
        if not scanner.is_free(found.start, found.match.end()):
            continue
        if found.weak and not _standalone(scanner, found):
            continue
        token = found.builder(found.match, ctx)
        if token is not None:
            claims.append(scanner.claim("date", found.start, found.match.end(), token, found.qualifier))
    return sorted(claims, key=lambda c: c.start)


def take_offsets(scanner: Scanner, ctx: Context) -> list[Claim]:
    """Offsets ("in 3 days", "in 2 hours", "in half an hour"), taken before durations claim "2 hours"."""
    return scanner.claim_first_free("date", OFFSET.finditer(scanner.masked), lambda m: _offset(m, ctx))


_QUALIFIER_AHEAD = re.compile(r"(?:on|by|before|due)\s*:?\s+", _I)


def _date_at(scanner: Scanner, ctx: Context, start: int, end: int | None = None) -> tuple[DateToken, int] | None:
    """The date phrase starting exactly at `start` (and, given `end`, filling [start, end))."""
    lead = _QUALIFIER_AHEAD.match(scanner.masked, start, end or len(scanner.masked))
    start = lead.end() if lead else start
    for pattern, builder in [(p, b) for p, b, _weak in PATTERNS] + [(OFFSET, _offset)]:
        match = pattern.fullmatch(scanner.masked, start, end) if end else pattern.match(scanner.masked, start)
        if match and (token := builder(match, ctx)):
            return token, match.end()
    return None


def take_deadline(scanner: Scanner, ctx: Context) -> list[Claim]:
    """`deadline: friday`, `deadline dec 3` or Todoist's `{friday}`: a date the item must not pass."""
    claims: list[Claim] = []
    for match in list(DEADLINE.finditer(scanner.masked)):
        found = _date_at(scanner, ctx, match.end())
        if found and scanner.is_free(match.start(), found[1]):
            claims.append(scanner.claim("deadline", match.start(), found[1], found[0]))
    for match in list(BRACES.finditer(scanner.masked)):
        inner = match["inner"]
        start = match.start("inner") + len(inner) - len(inner.lstrip())
        found = _date_at(scanner, ctx, start, match.end("inner") - (len(inner) - len(inner.rstrip())))
        if found and scanner.is_free(match.start(), match.end()):
            claims.append(scanner.claim("deadline", match.start(), match.end(), found[0]))
    return sorted(claims, key=lambda c: c.start)

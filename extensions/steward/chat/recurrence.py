"""Recurrence phrases ("every monday", "every 3rd friday", "daily") -> a normalised RRULE.

The rule is an RFC 5545 RRULE body with its parts in a fixed order (FREQ, INTERVAL, BYMONTH,
BYMONTHDAY, BYDAY, BYSETPOS, UNTIL), so equal rules compare equal as strings. The time of day is
not part of the rule: it lives in the item's due (the first occurrence, the DTSTART).

    every day | daily | everyday          FREQ=DAILY
    every weekday | workday               FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
    every weekend                         FREQ=WEEKLY;BYDAY=SA,SU
    every monday | every mon and thu      FREQ=WEEKLY;BYDAY=MO(,TH)
    every 2 weeks | fortnightly           FREQ=WEEKLY;INTERVAL=2
    every other friday                    FREQ=WEEKLY;INTERVAL=2;BYDAY=FR
    every month on the 15th | every 15th  FREQ=MONTHLY;BYMONTHDAY=15
    every 3rd friday | every last thu     FREQ=MONTHLY;BYDAY=3FR | FREQ=MONTHLY;BYDAY=-1TH
    every last day (of the month)         FREQ=MONTHLY;BYMONTHDAY=-1
    every first weekday                   FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1
    every year on dec 3 | every dec 3     FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=3
    every morning                         FREQ=DAILY, due at 09:00
    every 2 hours | every 30 minutes      FREQ=HOURLY;INTERVAL=2 | FREQ=MINUTELY;INTERVAL=30

Bare adverbs (daily, weekly, monthly, yearly, annually, fortnightly, biweekly) count only where
a date word would: at the end of the text or next to a time, so "Write weekly report" keeps its
title and gets no rule.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from dateutil.rrule import rrulestr

from steward.chat import vocab
from steward.chat.scan import Scanner

_I = re.IGNORECASE
EVERY = re.compile(r"\b(?:every|each)\s+", _I)
ADVERB = re.compile(
    r"\b(?P<adverb>daily|everyday|weekly|fortnightly|bi-?weekly|monthly|yearly|annually)\b(?!['’]s)", _I
)
_INTERVAL = re.compile(r"(?P<n>\d{1,3}|other|second)\s+(?=\S)", _I)
_UNIT = re.compile(
    r"(?P<unit>minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?|weekdays?|workdays?"
    r"|business\s+days?|weekends?)\b",
    _I,
)
_NTH_DAY = re.compile(
    rf"(?P<nth>{vocab.NTH})\s+(?P<what>{vocab.WEEKDAY}|weekday|day)\b"
    r"(?:\s+of\s+(?:the|each|every)\s+month)?",
    _I,
)
_DAYS = re.compile(rf"(?P<days>{vocab.WEEKDAY_LIST})(?!['’]s)", _I)
_MONTH_DAY = re.compile(
    rf"(?:the\s+)?(?P<md>\d{{1,2}}){vocab.ORDINAL_SUFFIX}\b(?:\s+(?:of\s+)?(?:the|each|every)\s+month)?", _I
)
_DATE = re.compile(
    rf"(?P<mon>{vocab.MONTH})\.?\s+(?:the\s+)?(?P<d>\d{{1,2}}){vocab.ORDINAL_SUFFIX}?(?![\w:])"
    rf"|(?:the\s+)?(?P<d2>\d{{1,2}}){vocab.ORDINAL_SUFFIX}?\s+(?:of\s+)?(?P<mon2>{vocab.MONTH})\b\.?",
    _I,
)
_PERIOD = re.compile(rf"(?:in\s+the\s+)?(?P<period>{vocab.PERIOD})\b", _I)
_ON = re.compile(r"\s+(?:on\s+)?(?:the\s+)?", _I)
_PERIOD_AFTER = re.compile(rf"\s+(?:in\s+the\s+)?(?P<period>{vocab.PERIOD})\b", _I)
_ADVERB_RULE = {
    "daily": "DAILY",
    "everyday": "DAILY",
    "weekly": "WEEKLY",
    "monthly": "MONTHLY",
    "yearly": "YEARLY",
    "annually": "YEARLY",
}
_FREQ = {
    "min": "MINUTELY",
    "hou": "HOURLY",
    "hrs": "HOURLY",
    "hr": "HOURLY",
    "day": "DAILY",
    "wee": "WEEKLY",
    "mon": "MONTHLY",
    "yea": "YEARLY",
}
WORKDAYS = "MO,TU,WE,TH,FR"


@dataclass
class Rule:
    """The parts of one RRULE, rendered in a fixed order by `text`."""

    freq: str
    interval: int = 1
    bymonth: int | None = None
    bymonthday: int | None = None
    byday: list[str] = field(default_factory=list)
    bysetpos: int | None = None
    until: date | None = None
    period: str | None = None

    @property
    def text(self) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.bymonth:
            parts.append(f"BYMONTH={self.bymonth}")
        if self.bymonthday:
            parts.append(f"BYMONTHDAY={self.bymonthday}")
        if self.byday:
            parts.append("BYDAY=" + ",".join(self.byday))
        if self.bysetpos:
            parts.append(f"BYSETPOS={self.bysetpos}")
        if self.until:
            parts.append(f"UNTIL={self.until:%Y%m%d}T235959")
        return ";".join(parts)

    @property
    def sub_daily(self) -> bool:
        return self.freq in ("HOURLY", "MINUTELY")


def _weekdays(text: str) -> list[str]:
    found = {vocab.weekday_index(m.group()) for m in re.finditer(vocab.WEEKDAY + r"\b", text, _I)}
    return [vocab.RRULE_DAYS[i] for i in sorted(found)]


def _valid_day(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(2028, month)[1]


def _unit_rule(unit: str, interval: int) -> Rule:
    unit = unit.lower()
    if unit.startswith(("weekday", "workday", "business")):
        return Rule("WEEKLY", interval, byday=WORKDAYS.split(","))
    if unit.startswith("weekend"):
        return Rule("WEEKLY", interval, byday=["SA", "SU"])
    return Rule(_FREQ[unit[:3]], interval)


def _nth_rule(match: re.Match[str], interval: int) -> Rule | None:
    nth, what = vocab.nth_value(match["nth"]), match["what"].lower()
    if what == "day":
        return Rule("MONTHLY", interval, bymonthday=nth) if nth in (1, -1) else None
    if what == "weekday":
        return Rule("MONTHLY", interval, byday=WORKDAYS.split(","), bysetpos=nth)
    return Rule("MONTHLY", interval, byday=[f"{nth}{vocab.RRULE_DAYS[vocab.weekday_index(what)]}"])


def _date_rule(match: re.Match[str], interval: int) -> Rule | None:
    month = vocab.month_index(match["mon"] or match["mon2"])
    day = int(match["d"] or match["d2"])
    return Rule("YEARLY", interval, bymonth=month, bymonthday=day) if _valid_day(month, day) else None


def _detail(text: str, pos: int, interval: int) -> tuple[Rule, int] | None:
    """What follows "every [N]": a unit, an nth weekday, weekdays, a day of month, a date, a period."""
    if m := _UNIT.match(text, pos):
        return _unit_rule(m["unit"], interval), m.end()
    if m := _NTH_DAY.match(text, pos):
        rule = _nth_rule(m, interval)
        return (rule, m.end()) if rule else None
    if m := _DAYS.match(text, pos):
        return Rule("WEEKLY", interval, byday=_weekdays(m["days"])), m.end()
    if m := _DATE.match(text, pos):
        rule = _date_rule(m, interval)
        return (rule, m.end()) if rule else None
    if m := _MONTH_DAY.match(text, pos):
        md = int(m["md"])
        return (Rule("MONTHLY", interval, bymonthday=md), m.end()) if 1 <= md <= 31 else None
    if interval == 1 and (m := _PERIOD.match(text, pos)):
        return Rule("DAILY", period=m["period"].lower()), m.end()
    return None


def _refine(rule: Rule, text: str, pos: int) -> tuple[Rule, int]:
    """The optional "on ..." after a unit: "every month on the 15th", "every 2 weeks on monday"."""
    on = _ON.match(text, pos)
    start = on.end() if on and on.group().strip() else None
    if start is not None:
        if rule.freq == "WEEKLY" and not rule.byday and (m := _DAYS.match(text, start)):
            rule.byday, pos = _weekdays(m["days"]), m.end()
        elif rule.freq == "MONTHLY" and not rule.byday and (m := _NTH_DAY.match(text, start)):
            better = _nth_rule(m, rule.interval)
            rule, pos = (better, m.end()) if better else (rule, pos)
        elif rule.freq == "MONTHLY" and (m := _MONTH_DAY.match(text, start)) and 1 <= int(m["md"]) <= 31:
            rule.bymonthday, pos = int(m["md"]), m.end()
        elif rule.freq == "YEARLY" and (m := _DATE.match(text, start)) and (dated := _date_rule(m, 1)):
            rule.bymonth, rule.bymonthday, pos = dated.bymonth, dated.bymonthday, m.end()
    if rule.period is None and not rule.sub_daily and (m := _PERIOD_AFTER.match(text, pos)):
        rule.period, pos = m["period"].lower(), m.end()
    return rule, pos


def _every(text: str, match: re.Match[str]) -> tuple[Rule, int] | None:
    """Read "every [N | other | second] <detail> [on ...] [morning]"; None if it is not a rule."""
    found = None
    if m := _INTERVAL.match(text, match.end()):
        word = m["n"].lower()
        interval = 2 if word in ("other", "second") else int(word)
        found = _detail(text, m.end(), interval) if interval >= 1 else None
    found = found or _detail(text, match.end(), 1)
    return _refine(found[0], text, found[1]) if found else None


def _adverb(scanner: Scanner, match: re.Match[str]) -> Rule | None:
    nxt = scanner.next_index(match.end())
    standalone = nxt >= len(scanner.masked) or scanner.masked[nxt] in ",;.!?)"
    if not standalone and not scanner.touches_claim(match.start(), match.end(), {"time"}):
        return None
    word = match["adverb"].lower().replace("-", "")
    if word in ("fortnightly", "biweekly"):
        return Rule("WEEKLY", 2)
    return Rule(_ADVERB_RULE[word])


def take(scanner: Scanner) -> list[Rule]:
    """Claim every recurrence phrase; the first is the item's rule."""
    rules: list[Rule] = []
    for match in list(EVERY.finditer(scanner.masked)):
        found = _every(scanner.masked, match)
        if found and scanner.is_free(match.start(), found[1]):
            rules.append(scanner.claim("recurrence", match.start(), found[1], found[0]).value)
    return rules


def take_adverbs(scanner: Scanner) -> list[Rule]:
    """Bare adverbs, taken after times so "daily at 9am" counts; see the module docstring."""
    rules: list[Rule] = []
    for match in list(ADVERB.finditer(scanner.masked)):
        rule = _adverb(scanner, match)
        if rule and scanner.is_free(match.start(), match.end()):
            rules.append(scanner.claim("recurrence", match.start(), match.end(), rule).value)
    return rules


def first_occurrence(rule: Rule, now: datetime, clock: time | None) -> datetime | None:
    """The first occurrence at or after `now` (naive local wall time); None if the rule never fires.

    A date-only rule may fire today; one with a time fires today only if that time is still ahead.
    Sub-daily rules fire one interval from now. The interval counts from the first occurrence,
    so "every other tuesday" said on a Wednesday starts next Tuesday, not the one after.
    """
    if rule.sub_daily:
        start = now.replace(second=0, microsecond=0)
        return rrulestr(rule.text, dtstart=start).after(start, inc=False)
    start = datetime.combine(now.date(), clock or time(0))
    horizon = now if clock else start
    every_time = Rule(**{**rule.__dict__, "interval": 1})
    found = rrulestr(every_time.text, dtstart=start).after(horizon, inc=True)
    return found if found and found - horizon < timedelta(days=366 * 8) else None

"""Quick add: one chat message -> one structured item, deterministically, in the spirit of Todoist.

    "Call Anna tomorrow at 4pm #acme p1 @phone 30m"
      -> title "Call Anna", due tomorrow 16:00 in the user's zone, project "acme", priority "p1",
         labels ["phone"], duration 30 minutes

This is what capture does when no LLM is configured, and the LLM planner's fallback. It is a pure
function of (text, now, timezone): no database, no clock, no network.

Recognised, in this order (each recogniser sees only what earlier ones left; `scan.py`):
  `#"Client X"`; then text in "double quotes", URLs, e-mail addresses: protected, kept verbatim
  `note:` `idea:` `event:` `person:` `project:` `task:` at the start          item_type
  `#project`, `@label`..., `p1`-`p4` / `!!1`-`!!4`    project (the first wins), labels, priority
  `every ...`                                                                  recurrence.py
  `deadline: friday`, `deadline dec 3`, `{friday}`                             deadline (a date)
  `in 3 days`, `in 2 hours`; times `4pm`, `16:00`, `at 9`, `3-4pm`            due (dates.py, times.py)
  `daily`, `weekly`... (only where a date word would count)                   recurrence
  `30m`, `2h`, `1h30m`, `90 min`, `for 45 minutes`, `for an hour`             duration_minutes
  dates `tomorrow`, `friday`, `dec 3`, `15.12.`, `next week`...               due (dates.py)
  `all day`                                                                    all_day, no time

Choices worth knowing:
- "by friday" is an ordinary due date (Todoist's reading); only `deadline ...` or `{...}` set the
  deadline, which is a date without a time.
- Notes, ideas, people and projects keep their text: only project, labels and priority are taken.
- A task becomes an event when it has a time and starts like one ("Meeting with...", "Lunch
  with...", "Team sync...", "Call with..."), or says `all day`; not when written as `task: ...`.
- A time without a date is today if still ahead, else tomorrow ("at 9" at 10:00 -> tomorrow
  09:00); with "today" an hour already past is read as pm ("today at 9" at 10:00 -> 21:00).
- `all_day` is true whenever there is a due date without a time; `all day` in the text forces it.
- Nothing left for a title (e.g. "tomorrow 4pm p1") gives title "" and the warning "empty_title":
  the caller asks what the item is rather than inventing a name. The parser never raises on
  text; an unknown timezone name raises ValueError (a configuration error, not user input).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field

from steward.chat import dates, recurrence, times, tokens
from steward.chat.scan import Claim, Scanner
from steward.chat.vocab import PERIOD_CLOCK

ItemType = Literal["task", "note", "idea", "event", "person", "project"]
Priority = Literal["p1", "p2", "p3", "p4"]
SpanKind = Literal[
    "type", "project", "label", "priority", "recurrence", "deadline", "date", "time", "duration", "all_day"
]
SCHEDULED_TYPES = ("task", "event")

_NOT_AN_EVENT_AFTER = r"(?!\s+(?:notes?|agenda|prep|slides|summary|report|room|invites?|minutes)\b)"
_EVENT_FIRST = re.compile(
    r"^(?:meeting|meet|lunch|dinner|breakfast|brunch|coffee|drinks|appointment|interview|stand-?up"
    r"|sync|1:1|one-on-one|webinar|workshop|conference|party|flight|call\s+with|date\s+with)\b" + _NOT_AN_EVENT_AFTER,
    re.IGNORECASE,
)
_EVENT_SECOND = re.compile(
    r"^(?!(?:book|prepare|prep|schedule|plan|organi[sz]e|cancel|reschedule|move|confirm|send|write|review"
    r"|email|call|notes?|agenda)\b)\S+\s+(?:meeting|appointment|stand-?up|sync|interview|lunch|dinner"
    r"|party|webinar|1:1)\b" + _NOT_AN_EVENT_AFTER,
    re.IGNORECASE,
)
# Other prepositions ("on", "by", "at", "in"...) are taken with their date or time; "to" is not, and
# stripping "in" or "by" would break "check in", "drop by".
_DANGLING = re.compile(r"\s+(?:to|@)$", re.IGNORECASE)
_STRIP = " ,;:-–—|"
_TAIL = re.compile(r"[^\s\x00][\s\x00]*$")
# "-" and ":" only with a space after them: "-1pm" must not turn into the time "1pm" in the title.
_LEADING = re.compile(r"^(?:[\s,;|–—]|[-:](?=\s))+")


class Span(BaseModel):
    """One recognised token: where it is in the text and what it was read as (for the UI)."""

    kind: SpanKind
    text: str
    start: int
    end: int
    value: str


class QuickAdd(BaseModel):
    """The parsed message. `due` is aware, in the user's zone; `deadline` is a date."""

    title: str
    item_type: ItemType = "task"
    due: datetime | None = None
    due_has_time: bool = False
    all_day: bool = False
    duration_minutes: int | None = Field(default=None, gt=0)
    priority: Priority | None = None
    project: str | None = None
    labels: list[str] = Field(default_factory=list)
    recurrence: str | None = None
    deadline: date | None = None
    timezone: str = "UTC"
    spans: list[Span] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}: use an IANA name such as 'Europe/Berlin'") from exc


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """Local wall time -> aware datetime; a time skipped by a DST jump moves forward with it."""
    return datetime.combine(day, clock, tzinfo=tz).astimezone(ZoneInfo("UTC")).astimezone(tz)


class _Schedule:
    """Turns the date, time, duration and recurrence claims into the item's schedule fields."""

    def __init__(self, now: datetime, tz: ZoneInfo, warnings: list[str]) -> None:
        self.now, self.tz, self.warnings = now, tz, warnings
        self.due: datetime | None = None
        self.has_time = False
        self.rule: recurrence.Rule | None = None
        self.duration: int | None = None

    def build(
        self,
        dated: list[Claim],
        clocks: list[times.TimeToken],
        rules: list[recurrence.Rule],
        durations: list[int],
        all_day: bool,
    ) -> None:
        self.rule = rules[0] if rules else None
        self._warn_extra(rules, "recurrence")
        if self.rule:
            untils = [c for c in dated if c.qualifier in ("until", "till")]
            if untils:
                self.rule.until = untils[0].value.day
                dated = [c for c in dated if c not in untils]
        self._warn_extra(dated, "date")
        self._warn_extra(clocks, "time")
        token: dates.DateToken | None = dated[0].value if dated else None
        clock = clocks[0] if clocks else None
        period = (token.period if token else None) or (self.rule.period if self.rule else None)
        if token and token.instant:
            self.due, self.has_time = token.instant, True
        else:
            self._place(token.day if token else None, clock, period)
        self.duration = durations[0] if durations else (clock.span_minutes(period) if clock else None)
        self._warn_extra(durations, "duration")
        if all_day and self.due:
            self.due, self.has_time = _at(self.due.date(), time(0), self.tz), False
        if self.due and (self.due < self.now if self.has_time else self.due.date() < self.now.date()):
            self.warnings.append("due_in_past")

    def _place(self, day: date | None, token: times.TimeToken | None, period: str | None) -> None:
        clock = token.resolve(period) if token else (PERIOD_CLOCK[period] if period else None)
        if clock and token and token.start and token.start.ambiguous and day == self.now.date():
            later = time(clock.hour + 12, clock.minute) if clock.hour < 12 else clock
            if _at(self.now.date(), clock, self.tz) <= self.now < _at(self.now.date(), later, self.tz):
                clock = later
        self.has_time = clock is not None
        if day is not None:
            self.due = _at(day, clock or time(0), self.tz)
        elif self.rule is not None:
            first = recurrence.first_occurrence(self.rule, self.now.replace(tzinfo=None), clock)
            if first is None:
                self.warnings.append("recurrence_never_occurs")
                self.rule = None
                return
            self.due = first.replace(tzinfo=self.tz).astimezone(ZoneInfo("UTC")).astimezone(self.tz)
            self.has_time = clock is not None or self.rule.sub_daily
        elif clock is not None:
            due = _at(self.now.date(), clock, self.tz)
            self.due = due if due > self.now else _at(self.now.date() + timedelta(days=1), clock, self.tz)

    def _warn_extra(self, found: list, what: str) -> None:
        if len(found) > 1:
            self.warnings.append(f"extra_{what}_ignored")


def _title(scanner: Scanner) -> str:
    """The text without its claimed tokens, with the seams tidied."""
    text, pieces, last = scanner.text, [], 0
    for claim in sorted(scanner.claims, key=lambda c: c.start):
        pieces += [text[last : claim.start], " "]
        last = claim.end
    title = "".join(pieces) + text[last:]
    title = re.sub(r"(?<!\S)@(?!\S)", " ", title)
    title = re.sub(r"\(\s*\)|\[\s*\]|\{\s*\}", " ", title)
    title = re.sub(r"\s+", " ", title)
    title = re.sub(r"(?<=\w) ([,;!?])", r"\1", title)
    title = re.sub(r"([,;])(?:\s*[,;])+", r"\1", title)
    title = _LEADING.sub("", title).rstrip(_STRIP)
    if _tail_claimed(scanner):
        title = _DANGLING.sub("", title).rstrip(_STRIP)
    return title


def _tail_claimed(scanner: Scanner) -> bool:
    """Whether the text ends in tokens, so a preposition left before them dangles ("...to friday")."""
    tail = _TAIL.search(scanner.masked)
    last_free = tail.start() if tail else -1
    return any(claim.start > last_free for claim in scanner.claims)


def _is_event(title: str, has_time: bool) -> bool:
    return has_time and bool(_EVENT_FIRST.match(title) or _EVENT_SECOND.match(title))


def _render(claim: Claim) -> str:
    value = claim.value
    if isinstance(value, recurrence.Rule):
        return value.text
    if isinstance(value, dates.DateToken):
        shown = value.instant.isoformat() if value.instant else value.day.isoformat()
        return f"{shown} {value.period}" if value.period and not value.instant else shown
    if isinstance(value, times.TimeToken):
        start = value.resolve().strftime("%H:%M")
        return f"{start}-{value.end.resolve().strftime('%H:%M')}" if value.end else start
    return str(value).lower() if isinstance(value, bool) else str(value)


def _spans(text: str, scanner: Scanner) -> list[Span]:
    return [
        Span(kind=cast(SpanKind, c.kind), text=text[c.start : c.end], start=c.start, end=c.end, value=_render(c))
        for c in sorted(scanner.claims, key=lambda c: c.start)
    ]


def parse_quick_add(text: str, now: datetime, timezone: str = "UTC", *, date_order: str = "DMY") -> QuickAdd:
    """Parse one message. `now` is the reference instant (naive means wall time in `timezone`).

    `date_order` ("DMY" or "MDY") reads slash dates such as 3/12; ISO and month names are
    unambiguous.
    """
    tz = _zone(timezone)
    local_now = now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz)
    scanner, warnings = Scanner(text or ""), cast(list[str], [])
    tokens.take_quoted_projects(scanner)
    tokens.protect(scanner)
    explicit_type = tokens.take_type(scanner)
    item_type = cast(ItemType, explicit_type or "task")
    tokens.take_marked(scanner)
    schedule = _Schedule(local_now, tz, warnings)
    deadline, all_day = None, False
    if item_type in SCHEDULED_TYPES:
        ctx = dates.Context(local_now, "MDY" if date_order.upper() == "MDY" else "DMY")
        rules = recurrence.take(scanner)
        deadlines = dates.take_deadline(scanner, ctx)
        dated = dates.take_offsets(scanner, ctx)
        clocks = times.take(scanner)
        rules += recurrence.take_adverbs(scanner)
        durations = tokens.take_durations(scanner)
        dated = sorted(dated + dates.take(scanner, ctx), key=lambda c: c.start)
        all_day = tokens.take_all_day(scanner)
        schedule.build(dated, clocks, rules, durations, all_day)
        deadline = deadlines[0].value.day if deadlines else None
        if len(deadlines) > 1:
            warnings.append("extra_deadline_ignored")
        tokens.take_marked(scanner)
    projects, labels, priorities = tokens.marked(scanner)
    for found, what in ((projects, "project"), (priorities, "priority")):
        if len(found) > 1:
            warnings.append(f"extra_{what}_ignored")
    title = _title(scanner)
    if not title:
        warnings.append("empty_title")
    if explicit_type is None and (_is_event(title, schedule.has_time) or (all_day and schedule.due)):
        item_type = "event"
    return QuickAdd(
        title=title,
        item_type=item_type,
        due=schedule.due,
        due_has_time=schedule.has_time,
        all_day=schedule.due is not None and not schedule.has_time,
        duration_minutes=schedule.duration,
        priority=cast(Priority, priorities[0]) if priorities else None,
        project=projects[0] if projects else None,
        labels=labels,
        recurrence=schedule.rule.text if schedule.rule else None,
        deadline=deadline,
        timezone=timezone,
        spans=_spans(text or "", scanner),
        warnings=warnings,
    )


def warm_up() -> None:
    """Load dateparser's English data now (about 150 ms once) rather than in the first request."""
    parse_quick_add("warm up dec 3 at 9am", datetime(2026, 1, 1, 12, 0))

"""Daily figures, computed in Python from the request's tasks and calendar and the gathered records.

Rules (each one a sentence, so a test or a reader can recompute any figure by hand):
- A task is *planned* for a period when its `planned_for` day is inside it.
- A task is *done in* a period when its status is done and its completion day is inside it; the
  completion day is `completed_at` in the client's time zone, else `planned_for`.
- A planned task not done in the period is *dropped* when cancelled, *slipped* when its `due` day is
  on or before the period's last day, else *carried over*.
- A task is *active* in a period when its completion day (if done) or else its `planned_for` day is
  inside it; *used hours* are the actual hours of the active tasks.
- Calendar events count for the part of them inside the period; cancelled ones only in `cancelled`.
  *Blocked* time is events of kind `block` or linked to a task; *busy* time is the union of events.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from steward.observer.figures import (
    CalendarFigures,
    DailyFigures,
    DayFigures,
    DraftFigures,
    GoalFigures,
    GoalProgress,
    NotableEvent,
    PeriodFigures,
    StewardFigures,
    TaskFigures,
    TimeFigures,
)
from steward.observer.periods import WORKING_DAYS, Period

MAX_NOTABLE = 20


def hours(value: float) -> float:
    return round(value + 0.0, 2)


def percent(part: float, whole: float) -> float | None:
    return round(part / whole * 100, 1) if whole else None


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def completion_day(task: dict[str, Any], period: Period) -> dt.date | None:
    if task["status"] != "done":
        return None
    if task.get("completed_at"):
        return dt.datetime.fromisoformat(task["completed_at"]).astimezone(period.tz).date()
    return _day(task.get("planned_for"))


def active_day(task: dict[str, Any], period: Period) -> dt.date | None:
    return completion_day(task, period) or _day(task.get("planned_for"))


def inside(day: dt.date | None, period: Period) -> bool:
    return day is not None and period.start <= day <= period.end


def task_figures(tasks: list[dict[str, Any]], period: Period) -> TaskFigures:
    planned = [t for t in tasks if inside(_day(t.get("planned_for")), period)]
    done = [t for t in tasks if inside(completion_day(t, period), period)]
    done_ids = {t["id"] for t in done}
    completed = [t for t in planned if t["id"] in done_ids]
    planned_ids = {t["id"] for t in planned}
    unplanned = [t for t in done if t["id"] not in planned_ids]
    missed = [t for t in planned if t["id"] not in done_ids]
    dropped = [t for t in missed if t["status"] == "cancelled"]
    open_ = [t for t in missed if t["status"] != "cancelled"]
    slipped = [t for t in open_ if t.get("due") and dt.date.fromisoformat(t["due"]) <= period.end]
    slipped_ids = {t["id"] for t in slipped}
    carried = [t for t in open_ if t["id"] not in slipped_ids]
    counted = [t for t in planned if t["status"] != "cancelled"]
    estimated = {t["id"]: t for t in counted + done}
    return TaskFigures(
        planned=len(planned),
        completed=len(completed),
        unplanned_completed=len(unplanned),
        slipped=len(slipped),
        carried_over=len(carried),
        dropped=len(dropped),
        completion_rate_percent=percent(len(completed), len(planned) - len(dropped)),
        planned_estimate_hours=hours(sum(t.get("estimate_hours") or 0 for t in counted)),
        completed_estimate_hours=hours(sum(t.get("estimate_hours") or 0 for t in done)),
        without_estimate=sum(1 for t in estimated.values() if t.get("estimate_hours") is None),
        completed_ids=[t["id"] for t in completed],
        unplanned_completed_ids=[t["id"] for t in unplanned],
        slipped_ids=[t["id"] for t in slipped],
        carried_over_ids=[t["id"] for t in carried],
    )


def used_hours(tasks: list[dict[str, Any]], period: Period) -> float:
    return hours(sum(t.get("actual_hours") or 0 for t in tasks if inside(active_day(t, period), period)))


def _clipped(events: list[dict[str, Any]], period: Period) -> list[tuple[dict[str, Any], dt.datetime, dt.datetime]]:
    """Each event that overlaps the period, with its start and end clipped to the period."""
    start, end = period.bounds()
    found = []
    for event in events:
        s, e = dt.datetime.fromisoformat(event["start"]), dt.datetime.fromisoformat(event["end"])
        s, e = max(s, start), min(e, end)
        if s < e or (s == e and start <= s < end):
            found.append((event, s, e))
    return found


def _span_hours(pieces: list[tuple[dt.datetime, dt.datetime]]) -> float:
    return sum((e - s).total_seconds() for s, e in pieces) / 3600


def _union_hours(pieces: list[tuple[dt.datetime, dt.datetime]]) -> float:
    total, reach = 0.0, None
    for s, e in sorted(pieces):
        if reach is None or s >= reach:
            total += (e - s).total_seconds()
            reach = e
        elif e > reach:
            total += (e - reach).total_seconds()
            reach = e
    return total / 3600


def is_block(event: dict[str, Any]) -> bool:
    return event.get("kind") == "block" or bool(event.get("task_id"))


def calendar_figures(events: list[dict[str, Any]], period: Period, working_hours_per_day: float) -> CalendarFigures:
    inside = _clipped(events, period)
    live = [(e, s, t) for e, s, t in inside if e.get("status") != "cancelled"]
    meetings = [(s, t) for e, s, t in live if e.get("kind", "meeting") == "meeting" and not is_block(e)]
    blocks = [(s, t) for e, s, t in live if is_block(e)]
    busy = _union_hours([(s, t) for _, s, t in live])
    available = working_hours_per_day * WORKING_DAYS[period.mode]
    return CalendarFigures(
        events=len(live),
        cancelled=len(inside) - len(live),
        meetings=len(meetings),
        meeting_hours=hours(_span_hours(meetings)),
        blocked_hours=hours(_span_hours(blocks)),
        scheduled_hours=hours(_span_hours([(s, t) for _, s, t in live])),
        busy_hours=hours(busy),
        available_hours=hours(available),
        load_percent=percent(busy, available),
    )


def time_figures(tasks: list[dict[str, Any]], calendar: CalendarFigures, period: Period) -> TimeFigures:
    used = used_hours(tasks, period)
    return TimeFigures(
        blocked_hours=calendar.blocked_hours, used_hours=used, utilisation_percent=percent(used, calendar.blocked_hours)
    )


def steward_figures(records: dict[str, Any]) -> StewardFigures:
    runs = records["execution_runs"]
    counts = records["events"]["counts"]
    memory_counts = records["memories"]["counts"]
    return StewardFigures(
        events=sum(counts.values()),
        events_by_type=counts,
        execution_runs=len(runs),
        execution_estimated_hours=hours(sum(r["estimated_hours"] or 0 for r in runs)),
        execution_actual_hours=hours(sum(r["actual_hours"] or 0 for r in runs)),
        memories=sum(memory_counts.values()),
        memories_by_kind=memory_counts,
    )


def notable_events(records: dict[str, Any], events: list[dict[str, Any]], period: Period) -> list[NotableEvent]:
    found = [
        NotableEvent(
            at=dt.datetime.fromisoformat(n["at"]).astimezone(period.tz),
            source="steward",
            type=n["type"],
            summary=n["summary"] or n["type"].replace("_", " "),
        )
        for n in records["events"]["notable"]
    ]
    found += [
        NotableEvent(
            at=s.astimezone(period.tz),
            source="calendar",
            type="event_cancelled",
            summary=e.get("title") or "(untitled)",
        )
        for e, s, _ in _clipped(events, period)
        if e.get("status") == "cancelled"
    ]
    return sorted(found, key=lambda n: n.at)[:MAX_NOTABLE]


def goal_figures(goals: list[dict[str, Any]]) -> GoalFigures:
    def progress(goal: dict[str, Any]) -> GoalProgress:
        return GoalProgress.model_validate({k: v for k, v in goal.items() if k != "finished_in_period"})

    def moved(goal: dict[str, Any]) -> bool:
        return goal["steps_done_in_period"] > 0 or (goal["status"] == "completed" and goal["finished_in_period"])

    advanced = [g for g in goals if moved(g)]
    stalled = [g for g in goals if not moved(g) and g["status"] in ("active", "failed")]
    return GoalFigures(advanced=[progress(g) for g in advanced], stalled=[progress(g) for g in stalled])


def daily(
    inputs: dict[str, Any], gathered: dict[str, Any], period: Period, records_key: str = "current"
) -> DailyFigures:
    """The daily figures of `period` (a day, or a whole week as one period)."""
    records = gathered[records_key]
    calendar = calendar_figures(inputs["calendar"], period, inputs["working_hours_per_day"])
    return DailyFigures(
        period=PeriodFigures(mode=period.mode, start=period.start, end=period.end, timezone=period.timezone),
        tasks=task_figures(inputs["tasks"], period),
        time=time_figures(inputs["tasks"], calendar, period),
        calendar=calendar,
        steward=steward_figures(records),
        notable_events=notable_events(records, inputs["calendar"], period),
        drafts=DraftFigures.model_validate(gathered["drafts"]),
        goals=goal_figures(records["goals"]),
    )


def day_row(inputs: dict[str, Any], day: Period) -> DayFigures:
    tasks = task_figures(inputs["tasks"], day)
    calendar = calendar_figures(inputs["calendar"], day, inputs["working_hours_per_day"])
    return DayFigures(
        date=day.start,
        planned=tasks.planned,
        completed=tasks.completed,
        unplanned_completed=tasks.unplanned_completed,
        slipped=tasks.slipped,
        carried_over=tasks.carried_over,
        blocked_hours=calendar.blocked_hours,
        used_hours=used_hours(inputs["tasks"], day),
        busy_hours=calendar.busy_hours,
    )

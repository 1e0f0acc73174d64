"""The day's agenda: calendar events and time blocks in order, the top tasks, and the workload.

Workload is what the day asks of the person: meeting minutes inside working hours plus task
blocks, against the configured limit. `free_minutes_left` is working time after `now` that no
event or block covers, so a refresh during the day shows what is really left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from steward.scheduler.clock import local_minute, to_minute, zone
from steward.scheduler.models import AgendaItem, BlockOut, BusyIn, TaskIn, TopTask, Workload
from steward.scheduler.preferences import Preferences
from steward.scheduler.problem import PRIORITY
from steward.scheduler.slots import merge, overlap, working_windows


@dataclass
class Day:
    date: date
    agenda: list[AgendaItem]
    top_tasks: list[TopTask]
    workload: Workload


def bounds(day: date, prefs: Preferences) -> tuple[int, int]:
    """The local day as [midnight, next midnight) in epoch minutes (23 or 25 hours on DST days)."""
    tz = zone(prefs.timezone)
    return local_minute(day, time(), tz), local_minute(day, None, tz)


def build(
    day: date,
    prefs: Preferences,
    now: datetime,
    busy: Sequence[BusyIn],
    blocks: Sequence[BlockOut],
    tasks: Sequence[TaskIn],
    done: set[str],
    top: int,
) -> Day:
    tz = zone(prefs.timezone)
    start, end = bounds(day, prefs)
    moment = to_minute(now)
    events = [b for b in busy if to_minute(b.start) < end and to_minute(b.end) > start]
    todays = [b for b in blocks if to_minute(b.start) < end and to_minute(b.end) > start]
    agenda = [
        AgendaItem(
            kind="event",
            start=e.start.astimezone(tz),
            end=e.end.astimezone(tz),
            title=e.title or "Busy",
            past=to_minute(e.end) <= moment,
        )
        for e in events
    ]
    agenda += [
        AgendaItem(
            kind="block",
            start=b.start,
            end=b.end,
            title=_block_title(b),
            task_id=b.task_id,
            key=b.key,
            past=to_minute(b.end) <= moment,
        )
        for b in todays
    ]
    agenda.sort(key=lambda item: (item.start, item.kind, item.title))

    windows = [(s, e) for s, e, _ in working_windows(prefs.working_hours, tz, day, 1)]
    busy_spans = merge((to_minute(e.start), to_minute(e.end)) for e in events)
    block_spans = merge((max(to_minute(b.start), start), min(to_minute(b.end), end)) for b in todays)
    busy_minutes = overlap(windows, busy_spans)
    task_minutes = sum(e - s for s, e in block_spans)
    working = sum(e - s for s, e in windows)
    ahead = [(max(s, moment), e) for s, e in windows if e > moment]
    taken = merge([*busy_spans, *block_spans])
    free_left = sum(e - s for s, e in ahead) - overlap(ahead, taken)
    total = busy_minutes + task_minutes
    workload = Workload(
        busy_minutes=busy_minutes,
        task_minutes=task_minutes,
        total_minutes=total,
        limit_minutes=prefs.workload_limit_minutes,
        percent=round(100 * total / prefs.workload_limit_minutes),
        over_limit=total > prefs.workload_limit_minutes,
        working_minutes=working,
        free_minutes_left=free_left,
    )
    return Day(day, agenda, _top_tasks(tasks, blocks, done, start, end, moment, top), workload)


def _block_title(block: BlockOut) -> str:
    return f"{block.title} ({block.chunk}/{block.of})" if block.of > 1 else block.title


def _top_tasks(
    tasks: Sequence[TaskIn], blocks: Sequence[BlockOut], done: set[str], start: int, end: int, moment: int, top: int
) -> list[TopTask]:
    """Open tasks by priority, then deadline, then input order."""
    minutes_today: dict[str, int] = {}
    next_block: dict[str, datetime] = {}
    for b in sorted(blocks, key=lambda b: b.start):
        s, e = to_minute(b.start), to_minute(b.end)
        minutes_today[b.task_id] = minutes_today.get(b.task_id, 0) + max(0, min(e, end) - max(s, start))
        if e > moment and b.task_id not in next_block:
            next_block[b.task_id] = b.start
    ranked = sorted(
        (t for t in tasks if t.id not in done),
        key=lambda t: (PRIORITY[t.priority], to_minute(t.deadline) if t.deadline else 2**62),
    )
    return [
        TopTask(
            task_id=t.id,
            title=t.title or t.id,
            priority=t.priority,
            deadline=t.deadline,
            deadline_type=t.deadline_type if t.deadline else "none",
            minutes_today=minutes_today.get(t.id, 0),
            next_block=next_block.get(t.id),
        )
        for t in ranked[:top]
    ]

"""From a validated request to the engine's `Problem`: minutes, effective settings, cross-checks.

Everything here that fails is the caller's input, reported as 422 naming the item and field
(`tasks.3.depends_on`), before anything is computed or written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from steward.core.errors import ValidationFailed
from steward.scheduler import graph
from steward.scheduler.clock import DAY, local_date, local_minute, to_minute, zone
from steward.scheduler.models import BusyIn, TaskIn
from steward.scheduler.preferences import Preferences
from steward.scheduler.slots import Interval, merge, working_windows

PRIORITY = {"p1": 1, "p2": 2, "p3": 3, "p4": 4}


@dataclass
class Job:
    """One task in minutes, with its chunk limits resolved."""

    id: str
    index: int
    title: str
    description: str | None
    duration: int
    priority: int
    deadline: int | None
    hard: bool
    earliest: int | None
    min_chunk: int
    max_chunk: int
    deps: tuple[str, ...]
    pinned: int | None
    credited: int = 0  # minutes already worked (reschedule); `duration` is what is left
    pin_passed: bool = False  # it had a pinned start before `now`, so it is planned freely


@dataclass
class Problem:
    tz: ZoneInfo
    now: int
    horizon_end: int
    first_day: date
    days: int
    windows: list[tuple[int, int, int]]
    busy: list[Interval]
    blocked: list[Interval]  # busy widened by the buffer, merged
    buffer: int
    break_minutes: int
    chunk_gap: int
    slot: int
    limit: int
    jobs: list[Job]
    order: list[str]  # task ids, dependencies first (ties in input order)
    fixed: list[tuple[str, int, int]] = field(default_factory=list)  # (task_id, start, end) kept as is

    @property
    def horizon_start(self) -> int:
        return self.now

    def day_of(self, minute: int) -> int:
        return (local_date(minute, self.tz) - self.first_day).days


def _fail(field_path: str, problem: str) -> ValidationFailed:
    return ValidationFailed.field(field_path, problem, status=422)


def build(
    tasks: Sequence[TaskIn],
    busy: Sequence[BusyIn],
    prefs: Preferences,
    now: datetime,
    *,
    first_day: date | None = None,
    fixed: Sequence[tuple[str, int, int]] = (),
    credited: dict[str, int] | None = None,
    field_prefix: str = "tasks",
) -> Problem:
    """Validate the cross-item rules and convert to minutes. `credited` shortens tasks (reschedule)."""
    if len(tasks) > prefs.max_tasks:
        raise _fail(field_prefix, f"{len(tasks)} tasks is more than the limit of {prefs.max_tasks}; send fewer")
    tz = zone(prefs.timezone)
    now_minute = to_minute(now, up=True)
    first = first_day or local_date(now_minute, tz)
    horizon_end = local_minute(first + timedelta(days=prefs.horizon_days - 1), None, tz)
    credited = credited or {}

    ids: dict[str, int] = {}
    for i, task in enumerate(tasks):
        if task.id in ids:
            raise _fail(f"{field_prefix}.{i}.id", f"duplicate task id {task.id!r} (also {field_prefix}.{ids[task.id]})")
        ids[task.id] = i
    jobs = [_job(i, task, prefs, credited.get(task.id, 0), field_prefix, now_minute) for i, task in enumerate(tasks)]
    deps = {job.id: job.deps for job in jobs}
    for job in jobs:
        for dep in job.deps:
            if dep not in ids:
                raise _fail(f"{field_prefix}.{job.index}.depends_on", f"unknown task {dep!r}; it is not in tasks")
            if dep == job.id:
                raise _fail(f"{field_prefix}.{job.index}.depends_on", "a task cannot depend on itself")
    try:
        order = graph.topological([j.id for j in jobs], deps)
    except graph.CycleError as exc:
        raise _fail(f"{field_prefix}.{ids[exc.cycle[0]]}.depends_on", str(exc)) from None
    _check_pins(jobs, ids, field_prefix)

    raw = merge((to_minute(b.start), to_minute(b.end, up=True)) for b in busy)
    return Problem(
        tz=tz,
        now=now_minute,
        horizon_end=horizon_end,
        first_day=first,
        days=prefs.horizon_days,
        windows=working_windows(prefs.working_hours, tz, first, prefs.horizon_days),
        busy=raw,
        blocked=merge((s - prefs.buffer_minutes, e + prefs.buffer_minutes) for s, e in raw),
        buffer=prefs.buffer_minutes,
        break_minutes=prefs.break_minutes,
        chunk_gap=max(prefs.chunk_gap_minutes, prefs.break_minutes, prefs.slot_minutes, 1),
        slot=prefs.slot_minutes,
        limit=prefs.workload_limit_minutes,
        jobs=jobs,
        order=order,
        fixed=list(fixed),
    )


def _job(index: int, task: TaskIn, prefs: Preferences, credited: int, prefix: str, now: int) -> Job:
    where = f"{prefix}.{index}"
    if task.duration_minutes > prefs.horizon_days * DAY:
        raise _fail(
            f"{where}.duration_minutes",
            f"{task.duration_minutes} minutes is longer than the {prefs.horizon_days}-day horizon; "
            "split the task or raise horizon_days",
        )
    remaining = max(task.duration_minutes - credited, 0)
    deadline = to_minute(task.deadline) if task.deadline else None
    earliest = to_minute(task.earliest_start, up=True) if task.earliest_start else None
    if task.deadline_type == "hard" and deadline is not None and earliest is not None and earliest >= deadline:
        raise _fail(f"{where}.earliest_start", "is not before the hard deadline; nothing could ever be placed")
    pinned = to_minute(task.pinned_start) if task.pinned_start else None
    pin_passed = pinned is not None and pinned < now
    if pin_passed:  # its time went by without the work: plan it like any other task
        pinned = None
    if pinned is not None:
        if task.deadline_type == "hard" and deadline is not None and pinned + remaining > deadline:
            raise _fail(f"{where}.pinned_start", "the pinned block would end after the task's hard deadline")
        if task.max_chunk_minutes is not None and task.max_chunk_minutes < task.duration_minutes:
            raise _fail(
                f"{where}.max_chunk_minutes",
                "a pinned task is one block; max_chunk_minutes must not be below duration_minutes",
            )
        low = high = max(remaining, 1)
    else:
        low, high = _chunk_limits(task, prefs)
        if remaining and remaining < low:
            low = remaining
        if credited and remaining and not splittable(remaining, low, min(high, remaining)):
            low = min(low, remaining // -(-remaining // high))  # what is left after partial work
        if remaining and not splittable(remaining, low, min(high, remaining)):
            raise _fail(
                f"{where}.min_chunk_minutes",
                f"{remaining} minutes cannot be split into chunks of {low} to {high} minutes; "
                "lower min_chunk_minutes or raise max_chunk_minutes",
            )
        high = min(high, remaining) if remaining else high
    return Job(
        id=task.id,
        index=index,
        title=task.title or task.id,
        description=task.description,
        duration=remaining,
        priority=PRIORITY[task.priority],
        deadline=deadline,
        hard=task.deadline_type == "hard",
        earliest=earliest,
        min_chunk=low,
        max_chunk=high,
        deps=tuple(dict.fromkeys(task.depends_on)),
        pinned=pinned,
        credited=credited,
        pin_passed=pin_passed,
    )


def _chunk_limits(task: TaskIn, prefs: Preferences) -> tuple[int, int]:
    """Task limits, else preferences; a one-sided limit pulls the other side along if needed."""
    given_low, given_high = task.min_chunk_minutes, task.max_chunk_minutes
    if given_low is None and given_high is None:
        low, high = prefs.min_chunk_minutes, max(prefs.max_chunk_minutes, prefs.min_chunk_minutes)
    elif given_low is None:
        high = given_high or prefs.max_chunk_minutes
        low = min(prefs.min_chunk_minutes, high)
    else:
        low = given_low
        high = given_high if given_high is not None else max(prefs.max_chunk_minutes, low)
    low = min(low, task.duration_minutes)
    return low, max(high, low)


def splittable(minutes: int, low: int, high: int) -> bool:
    """Whether `minutes` is a sum of chunks each between `low` and `high`."""
    if minutes <= 0:
        return minutes == 0
    chunks = -(-minutes // high)
    return minutes >= low and chunks * low <= minutes


def _check_pins(jobs: list[Job], ids: dict[str, int], prefix: str) -> None:
    pinned = sorted((j.pinned, j.pinned + j.duration, j.index) for j in jobs if j.pinned is not None and j.duration)
    for (_, end, first), (start, _, second) in zip(pinned, pinned[1:], strict=False):
        if start < end:
            raise _fail(
                f"{prefix}.{second}.pinned_start",
                f"overlaps the pinned block of {jobs[first].id!r}; two pinned blocks cannot share time",
            )
    by_id = {j.id: j for j in jobs}
    for job in jobs:
        if job.pinned is None or not job.duration:
            continue
        for dep in job.deps:
            other = by_id[dep]
            if other.pinned is not None and other.duration and other.pinned + other.duration > job.pinned:
                raise _fail(
                    f"{prefix}.{job.index}.pinned_start", f"starts before its dependency {dep!r} (also pinned) ends"
                )

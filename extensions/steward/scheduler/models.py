"""Request and response models of the scheduler: validated once, documented from the same classes.

Shape errors (a zero duration, an inverted interval, an unknown timezone) are caught here and
come back as 400 naming the field; cross-item checks (dependency cycles, overlapping pins, limits)
need the whole request and live in `problem.py` (422).
"""

from __future__ import annotations

import re
from datetime import date as Date
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StrictBool, StringConstraints, field_validator, model_validator

from steward.core.api import StrictModel
from steward.core.errors import ValidationFailed
from steward.core.processing import ProcessingIn
from steward.core.types import ClientId, Day, Timestamp
from steward.scheduler.clock import zone

Priority = Literal["p1", "p2", "p3", "p4"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TaskId = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Title = Annotated[str, StringConstraints(max_length=500)]
ClockText = Annotated[str, Field(pattern=r"^\d{2}:\d{2}$", examples=["09:00"])]
_CLOCK = re.compile(r"^(\d{2}):(\d{2})$")
MAX_HORIZON_DAYS = 90


def clock_minutes(text: str, *, allow_24: bool) -> int:
    """'HH:MM' as minutes after midnight; '24:00' only where a window may end at midnight."""
    match = _CLOCK.match(text)
    if not match:
        raise ValueError("use HH:MM, e.g. 09:00")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 23:59, or 24:00 as an end)")
    return hours * 60 + minutes


class Window(StrictModel):
    """One working window of a weekday, in local wall-clock time."""

    start: ClockText
    end: ClockText = Field(description="May be 24:00 (midnight at the end of the day)")

    @field_validator("start")
    @classmethod
    def _start(cls, value: str) -> str:
        clock_minutes(value, allow_24=False)
        return value

    @field_validator("end")
    @classmethod
    def _end(cls, value: str, info) -> str:
        end = clock_minutes(value, allow_24=True)
        start = info.data.get("start")
        if start is not None and end <= clock_minutes(start, allow_24=False):
            raise ValueError(f"ends at {value}, not after its start {start}; windows cannot cross midnight")
        return value


WorkingHours = Annotated[
    dict[Weekday, list[Window]],
    Field(description="Windows per weekday, e.g. {'mon': [{'start': '09:00', 'end': '12:00'}, ...]}"),
]


def window_problem(hours: dict[Any, list[Window]]) -> tuple[str, str] | None:
    """(field path, problem) for overlapping windows or a week without working time; else None."""
    for day, windows in hours.items():
        spans = sorted(
            (clock_minutes(w.start, allow_24=False), clock_minutes(w.end, allow_24=True), i)
            for i, w in enumerate(windows)
        )
        for (_, end, other), (start, _, index) in zip(spans, spans[1:], strict=False):
            if start < end:
                return f"working_hours.{day}.{index}", f"overlaps window {other} of the same day"
    if not any(hours.values()):
        return "working_hours", "no working time on any day; give at least one window"
    return None


def check_windows(hours: dict[Any, list[Window]] | None) -> dict[Any, list[Window]] | None:
    if hours is not None and (problem := window_problem(hours)):
        raise ValueError(f"{problem[0]}: {problem[1]}")
    return hours


class BreakPolicy(StrictModel):
    break_minutes: int = Field(0, ge=0, le=240, description="Minimum gap between two task blocks")
    chunk_gap_minutes: int = Field(
        30, ge=0, le=1440, description="Minimum gap between two chunks of the same task (at least one slot)"
    )


class TaskIn(StrictModel):
    id: TaskId
    title: Title = ""
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    duration_minutes: int = Field(gt=0, le=MAX_HORIZON_DAYS * 1440)
    priority: Priority = "p3"
    deadline: Timestamp | None = None
    deadline_type: Literal["hard", "soft"] = "soft"
    earliest_start: Timestamp | None = None
    min_chunk_minutes: int | None = Field(None, ge=1, le=1440)
    max_chunk_minutes: int | None = Field(None, ge=1, le=1440)
    depends_on: list[TaskId] = Field(default_factory=list, max_length=200)
    pinned_start: Timestamp | None = None

    @field_validator("deadline_type")
    @classmethod
    def _hard_needs_deadline(cls, value: str, info) -> str:
        if value == "hard" and "deadline" in info.data and info.data["deadline"] is None:
            raise ValueError("a hard deadline_type needs a deadline")
        return value

    @field_validator("max_chunk_minutes")
    @classmethod
    def _not_below_min(cls, value: int | None, info) -> int | None:
        low = info.data.get("min_chunk_minutes")
        if value is not None and low is not None and low > value:
            raise ValueError(f"is below min_chunk_minutes ({low})")
        return value


class BusyIn(StrictModel):
    """A calendar event or a free/busy interval; overlapping events are allowed (double bookings)."""

    start: Timestamp
    end: Timestamp
    title: Title | None = None
    calendar_id: Annotated[str, StringConstraints(max_length=500)] | None = None
    id: Annotated[str, StringConstraints(max_length=500)] | None = None

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info) -> datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("ends before (or when) it starts")
        return end


class RunOptions(StrictModel):
    """What the caller may set for one run; preferences fill whatever is left out."""

    timezone: str | None = Field(None, examples=["Europe/Berlin"])
    working_hours: WorkingHours | None = None
    horizon_days: int | None = Field(None, ge=1, le=MAX_HORIZON_DAYS)
    buffer_minutes: int | None = Field(None, ge=0, le=240)
    break_policy: BreakPolicy | None = None
    workload_limit_minutes: int | None = Field(None, ge=1, le=1440)
    slot_minutes: Literal[1, 5, 15] | None = None
    now: Timestamp | None = Field(None, description="Schedule from this instant; defaults to the current time")
    processing: ProcessingIn | None = Field(None, description="Accepted for symmetry; scheduling needs no LLM")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    @model_validator(mode="after")
    def _windows(self):
        problem = self.working_hours is not None and window_problem(self.working_hours)
        if problem:  # raised directly so the error names the day and window, not just the dict
            raise ValidationFailed.field(*problem)
        return self


class PlanDefaults(StrictModel):
    """Applied to every step when tasks come from a stored plan (plan_id)."""

    priority: Priority = "p2"
    deadline: Timestamp | None = None
    deadline_type: Literal["hard", "soft"] = "soft"
    earliest_start: Timestamp | None = None


class ScheduleRequest(RunOptions):
    client_id: ClientId
    plan_id: UUID | None = Field(None, description="Schedule the steps of this stored plan instead of tasks")
    plan_defaults: PlanDefaults | None = None
    tasks: list[TaskIn] | None = None
    busy: list[BusyIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> ScheduleRequest:
        if (self.plan_id is None) == (self.tasks is None):
            raise ValueError("give either plan_id or tasks (exactly one)")
        return self


class BlockIn(StrictModel):
    """A block of the current plan as n8n knows it: a block /schedule returned, plus its event id."""

    task_id: TaskId
    start: Timestamp
    end: Timestamp
    key: Annotated[str, StringConstraints(max_length=300)] | None = None
    event_id: Annotated[str, StringConstraints(max_length=500)] | None = None
    title: Title | None = None
    description: str | None = None
    chunk: int | None = None
    of: int | None = None
    minutes: int | None = None
    pinned: StrictBool | None = None

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: datetime, info) -> datetime:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise ValueError("ends before (or when) it starts")
        return end


class RescheduleRequest(RunOptions):
    client_id: ClientId
    scheduler_run_id: UUID | None = None
    blocks: list[BlockIn] | None = None
    tasks: list[TaskIn] | None = None
    busy: list[BusyIn] | None = Field(None, description="The calendar as it is now; defaults to the run's")
    done: list[TaskId] = Field(default_factory=list, description="Task ids finished: their future blocks go")
    slipped: list[Annotated[str, StringConstraints(max_length=300)]] = Field(
        default_factory=list, description="Block keys or task ids whose past blocks did not happen"
    )

    @model_validator(mode="after")
    def _source(self) -> RescheduleRequest:
        if self.scheduler_run_id is None and (self.blocks is None or self.tasks is None):
            raise ValueError("give scheduler_run_id, or both blocks and tasks")
        return self


class DailyPlanQuery(StrictModel):
    client_id: ClientId
    date: Day | None = None


class DailyPlanRequest(RunOptions):
    """Refresh the day: `tasks` re-plans the rest of it; otherwise `blocks` or a stored run are shown."""

    client_id: ClientId
    date: Day | None = None
    scheduler_run_id: UUID | None = None
    tasks: list[TaskIn] | None = Field(None, description="Open tasks: plan what fits in the rest of the day")
    busy: list[BusyIn] | None = Field(None, description="The day's calendar events")
    blocks: list[BlockIn] | None = Field(None, description="Blocks already on the calendar")
    done: list[TaskId] = Field(default_factory=list)
    top: int = Field(5, ge=1, le=20)

    @model_validator(mode="after")
    def _tasks_or_blocks(self) -> DailyPlanRequest:
        if self.tasks is not None and self.blocks is not None:
            raise ValueError("give tasks (to plan the day) or blocks (already planned), not both")
        return self


class RunOut(BaseModel):
    id: UUID
    client_id: str
    plan_id: UUID | None
    kind: str
    parent_run_id: UUID | None
    created_at: datetime
    request: dict[str, Any]
    result: dict[str, Any]
    meta: Meta


# ---- responses ---------------------------------------------------------------------------


class Meta(BaseModel):
    service: Literal["scheduler"] = "scheduler"
    algorithm: str = "edf-priority/1"
    elapsed_ms: float = 0.0
    preferences: dict[str, str] = Field(default_factory=dict, description="Where each default came from")


class BlockOut(BaseModel):
    key: str = Field(description="Stable block id within the plan: '<task_id>#<n>'")
    task_id: str
    title: str
    description: str
    start: datetime
    end: datetime
    minutes: int
    chunk: int
    of: int
    pinned: bool = False


class UnscheduledOut(BaseModel):
    task_id: str
    title: str
    reason: Literal[
        "no_room_before_deadline",
        "deadline_passed",
        "dependency_unscheduled",
        "beyond_horizon",
        "pinned_conflict",
        "pinned_outside_horizon",
    ]
    message: str
    remaining_minutes: int


class WarningOut(BaseModel):
    code: Literal[
        "soft_deadline_at_risk",
        "day_over_workload_limit",
        "pinned_outside_working_hours",
        "estimate_assumed",
        "pinned_time_passed",
    ]
    message: str
    task_id: str | None = None
    date: Date | None = None


class DecisionOut(BaseModel):
    """Why a task sits where it does: the tier and rank it was placed in, and what bound it."""

    task_id: str
    tier: Literal["pinned", "deadline", "priority"]
    rank: int
    effective_priority: Priority
    effective_deadline: datetime | None
    ready_at: datetime | None = Field(description="Earliest start after its dependencies, if placed")
    slack_minutes: int | None = Field(description="Minutes between the last block's end and the deadline")


class DayLoad(BaseModel):
    date: Date
    busy_minutes: int
    task_minutes: int
    limit_minutes: int


class ScheduleResponse(BaseModel):
    run_id: UUID | None
    client_id: str
    timezone: str
    horizon_start: datetime
    horizon_end: datetime
    blocks: list[BlockOut]
    unscheduled: list[UnscheduledOut]
    warnings: list[WarningOut]
    decisions: list[DecisionOut]
    workload: list[DayLoad]
    meta: Meta


class MovedBlock(BaseModel):
    key: str
    event_id: str | None
    task_id: str
    from_start: datetime
    from_end: datetime
    block: BlockOut


class DeletedBlock(BaseModel):
    key: str
    event_id: str | None
    task_id: str
    start: datetime
    end: datetime


class Diff(BaseModel):
    create: list[BlockOut]
    move: list[MovedBlock]
    delete: list[DeletedBlock]
    unchanged: list[str]


class RescheduleResponse(ScheduleResponse):
    parent_run_id: UUID | None
    diff: Diff


class AgendaItem(BaseModel):
    kind: Literal["event", "block"]
    start: datetime
    end: datetime
    title: str
    task_id: str | None = None
    key: str | None = None
    past: bool = False


class TopTask(BaseModel):
    task_id: str
    title: str
    priority: Priority
    deadline: datetime | None
    deadline_type: str
    minutes_today: int
    next_block: datetime | None


class Workload(BaseModel):
    busy_minutes: int
    task_minutes: int
    total_minutes: int
    limit_minutes: int
    percent: int
    over_limit: bool
    working_minutes: int
    free_minutes_left: int


class DailyPlanResponse(BaseModel):
    run_id: UUID | None
    source_run_id: UUID | None
    client_id: str
    date: Date
    timezone: str
    agenda: list[AgendaItem]
    top_tasks: list[TopTask]
    unscheduled: list[UnscheduledOut]
    workload: Workload
    text: str
    parse_mode: Literal["HTML"] = "HTML"
    meta: Meta


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")

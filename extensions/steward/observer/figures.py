"""The computed figures of a reflection: every number n8n may put in a Coda column.

Hours are rounded to 2 decimals and percentages to 1, once, where they are computed; a
percentage whose base is zero is null rather than a made-up 0 or 100.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Mode = Literal["daily", "weekly"]


class PeriodFigures(BaseModel):
    mode: Mode
    start: dt.date
    end: dt.date
    timezone: str


class TaskFigures(BaseModel):
    planned: int = Field(description="Tasks planned for the period (planned_for inside it)")
    completed: int = Field(description="Planned tasks done within the period")
    unplanned_completed: int = Field(description="Tasks done within the period that were not planned for it")
    slipped: int = Field(description="Planned, not done, and due on or before the period's last day")
    carried_over: int = Field(description="Planned, not done, no deadline missed: moves to the next period")
    dropped: int = Field(description="Planned and cancelled")
    completion_rate_percent: float | None = Field(description="completed / (planned - dropped)")
    planned_estimate_hours: float = Field(description="Estimates of the planned tasks, dropped ones excluded")
    completed_estimate_hours: float = Field(description="Estimates of every task done within the period")
    without_estimate: int = Field(description="Planned or completed tasks with no estimate (counted as 0 h)")
    completed_ids: list[str]
    unplanned_completed_ids: list[str]
    slipped_ids: list[str]
    carried_over_ids: list[str]


class TimeFigures(BaseModel):
    blocked_hours: float = Field(description="Calendar time blocked for work (kind=block or linked to a task)")
    used_hours: float = Field(description="Actual hours of the tasks active in the period")
    utilisation_percent: float | None = Field(description="used / blocked")


class CalendarFigures(BaseModel):
    events: int = Field(description="Events not cancelled that overlap the period")
    cancelled: int
    meetings: int
    meeting_hours: float
    blocked_hours: float
    scheduled_hours: float = Field(description="Sum of event durations inside the period (overlaps count twice)")
    busy_hours: float = Field(description="Time covered by at least one event (overlaps count once)")
    available_hours: float = Field(description="working_hours_per_day x working days in the period")
    load_percent: float | None = Field(description="busy / available")


class StewardFigures(BaseModel):
    events: int
    events_by_type: dict[str, int]
    execution_runs: int
    execution_estimated_hours: float
    execution_actual_hours: float
    memories: int = Field(description="Memories recorded in the period (reflections excluded)")
    memories_by_kind: dict[str, int]


class NotableEvent(BaseModel):
    at: dt.datetime
    source: Literal["steward", "calendar"]
    type: str
    summary: str


class DraftFigures(BaseModel):
    open: int
    available: bool = Field(description="False when Steward has no drafts table yet (open is then 0)")
    note: str | None = None


class GoalProgress(BaseModel):
    plan_id: str
    title: str
    status: str
    steps_total: int
    steps_done: int
    steps_done_in_period: int
    blocked_steps: int


class GoalFigures(BaseModel):
    advanced: list[GoalProgress] = Field(description="Plans with a step done in the period, or completed in it")
    stalled: list[GoalProgress] = Field(description="Active (or failed) plans with no step done in the period")


class DailyFigures(BaseModel):
    period: PeriodFigures
    tasks: TaskFigures
    time: TimeFigures
    calendar: CalendarFigures
    steward: StewardFigures
    notable_events: list[NotableEvent]
    drafts: DraftFigures
    goals: GoalFigures


class DayFigures(BaseModel):
    date: dt.date
    planned: int
    completed: int
    unplanned_completed: int
    slipped: int
    carried_over: int
    blocked_hours: float
    used_hours: float
    busy_hours: float


class TrendMetric(BaseModel):
    current: float | None
    previous: float | None
    delta: float | None
    delta_percent: float | None


class Trends(BaseModel):
    previous_start: dt.date
    previous_end: dt.date
    source: Literal["stored_reflection", "computed"] = Field(
        description="stored_reflection: last week's stored figures; computed: recomputed from this request's "
        "inputs and Steward's records for last week"
    )
    metrics: dict[str, TrendMetric]


PatternGroup = Literal["process_template", "workflow"]


class PatternRow(BaseModel):
    group: PatternGroup
    id: str
    runs: int
    estimated_hours: float
    actual_hours: float
    drift_percent: float = Field(description="(actual - estimated) / estimated")
    flagged: bool = Field(description="|drift| above the threshold")
    runs_over_threshold: int


class PatternPerformance(BaseModel):
    threshold_percent: float
    patterns: list[PatternRow]
    flagged: list[PatternRow]
    runs_considered: int
    runs_without_estimate: int = Field(description="Runs with no (or a zero) estimate, or no actual: left out")
    ungrouped_runs: int = Field(description="Runs with neither a process template nor a workflow: left out")


class SprintFigures(BaseModel):
    name: str | None
    planned_billable_hours: float
    actual_billable_hours: float
    variance_hours: float = Field(description="actual - planned")
    variance_percent: float | None
    billable_tasks: int
    billable_tasks_completed: int
    missing_task_ids: list[str] = Field(description="Sprint task ids that were not among the tasks sent")


class WeeklyFigures(DailyFigures):
    days: list[DayFigures]
    trends: Trends
    pattern_performance: PatternPerformance
    sprint: SprintFigures | None

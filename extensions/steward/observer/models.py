"""Requests and responses of `/api/v1/observer`, and `Narration`, the LLM's output contract."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, StrictBool, StringConstraints, ValidationInfo, field_validator

from steward.core.api import StrictModel
from steward.core.processing import ProcessingIn
from steward.core.types import ClientId, Day, Limit, Timestamp
from steward.observer.figures import DailyFigures, Mode, WeeklyFigures

Ref = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Title = Annotated[str, StringConstraints(max_length=500)]
Hours = Annotated[float, Field(ge=0, le=100_000, description="Hours, 0 or more")]
TaskStatus = Literal["open", "in_progress", "blocked", "done", "cancelled"]

_STATUS_WORDS = {
    "todo": "open",
    "to do": "open",
    "not started": "open",
    "new": "open",
    "doing": "in_progress",
    "in progress": "in_progress",
    "started": "in_progress",
    "completed": "done",
    "complete": "done",
    "closed": "done",
    "canceled": "cancelled",
    "dropped": "cancelled",
    "won't do": "cancelled",
}


def _as_id(value: Any) -> Any:
    """Todoist and Coda ids arrive as strings, some exports send numbers: accept both."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class TaskIn(StrictModel):
    """A task as n8n read it from Coda or Todoist."""

    id: Ref = Field(description="The task's id in its source (required: figures name tasks by id)")
    title: Title = ""
    status: TaskStatus = Field(description="open, in_progress, blocked, done or cancelled (common synonyms accepted)")
    estimate_hours: Hours | None = None
    actual_hours: Hours | None = Field(None, description="Hours actually worked on it so far")
    billable: StrictBool = False
    planned_for: Day | None = Field(None, description="The day it was planned (scheduled) for")
    due: Day | None = Field(None, description="Its deadline, if any")
    completed_at: Timestamp | None = None
    project: Ref | None = None
    source: Annotated[str, StringConstraints(max_length=40)] | None = Field(None, examples=["coda", "todoist"])

    @field_validator("id", mode="before")
    @classmethod
    def _numeric_id(cls, value: Any) -> Any:
        return _as_id(value)

    @field_validator("status", mode="before")
    @classmethod
    def _status_words(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower().replace("-", " ").replace("_", " ")
            return _STATUS_WORDS.get(word, word.replace(" ", "_"))
        return value


class CalendarEventIn(StrictModel):
    """A calendar event with its status; `block` (or a `task_id`) marks time blocked for work."""

    id: Ref | None = None
    title: Title = ""
    start: Timestamp
    end: Timestamp
    status: Literal["confirmed", "tentative", "cancelled"] = "confirmed"
    kind: Literal["meeting", "block", "other"] = "meeting"
    task_id: Ref | None = None

    @field_validator("id", "task_id", mode="before")
    @classmethod
    def _numeric_ids(cls, value: Any) -> Any:
        return _as_id(value)

    @field_validator("end")
    @classmethod
    def _after_start(cls, value: dt.datetime, info: ValidationInfo) -> dt.datetime:
        start = info.data.get("start")
        if start is not None and value < start:
            raise ValueError("end must not be before start")
        return value


class SprintIn(StrictModel):
    name: Title | None = None
    planned_billable_hours: Hours
    task_ids: list[Ref] = Field(
        default_factory=list,
        max_length=5000,
        description="The sprint's tasks; empty: every billable task active in the week",
    )

    @field_validator("task_ids", mode="before")
    @classmethod
    def _numeric_ids(cls, value: Any) -> Any:
        return [_as_id(i) for i in value] if isinstance(value, list) else value


class ReflectIn(StrictModel):
    client_id: ClientId
    date: Day | None = Field(None, description="mode=daily: the day to reflect on")
    week: Day | None = Field(None, description="mode=weekly: the Monday that starts the week")
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        "UTC", description="IANA time zone the days are counted in", examples=["Europe/Berlin"]
    )
    working_hours_per_day: float = Field(8.0, gt=0, le=24, description="For calendar load")
    calendar: list[CalendarEventIn] = Field(default_factory=list, max_length=5000)
    tasks: list[TaskIn] = Field(default_factory=list, max_length=5000)
    sprint: SprintIn | None = Field(None, description="mode=weekly: planned billable hours and the sprint's tasks")
    processing: ProcessingIn | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from None
        return value


class ReflectQuery(StrictModel):
    mode: Mode
    force: bool = Field(False, description="Recompute even when this period already has a run")


class Narration(BaseModel):
    """What the LLM writes: prose around the given numbers, and three suggestions."""

    narrative: Annotated[str, StringConstraints(min_length=1, max_length=3000)]
    suggestions: list[Annotated[str, StringConstraints(min_length=1, max_length=500)]] = Field(
        min_length=3, max_length=3
    )


class NarrationInfo(BaseModel):
    by: Literal["llm", "template"]
    model: str | None = None
    mode: str | None = None
    prompt_version: int | None = None
    cached: bool = False
    calls: int = 0
    cost_usd: float = 0.0
    unmatched_numbers: list[str] = Field(
        default_factory=list, description="Numbers in the LLM's prose that are not among the figures"
    )
    note: str | None = None


class PeriodOut(BaseModel):
    mode: Mode
    start: dt.date
    end: dt.date
    timezone: str


class CodaCell(BaseModel):
    column: str
    value: Any


class CodaRow(BaseModel):
    cells: list[CodaCell]


class CodaUpsert(BaseModel):
    """The body of Coda's `POST /docs/{doc}/tables/{table}/rows`, keyed so a re-run updates the row."""

    rows: list[CodaRow]
    keyColumns: list[str]  # noqa: N815 - Coda's own field name


class StoredReflection(BaseModel):
    reflection_id: UUID
    run_id: UUID
    client_id: str
    mode: Mode
    period: PeriodOut
    figures: WeeklyFigures | DailyFigures
    narrative: str
    suggestions: list[str]
    narration: NarrationInfo
    markdown: str
    coda_row: CodaUpsert
    memory_id: UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ReflectionOut(StoredReflection):
    reused: bool = Field(description="True when an existing run for this period was returned (or resumed)")
    input_changed: bool = Field(
        description="True when reused and this request's input differs from the run's; "
        "send force=true to recompute with it"
    )


class ReflectionsQuery(StrictModel):
    client_id: ClientId
    mode: Mode | None = None
    since: Day | None = Field(None, description="Only reflections whose period ends on or after this day")
    limit: Limit = 20
    cursor: str | None = None


class ReflectionPage(BaseModel):
    items: list[StoredReflection]
    next_cursor: str | None

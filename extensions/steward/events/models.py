"""Request and response models of the event log."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from steward.core.api import StrictModel
from steward.core.types import ClientId, JsonObject, Limit, Name, Timestamp


class EventIn(StrictModel):
    event_type: Name = Field(examples=["task_created"])
    event_source: Name = Field(examples=["n8n:coda-to-calendar-sync"])
    client_id: ClientId
    payload: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)
    occurred_at: Timestamp | None = Field(None, description="When it happened; defaults to now")


class EventOut(BaseModel):
    id: UUID
    event_type: str
    event_source: str
    client_id: str
    payload: dict
    metadata: dict
    occurred_at: datetime
    created_at: datetime


class EventQuery(StrictModel):
    client_id: ClientId | None = None
    event_type: Name | None = None
    event_source: Name | None = None
    since: Timestamp | None = None
    until: Timestamp | None = None
    limit: Limit = 50
    cursor: str | None = Field(None, max_length=400, description="next_cursor from the previous page")

    @field_validator("until")
    @classmethod
    def _ordered(cls, until, info):
        since = info.data.get("since")
        if until is not None and since is not None and until < since:
            raise ValueError("until must not be before since")
        return until


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None

"""Request and response models of `/api/v1/items`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field, StrictBool, StringConstraints, model_validator

from steward.core.api import StrictModel
from steward.core.types import ClientId, Limit, Timestamp
from steward.items.kinds import ItemStatus, ItemType, Priority

Title = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\s,]+$")]


class ItemOut(BaseModel):
    id: UUID
    client_id: str
    type: ItemType
    status: ItemStatus
    title: str
    body: str
    due: datetime | None
    due_has_time: bool
    duration_minutes: int | None
    priority: Priority | None
    labels: list[str]
    project_id: UUID | None
    recurrence: str | None
    source: str
    version: int
    content_updated_at: datetime
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class LinkOut(BaseModel):
    id: UUID
    source_item_id: UUID
    target_item_id: UUID
    link_type: str
    created_at: datetime


class ItemDetail(ItemOut):
    links: list[LinkOut] = Field(default_factory=list)


class ItemsQuery(StrictModel):
    client_id: ClientId
    type: list[ItemType] | None = Field(default=None, description="One or more types, comma-separated")
    status: list[ItemStatus] | None = Field(default=None, description="One or more statuses, comma-separated")
    q: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = Field(
        None, description="Words of the title or body, or part of the title"
    )
    limit: Limit = 50
    cursor: str | None = Field(default=None, max_length=400, description="next_cursor from the previous page")


class ItemLookup(StrictModel):
    client_id: ClientId


class ItemsPage(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None


class ItemPatch(StrictModel):
    """The fields to change; only those sent change. `expected_version` guards against lost updates."""

    client_id: ClientId
    expected_version: int | None = Field(default=None, ge=1, description="409 if the item has moved on since")
    type: ItemType | None = None
    status: ItemStatus | None = None
    title: Title | None = None
    body: Annotated[str, StringConstraints(max_length=20000)] | None = None
    due: Timestamp | None = None
    due_has_time: StrictBool | None = None
    duration_minutes: int | None = Field(default=None, gt=0, le=100_000)
    priority: Priority | None = None
    labels: list[Label] | None = Field(default=None, max_length=50)
    project_id: UUID | None = None
    recurrence: Annotated[str, StringConstraints(max_length=500)] | None = None

    @model_validator(mode="after")
    def _something(self) -> ItemPatch:
        if not self.changes():
            raise ValueError("send at least one field to change")
        for name in ("type", "status", "title", "body", "due_has_time", "labels"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def changes(self) -> dict:
        skip = {"client_id", "expected_version"}
        return {k: getattr(self, k) for k in self.model_fields_set if k not in skip}

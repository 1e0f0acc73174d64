"""The action plan: what a message asks Steward to do, before anyone has agreed to do it.

Both planners produce it (the LLM through the `action_planner` prompt, quick-add offline); the
critic annotates it, a draft stores it and the executor applies it. One flat action model with
optional fields (rather than a union per type) keeps the JSON schema simple enough for small
local models; `policy.py` checks that each action carries what its type needs.

References: `item_id` and `target_id` are an existing item's UUID or `new:N`, the item created by
action N (0-based) of the same plan.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from steward.items.kinds import ItemStatus, ItemType, LinkType, Priority

ActionType = Literal["create_item", "update_item", "complete_item", "link_items", "remember", "schedule"]
ACTION_TYPES: tuple[str, ...] = ActionType.__args__  # type: ignore[attr-defined]
Intent = Literal["capture", "update", "complete", "remember", "question", "other"]
NEW_REF = re.compile(r"^new:(\d{1,3})$")


class ItemFields(BaseModel):
    """A new item's fields (create_item) or the fields to change (update_item, schedule)."""

    type: ItemType | None = None
    title: str | None = Field(default=None, max_length=500)
    body: str | None = Field(default=None, max_length=4000)
    status: ItemStatus | None = None
    due: datetime | None = Field(default=None, description="ISO 8601 with the user's offset")
    due_has_time: bool | None = Field(default=None, description="False for a due date without a time of day")
    duration_minutes: int | None = Field(default=None, gt=0, le=100_000)
    priority: Priority | None = Field(default=None, description="p1 (urgent) to p4 (none)")
    labels: list[str] | None = Field(default=None, max_length=20)
    project: str | None = Field(default=None, max_length=200, description="Project name; a new one is created")
    recurrence: str | None = Field(default=None, max_length=200, description="An RRULE or words, e.g. 'every monday'")

    def given(self) -> dict:
        return self.model_dump(exclude_none=True)


class FactFields(BaseModel):
    subject: str = Field(min_length=1, max_length=300)
    predicate: str = Field(min_length=1, max_length=100, description="snake_case, e.g. works_at, lives_in")
    object: str = Field(min_length=1, max_length=2000)


class Action(BaseModel):
    type: ActionType
    item: ItemFields | None = None
    item_id: str | None = Field(default=None, max_length=64, description="An existing item's id, or new:N")
    target_id: str | None = Field(default=None, max_length=64, description="link_items: the other item, id or new:N")
    link_type: LinkType | None = None
    text: str | None = Field(default=None, max_length=8000, description="remember: what to remember")
    fact: FactFields | None = Field(default=None, description="remember: the same as a fact, when it is one")


class ActionPlan(BaseModel):
    intent: Intent = "capture"
    scope: str = Field(default="", max_length=200, description="What the actions touch: a project, a person, or empty")
    actions: list[Action] = Field(default_factory=list, max_length=50)
    confidence: float = Field(default=0.5, ge=0, le=1)


def new_index(ref: str | None) -> int | None:
    """N for a `new:N` reference, else None."""
    match = NEW_REF.match(ref or "")
    return int(match.group(1)) if match else None


def existing_refs(plan: ActionPlan) -> set[str]:
    """The ids of existing items the plan touches."""
    refs = {ref for a in plan.actions for ref in (a.item_id, a.target_id) if ref}
    return {ref for ref in refs if new_index(ref) is None}

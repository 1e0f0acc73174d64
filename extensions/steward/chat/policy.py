"""The executor's policy: what a plan must satisfy before any of it is applied.

Checked again at the moment of execution (the world may have moved since the draft was made):
allowed action types, the bulk limit, the fields each type needs, and that every reference
names a live item of this user or an item created earlier in the same plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg

from steward.chat.actions import ACTION_TYPES, Action, ActionPlan, new_index
from steward.items import store as items

NEEDS_TARGET = ("update_item", "complete_item", "link_items", "schedule")


@dataclass(frozen=True)
class Problem:
    action: int | None
    field: str
    problem: str
    kind: str = "invalid"

    def text(self) -> str:
        where = f"action {self.action + 1}" if self.action is not None else "the draft"
        return f"{where}: {self.field} {self.problem}"


def _is_uuid(ref: str) -> bool:
    try:
        UUID(ref)
    except ValueError:
        return False
    return True


def resolve_existing(conn: psycopg.Connection[Any], client_id: str, refs: set[str]) -> dict[str, dict[str, Any]]:
    """The live items among `refs`, by ref."""
    found = {}
    for ref in refs:
        if _is_uuid(ref):
            row = items.get_item(conn, ref, client_id)
            if row is not None:
                found[ref] = row
    return found


def _ref_problem(ref: str | None, index: int, actions: list[Action], live: dict[str, Any]) -> str | None:
    if not ref:
        return "is required"
    n = new_index(ref)
    if n is not None:
        if n >= index or actions[n].type != "create_item":
            return f"refers to {ref}, which is not an item created earlier in this draft"
        return None
    if ref not in live:
        return f"names no item of yours ({ref})"
    return None


def _fields_problems(index: int, action: Action) -> list[Problem]:
    out = []
    fields = action.item.given() if action.item else {}
    if action.type == "create_item":
        if not (fields.get("title") or "").strip():
            out.append(Problem(index, "item.title", "is required: what is the item called?"))
    elif action.type == "update_item":
        if not fields:
            out.append(Problem(index, "item", "names no field to change"))
        elif "title" in fields and not fields["title"].strip():
            out.append(Problem(index, "item.title", "cannot be empty"))
    elif action.type == "schedule" and "due" not in fields:
        out.append(Problem(index, "item.due", "is required to schedule"))
    return out


def check(conn: psycopg.Connection[Any], client_id: str, plan: ActionPlan, bulk_limit: int) -> list[Problem]:
    """Every reason the plan cannot be applied as it stands (empty when it can)."""
    actions = plan.actions
    if not actions:
        return [Problem(None, "actions", "propose nothing to do")]
    out: list[Problem] = []
    if len(actions) > bulk_limit:
        out.append(
            Problem(None, "actions", f"are {len(actions)}, more than the limit of {bulk_limit} per draft", "bulk")
        )
    refs = {r for a in actions for r in (a.item_id, a.target_id) if r}
    live = resolve_existing(conn, client_id, refs)
    for index, action in enumerate(actions):
        if action.type not in ACTION_TYPES:
            out.append(Problem(index, "type", f"{action.type!r} is not allowed"))
            continue
        if action.type in NEEDS_TARGET:
            problem = _ref_problem(action.item_id, index, actions, live)
            if problem:
                out.append(Problem(index, "item_id", problem))
        if action.type == "link_items":
            problem = _ref_problem(action.target_id, index, actions, live)
            if problem:
                out.append(Problem(index, "target_id", problem))
            if action.link_type is None:
                out.append(Problem(index, "link_type", "is required"))
            if action.item_id and action.item_id == action.target_id:
                out.append(Problem(index, "target_id", "is the same item as item_id"))
        if action.type == "remember" and not ((action.text or "").strip() or action.fact):
            out.append(Problem(index, "text", "is required: what should I remember?"))
        out += _fields_problems(index, action)
    return out

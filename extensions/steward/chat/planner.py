"""The action planner: a message (or a correction of a draft) -> a normalised action plan.

With an LLM: the `action_planner` prompt with recalled context (similar items, people, projects,
facts), answered as an `ActionPlan`. Without one, or when the provider fails: the offline planner
(quick-add), and the reply says so in `meta.notes`. Either way `normalise` then makes the plan
explicit: a project that does not exist yet gets its own create_item action, naive times are read
in the user's zone, and date-only dues are stored at 00:00 UTC of their date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from steward.chat import offline
from steward.chat.actions import Action, ActionPlan, ItemFields, new_index
from steward.chat.context import Context, gather
from steward.chat.identity import ChatUser
from steward.chat.quickadd import parse_quick_add
from steward.core import prompts
from steward.core.errors import ApiError
from steward.core.llm import llm
from steward.core.processing import Profile
from steward.items import search

log = logging.getLogger(__name__)

PROMPT = "action_planner"


@dataclass
class Proposal:
    plan: ActionPlan
    planner: str
    context: Context
    notes: list[str] = field(default_factory=list)


def _ask_llm(
    conn: psycopg.Connection[Any],
    user: ChatUser,
    message: str,
    now: datetime,
    context: Context,
    previous: ActionPlan | None,
) -> ActionPlan:
    version, text = prompts.render(
        conn,
        PROMPT,
        now=now.isoformat(timespec="minutes"),
        timezone=user.timezone,
        message=message,
        similar_items=context.similar_items,
        people=context.people,
        projects=context.projects,
        facts=context.facts,
        previous={"actions": previous.model_dump(mode="json", exclude_none=True)["actions"]} if previous else None,
    )
    answer = llm().complete(
        [{"role": "user", "content": text}],
        ActionPlan,
        purpose=PROMPT,
        prompt_version=version,
        client_id=user.client_id,
    )
    return answer.value


def propose(
    conn: psycopg.Connection[Any],
    rt,
    user: ChatUser,
    message: str,
    now: datetime,
    profile: Profile,
    previous: ActionPlan | None = None,
) -> Proposal:
    """Plan `message`; with `previous`, `message` is a correction of that plan."""
    context = gather(conn, rt, user.client_id, message, profile.retrieval_budget)
    notes: list[str] = []
    if llm().configured:
        try:
            plan = _ask_llm(conn, user, message, now, context, previous)
            return Proposal(normalise(conn, user, plan), "llm", context)
        except (ApiError, prompts.PromptError) as exc:
            code = getattr(exc, "code", "prompt_error")
            log.warning("action planner fell back to quick-add: %s", exc)
            notes.append(f"llm_unavailable:{code}: the LLM could not plan this, so quick-add did")
    if previous is not None:
        plan = offline.revise(previous, message, now, user.timezone, user.date_order)
    else:
        plan, found = offline.plan(conn, user.client_id, message, now, user.timezone, user.date_order)
        notes += found
    return Proposal(normalise(conn, user, plan), "quickadd", context, notes)


def _rrule(fields: ItemFields, tz: ZoneInfo) -> ItemFields:
    """Items keep recurrence as an RRULE; words from an LLM ("every monday") are read by quick-add."""
    rule = (fields.recurrence or "").strip().removeprefix("RRULE:")
    if not rule or "FREQ=" in rule.upper():
        return fields.model_copy(update={"recurrence": rule.upper() or None})
    words = rule if rule.lower().startswith(("every", "each")) else f"every {rule}"
    parsed = parse_quick_add(f"recurring {words}", datetime.now(tz), tz.key)
    return fields.model_copy(update={"recurrence": parsed.recurrence})


def _localise(fields: ItemFields, tz: ZoneInfo) -> ItemFields:
    fields = _rrule(fields, tz) if fields.recurrence else fields
    due = fields.due
    if due is None:
        return fields
    if due.tzinfo is None:
        due = due.replace(tzinfo=tz)
    has_time = fields.due_has_time if fields.due_has_time is not None else not (due.hour == due.minute == 0)
    if not has_time:
        due = datetime(due.year, due.month, due.day, tzinfo=UTC)
    return fields.model_copy(update={"due": due, "due_has_time": has_time})


def _shift(ref: str | None, by: int) -> str | None:
    n = new_index(ref)
    return f"new:{n + by}" if n is not None else ref


def normalise(conn: psycopg.Connection[Any], user: ChatUser, plan: ActionPlan) -> ActionPlan:
    tz = ZoneInfo(user.timezone)
    actions = [a.model_copy(update={"item": _localise(a.item, tz)}) if a.item else a for a in plan.actions]
    created = {
        (a.item.title or "").strip().lower()
        for a in actions
        if a.type == "create_item" and a.item and a.item.type == "project"
    }
    wanted: dict[str, str] = {}
    for action in actions:
        name = (action.item.project or "").strip() if action.item else ""
        if name and name.lower() not in created and name.lower() not in wanted:
            if search.by_name(conn, user.client_id, "project", name) is None:
                wanted[name.lower()] = name
    if wanted:
        by = len(wanted)
        front = [Action(type="create_item", item=ItemFields(type="project", title=name)) for name in wanted.values()]
        actions = front + [
            a.model_copy(update={"item_id": _shift(a.item_id, by), "target_id": _shift(a.target_id, by)})
            for a in actions
        ]
    return plan.model_copy(update={"actions": actions})


def plan_json(plan: ActionPlan) -> dict[str, Any]:
    return plan.model_dump(mode="json", exclude_none=True)

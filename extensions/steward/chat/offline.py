"""The offline planner: a message -> an action plan with no LLM (quick-add and a few patterns).

    "Call Anna tomorrow 4pm #acme p1"     -> create_item (quickadd.py does the parsing)
    "remember: Anna works at Initech"      -> remember, with the fact (Anna, works_at, Initech)
    "done: call Anna" / "finished X"       -> complete_item on the open task that matches best

It is also the LLM planner's fallback, so capture keeps working when the provider is down. An edit
("friday 3pm p2" after a draft) changes only what the correction names; a correction with a title
replaces the title too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import psycopg

from steward.chat.actions import Action, ActionPlan, FactFields, ItemFields
from steward.chat.quickadd import QuickAdd, parse_quick_add
from steward.items import search

REMEMBER = re.compile(r"^\s*(?:remember(?:\s+that)?|note to self|fyi)\s*[:,\-]?\s+(?P<text>\S.*)$", re.I | re.S)
DONE = re.compile(r"^\s*(?:done(?:\s+with)?|finished|did|completed)\s*[:,\-]?\s+(?P<what>\S.*)$", re.I | re.S)
FACT = re.compile(
    r"^(?P<subject>[A-Z][\w'.\-]*(?:\s+[A-Z][\w'.\-]*){0,3}?)(?P<verb>\s+works at|\s+works for|\s+lives in|"
    r"\s+moved to|\s+is based in|\s+reports to|'s email is|'s phone is|'s birthday is|'s manager is)\s+"
    r"(?P<object>.+?)[.!]?$",
    re.S,
)
PREDICATES = {
    "works at": "works_at",
    "works for": "works_at",
    "lives in": "lives_in",
    "moved to": "lives_in",
    "is based in": "lives_in",
    "reports to": "reports_to",
    "'s email is": "email",
    "'s phone is": "phone",
    "'s birthday is": "birthday",
    "'s manager is": "manager",
}
MATCH_AT_LEAST = 0.5


def fact_in(text: str) -> FactFields | None:
    match = FACT.match(text.strip())
    if match is None:
        return None
    predicate = PREDICATES[match.group("verb").strip()]
    return FactFields(subject=match.group("subject"), predicate=predicate, object=match.group("object").strip())


def _fields(parsed: QuickAdd) -> ItemFields:
    due, has_time, body = parsed.due, parsed.due_has_time, None
    if parsed.deadline is not None:
        if due is None:
            due, has_time = (
                datetime(parsed.deadline.year, parsed.deadline.month, parsed.deadline.day, tzinfo=UTC),
                False,
            )
        else:
            body = f"Deadline: {parsed.deadline.isoformat()}"
    return ItemFields(
        type=parsed.item_type,
        title=parsed.title or None,
        body=body,
        due=due,
        due_has_time=has_time if due else None,
        duration_minutes=parsed.duration_minutes,
        priority=parsed.priority,
        labels=parsed.labels or None,
        project=parsed.project,
        recurrence=parsed.recurrence,
    )


def _confidence(parsed: QuickAdd) -> float:
    if not parsed.title:
        return 0.2
    return 0.6 if parsed.warnings else 0.9


def plan(
    conn: psycopg.Connection[Any], client_id: str, text: str, now: datetime, timezone: str, date_order: str
) -> tuple[ActionPlan, list[str]]:
    """(the plan, notes for the user); a plan may be empty when nothing sensible was found."""
    remembered = REMEMBER.match(text)
    if remembered:
        said = remembered.group("text").strip()
        action = Action(type="remember", text=said, fact=fact_in(said))
        return ActionPlan(intent="remember", actions=[action], confidence=0.9), []
    done = DONE.match(text)
    if done:
        return _complete(conn, client_id, done.group("what").strip())
    parsed = parse_quick_add(text, now, timezone, date_order=date_order)
    action = Action(type="create_item", item=_fields(parsed))
    return ActionPlan(intent="capture", scope=parsed.project or "", actions=[action], confidence=_confidence(parsed)), [
        f"quickadd:{w}" for w in parsed.warnings
    ]


def _complete(conn: psycopg.Connection[Any], client_id: str, what: str) -> tuple[ActionPlan, list[str]]:
    scored = [
        (row, search.overlap(what, row["title"]))
        for row in search.candidates(conn, client_id, what, types=["task", "event"], open_only=True)
    ]
    scored = [pair for pair in scored if pair[1] >= MATCH_AT_LEAST]
    if not scored:
        return ActionPlan(intent="complete", confidence=0.0), [f"no open task matches “{what}”"]
    best, score = max(scored, key=lambda pair: pair[1])
    action = Action(type="complete_item", item_id=str(best["id"]))
    return ActionPlan(intent="complete", actions=[action], confidence=round(min(0.95, score), 2)), []


def revise(previous: ActionPlan, correction: str, now: datetime, timezone: str, date_order: str) -> ActionPlan:
    """The previous plan with what `correction` names laid over its first new item."""
    parsed = parse_quick_add(correction, now, timezone, date_order=date_order)
    target = next((a for a in previous.actions if a.type == "create_item" and a.item), None)
    if target is None or target.item is None:
        return ActionPlan(
            intent="capture", actions=[Action(type="create_item", item=_fields(parsed))], confidence=_confidence(parsed)
        )
    given = _fields(parsed).given()
    if parsed.item_type == "task" and not any(s.kind == "type" for s in parsed.spans):
        given.pop("type", None)
    merged = target.item.model_copy(update=given)
    actions = [a.model_copy(update={"item": merged}) if a is target else a for a in previous.actions]
    confidence = 0.9 if (merged.title or "").strip() else 0.2
    return previous.model_copy(update={"actions": actions, "confidence": confidence})

"""The critic: flags on a plan before the user decides. It flags, it never changes the plan.

Deterministic rules always run:
    invalid       the executor's policy would refuse it (no title, unknown item, too many actions)
    duplicate     an open item with an overlapping title, or a near-identical memory (vectors)
    contradiction a fact to remember that replaces a different current value
    unresolved_reference  "call him": a pronoun and no person linked
    bulk          many actions, or completing / dropping several items at once
    due_in_past   a due date that has already gone by
The LLM `critic` prompt adds its own flags when an LLM is configured and the processing mode is
`default` (`fast` skips it). A failing LLM costs its flags, never the draft.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from pydantic import BaseModel, Field

from steward.chat import policy
from steward.chat.actions import ActionPlan
from steward.chat.context import Context
from steward.core import prompts
from steward.core.errors import ApiError
from steward.core.llm import llm
from steward.core.processing import Profile
from steward.items import search
from steward.memory import facts
from steward.memory import service as memory

log = logging.getLogger(__name__)

BULK_WARN = 5
MANY_CLOSED = 3
PRONOUN = re.compile(r"\b(him|her|he|she|them|they|his|hers|their)\b", re.I)
MEMORY_KIND = {"task": "task", "event": "event"}
FlagKind = Literal["invalid", "duplicate", "contradiction", "unresolved_reference", "bulk", "due_in_past", "other"]


@dataclass
class Flag:
    kind: str
    message: str
    action: int | None = None
    blocking: bool = False
    source: str = "rules"


@dataclass
class Review:
    flags: list[Flag] = field(default_factory=list)
    critics: list[str] = field(default_factory=list)
    confidence: float = 0.5
    notes: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return any(f.blocking for f in self.flags)

    def as_json(self) -> dict[str, Any]:
        return {
            "flags": [asdict(f) for f in self.flags],
            "critics": self.critics,
            "confidence": self.confidence,
            "notes": self.notes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Review:
        return cls(
            flags=[Flag(**f) for f in data.get("flags", [])],
            critics=list(data.get("critics", [])),
            confidence=float(data.get("confidence", 0.5)),
            notes=list(data.get("notes", [])),
        )


class CriticFlag(BaseModel):
    kind: Literal["duplicate", "contradiction", "unresolved_reference", "bulk", "other"]
    message: str = Field(max_length=500)
    action: int | None = Field(default=None, ge=0)


class CriticOut(BaseModel):
    flags: list[CriticFlag] = Field(default_factory=list, max_length=20)


# ---- rules ------------------------------------------------------------------------------------
def _invalid(conn: psycopg.Connection[Any], client_id: str, plan: ActionPlan, bulk_limit: int) -> list[Flag]:
    return [Flag(p.kind, p.text(), p.action, True) for p in policy.check(conn, client_id, plan, bulk_limit)]


def _duplicates(conn: psycopg.Connection[Any], rt, client_id: str, plan: ActionPlan) -> list[Flag]:
    flags, seen = [], set()
    for index, action in enumerate(plan.actions):
        if action.type == "create_item" and action.item and action.item.title:
            kind = action.item.type or "task"
            for row, _score in search.similar(conn, client_id, action.item.title, types=[kind]):
                seen.add(str(row["id"]))
                flags.append(
                    Flag(
                        "duplicate",
                        f"looks like “{row['title']}” ({row['type']}, {row['status']}) that you already have",
                        index,
                    )
                )
            if kind in MEMORY_KIND:
                for hit in _memory_duplicates(conn, rt, client_id, action.item.title, [MEMORY_KIND[kind]]):
                    item_id = str(hit.metadata.get("item_id", ""))
                    if item_id and item_id not in seen and _live(conn, client_id, item_id):
                        seen.add(item_id)
                        flags.append(Flag("duplicate", f"close to “{hit.text}”, which you already have", index))
        if action.type == "remember" and action.text and action.fact is None:
            for hit in _memory_duplicates(conn, rt, client_id, action.text, ["note", "fact"]):
                flags.append(Flag("duplicate", f"you told me this already: “{hit.text}”", index))
                break
    return flags


def _memory_duplicates(conn, rt, client_id: str, text: str, kinds: list[str]) -> list[Any]:
    try:
        with conn.transaction():
            return memory.find_duplicates(conn, rt, client_id, text, kinds=kinds, min_score=0.9, k=3)
    except Exception as exc:  # a duplicate check is advice; a failure skips it
        log.warning("memory duplicate check skipped: %s", type(exc).__name__)
        return []


def _live(conn: psycopg.Connection[Any], client_id: str, item_id: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM items WHERE id::text = %s AND client_id = %s AND deleted_at IS NULL "
        "AND status IN ('inbox', 'active')",
        (item_id, client_id),
    ).fetchone()
    return row is not None


def _contradictions(conn: psycopg.Connection[Any], client_id: str, plan: ActionPlan) -> list[Flag]:
    flags = []
    for index, action in enumerate(plan.actions):
        if action.type != "remember" or action.fact is None:
            continue
        predicate = facts.normalise_predicate(action.fact.predicate)
        current = facts.list_facts(conn, client_id, subject=action.fact.subject, predicate=predicate)
        if not facts.is_single_valued(conn, client_id, predicate):
            continue
        for known in current:
            if known.object.strip().lower() != action.fact.object.strip().lower():
                flags.append(
                    Flag(
                        "contradiction",
                        f"I know {known.subject} {predicate.replace('_', ' ')} {known.object} (since "
                        f"{known.valid_from:%-d %b %Y}); confirming replaces it",
                        index,
                    )
                )
    return flags


def _unresolved(plan: ActionPlan) -> list[Flag]:
    if any(a.type == "link_items" and a.link_type == "about_person" for a in plan.actions):
        return []
    flags = []
    for index, action in enumerate(plan.actions):
        text = (action.item.title if action.item and action.item.title else "") or (action.text or "")
        if action.fact is not None:
            continue
        match = PRONOUN.search(text)
        if match:
            flags.append(
                Flag("unresolved_reference", f"“{match.group(0)}”: who do you mean? Tap Edit and name them", index)
            )
    return flags


def _bulk(plan: ActionPlan) -> list[Flag]:
    flags = []
    if len(plan.actions) > BULK_WARN:
        flags.append(Flag("bulk", f"{len(plan.actions)} changes at once; check each before you confirm"))
    closing = [
        a
        for a in plan.actions
        if a.type == "complete_item" or (a.type == "update_item" and a.item and a.item.status in ("done", "dropped"))
    ]
    if len(closing) >= MANY_CLOSED:
        flags.append(Flag("bulk", f"closes {len(closing)} items at once"))
    return flags


def _past(plan: ActionPlan, now: datetime) -> list[Flag]:
    flags = []
    for index, action in enumerate(plan.actions):
        fields = action.item
        if fields is None or fields.due is None:
            continue
        late = fields.due < now if fields.due_has_time else fields.due.astimezone(UTC).date() < now.date()
        if late:
            flags.append(Flag("due_in_past", "the due date has already passed", index))
    return flags


# ---- LLM --------------------------------------------------------------------------------------
def _llm_flags(
    conn: psycopg.Connection[Any], client_id: str, message: str, plan: ActionPlan, context: Context
) -> list[Flag]:
    version, text = prompts.render(
        conn,
        "critic",
        message=message,
        actions=plan.model_dump(mode="json", exclude_none=True)["actions"],
        similar_items=context.similar_items,
        facts=context.facts,
    )
    answer = llm().complete(
        [{"role": "user", "content": text}], CriticOut, purpose="critic", prompt_version=version, client_id=client_id
    )
    count = len(plan.actions)
    return [
        Flag(f.kind, f.message, f.action if f.action is not None and f.action < count else None, False, "llm")
        for f in answer.value.flags
    ]


def review(
    conn: psycopg.Connection[Any],
    rt,
    client_id: str,
    message: str,
    plan: ActionPlan,
    context: Context,
    profile: Profile,
    now: datetime,
    bulk_limit: int,
) -> Review:
    flags = _invalid(conn, client_id, plan, bulk_limit)
    flags += _duplicates(conn, rt, client_id, plan) + _contradictions(conn, client_id, plan)
    flags += _unresolved(plan) + _bulk(plan) + _past(plan, now)
    result = Review(critics=["rules"])
    if profile.critic and llm().configured and plan.actions:
        try:
            known = {(f.kind, f.action) for f in flags}
            flags += [f for f in _llm_flags(conn, client_id, message, plan, context) if (f.kind, f.action) not in known]
            result.critics.append("llm")
        except (ApiError, prompts.PromptError) as exc:
            log.warning("LLM critic skipped: %s", exc)
            result.notes.append(f"llm_critic_unavailable:{getattr(exc, 'code', 'prompt_error')}")
    result.flags = flags
    confidence = plan.confidence
    if flags:
        confidence = min(confidence, 0.6)
    if result.blocking:
        confidence = min(confidence, 0.3)
    result.confidence = round(confidence, 2)
    return result

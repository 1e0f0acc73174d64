"""Capture and correction: planner -> critic -> a stored draft, summarised with Yes / Edit / No.

With auto-apply on, a confident, low-risk capture (no flags, at most three creations, links or
memories) is applied at once instead, and the answer says what was done and how to /undo it.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from steward.chat import critic, drafts, executor, identity, planner, policy, questions, render
from steward.chat.actions import ActionPlan, existing_refs
from steward.chat.models import ChatReply, Intent
from steward.chat.turn import Turn

AUTO_APPLY_TYPES = frozenset({"create_item", "remember", "link_items"})
AUTO_APPLY_MAX_ACTIONS = 3


def titles_for(conn: psycopg.Connection[Any], client_id: str, plan: ActionPlan) -> dict[str, str]:
    live = policy.resolve_existing(conn, client_id, existing_refs(plan))
    return {ref: row["title"] for ref, row in live.items()}


def _low_risk(plan: ActionPlan, review: critic.Review, threshold: float) -> bool:
    return (
        not review.flags
        and review.confidence >= threshold
        and len(plan.actions) <= AUTO_APPLY_MAX_ACTIONS
        and all(a.type in AUTO_APPLY_TYPES for a in plan.actions)
    )


def propose_draft(
    turn: Turn, text: str, message_id: int | None, intent: Intent, previous: dict[str, Any] | None = None
) -> ChatReply:
    """Plan, review and store a draft (a new revision of `previous` when given) and summarise it."""
    assert turn.user is not None
    user, conn = turn.user, turn.conn
    prior = ActionPlan.model_validate(previous["plan"]) if previous else None
    proposal = planner.propose(conn, turn.rt, user, text, turn.now, turn.profile, prior)
    turn.notes += proposal.notes
    if proposal.plan.intent == "question" and not proposal.plan.actions and previous is None:
        return questions.reply(turn, text)
    if not proposal.plan.actions:
        hint = next((n for n in proposal.notes if n.startswith("no open task")), None)
        said = (hint[0].upper() + hint[1:] + ".") if hint else "I couldn't work out what to do with that."
        return turn.reply(said + " Try /help for what I understand.", intent, "nothing_to_do", planner=proposal.planner)
    review = critic.review(
        conn,
        turn.rt,
        user.client_id,
        text,
        proposal.plan,
        proposal.context,
        turn.profile,
        turn.now,
        turn.settings.chat_bulk_limit,
    )
    turn.notes += review.notes
    plan_json = planner.plan_json(proposal.plan.model_copy(update={"confidence": review.confidence}))
    draft = drafts.create(
        conn,
        client_id=user.client_id,
        chat_id=turn.chat_id,
        message_id=message_id,
        source_text=text,
        plan=plan_json,
        review=review.as_json(),
        planner=proposal.planner,
        mode=turn.profile.mode,
        ttl_minutes=turn.settings.chat_draft_ttl_minutes,
        parent=previous,
    )
    meta = dict(
        draft_short_id=draft["short_id"],
        revision=draft["revision"],
        planner=proposal.planner,
        critics=review.critics,
        flags=[f.kind for f in review.flags],
        confidence=review.confidence,
    )
    if (
        previous is None
        and user.auto_apply
        and _low_risk(proposal.plan, review, turn.settings.chat_auto_apply_confidence)
    ):
        try:
            result, lines = executor.apply(conn, turn.rt, user.client_id, draft, turn.settings.chat_bulk_limit)
        except executor.Refused:
            pass
        else:
            drafts.decide(conn, draft["id"], "executed", result=result, auto_applied=True)
            return turn.reply(
                render.applied_text(lines, turn.settings.chat_undo_window_minutes, auto=True),
                intent,
                "applied",
                draft_id=draft["id"],
                **meta,
            )
    titles = titles_for(conn, user.client_id, proposal.plan)
    text_out = render.draft_text(proposal.plan, review, titles, ZoneInfo(user.timezone), draft["revision"], turn.notes)
    return turn.reply(
        text_out,
        intent,
        "draft_created",
        buttons=render.decision_buttons(draft["short_id"]),
        draft_id=draft["id"],
        **meta,
    )


def revise(turn: Turn, draft: dict[str, Any], correction: str, message_id: int | None) -> ChatReply:
    """A new revision of an open, locked draft from the user's correction; the old one is superseded."""
    assert turn.user is not None
    identity.await_edit(turn.conn, turn.chat_id, None)
    answer = propose_draft(turn, correction, message_id, "edit", previous=draft)
    if answer.meta.outcome in ("draft_created", "applied"):
        drafts.decide(turn.conn, draft["id"], "superseded")
    return answer

"""POST /confirm: Yes, Edit or No on a draft, from a button or a reply.

The draft row is locked first, so a double tap (or a redelivered callback) waits for the first
decision and then finds the draft already decided: a draft executes at most once. Every problem
a user can cause has its own answer, and none of them applies anything:
    unparseable callback data, an unknown draft, a draft of another chat,
    a draft already executed / discarded / replaced by a newer revision / undone, an expired draft
    (which is marked expired on the way).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from steward.chat import commands, drafts, executor, identity, render, updates
from steward.chat.drafting import revise
from steward.chat.models import ChatReply, ConfirmIn
from steward.chat.turn import Turn
from steward.core.config import Settings
from steward.core.processing import Profile

DECIDED = {
    "executed": ("already_decided", "This draft was already applied. Send /undo to revert it."),
    "discarded": ("already_decided", "This draft was already discarded; nothing was changed."),
    "undone": ("already_decided", "This draft was applied and then undone. Send the message again to redo it."),
    "expired": ("expired", "This draft expired before anyone decided. Send the message again."),
}


def _closed(turn: Turn, draft: dict[str, Any]) -> ChatReply:
    meta = dict(draft_short_id=draft["short_id"], revision=draft["revision"])
    if draft["status"] == "superseded":
        newer = drafts.child_of(turn.conn, draft["id"])
        which = f" (revision {newer['revision']})" if newer else ""
        return turn.reply(
            f"This draft was replaced by a newer one{which}; use the buttons on the newest message.",
            "decision",
            "superseded",
            **meta,
        )
    outcome, text = DECIDED[draft["status"]]
    return turn.reply(text, "decision", outcome, **meta)


def _decide(turn: Turn, draft: dict[str, Any], decision: str, text: str | None) -> ChatReply:
    assert turn.user is not None
    meta = dict(draft_short_id=draft["short_id"], revision=draft["revision"], draft_id=draft["id"])
    if decision == "no":
        drafts.decide(turn.conn, draft["id"], "discarded")
        if turn.user.awaiting_edit == str(draft["id"]):
            identity.await_edit(turn.conn, turn.chat_id, None)
        return turn.reply("✖️ Discarded. Nothing was changed.", "decision", "discarded", **meta)
    if decision == "edit":
        if text and text.strip():
            return revise(turn, draft, text.strip(), None)
        identity.await_edit(turn.conn, turn.chat_id, draft["id"])
        return turn.reply(
            "✏️ Send me the correction (e.g. <i>friday 3pm p2</i>, or the whole thing again). "
            "/cancel to keep the draft as it is.",
            "decision",
            "awaiting_edit",
            **meta,
        )
    try:
        result, lines = executor.apply(turn.conn, turn.rt, turn.user.client_id, draft, turn.settings.chat_bulk_limit)
    except executor.Refused as refused:
        shown = "\n".join(f"• {render.escape(p)}" for p in refused.problems[:10])
        return turn.reply(
            f"I can't apply this draft; nothing was changed:\n{shown}\n\nTap Edit to fix it, or No.",
            "decision",
            "refused",
            buttons=render.decision_buttons(draft["short_id"]),
            **meta,
        )
    drafts.decide(turn.conn, draft["id"], "executed", result=result)
    if turn.user.awaiting_edit == str(draft["id"]):
        identity.await_edit(turn.conn, turn.chat_id, None)
    return turn.reply(render.applied_text(lines, turn.settings.chat_undo_window_minutes), "decision", "applied", **meta)


def _target(body: ConfirmIn) -> tuple[str, str] | None:
    if body.callback_data is not None:
        return render.parse_callback(body.callback_data)
    assert body.draft_id is not None and body.decision is not None
    return body.draft_id, body.decision


def handle(conn: psycopg.Connection[Any], rt, settings: Settings, profile: Profile, body: ConfirmIn) -> ChatReply:
    turn = Turn(conn, rt, settings, profile, body.chat_id, datetime.now(UTC))
    turn.user = identity.for_chat(conn, body.chat_id)
    if turn.user is None:
        return turn.reply(commands.LINK_HELP, "unlinked", "unlinked")
    key = updates.callback_key(body.callback_id) if body.callback_id else None
    if key is not None:
        replay = updates.stored(conn, body.chat_id, key)
        if replay is None and not updates.claim(conn, body.chat_id, key):
            replay = updates.stored(conn, body.chat_id, key)
        if replay is not None:
            return ChatReply.model_validate({**replay, "meta": {**replay["meta"], "replayed": True}})
    answer = _answer(turn, body)
    if key is not None:
        updates.save(conn, body.chat_id, key, answer.model_dump(mode="json"))
    return answer


def _answer(turn: Turn, body: ConfirmIn) -> ChatReply:
    target = _target(body)
    if target is None:
        return turn.reply(
            "I couldn't read that button; it may be from an older version of me. Send the message again.",
            "decision",
            "unparseable",
        )
    ref, decision = target
    draft = drafts.find(turn.conn, ref, lock=True)
    if draft is None:
        return turn.reply("I can't find that draft. Send the message again.", "decision", "unknown_draft")
    if draft["chat_id"] != body.chat_id:
        return turn.reply(
            "That draft belongs to another chat, so I can't decide on it here.", "decision", "not_your_draft"
        )
    if draft["status"] != drafts.OPEN:
        return _closed(turn, draft)
    if draft["expired"]:
        drafts.decide(turn.conn, draft["id"], "expired")
        return _closed(turn, {**draft, "status": "expired"})
    return _decide(turn, draft, decision, body.text)

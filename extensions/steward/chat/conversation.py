"""POST /message: who is writing, what they want, and the answer.

    /link CODE            -> bind the chat (the only thing an unlinked chat can do)
    unlinked chat         -> linking instructions; nothing is written
    empty or huge text    -> a friendly refusal; nothing is written
    redelivered update    -> the stored answer (meta.replayed); nothing is written twice
    /ask, a question      -> answered on a read-only transaction; never recorded, never writes
    /help /today /inbox   -> read-only answers
    after Edit            -> the message corrects that draft: a new revision
    /undo /autoapply ...  -> commands that write
    anything else         -> capture: planner -> critic -> draft (or applied directly with auto-apply)
Writing paths claim the update first (updates.py), so a concurrent redelivery waits and replays.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from steward.chat import commands, drafting, drafts, identity, questions, render, today, updates
from steward.chat import undo as undoing
from steward.chat.models import ChatReply, MessageIn
from steward.chat.turn import Turn
from steward.core.config import Settings
from steward.core.processing import Profile

MAX_MESSAGE = 4096


# ---- the other intents ------------------------------------------------------------------------
def _undo(turn: Turn) -> ChatReply:
    assert turn.user is not None
    window = turn.settings.chat_undo_window_minutes
    outcome, draft = undoing.undo_last(turn.conn, turn.rt, turn.user.client_id, turn.chat_id, window)
    if outcome == "nothing_to_undo":
        return turn.reply("There is nothing to undo.", "command", outcome)
    short = draft["short_id"] if draft else None
    if outcome == "too_late":
        return turn.reply(
            f"The last change was applied more than {window} min ago, so /undo no longer reaches it. "
            "Change the items directly instead.",
            "command",
            outcome,
            draft_short_id=short,
        )
    if outcome.startswith("conflict:"):
        return turn.reply(
            f"I can't undo the last change: {render.escape(outcome.split(':', 1)[1])}. Nothing was reverted.",
            "command",
            "undo_conflict",
            draft_short_id=short,
        )
    reverted = len((draft or {}).get("result", {}).get("applied", []))
    return turn.reply(
        f"↩️ Undone: the last change ({reverted} step{'s' if reverted != 1 else ''}) was reverted.",
        "command",
        "undone",
        draft_short_id=short,
        draft_id=draft["id"] if draft else None,
    )


def _autoapply(turn: Turn, argument: str) -> ChatReply:
    assert turn.user is not None
    choice = argument.strip().lower()
    if choice not in ("on", "off"):
        state = "on" if turn.user.auto_apply else "off"
        return turn.reply(
            f"Auto-apply is {state}. Send /autoapply on or /autoapply off.", "command", "autoapply_status"
        )
    identity.update_user(turn.conn, turn.user.client_id, {"auto_apply": choice == "on"})
    said = (
        "On: confident, low-risk captures are applied at once (and /undo reverts them)."
        if choice == "on"
        else "Off: I will always ask before changing anything."
    )
    return turn.reply(f"Auto-apply {said}", "command", f"autoapply_{choice}")


def _read_only_command(turn: Turn, name: str) -> ChatReply:
    assert turn.user is not None
    if name in ("help", "start"):
        return turn.reply(commands.HELP, "command", "help")
    if name == "today":
        return turn.reply(today.plan_text(turn.conn, turn.user, turn.now), "command", "today")
    return turn.reply(commands.inbox_text(turn.conn, turn.user.client_id, turn.user.timezone), "command", "inbox")


def _link(turn: Turn, body: MessageIn, code: str) -> ChatReply:
    if not code:
        return turn.reply("Send the code after the command: <code>/link ABCD-EFGH</code>.", "link", "missing_code")
    client_id = identity.redeem(turn.conn, code, body.chat_id, body.user_id)
    if client_id is None:
        return turn.reply(
            "That link code is not valid, already used or expired. Ask for a new one "
            "(<code>steward link create --user NAME</code>).",
            "link",
            "invalid_code",
        )
    turn.user = identity.for_chat(turn.conn, body.chat_id)
    return turn.reply(
        f"✅ Linked. This chat now belongs to <b>{render.escape(client_id)}</b>.\n\n{commands.HELP}", "link", "linked"
    )


def _rejected(turn: Turn, text: str) -> ChatReply | None:
    if not text.strip():
        return turn.reply("I can only read text. Send me a message, or /help.", "rejected", "empty_message")
    if len(text) > MAX_MESSAGE:
        return turn.reply(
            f"That message is {len(text)} characters; I take at most {MAX_MESSAGE}. Split it, or send the gist.",
            "rejected",
            "too_long",
        )
    return None


# ---- the entry point --------------------------------------------------------------------------
def handle(conn: psycopg.Connection[Any], rt, settings: Settings, profile: Profile, body: MessageIn) -> ChatReply:
    turn = Turn(conn, rt, settings, profile, body.chat_id, body.date or datetime.now(UTC))
    name, argument = commands.split(body.text)
    turn.user = identity.for_chat(conn, body.chat_id)
    if name == "link" or (name == "start" and argument and turn.user is None):  # t.me/<bot>?start=CODE
        return _link(turn, body, argument)
    if turn.user is None:
        return turn.reply(commands.LINK_HELP, "unlinked", "unlinked")
    rejected = _rejected(turn, body.text)
    if rejected is not None:
        return rejected
    key = updates.message_key(body.message_id)
    replay = updates.stored(conn, body.chat_id, key)
    if replay is not None:
        return _replayed(replay)
    awaiting = turn.user.awaiting_edit
    if name == "ask" or (name is None and awaiting is None and questions.looks_like_question(body.text)):
        return questions.reply(turn, argument if name == "ask" else body.text)
    if name in commands.READ_ONLY:
        return _read_only_command(turn, name)
    if not updates.claim(conn, body.chat_id, key):
        stored = updates.stored(conn, body.chat_id, key)
        if stored is not None:
            return _replayed(stored)
    answer = _write_path(turn, body, name, argument, awaiting)
    if answer.meta.intent == "question":
        updates.release(conn, body.chat_id, key)
    else:
        updates.save(conn, body.chat_id, key, answer.model_dump(mode="json"))
    return answer


def _write_path(turn: Turn, body: MessageIn, name: str | None, argument: str, awaiting: str | None) -> ChatReply:
    if name == "undo":
        return _undo(turn)
    if name == "autoapply":
        return _autoapply(turn, argument)
    if name == "cancel":
        identity.await_edit(turn.conn, turn.chat_id, None)
        return turn.reply(
            "OK, nothing to correct any more." if awaiting else "Nothing to cancel.", "command", "cancelled"
        )
    if name is not None:
        return turn.reply(f"I don't know /{render.escape(name)}. {commands.HELP}", "command", "unknown_command")
    if awaiting is not None:
        draft = drafts.find(turn.conn, awaiting, lock=True)
        if draft is not None and draft["status"] == drafts.OPEN and not draft["expired"]:
            return drafting.revise(turn, draft, body.text, body.message_id)
        identity.await_edit(turn.conn, turn.chat_id, None)
        turn.notes.append("the draft being edited had expired or was decided; read as a new message")
    return drafting.propose_draft(turn, body.text, body.message_id, "capture")


def _replayed(stored: dict[str, Any]) -> ChatReply:
    reply = ChatReply.model_validate(stored)
    reply.meta.replayed = True
    return reply

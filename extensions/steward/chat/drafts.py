"""Drafts: proposed actions waiting for Yes / Edit / No.

A draft is addressed by its UUID or by a short id that fits Telegram's 64-byte callback data.
Decisions lock the row (`FOR UPDATE`), so two presses of Yes can never both execute: the second
waits, then sees the draft already executed. An edit makes a new row (revision + 1) and marks the
old one superseded, so every revision and what it proposed stays on record.
"""

from __future__ import annotations

import re
import secrets
import string
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

SHORT_ALPHABET = string.ascii_letters + string.digits
SHORT_LENGTH = 10
_SHORT = re.compile(r"^[A-Za-z0-9]{6,16}$")
COLUMNS = (
    "id, short_id, client_id, chat_id, message_id, revision, parent_id, status, source_text, plan, review, planner, "
    "mode, auto_applied, result, expires_at, expires_at <= now() AS expired, decided_at, executed_at, undone_at, "
    "created_at"
)
OPEN = "draft"


def _one(row: Any) -> dict[str, Any]:
    """A RETURNING row (always there for an existing draft); a dict, as the pool's rows are."""
    assert row is not None
    return row


def new_short_id() -> str:
    return "".join(secrets.choice(SHORT_ALPHABET) for _ in range(SHORT_LENGTH))


def create(
    conn: psycopg.Connection[Any],
    *,
    client_id: str,
    chat_id: int,
    message_id: int | None,
    source_text: str,
    plan: dict[str, Any],
    review: dict[str, Any],
    planner: str,
    mode: str,
    ttl_minutes: int,
    parent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    row = conn.execute(
        f"""INSERT INTO chat_drafts (short_id, client_id, chat_id, message_id, revision, parent_id, source_text,
                                     plan, review, planner, mode, expires_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now() + make_interval(mins => %s))
            RETURNING {COLUMNS}""",
        (
            new_short_id(),
            client_id,
            chat_id,
            message_id,
            parent["revision"] + 1 if parent else 1,
            parent["id"] if parent else None,
            source_text,
            Jsonb(plan),
            Jsonb(review),
            planner,
            mode,
            ttl_minutes,
        ),
    ).fetchone()
    return _one(row)


def find(conn: psycopg.Connection[Any], ref: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The draft named by UUID or short id; None when `ref` is neither or names nothing."""
    ref = ref.strip()
    try:
        column, value = "id", str(UUID(ref))
    except ValueError:
        if not _SHORT.match(ref):
            return None
        column, value = "short_id", ref
    return conn.execute(
        f"SELECT {COLUMNS} FROM chat_drafts WHERE {column} = %s" + (" FOR UPDATE" if lock else ""), (value,)
    ).fetchone()


def get(conn: psycopg.Connection[Any], draft_id: Any) -> dict[str, Any] | None:
    return conn.execute(f"SELECT {COLUMNS} FROM chat_drafts WHERE id = %s", (draft_id,)).fetchone()


def child_of(conn: psycopg.Connection[Any], draft_id: Any) -> dict[str, Any] | None:
    return conn.execute(
        f"SELECT {COLUMNS} FROM chat_drafts WHERE parent_id = %s ORDER BY revision DESC LIMIT 1", (draft_id,)
    ).fetchone()


def decide(
    conn: psycopg.Connection[Any],
    draft_id: Any,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    auto_applied: bool = False,
) -> dict[str, Any]:
    """Move an open draft to `status` (executed, discarded, superseded, expired)."""
    row = conn.execute(
        f"""UPDATE chat_drafts SET status = %s, decided_at = now(), updated_at = now(),
                   executed_at = CASE WHEN %s = 'executed' THEN now() END,
                   result = COALESCE(%s, result), auto_applied = %s
             WHERE id = %s RETURNING {COLUMNS}""",
        (status, status, Jsonb(result) if result is not None else None, auto_applied, draft_id),
    ).fetchone()
    return _one(row)


def last_executed(conn: psycopg.Connection[Any], client_id: str, chat_id: int) -> dict[str, Any] | None:
    """The chat's most recently applied draft, locked for /undo."""
    return conn.execute(
        f"""SELECT {COLUMNS} FROM chat_drafts WHERE client_id = %s AND chat_id = %s AND status = 'executed'
             ORDER BY executed_at DESC LIMIT 1 FOR UPDATE""",
        (client_id, chat_id),
    ).fetchone()


def mark_undone(conn: psycopg.Connection[Any], draft_id: Any) -> None:
    conn.execute(
        "UPDATE chat_drafts SET status = 'undone', undone_at = now(), updated_at = now() WHERE id = %s", (draft_id,)
    )

"""Telegram redelivers updates (n8n retries too): an update already answered gets the same answer.

The key is claimed in the request's transaction before any work, like `Idempotency-Key`: a
concurrent duplicate waits on the claim until the first commits, then reads its answer; if the
first fails, its claim rolls back with it and the duplicate runs as if it were first. Questions
are not recorded (they write nothing, and answering again is harmless).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

KEEP_DAYS = 7


def message_key(message_id: int) -> str:
    return f"m:{message_id}"


def callback_key(callback_id: str) -> str:
    return f"c:{callback_id}"


def stored(conn: psycopg.Connection[Any], chat_id: int, key: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT response FROM chat_updates WHERE chat_id = %s AND update_key = %s", (chat_id, key)
    ).fetchone()
    return row["response"] if row and row["response"] is not None else None


def claim(conn: psycopg.Connection[Any], chat_id: int, key: str) -> bool:
    """True when this request owns the update; False when another already answered it."""
    conn.execute(
        "DELETE FROM chat_updates WHERE chat_id = %s AND created_at < now() - make_interval(days => %s)",
        (chat_id, KEEP_DAYS),
    )
    row = conn.execute(
        """INSERT INTO chat_updates (chat_id, update_key) VALUES (%s, %s)
           ON CONFLICT (chat_id, update_key) DO NOTHING RETURNING update_key""",
        (chat_id, key),
    ).fetchone()
    return row is not None


def save(conn: psycopg.Connection[Any], chat_id: int, key: str, response: dict[str, Any]) -> None:
    conn.execute(
        "UPDATE chat_updates SET response = %s WHERE chat_id = %s AND update_key = %s",
        (Jsonb(response), chat_id, key),
    )


def release(conn: psycopg.Connection[Any], chat_id: int, key: str) -> None:
    """Give a claim back (the update turned out to be a question, which is never recorded)."""
    conn.execute("DELETE FROM chat_updates WHERE chat_id = %s AND update_key = %s", (chat_id, key))

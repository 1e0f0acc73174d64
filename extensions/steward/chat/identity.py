"""Who a Telegram chat belongs to: users, one-time link codes and chat bindings.

There is no built-in user. The operator issues a code (`steward link create --user alice` or
POST /api/v1/chat/links); the user sends `/link CODE` to the bot and that chat is bound to
`alice`. A code is 8 characters from an alphabet without look-alikes (about 40 bits), works once,
expires, and only its SHA-256 is stored. Until a chat is bound, Steward answers it with linking
instructions and writes nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg import sql

from steward.core.errors import NotFound, ValidationFailed

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
_SEPARATORS = re.compile(r"[\s\-_.]")
SETTINGS = ("timezone", "date_order", "auto_apply")
USER_COLUMNS = "client_id, timezone, date_order, auto_apply, created_at, updated_at"


@dataclass(frozen=True)
class ChatUser:
    """A bound chat's user and settings; `awaiting_edit` is the draft the next message corrects."""

    client_id: str
    chat_id: int
    timezone: str
    date_order: str
    auto_apply: bool
    awaiting_edit: str | None


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def normalise_code(raw: str) -> str:
    return _SEPARATORS.sub("", raw).upper()


def shown(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed.field(
            "timezone", f"unknown timezone {name!r}; use an IANA name such as Europe/Berlin"
        ) from None
    return name


def ensure_user(conn: psycopg.Connection[Any], client_id: str, timezone: str | None = None) -> dict[str, Any]:
    """The user row, created on first use; a given timezone is stored."""
    if timezone is not None:
        check_timezone(timezone)
    conn.execute(
        """INSERT INTO chat_users (client_id, timezone) VALUES (%s, COALESCE(%s::text, 'UTC'))
           ON CONFLICT (client_id) DO UPDATE
               SET timezone = COALESCE(%s::text, chat_users.timezone),
                   updated_at = CASE WHEN %s::text IS NULL THEN chat_users.updated_at ELSE now() END""",
        (client_id, timezone, timezone, timezone),
    )
    return get_user(conn, client_id)


def get_user(conn: psycopg.Connection[Any], client_id: str) -> dict[str, Any]:
    row = conn.execute(f"SELECT {USER_COLUMNS} FROM chat_users WHERE client_id = %s", (client_id,)).fetchone()
    if row is None:
        raise NotFound(f"no chat user {client_id}; create a link code for them first")
    chats = conn.execute("SELECT chat_id FROM chat_links WHERE client_id = %s ORDER BY linked_at", (client_id,))
    return {**row, "chats": [r["chat_id"] for r in chats]}


def update_user(conn: psycopg.Connection[Any], client_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    get_user(conn, client_id)
    changes = {k: v for k, v in changes.items() if v is not None}
    if "timezone" in changes:
        check_timezone(changes["timezone"])
    for name, value in changes.items():
        if name not in SETTINGS:
            raise ValidationFailed.field(name, f"not a chat setting; use {', '.join(SETTINGS)}")
        query = sql.SQL("UPDATE chat_users SET {} = %s, updated_at = now() WHERE client_id = %s")
        conn.execute(query.format(sql.Identifier(name)), (value, client_id))
    return get_user(conn, client_id)


def create_code(
    conn: psycopg.Connection[Any], client_id: str, ttl_minutes: int, timezone: str | None = None
) -> tuple[str, datetime]:
    """A new one-time code for `client_id` (created if new); returns (code, expires_at)."""
    ensure_user(conn, client_id, timezone)
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    row = conn.execute(
        """INSERT INTO chat_link_codes (code_hash, client_id, expires_at)
           VALUES (%s, %s, now() + make_interval(mins => %s)) RETURNING expires_at""",
        (_hash(code), client_id, ttl_minutes),
    ).fetchone()
    return code, row["expires_at"]


def redeem(conn: psycopg.Connection[Any], raw_code: str, chat_id: int, telegram_user_id: int | None) -> str | None:
    """Bind `chat_id` to the code's user and spend the code; the client id, or None for a code that
    is unknown, used or expired. Re-sending the code that bound this very chat is harmless."""
    code = normalise_code(raw_code)
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    row = conn.execute(
        """SELECT id, client_id, expires_at < now() AS expired, used_at, used_by_chat_id
             FROM chat_link_codes WHERE code_hash = %s FOR UPDATE""",
        (_hash(code),),
    ).fetchone()
    if row is None:
        return None
    if row["used_at"] is not None:
        return row["client_id"] if row["used_by_chat_id"] == chat_id else None
    if row["expired"]:
        return None
    conn.execute("UPDATE chat_link_codes SET used_at = now(), used_by_chat_id = %s WHERE id = %s", (chat_id, row["id"]))
    conn.execute(
        """INSERT INTO chat_links (chat_id, client_id, telegram_user_id) VALUES (%s, %s, %s)
           ON CONFLICT (chat_id) DO UPDATE SET client_id = excluded.client_id,
               telegram_user_id = excluded.telegram_user_id, awaiting_edit_draft_id = NULL, linked_at = now()""",
        (chat_id, row["client_id"], telegram_user_id),
    )
    return row["client_id"]


def for_chat(conn: psycopg.Connection[Any], chat_id: int) -> ChatUser | None:
    row = conn.execute(
        """SELECT l.chat_id, l.awaiting_edit_draft_id, u.client_id, u.timezone, u.date_order, u.auto_apply
             FROM chat_links l JOIN chat_users u USING (client_id) WHERE l.chat_id = %s""",
        (chat_id,),
    ).fetchone()
    if row is None:
        return None
    awaiting = row["awaiting_edit_draft_id"]
    return ChatUser(
        client_id=row["client_id"],
        chat_id=row["chat_id"],
        timezone=row["timezone"],
        date_order=row["date_order"],
        auto_apply=row["auto_apply"],
        awaiting_edit=str(awaiting) if awaiting else None,
    )


def await_edit(conn: psycopg.Connection[Any], chat_id: int, draft_id: Any | None) -> None:
    """Make the chat's next message the correction of `draft_id` (None: stop waiting)."""
    conn.execute("UPDATE chat_links SET awaiting_edit_draft_id = %s WHERE chat_id = %s", (draft_id, chat_id))

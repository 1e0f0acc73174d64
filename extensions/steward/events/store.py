"""Event log persistence: append and keyset-paginated listing (newest first)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from steward.core.types import decode_cursor, encode_cursor

COLUMNS = "id, event_type, event_source, client_id, payload, metadata, occurred_at, created_at"


def append(
    conn: psycopg.Connection,
    event_type: str,
    event_source: str,
    client_id: str,
    payload: dict | None = None,
    metadata: dict | None = None,
    occurred_at=None,
) -> Any:
    """Append one event; other services call this to record what they did."""
    return conn.execute(
        f"""INSERT INTO events (event_type, event_source, client_id, payload, metadata, occurred_at)
            VALUES (%s, %s, %s, %s, %s, COALESCE(%s, now())) RETURNING {COLUMNS}""",
        (event_type, event_source, client_id, Jsonb(payload or {}), Jsonb(metadata or {}), occurred_at),
    ).fetchone()


def page(
    conn: psycopg.Connection,
    *,
    client_id=None,
    event_type=None,
    event_source=None,
    since=None,
    until=None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[Any], str | None]:
    where, args = [], []
    for column, value in (("client_id", client_id), ("event_type", event_type), ("event_source", event_source)):
        if value is not None:
            where.append(f"{column} = %s")
            args.append(value)
    if since is not None:
        where.append("occurred_at >= %s")
        args.append(since)
    if until is not None:
        where.append("occurred_at <= %s")
        args.append(until)
    if cursor:
        occurred, event_id = decode_cursor(cursor, 2)
        where.append("(occurred_at, id) < (%s::timestamptz, %s::uuid)")
        args += [occurred, event_id]
    sql = f"SELECT {COLUMNS} FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY occurred_at DESC, id DESC LIMIT %s"
    rows = conn.execute(sql, (*args, limit + 1)).fetchall()
    next_cursor = encode_cursor(rows[limit - 1]["occurred_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return rows[:limit], next_cursor

"""Reflection rows: one per (client, mode, period), replaced in place by a forced re-run."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from steward.core.types import decode_cursor, encode_cursor
from steward.observer.periods import Period

COLUMNS = (
    "id, client_id, mode, period_start, period_end, timezone, run_id, figures, narrative, suggestions, "
    "narration, markdown, coda_row, memory_id, created_at, updated_at"
)


def current_memory(conn: psycopg.Connection, client_id: str, period: Period) -> Any:
    row: Any = conn.execute(
        "SELECT memory_id FROM reflections WHERE client_id = %s AND mode = %s AND period_start = %s",
        (client_id, period.mode, period.start),
    ).fetchone()
    return row["memory_id"] if row else None


def upsert(
    conn: psycopg.Connection,
    client_id: str,
    period: Period,
    run_id: Any,
    figures: dict[str, Any],
    narration: dict[str, Any],
    markdown: str,
    coda_row: dict[str, Any],
    memory_id: Any,
) -> Any:
    return conn.execute(
        f"""INSERT INTO reflections (client_id, mode, period_start, period_end, timezone, run_id, figures, narrative,
                                     suggestions, narration, markdown, coda_row, memory_id)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (client_id, mode, period_start) DO UPDATE
               SET period_end = EXCLUDED.period_end, timezone = EXCLUDED.timezone, run_id = EXCLUDED.run_id,
                   figures = EXCLUDED.figures, narrative = EXCLUDED.narrative, suggestions = EXCLUDED.suggestions,
                   narration = EXCLUDED.narration, markdown = EXCLUDED.markdown, coda_row = EXCLUDED.coda_row,
                   memory_id = EXCLUDED.memory_id, updated_at = now()
            RETURNING {COLUMNS}""",
        (
            client_id,
            period.mode,
            period.start,
            period.end,
            period.timezone,
            run_id,
            Jsonb(figures),
            narration["narrative"],
            Jsonb(narration["suggestions"]),
            Jsonb(narration["narration"]),
            markdown,
            Jsonb(coda_row),
            memory_id,
        ),
    ).fetchone()


def by_run(conn: psycopg.Connection, run_id: Any) -> Any:
    return conn.execute(f"SELECT {COLUMNS} FROM reflections WHERE run_id = %s", (run_id,)).fetchone()


def page(
    conn: psycopg.Connection, client_id: str, mode: str | None, since: dt.date | None, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """Newest period first; raises ValueError on a cursor this API did not issue."""
    where: list[str] = ["client_id = %s"]
    args: list[Any] = [client_id]
    if mode is not None:
        where.append("mode = %s")
        args.append(mode)
    if since is not None:
        where.append("period_end >= %s")
        args.append(since)
    if cursor:
        start, ident = decode_cursor(cursor, 2)
        dt.date.fromisoformat(start), uuid.UUID(ident)  # ValueError on anything else
        where.append("(period_start, id) < (%s::date, %s::uuid)")
        args += [start, ident]
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM reflections WHERE {' AND '.join(where)} ORDER BY period_start DESC, id DESC LIMIT %s",
        (*args, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]["period_start"], rows[-1]["id"]) if more else None

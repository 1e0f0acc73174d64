"""`scheduler_runs` and the plans the scheduler reads: plain SQL on the request's connection.

A run stores its normalized request (tasks, busy, the effective settings, `now`) and the full
response, so a reschedule can replay the parent's settings and an .ics export needs no recompute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

RUN_COLUMNS = "id, client_id, plan_id, kind, request, result, parent_run_id, created_at"


def insert_run(
    conn: psycopg.Connection[Any],
    run_id: UUID,
    client_id: str,
    kind: str,
    request: dict[str, Any],
    result: dict[str, Any],
    plan_id: UUID | None = None,
    parent_id: UUID | None = None,
) -> datetime:
    row = conn.execute(
        """INSERT INTO scheduler_runs (id, client_id, plan_id, kind, request, result, parent_run_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING created_at""",
        (run_id, client_id, plan_id, kind, Jsonb(request), Jsonb(result), parent_id),
    ).fetchone()
    assert row is not None
    return row["created_at"]


def get_run(conn: psycopg.Connection[Any], run_id: UUID) -> dict[str, Any] | None:
    return conn.execute(f"SELECT {RUN_COLUMNS} FROM scheduler_runs WHERE id = %s", (run_id,)).fetchone()


def latest_run_covering(
    conn: psycopg.Connection[Any], client_id: str, start: datetime, end: datetime
) -> dict[str, Any] | None:
    """The newest run of the client whose horizon overlaps [start, end)."""
    return conn.execute(
        f"""SELECT {RUN_COLUMNS} FROM scheduler_runs
             WHERE client_id = %s AND kind IN ('schedule', 'reschedule', 'daily_plan')
               AND (result->>'horizon_start')::timestamptz < %s
               AND (result->>'horizon_end')::timestamptz > %s
             ORDER BY created_at DESC, id DESC LIMIT 1""",
        (client_id, end, start),
    ).fetchone()


def get_plan(conn: psycopg.Connection[Any], plan_id: UUID) -> dict[str, Any] | None:
    return conn.execute("SELECT id, client_id, title, sop FROM plans WHERE id = %s", (plan_id,)).fetchone()


def tracked_steps(conn: psycopg.Connection[Any], plan_id: UUID) -> list[dict[str, Any]]:
    """The planner's step tracking, if that table exists in this deployment."""
    exists = conn.execute("SELECT to_regclass('plan_steps') IS NOT NULL AS present").fetchone()
    if not exists or not exists["present"]:
        return []
    return conn.execute("SELECT key, status, due_at FROM plan_steps WHERE plan_id = %s", (plan_id,)).fetchall()

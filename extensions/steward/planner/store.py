"""Plans and their steps in Postgres: insert, load, list, update. No rules here, only SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb

from steward.core.types import decode_cursor, encode_cursor
from steward.planner.models import Sop

Row = dict[str, Any]  # the request connection returns dict rows (core/db.py)


def _one(cursor: psycopg.Cursor) -> Row | None:
    return cast(Row | None, cursor.fetchone())


def _all(cursor: psycopg.Cursor) -> list[Row]:
    return cast(list[Row], cursor.fetchall())


PLAN_COLUMNS = (
    "id, client_id, intent, title, summary, status, sop, source, mode, engagement_id, workflow_id, blueprint_id,"
    " process_template_id, reused_from_plan_id, reuse_similarity, llm_model, prompt_version, inputs,"
    " created_at, updated_at, activated_at, finished_at"
)
STEP_COLUMNS = (
    "plan_id, key, position, title, description, estimate_minutes, depends_on, role, deliverable, status,"
    " actual_minutes, due_at, task_id, note, started_at, finished_at, updated_at"
)


def insert_plan(conn: psycopg.Connection, sop: Sop, **fields: Any) -> Row:
    """Insert a plan and its steps; `fields` are plan columns (client_id, intent, source...)."""
    fields = {**fields, "title": sop.title, "summary": sop.summary, "sop": Jsonb(sop.model_dump(mode="json"))}
    if "inputs" in fields:
        fields["inputs"] = Jsonb(fields["inputs"])
    names = list(fields)
    placeholders = ", ".join(["%s"] * len(names))
    plan = _one(
        conn.execute(
            f"INSERT INTO plans ({', '.join(names)}) VALUES ({placeholders}) RETURNING {PLAN_COLUMNS}",
            [fields[n] for n in names],
        )
    )
    assert plan is not None
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO plan_steps (plan_id, key, position, title, description, estimate_minutes, depends_on,
                                       role, deliverable) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (plan["id"], s.key, i, s.title, s.description, s.estimate_minutes, s.depends_on, s.role, s.deliverable)
                for i, s in enumerate(sop.steps)
            ],
        )
    return plan


def get_plan(conn: psycopg.Connection, plan_id: Any, *, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE" if for_update else ""
    return _one(conn.execute(f"SELECT {PLAN_COLUMNS} FROM plans WHERE id = %s{lock}", (plan_id,)))


def steps_of(conn: psycopg.Connection, plan_ids: Sequence[Any]) -> dict[str, list[Row]]:
    """Steps by plan id (as text), in SOP order."""
    found: dict[str, list[Row]] = {str(p): [] for p in plan_ids}
    if not plan_ids:
        return found
    rows = _all(
        conn.execute(
            f"SELECT {STEP_COLUMNS} FROM plan_steps WHERE plan_id = ANY(%s) ORDER BY plan_id, position",
            (list(plan_ids),),
        )
    )
    for row in rows:
        found[str(row["plan_id"])].append(row)
    return found


def page(
    conn: psycopg.Connection, client_id: str, statuses: Sequence[str] | None, limit: int, cursor: str | None
) -> tuple[list[Row], str | None]:
    """Plans of a client, newest first, keyset-paginated; raises ValueError on a foreign cursor."""
    where: list[str] = ["client_id = %s"]
    args: list[Any] = [client_id]
    if statuses:
        where.append("status = ANY(%s)")
        args.append(list(statuses))
    if cursor:
        created, plan_id = decode_cursor(cursor, 2)
        where.append("(created_at, id) < (%s::timestamptz, %s::uuid)")
        args += [created, plan_id]
    rows = _all(
        conn.execute(
            f"SELECT {PLAN_COLUMNS} FROM plans WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT %s",
            (*args, limit + 1),
        )
    )
    next_cursor = encode_cursor(rows[limit - 1]["created_at"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def set_plan(conn: psycopg.Connection, plan_id: Any, expect_status: str, **fields: Any) -> Row | None:
    """Update a plan still in `expect_status`; None when a concurrent request moved it first."""
    sets = ", ".join(f"{n} = %s" for n in fields)
    return _one(
        conn.execute(
            f"UPDATE plans SET {sets}, updated_at = now() WHERE id = %s AND status = %s RETURNING {PLAN_COLUMNS}",
            (*fields.values(), plan_id, expect_status),
        )
    )


def set_step(conn: psycopg.Connection, plan_id: Any, key: str, **fields: Any) -> Row:
    sets = ", ".join(f"{n} = %s" for n in fields)
    step = _one(
        conn.execute(
            f"UPDATE plan_steps SET {sets}, updated_at = now() WHERE plan_id = %s AND key = %s"
            f" RETURNING {STEP_COLUMNS}",
            (*fields.values(), plan_id, key),
        )
    )
    assert step is not None, "set_step is called for steps read under the plan's lock"
    return step


def overdue_blocked(conn: psycopg.Connection, plan_ids: Sequence[Any]) -> dict[str, list[str]]:
    """Keys of blocked steps past their deadline, by plan id, among the given active plans."""
    found: dict[str, list[str]] = {}
    rows = _all(
        conn.execute(
            """SELECT s.plan_id, s.key FROM plan_steps s JOIN plans p ON p.id = s.plan_id
                WHERE s.plan_id = ANY(%s) AND p.status = 'active' AND s.status = 'blocked' AND s.due_at < now()
                ORDER BY s.plan_id, s.position""",
            (list(plan_ids),),
        )
    )
    for row in rows:
        found.setdefault(str(row["plan_id"]), []).append(row["key"])
    return found


def write_execution_run(conn: psycopg.Connection, plan: Row, step: Row) -> None:
    """Estimate vs actual for a finished step, which the weekly review reads to flag estimate drift."""
    estimate, actual = step["estimate_minutes"], step["actual_minutes"]
    drift = round(actual / estimate, 3) if actual is not None and estimate else None
    conn.execute(
        """INSERT INTO execution_runs (client_id, task_id, project_id, process_template_id, run_type, plan_id,
                                       step_key, estimated_hours, actual_hours, started_at, finished_at, metadata)
           VALUES (%s, %s, %s, %s, 'plan_step', %s, %s, %s, %s, %s, %s, %s)""",
        (
            plan["client_id"],
            step["task_id"],
            plan["engagement_id"],
            plan["process_template_id"],
            plan["id"],
            step["key"],
            round(estimate / 60, 2),
            round(actual / 60, 2) if actual is not None else None,
            step["started_at"],
            step["finished_at"],
            Jsonb(
                {
                    "title": step["title"],
                    "estimate_minutes": estimate,
                    "actual_minutes": actual,
                    "drift": drift,
                    "workflow_id": plan["workflow_id"],
                    "blueprint_id": plan["blueprint_id"],
                }
            ),
        ),
    )


def update_execution_run_actual(conn: psycopg.Connection, plan_id: Any, key: str, actual_minutes: int) -> None:
    """A corrected actual for a step already done updates its run instead of adding one."""
    conn.execute(
        """UPDATE execution_runs
              SET actual_hours = %s,
                  metadata = metadata || jsonb_build_object('actual_minutes', %s::int, 'drift',
                             CASE WHEN (metadata->>'estimate_minutes')::int > 0
                                  THEN round(%s::numeric / (metadata->>'estimate_minutes')::int, 3) END)
            WHERE plan_id = %s AND step_key = %s AND run_type = 'plan_step'""",
        (round(actual_minutes / 60, 2), actual_minutes, actual_minutes, plan_id, key),
    )

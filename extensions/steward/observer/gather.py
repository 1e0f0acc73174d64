"""Steward's own records for a period, read with SQL: events, execution runs, memories, goals, drafts.

The result is plain JSON (it is the `gather` step's checkpoint), so the figures computed from it
are the same whether the run went straight through or was resumed days later.
"""

from __future__ import annotations

from typing import Any

import psycopg

from steward.observer.periods import Period

NOTABLE_TYPES = (
    "plan_created",
    "plan_activated",
    "plan_completed",
    "plan_failed",
    "plan_cancelled",
    "plan_step_blocked",
)
SNIPPET_CHARS = 300
SOURCE = "steward:observer"


def _count_by(conn: psycopg.Connection, sql: str, args: tuple[Any, ...]) -> dict[str, int]:
    return {r["key"]: int(r["n"]) for r in conn.execute(sql, args).fetchall()}


def events(conn: psycopg.Connection, client_id: str, period: Period) -> dict[str, Any]:
    """The period's events by type, and the notable ones; the observer's own events are left out."""
    start, end = period.bounds()
    counts = _count_by(
        conn,
        """SELECT event_type AS key, count(*) AS n FROM events
                                 WHERE client_id = %s AND occurred_at >= %s AND occurred_at < %s
                                   AND event_source <> %s
                                 GROUP BY event_type ORDER BY event_type""",
        (client_id, start, end, SOURCE),
    )
    notable = conn.execute(
        """SELECT event_type, occurred_at,
                  COALESCE(payload->>'title', payload->>'summary', payload->>'reason', '') AS summary
             FROM events
            WHERE client_id = %s AND occurred_at >= %s AND occurred_at < %s AND event_source <> %s
              AND (event_type = ANY(%s) OR event_type LIKE '%%\\_failed' OR payload->>'notable' = 'true')
            ORDER BY occurred_at, id LIMIT 50""",
        (client_id, start, end, SOURCE, list(NOTABLE_TYPES)),
    ).fetchall()
    return {
        "counts": counts,
        "notable": [
            {"type": r["event_type"], "at": r["occurred_at"].isoformat(), "summary": r["summary"]} for r in notable
        ],
    }


def execution_runs(conn: psycopg.Connection, client_id: str, period: Period) -> list[dict[str, Any]]:
    """Runs finished in the period (created, when never marked finished), with their pattern."""
    start, end = period.bounds()
    rows: list[Any] = conn.execute(
        """SELECT id, run_type, process_template_id, metadata->>'workflow_id' AS workflow_id,
                  estimated_hours::float8 AS estimated_hours, actual_hours::float8 AS actual_hours
             FROM execution_runs
            WHERE client_id = %s AND COALESCE(finished_at, created_at) >= %s AND COALESCE(finished_at, created_at) < %s
            ORDER BY COALESCE(finished_at, created_at), id""",
        (client_id, start, end),
    ).fetchall()
    return [{**r, "id": str(r["id"])} for r in rows]


def memories(conn: psycopg.Connection, client_id: str, period: Period, snippets: int = 5) -> dict[str, Any]:
    start, end = period.bounds()
    where = "client_id = %s AND kind <> 'reflection' AND merged_into IS NULL AND occurred_at >= %s AND occurred_at < %s"
    counts = _count_by(
        conn,
        f"SELECT kind AS key, count(*) AS n FROM memories WHERE {where} GROUP BY kind ORDER BY kind",
        (client_id, start, end),
    )
    recent = conn.execute(
        f"SELECT kind, text FROM memories WHERE {where} ORDER BY occurred_at DESC, id LIMIT %s",
        (client_id, start, end, snippets),
    ).fetchall()
    return {"counts": counts, "snippets": [f"[{r['kind']}] {r['text'][:SNIPPET_CHARS]}" for r in recent]}


def goals(conn: psycopg.Connection, client_id: str, period: Period) -> list[dict[str, Any]]:
    """Plans that were goals during the period: active now, or completed/failed within it."""
    start, end = period.bounds()
    rows = conn.execute(
        """SELECT p.id, p.title, p.status, p.activated_at, p.finished_at,
                  count(s.key) AS steps_total,
                  count(s.key) FILTER (WHERE s.status = 'done') AS steps_done,
                  count(s.key) FILTER (WHERE s.status = 'done' AND s.finished_at >= %(start)s
                                       AND s.finished_at < %(end)s) AS steps_done_in_period,
                  count(s.key) FILTER (WHERE s.status = 'blocked') AS blocked_steps
             FROM plans p LEFT JOIN plan_steps s ON s.plan_id = p.id
            WHERE p.client_id = %(client)s
              AND (p.status = 'active'
                   OR (p.status IN ('completed', 'failed') AND p.finished_at >= %(start)s AND p.finished_at < %(end)s))
              AND COALESCE(p.activated_at, p.created_at) < %(end)s
            GROUP BY p.id ORDER BY p.created_at, p.id""",
        {"client": client_id, "start": start, "end": end},
    ).fetchall()
    return [
        {
            "plan_id": str(r["id"]),
            "title": r["title"],
            "status": r["status"],
            "finished_in_period": r["finished_at"] is not None and start <= r["finished_at"] < end,
            **{k: int(r[k]) for k in ("steps_total", "steps_done", "steps_done_in_period", "blocked_steps")},
        }
        for r in rows
    ]


def drafts(conn: psycopg.Connection, client_id: str) -> dict[str, Any]:
    """Open drafts now; Steward may not have a drafts table yet, which the figures say plainly."""
    columns = {
        r["column_name"]
        for r in conn.execute(
            """SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'drafts'"""
        ).fetchall()
    }
    if not {"client_id", "status"} <= columns:
        return {
            "open": 0,
            "available": False,
            "note": "Steward keeps no drafts yet (no drafts table), so open drafts are counted as 0",
        }
    live = " AND (expires_at IS NULL OR expires_at > now())" if "expires_at" in columns else ""
    row = conn.execute(
        f"SELECT count(*) AS n FROM drafts WHERE client_id = %s AND status = 'draft'{live}", (client_id,)
    ).fetchone()
    return {"open": int(row["n"]), "available": True, "note": None}


def stored_figures(conn: psycopg.Connection, client_id: str, period: Period) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT figures FROM reflections WHERE client_id = %s AND mode = %s AND period_start = %s",
        (client_id, period.mode, period.start),
    ).fetchone()
    return row["figures"] if row else None


def records(conn: psycopg.Connection, client_id: str, period: Period) -> dict[str, Any]:
    return {
        "events": events(conn, client_id, period),
        "execution_runs": execution_runs(conn, client_id, period),
        "memories": memories(conn, client_id, period),
        "goals": goals(conn, client_id, period),
    }


def gather(conn: psycopg.Connection, client_id: str, period: Period) -> dict[str, Any]:
    """Everything the figures need beyond the request: this period's records, open drafts, and for
    a week, last week's stored figures (or its records, to compute them when none are stored)."""
    found: dict[str, Any] = {"current": records(conn, client_id, period), "drafts": drafts(conn, client_id)}
    if period.mode == "weekly":
        previous = period.previous()
        stored = stored_figures(conn, client_id, previous)
        found["previous_figures"] = stored
        found["previous"] = None if stored is not None else records(conn, client_id, previous)
    return found

"""/today: the day's plan as the scheduler would render it, read-only.

If a scheduler run covers today (the daily-plan workflow made one), its agenda and blocks are
shown. Otherwise the user's open tasks (due by today, or undated) are fitted into today's working
hours on the spot with the scheduler's own functions, without storing a run.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import psycopg

from steward.chat.identity import ChatUser
from steward.scheduler import daily, preferences, render, service, text
from steward.scheduler import store as runs
from steward.scheduler.clock import from_minute, zone
from steward.scheduler.models import BlockOut, BusyIn, TaskIn, UnscheduledOut

MAX_TASKS = 50
DEFAULT_MINUTES = 30


def _open_tasks(conn: psycopg.Connection[Any], client_id: str, end: datetime) -> list[TaskIn]:
    rows = conn.execute(
        """SELECT id, title, duration_minutes, priority, due, due_has_time FROM items
            WHERE client_id = %s AND type = 'task' AND status IN ('inbox', 'active') AND deleted_at IS NULL
              AND (due IS NULL OR due < %s)
            ORDER BY priority NULLS LAST, due NULLS LAST, created_at LIMIT %s""",
        (client_id, end, MAX_TASKS),
    ).fetchall()
    return [
        TaskIn.model_validate(
            {
                "id": str(r["id"]),
                "title": r["title"][:500],
                "duration_minutes": r["duration_minutes"] or DEFAULT_MINUTES,
                "priority": r["priority"] or "p4",
                "deadline": r["due"] if r["due_has_time"] else (r["due"] + timedelta(days=1) if r["due"] else None),
            }
        )
        for r in rows
    ]


def _from_run(run: dict[str, Any]) -> tuple[list[TaskIn], list[BusyIn], list[BlockOut], list[UnscheduledOut]]:
    request, result = run["request"], run["result"]
    return (
        [TaskIn.model_validate(t) for t in request.get("tasks", [])],
        [BusyIn.model_validate(b) for b in request.get("busy", [])],
        [BlockOut.model_validate(b) for b in result.get("blocks", [])],
        [UnscheduledOut.model_validate(u) for u in result.get("unscheduled", [])],
    )


def plan_text(conn: psycopg.Connection[Any], user: ChatUser, now: datetime) -> str:
    prefs = replace(preferences.for_client(user.client_id), timezone=user.timezone)
    tz = zone(prefs.timezone)
    day = now.astimezone(tz).date()
    start, end = daily.bounds(day, prefs)
    run = runs.latest_run_covering(conn, user.client_id, from_minute(start, tz), from_minute(end, tz))
    if run is not None:
        tasks, busy, blocks, unscheduled = _from_run(run)
    else:
        tasks, busy = _open_tasks(conn, user.client_id, from_minute(end, tz)), []
        moment = max(now, from_minute(start, tz))
        outcome = service.solve(tasks, busy, replace(prefs, horizon_days=1), moment, first_day=day)
        blocks, unscheduled = render.blocks(outcome), render.unscheduled(outcome)
    view = daily.build(day, prefs, now, busy, blocks, tasks, set(), 5)
    return text.render(view, prefs.timezone, unscheduled)

"""Scheduling preferences kept in memory, for the scheduler to fill what a request leaves out.

A preference memory may carry structured settings under `metadata.scheduler`, e.g.
`{"kind": "preference", "text": "10 minutes between meetings", "metadata": {"scheduler":
{"buffer_minutes": 10}}}`. Current ones (not invalidated or merged away) are merged oldest
first, so the newest statement of a setting wins; the scheduler validates the values.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from steward.core.db import get_db


def scheduling_preferences(client_id: str) -> dict[str, Any]:
    conn = get_db()
    with conn.transaction():  # a savepoint: a failure here must not abort the scheduling request
        rows = conn.execute(
            """SELECT metadata -> 'scheduler' AS prefs FROM memories
                WHERE client_id = %s AND kind = 'preference' AND metadata ? 'scheduler'
                  AND invalid_at IS NULL AND merged_into IS NULL
                ORDER BY valid_from, created_at""",
            (client_id,),
        ).fetchall()
    merged: dict[str, Any] = {}
    for row in rows:
        if isinstance(row["prefs"], dict):
            merged.update(row["prefs"])
    return merged


def register(app: Flask) -> None:
    """Plug memory into the scheduler's preference chain (when both services are served)."""
    from steward.scheduler.preferences import register_source

    register_source(app, scheduling_preferences)

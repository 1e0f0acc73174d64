"""Summaries of `llm_calls`: totals and groups over a time window, for cost observability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import psycopg

from steward.core.llm.accounting import SPENT_TODAY_SQL

# Each dimension is a fixed SQL expression: user input only ever selects among these.
DIMENSIONS = {
    "service": "service",
    "route": "route",
    "purpose": "purpose",
    "mode": "mode",
    "model": "model",
    "outcome": "outcome",
    "cache_hit": "cache_hit",
    "client_id": "client_id",
    "day": "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}

_MEASURES = """
    count(*)::int                                                        AS calls,
    count(*) FILTER (WHERE cache_hit)::int                               AS cache_hits,
    count(*) FILTER (WHERE outcome IN ('error', 'timeout', 'invalid_output'))::int AS failed_calls,
    count(*) FILTER (WHERE outcome = 'refused')::int                     AS refused_calls,
    COALESCE(sum(prompt_tokens), 0)::int                                 AS prompt_tokens,
    COALESCE(sum(completion_tokens), 0)::int                             AS completion_tokens,
    COALESCE(sum(prompt_tokens + completion_tokens), 0)::int             AS total_tokens,
    COALESCE(sum(cost_usd), 0)::float8                                   AS cost_usd,
    count(*) FILTER (WHERE NOT priced AND NOT cache_hit AND outcome <> 'refused')::int AS unpriced_calls,
    round(avg(latency_ms) FILTER (WHERE NOT cache_hit AND outcome <> 'refused'), 1)::float8 AS avg_latency_ms
"""


def summarise(
    conn: psycopg.Connection, since: datetime, until: datetime, group_by: Sequence[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(totals, groups) for calls in [since, until), groups ordered by cost then calls."""
    window = "FROM llm_calls WHERE created_at >= %s AND created_at < %s"
    totals = cast(dict[str, Any], conn.execute(f"SELECT {_MEASURES} {window}", (since, until)).fetchone())
    groups: list[dict[str, Any]] = []
    if group_by:
        keys = ", ".join(f"{DIMENSIONS[d]} AS {d}" for d in group_by)
        positions = ", ".join(str(i + 1) for i in range(len(group_by)))
        rows: list[dict[str, Any]] = conn.execute(  # type: ignore[assignment]
            f"SELECT {keys}, {_MEASURES} {window} GROUP BY {positions} ORDER BY cost_usd DESC, calls DESC",
            (since, until),
        ).fetchall()
        for row in rows:
            groups.append({"key": {d: row.pop(d) for d in group_by}, **row})
    return dict(totals), groups


def spent_today(conn: psycopg.Connection) -> float:
    row = conn.execute(SPENT_TODAY_SQL).fetchone()
    return float(row[0] if isinstance(row, tuple) else next(iter(cast(dict, row).values()))) if row else 0.0

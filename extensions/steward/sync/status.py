"""How far behind the sync is: last push and pull, the outbox by status, drift at the last check."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from steward.sync import store


def status(conn: psycopg.Connection, client_id: str) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    st = store.state(conn, client_id)
    counts = {
        r["status"]: r["n"]
        for r in cur.execute(
            "SELECT status, count(*) AS n FROM todoist_outbox WHERE client_id = %s GROUP BY status", (client_id,)
        )
    }
    oldest = cur.execute(
        """SELECT extract(epoch FROM now() - min(created_at))::float AS age FROM todoist_outbox
            WHERE client_id = %s AND status IN ('pending', 'leased', 'failed')""",
        (client_id,),
    ).fetchone()["age"]
    mapped = {
        r["kind"]: r["n"]
        for r in cur.execute(
            "SELECT kind, count(*) AS n FROM todoist_links WHERE client_id = %s GROUP BY kind", (client_id,)
        )
    }
    tombstones = cur.execute(
        "SELECT count(*) AS n FROM todoist_tombstones WHERE client_id = %s", (client_id,)
    ).fetchone()["n"]
    last = cur.execute(
        """SELECT id, created_at AS at, compared, drift, repaired, remote_only, local_only, in_flight
             FROM todoist_reconciliations WHERE client_id = %s ORDER BY created_at DESC LIMIT 1""",
        (client_id,),
    ).fetchone()
    return {
        "client_id": client_id,
        "last_push_at": st["last_push_at"],
        "last_pull_at": st["last_pull_at"],
        "last_full_sync_at": st["last_full_sync_at"],
        "sync_token_is_full": st["sync_token"] == "*",
        "token_resets": st["token_resets"],
        "pending": counts.get("pending", 0),
        "leased": counts.get("leased", 0),
        "failed": counts.get("failed", 0),
        "dead": counts.get("dead", 0),
        "done": counts.get("done", 0),
        "oldest_pending_seconds": oldest,
        "mapped_tasks": mapped.get("task", 0),
        "mapped_projects": mapped.get("project", 0),
        "tombstones": tombstones,
        "last_reconciliation": last,
        "drift": last["drift"] if last else None,
    }


def requeue(conn: psycopg.Connection, client_id: str, operation_ids: list[Any] | None) -> int:
    """Give dead operations a fresh start: rebuilt from the item under new uuids, attempts reset."""
    query = """UPDATE todoist_outbox SET status = 'pending', attempts = 0, request = NULL, outcome = NULL,
                      command_uuid = gen_random_uuid(), temp_id = gen_random_uuid(), next_attempt_at = now(),
                      updated_at = now()
                WHERE client_id = %s AND status = 'dead'"""
    args: list[Any] = [client_id]
    if operation_ids is not None:
        query += " AND id = ANY(%s)"
        args.append(operation_ids)
    return conn.cursor().execute(query, args).rowcount

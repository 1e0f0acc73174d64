"""Sync bookkeeping rows: the item <-> Todoist mapping, tombstones and the per-client sync state.

The mapping's `synced` column is the merge base: the canonical fields (fields.py) both sides last
agreed on. Push, pull and reconciliation all move it forward through these functions only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Kind = str  # "task" | "project"
Cursor = psycopg.Cursor[dict[str, Any]]


def cursor(conn: psycopg.Connection) -> Cursor:
    return conn.cursor(row_factory=dict_row)


def link_of_item(conn: psycopg.Connection, item_id: Any) -> dict[str, Any] | None:
    return cursor(conn).execute("SELECT * FROM todoist_links WHERE item_id = %s", (item_id,)).fetchone()


def link_of_remote(conn: psycopg.Connection, client_id: str, kind: Kind, todoist_id: str) -> dict[str, Any] | None:
    return (
        cursor(conn)
        .execute(
            "SELECT * FROM todoist_links WHERE client_id = %s AND kind = %s AND todoist_id = %s",
            (client_id, kind, todoist_id),
        )
        .fetchone()
    )


def links(conn: psycopg.Connection, client_id: str, kind: Kind) -> list[dict[str, Any]]:
    return (
        cursor(conn)
        .execute("SELECT * FROM todoist_links WHERE client_id = %s AND kind = %s", (client_id, kind))
        .fetchall()
    )


def save_link(
    conn: psycopg.Connection,
    *,
    client_id: str,
    item_id: Any,
    kind: Kind,
    todoist_id: str,
    synced: dict[str, Any],
    synced_version: int,
    remote_updated_at: datetime | None = None,
) -> None:
    """Insert or move the mapping forward; an item maps to one Todoist object at a time."""
    cursor(conn).execute(
        """INSERT INTO todoist_links (item_id, client_id, kind, todoist_id, synced, synced_version, remote_updated_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (item_id) DO UPDATE SET todoist_id = EXCLUDED.todoist_id, kind = EXCLUDED.kind,
                  synced = EXCLUDED.synced, synced_version = EXCLUDED.synced_version,
                  remote_updated_at = coalesce(EXCLUDED.remote_updated_at, todoist_links.remote_updated_at),
                  synced_at = now()""",
        (item_id, client_id, kind, todoist_id, Jsonb(synced), synced_version, remote_updated_at),
    )


def drop_link(conn: psycopg.Connection, item_id: Any) -> None:
    cursor(conn).execute("DELETE FROM todoist_links WHERE item_id = %s", (item_id,))


def tombstone(
    conn: psycopg.Connection, *, client_id: str, kind: Kind, todoist_id: str, item_id: Any, deleted_by: str
) -> None:
    cursor(conn).execute(
        """INSERT INTO todoist_tombstones (client_id, kind, todoist_id, item_id, deleted_by)
           VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (client_id, kind, todoist_id, item_id, deleted_by),
    )


def is_tombstoned(conn: psycopg.Connection, client_id: str, kind: Kind, todoist_id: str) -> bool:
    row = (
        cursor(conn)
        .execute(
            "SELECT 1 FROM todoist_tombstones WHERE client_id = %s AND kind = %s AND todoist_id = %s",
            (client_id, kind, todoist_id),
        )
        .fetchone()
    )
    return row is not None


def state(conn: psycopg.Connection, client_id: str, *, lock: bool = False) -> dict[str, Any]:
    """The client's sync state, created on first use with sync_token '*' (a full sync)."""
    cur = cursor(conn)
    cur.execute("INSERT INTO todoist_sync_state (client_id) VALUES (%s) ON CONFLICT DO NOTHING", (client_id,))
    query = "SELECT * FROM todoist_sync_state WHERE client_id = %s" + (" FOR UPDATE" if lock else "")
    row = cur.execute(query, (client_id,)).fetchone()
    assert row is not None
    return row


def peek_state(conn: psycopg.Connection, client_id: str) -> dict[str, Any]:
    """The state without creating it (no write, so concurrent readers never wait on each other)."""
    row = cursor(conn).execute("SELECT * FROM todoist_sync_state WHERE client_id = %s", (client_id,)).fetchone()
    return row or {"client_id": client_id, "sync_token": "*", "timezone": None, "inbox_project_id": None}


def update_state(conn: psycopg.Connection, client_id: str, **values: Any) -> None:
    """Set columns of the client's state; values given as SQL expressions are wrapped in `Raw`."""
    state(conn, client_id)
    parts, args = [], []
    for column, value in values.items():
        if isinstance(value, Raw):
            parts.append(f"{column} = {value.sql}")
        else:
            parts.append(f"{column} = %s")
            args.append(value)
    cursor(conn).execute(
        f"UPDATE todoist_sync_state SET {', '.join(parts)}, updated_at = now() WHERE client_id = %s",
        (*args, client_id),
    )


class Raw:
    """A trusted SQL expression for `update_state` (e.g. `Raw("now()")`)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql


NOW = Raw("now()")

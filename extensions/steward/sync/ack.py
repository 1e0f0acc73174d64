"""Acks: what Todoist answered for a leased operation, applied once.

Each command of the operation is judged by its own `sync_status` entry, so one answer may carry
several operations (the batch request) and a replayed ack changes nothing:

    all ok                         done; the mapping's merge base takes the values sent; a new task
                                   or project is mapped through `temp_id_mapping` (or `todoist_id`)
    no answer (5xx, 429, network)  failed: resent unchanged (same uuids) after a backoff
    command 5xx / bad temp id      failed: rebuilt with fresh uuids (Todoist did not run it)
    command 404                    done as `remote_gone` (a delete: the task is gone either way);
                                   the next pull brings the deletion and tombstones the item
    other command 4xx              dead at once (retrying cannot help); any failure after
                                   MAX_ATTEMPTS attempts is dead too, and shows in /status
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from steward.core.errors import Conflict, NotFound
from steward.items import store as items
from steward.sync import outbox, store
from steward.sync.commands import UNKNOWN
from steward.sync.store import Cursor

BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
RETRYABLE_TAGS = {"INVALID_TEMPID", "TEMP_ID_NOT_FOUND"}


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """30 s, 60 s, 120 s ... capped at an hour; a provider's Retry-After wins when longer."""
    delay = min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS)
    return max(delay, retry_after or 0)


def ack(
    conn: psycopg.Connection,
    operation_id: Any,
    *,
    ok: bool,
    todoist_id: str | None = None,
    response: dict[str, Any] | None = None,
    http_status: int | None = None,
    error: str | None = None,
    retry_after: float | None = None,
) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    op = cur.execute("SELECT * FROM todoist_outbox WHERE id = %s FOR UPDATE", (operation_id,)).fetchone()
    if op is None:
        raise NotFound(f"no outbox operation {operation_id}")
    if op["status"] == "done":
        return _result(conn, op["id"], duplicate=True)
    if op["request"] is None and op["attempts"] > 0:
        return _result(conn, op["id"], duplicate=True)  # a late answer for an attempt already judged
    if op["request"] is None:
        raise Conflict(f"operation {operation_id} was never leased; GET /outbox first")
    response = response or {}
    meta = op["request"]["meta"]
    statuses = response.get("sync_status") if isinstance(response.get("sync_status"), dict) else None
    if statuses is not None and any(m["uuid"] in statuses for m in meta):
        results = [statuses.get(m["uuid"]) for m in meta]
    elif ok and (http_status or 200) < 400 and statuses is None:
        results = ["ok"] * len(meta)  # a plain success ack (REST form or a caller that checked itself)
    else:
        results = None
    mapping = dict(response.get("temp_id_mapping") or {})
    first = op["request"]["commands"][0]
    if todoist_id and first.get("temp_id"):
        mapping.setdefault(first["temp_id"], todoist_id)
    if results is None:
        reason = error or f"no answer from Todoist (HTTP {http_status})" if http_status else error or "no answer"
        return _failed(cur, op, reason, http_status, response, rebuild=False, retry_after=retry_after)
    done = [m for m, r in zip(meta, results, strict=True) if r == "ok"]
    mapped = _apply(conn, op, done, mapping)
    errors = [r for r in results if r != "ok"]
    if not errors:
        outbox.finish(
            cur,
            op["id"],
            "done",
            outcome="ok" if mapped else outbox.AWAITING_MAPPING,
            last_http_status=http_status or 200,
            response=_trim(response, meta, op["request"]["commands"]),
        )
        store.update_state(conn, op["client_id"], last_push_at=store.NOW)
        return _result(conn, op["id"])
    worst: dict[str, Any] = errors[0] if isinstance(errors[0], dict) else {"error": str(errors[0]), "http_code": 500}
    code = int(worst.get("http_code") or 500)
    message = f"{worst.get('error_tag') or 'error'}: {worst.get('error') or worst}"
    if code == 404:
        if op["operation"] == "delete":
            _forget(conn, op)
        outbox.finish(cur, op["id"], "done", outcome="remote_gone", last_error=message, last_http_status=404)
        return _result(conn, op["id"])
    if code >= 500 or code == 429 or worst.get("error_tag") in RETRYABLE_TAGS:
        return _failed(cur, op, message, code, response, rebuild=True, retry_after=retry_after)
    outbox.finish(
        cur,
        op["id"],
        "dead",
        outcome="rejected",
        last_error=message,
        last_http_status=code,
        response=_trim(response, meta, op["request"]["commands"]),
    )
    return _result(conn, op["id"])


def _failed(
    cur: Cursor,
    op: dict[str, Any],
    reason: str,
    http_status: int | None,
    response: dict[str, Any],
    *,
    rebuild: bool,
    retry_after: float | None,
) -> dict[str, Any]:
    status = "dead" if op["attempts"] >= outbox.MAX_ATTEMPTS else "failed"
    values: dict[str, Any] = {
        "last_error": reason[:1000],
        "last_http_status": http_status,
        "retry_in_seconds": backoff_seconds(op["attempts"], retry_after),
    }
    if rebuild:
        # Todoist did not run the command: build it again from the item, under fresh uuids.
        cur.execute(
            """UPDATE todoist_outbox SET request = NULL, command_uuid = gen_random_uuid(),
                      temp_id = gen_random_uuid() WHERE id = %s""",
            (op["id"],),
        )
    outbox.finish(cur, op["id"], status, outcome="gave_up" if status == "dead" else None, **values)
    return _result(cur.connection, op["id"])


def _apply(conn: psycopg.Connection, op: dict[str, Any], done: list[dict[str, Any]], mapping: dict[str, str]) -> bool:
    """Move the merge base forward by what Todoist accepted; map a new object; finish deletions.
    False when Todoist accepted a creation without saying which id it got."""
    if not done:
        return True
    kind = op["request"]["kind"]
    link = store.link_of_item(conn, op["item_id"])
    first = op["request"]["commands"][0]
    created = first["type"] in ("item_add", "project_add") and done[0]["uuid"] == first["uuid"]
    if created:
        todoist_id = mapping.get(first.get("temp_id", ""))
        if todoist_id is None:
            return False  # accepted but not mapped: the next pull or reconciliation matches it by content
        base: dict[str, Any] = {}
    elif link is None:
        return True
    else:
        todoist_id, base = link["todoist_id"], dict(link["synced"] or {})
    recurring_close = False
    for command in done:
        sets = dict(command["sets"])
        if sets.pop("deleted", False):
            _forget(conn, op)
            return True
        recurring_close = recurring_close or bool(sets.pop("recurring_close", False))
        if sets.get("project") in mapping:
            sets["project"] = mapping[sets["project"]]
        base.update(sets)
    store.save_link(
        conn,
        client_id=op["client_id"],
        item_id=op["item_id"],
        kind=kind,
        todoist_id=todoist_id,
        synced=base,
        synced_version=op["item_version"] or 0,
    )
    if recurring_close:
        _keep_recurring_open(conn, op)
    return True


def _keep_recurring_open(conn: psycopg.Connection, op: dict[str, Any]) -> None:
    """Todoist closed a recurring task by moving its due date; the local item stays open too."""
    item = items.get_item(conn, op["item_id"], op["client_id"])
    if item is not None and item["status"] == "done":
        items.reopen_item(conn, op["item_id"], op["client_id"], source="todoist", status="active")
        link = store.link_of_item(conn, op["item_id"])
        if link is not None:
            synced = dict(link["synced"] or {}, checked=False, due=UNKNOWN)
            store.save_link(
                conn,
                client_id=op["client_id"],
                item_id=op["item_id"],
                kind=link["kind"],
                todoist_id=link["todoist_id"],
                synced=synced,
                synced_version=link["synced_version"],
            )


def _forget(conn: psycopg.Connection, op: dict[str, Any]) -> None:
    """The Todoist object is deleted: tombstone its id (never re-imported) and drop the mapping."""
    link = store.link_of_item(conn, op["item_id"])
    if link is None:
        return
    store.tombstone(
        conn,
        client_id=op["client_id"],
        kind=link["kind"],
        todoist_id=link["todoist_id"],
        item_id=op["item_id"],
        deleted_by="steward",
    )
    store.drop_link(conn, op["item_id"])


def _trim(response: dict[str, Any], meta: list[dict[str, Any]], commands: list[dict[str, Any]]) -> dict[str, Any]:
    """Only this operation's part of a batch answer is kept on its row."""
    uuids = {m["uuid"] for m in meta}
    temp_ids = {c.get("temp_id") for c in commands}
    statuses = response.get("sync_status") or {}
    return {
        "sync_status": {k: v for k, v in statuses.items() if k in uuids} if isinstance(statuses, dict) else {},
        "temp_id_mapping": {k: v for k, v in (response.get("temp_id_mapping") or {}).items() if k in temp_ids},
    }


def _result(conn: psycopg.Connection, op_id: Any, duplicate: bool = False) -> dict[str, Any]:
    op = conn.cursor(row_factory=dict_row).execute("SELECT * FROM todoist_outbox WHERE id = %s", (op_id,)).fetchone()
    link = store.link_of_item(conn, op["item_id"])
    return {
        "operation_id": str(op["id"]),
        "status": op["status"],
        "outcome": op["outcome"],
        "attempts": op["attempts"],
        "next_attempt_at": op["next_attempt_at"] if op["status"] == "failed" else None,
        "last_error": op["last_error"],
        "duplicate": duplicate,
        "item_id": str(op["item_id"]),
        "todoist_id": link["todoist_id"] if link else None,
    }

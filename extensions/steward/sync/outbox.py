"""The Todoist outbox: local changes waiting to be delivered, one row per operation.

`enqueue` runs inside the caller's transaction, so an item change and its outbox row commit
together or not at all. It coalesces only with operations that were never sent (status pending,
no request built yet): once a request has gone out under a command uuid, a retry must resend that
same request, because Todoist runs a command uuid at most once and would silently drop new content.
"""

from __future__ import annotations

from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from steward.sync import commands, store
from steward.sync.store import Cursor

Operation = Literal["create", "update", "complete", "reopen", "delete"]
OPERATIONS: tuple[str, ...] = ("create", "update", "complete", "reopen", "delete")
SYNCED_TYPES = ("task", "project")
_OPPOSITE = {"complete": "reopen", "reopen": "complete"}
AWAITING_MAPPING = "awaiting_mapping"  # created in Todoist, id not reported: matched later by content


def enqueue(conn: psycopg.Connection, *, client_id: str, item_id: str, operation: Operation) -> None:
    """Record that `item_id` changed and Todoist must hear about it."""
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    cur = conn.cursor(row_factory=dict_row)
    # Serialise enqueues for one item so two concurrent edits cannot both decide "nothing pending".
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('todoist_outbox'), hashtext(%s))", (str(item_id),))
    item = cur.execute(
        "SELECT type, deleted_at FROM items WHERE id = %s AND client_id = %s", (item_id, client_id)
    ).fetchone()
    if item is None or item["type"] not in SYNCED_TYPES:
        return
    if item["deleted_at"] is not None and operation != "delete":
        return  # a tombstoned item is never changed or resurrected
    ops = cur.execute(
        """SELECT id, seq, operation, status, request IS NULL AS unsent FROM todoist_outbox
            WHERE item_id = %s AND status <> 'dead' AND coalesce(outcome, '') <> 'cancelled'
            ORDER BY seq""",
        (item_id,),
    ).fetchall()
    unsent = [op for op in ops if op["status"] == "pending" and op["unsent"]]
    # Deletions count until the item is created afresh (a dropped item brought back).
    recreated = max((op["seq"] for op in ops if op["operation"] == "create"), default=0)
    deletes = [op for op in ops if op["operation"] == "delete" and op["seq"] > recreated]
    if operation == "delete":
        if deletes:
            return
        _cancel(cur, [op["id"] for op in unsent])
        if _reached_todoist(cur, item_id, ops, unsent):
            _insert(cur, client_id, item_id, operation)
        return
    if deletes:
        # A dropped item came back before its deletion reached Todoist: forget the deletion. If it
        # already went, the Todoist task is gone for good and the item is created afresh.
        if all(op in unsent for op in deletes):
            _cancel(cur, [op["id"] for op in deletes])
        elif not any(op["operation"] == "create" and op in unsent for op in ops):
            _insert(cur, client_id, item_id, "create")
            return
        else:
            return
    if any(op["operation"] == operation for op in unsent):
        return  # the request is built at lease time from the current state: one row is enough
    if operation == "update" and any(op["operation"] == "create" for op in unsent):
        return  # the pending create will carry this edit
    opposite = [op["id"] for op in unsent if op["operation"] == _OPPOSITE.get(operation)]
    if opposite:
        _cancel(cur, opposite)  # complete then reopen before either was sent: nothing to say
        return
    _insert(cur, client_id, item_id, operation)


def _insert(cur: Cursor, client_id: str, item_id: str, operation: str) -> None:
    cur.execute(
        "INSERT INTO todoist_outbox (client_id, item_id, operation) VALUES (%s, %s, %s)",
        (client_id, item_id, operation),
    )


def _cancel(cur: Cursor, op_ids: list) -> None:
    if op_ids:
        cur.execute(
            """UPDATE todoist_outbox SET status = 'done', outcome = 'cancelled', done_at = now(),
                      updated_at = now() WHERE id = ANY(%s)""",
            (op_ids,),
        )


def _reached_todoist(cur: Cursor, item_id: str, ops: list[dict], unsent: list[dict]) -> bool:
    """Whether Todoist may hold this item: it is mapped, or a request for it is already out."""
    if cur.execute("SELECT 1 FROM todoist_links WHERE item_id = %s", (item_id,)).fetchone():
        return True
    unsent_ids = {op["id"] for op in unsent}
    return any(op["status"] in ("pending", "leased", "failed") and op["id"] not in unsent_ids for op in ops)


# ---- leasing ---------------------------------------------------------------------------------
MAX_ATTEMPTS = 8
MAX_COMMANDS = 100  # Todoist's limit per Sync request
DEFER_SECONDS = 15

# Due rows in creation order, skipping rows another worker holds, and any row whose item still has
# an older open operation: one item's operations reach Todoist strictly in order.
_LEASE_SQL = """
SELECT o.* FROM todoist_outbox o
 WHERE o.client_id = %(client_id)s
   AND ((o.status IN ('pending', 'failed') AND o.next_attempt_at <= now())
        OR (o.status = 'leased' AND o.lease_expires_at <= now()))
   AND NOT EXISTS (SELECT 1 FROM todoist_outbox p
                    WHERE p.item_id = o.item_id AND p.seq < o.seq
                      AND p.status IN ('pending', 'leased', 'failed'))
 ORDER BY o.seq
 LIMIT %(limit)s
 FOR UPDATE OF o SKIP LOCKED
"""


def lease(
    conn: psycopg.Connection, client_id: str, *, limit: int, owner: str, lease_seconds: int
) -> list[dict[str, Any]]:
    """Lease up to `limit` due operations and build their commands; returns them in send order."""
    cur = conn.cursor(row_factory=dict_row)
    rows = cur.execute(_LEASE_SQL, {"client_id": client_id, "limit": limit}).fetchall()
    inbox_id = store.peek_state(conn, client_id)["inbox_project_id"]
    batch = _Batch(conn, owner, lease_seconds)
    for op in rows:
        if batch.full():
            break
        if op["id"] in batch.ids:
            continue
        if op["request"] is not None:
            batch.take(op, op["request"], op["item_version"])  # outcome unknown: resend it unchanged
            continue
        item = _item(cur, op["item_id"])
        project_ref = batch.project_ref(item)
        if isinstance(project_ref, commands.NeedsProject):
            project_op = batch.lease_project(client_id, project_ref.project_item_id, inbox_id)
            if project_op is None:
                cur.execute(
                    "UPDATE todoist_outbox SET next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                    (DEFER_SECONDS, op["id"]),
                )
                continue
            project_ref = str(project_op["temp_id"])
        link = store.link_of_item(conn, op["item_id"])
        built = commands.build(op, item, link, project_ref, inbox_id)
        if isinstance(built, commands.Skip):
            finish(cur, op["id"], "done", outcome=built.outcome)
            continue
        batch.take(op, built.stored(), item["version"] if item else None)
    return batch.leased


class _Batch:
    """The operations leased in one call, and the projects created within it (by temp id)."""

    def __init__(self, conn: psycopg.Connection, owner: str, lease_seconds: int) -> None:
        self.conn, self.owner, self.lease_seconds = conn, owner, lease_seconds
        self.cur = conn.cursor(row_factory=dict_row)
        self.leased: list[dict[str, Any]] = []
        self.ids: set[Any] = set()
        self.project_temp: dict[str, str] = {}
        self.commands = 0

    def full(self) -> bool:
        return self.commands >= MAX_COMMANDS

    def take(self, op: dict[str, Any], request: dict[str, Any], item_version: int | None) -> None:
        row = self.cur.execute(
            """UPDATE todoist_outbox
                  SET status = 'leased', lease_owner = %s, lease_expires_at = now() + make_interval(secs => %s),
                      attempts = attempts + 1, request = %s, item_version = %s, updated_at = now()
                WHERE id = %s RETURNING *""",
            (self.owner, self.lease_seconds, Jsonb(request), item_version, op["id"]),
        ).fetchone()
        assert row is not None
        self.leased.append(row)
        self.ids.add(op["id"])
        self.commands += len(request["commands"])
        if request.get("kind") == "project" and request["commands"][0].get("temp_id"):
            self.project_temp[str(op["item_id"])] = request["commands"][0]["temp_id"]

    def project_ref(self, item: dict[str, Any] | None) -> Any:
        if item is None or item["type"] != "task" or item["project_id"] is None:
            return None
        link = store.link_of_item(self.conn, item["project_id"])
        if link is not None:
            return link["todoist_id"]
        if str(item["project_id"]) in self.project_temp:
            return self.project_temp[str(item["project_id"])]
        return commands.NeedsProject(item["project_id"])

    def lease_project(self, client_id: str, project_item_id: Any, inbox_id: str | None) -> dict[str, Any] | None:
        """Put the project's creation in this batch ahead of its task, or None when it is in flight."""
        if str(project_item_id) in self.project_temp:
            return next(op for op in self.leased if str(op["item_id"]) == str(project_item_id))
        enqueue(self.conn, client_id=client_id, item_id=str(project_item_id), operation="create")
        op = self.cur.execute(
            """SELECT * FROM todoist_outbox WHERE item_id = %s AND status = 'pending' AND request IS NULL
                ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED""",
            (project_item_id,),
        ).fetchone()
        if op is None:
            return None
        item = _item(self.cur, project_item_id)
        built = commands.build(op, item, store.link_of_item(self.conn, project_item_id), None, inbox_id)
        if not isinstance(built, commands.Built) or built.commands[0]["type"] != "project_add":
            return None
        self.take(op, built.stored(), item["version"] if item else None)
        return self.leased[-1]


def _item(cur: Cursor, item_id: Any) -> dict[str, Any] | None:
    return cur.execute("SELECT * FROM items WHERE id = %s", (item_id,)).fetchone()


def finish(cur: Cursor, op_id: Any, status: str, *, outcome: str | None = None, **values: Any) -> None:
    """Move an operation out of its lease: done, failed (retry later) or dead."""
    sets = [
        "status = %s",
        "outcome = coalesce(%s, outcome)",
        "lease_owner = NULL",
        "lease_expires_at = NULL",
        "updated_at = now()",
    ]
    args: list[Any] = [status, outcome]
    if status == "done":
        sets.append("done_at = now()")
    for column, value in values.items():
        if column == "retry_in_seconds":
            sets.append("next_attempt_at = now() + make_interval(secs => %s)")
        else:
            sets.append(f"{column} = %s")
            value = Jsonb(value) if isinstance(value, dict) else value
        args.append(value)
    cur.execute(f"UPDATE todoist_outbox SET {', '.join(sets)} WHERE id = %s", (*args, op_id))

"""The source-of-truth policy (written here, applied from `policy.py`) and the full reconciliation.

Each synced field is compared on three values: the item now, the Todoist task now, and the merge
base both last agreed on (`todoist_links.synced`). A field changed on one side only takes that
side's value. A field changed on both sides to different values is settled by POLICY, the same
way every time:

    completion (checked), due date, recurrence,
    priority, duration, project                 Todoist wins: these are what the user changes
                                                on the phone, where the task is being acted on
    title (content), body (description)         the newer edit wins: the item's
                                                content_updated_at against the task's updated_at
                                                (a tie goes to Todoist)
    labels                                      merged as sets: a label added on either side is
                                                kept, one removed on either side is removed
    links, memory, type, everything else        Steward only: Todoist never sees or changes them
    deletion                                    wins over any edit on the other side; the item is
                                                tombstoned and the Todoist id never imported again

A recurring task completed in Todoist comes back open with its next due date: the item stays open
and takes the new date (due: Todoist wins), it is never marked done.

`reconcile()` compares every mapped item with a full remote snapshot, repairs what differs by the
same policy (Todoist-won fields are written locally, Steward-won fields are queued), imports
Todoist tasks Steward does not know, queues local tasks Todoist does not have, and records the
drift it found. Differences explained by operations still in the outbox are counted as in flight,
not as drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from steward.items import store as items
from steward.sync import commands, fields, outbox, store
from steward.sync.merge import Context, delete_local, import_task, match_unacknowledged, merge_task, project_ref
from steward.sync.policy import POLICY

__all__ = ["POLICY", "Report", "reconcile", "requests"]

RESOURCE_TYPES = ["items", "projects", "user"]
COMPLETED_PATH = "/api/v1/tasks/completed/by_completion_date"
COMPLETED_DAYS = 30  # mapped tasks completed before this window were applied by the pulls back then
PAGE_SIZE = 200  # the most tasks/completed returns a page
OVERDUE = timedelta(hours=36)  # the daily run was missed (n8n down at 03:30): a pull asks for one


def requests(now: datetime) -> dict[str, Any]:
    """The two reads a reconciliation needs: a full sync, and the recent completions (a full sync
    lists active tasks only, so without them a completed task would look deleted)."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "full_sync": commands.sync_request({"sync_token": "*", "resource_types": RESOURCE_TYPES}),
        "completed": {
            "method": "GET",
            "path": COMPLETED_PATH,
            "query": {
                "since": (now - timedelta(days=COMPLETED_DAYS)).strftime(stamp),
                "until": (now + timedelta(days=1)).strftime(stamp),
                "limit": str(PAGE_SIZE),
            },
        },
    }


@dataclass
class Report:
    id: Any = None
    compared: int = 0
    drift: int = 0
    repaired: int = 0
    remote_only: int = 0
    local_only: int = 0
    in_flight: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **record: Any) -> None:
        self.records.append(record)
        self.drift += 1
        if record["action"] not in ("none", "reported"):
            self.repaired += 1


def overdue(conn: psycopg.Connection, client_id: str) -> bool:
    """True when the last reconciliation is older than OVERDUE (a schedule does not catch up)."""
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT now() - max(created_at) > %s AS late FROM todoist_reconciliations WHERE client_id = %s",
            (OVERDUE, client_id),
        )
        .fetchone()
    )
    return bool(row and row["late"])


def reconcile(
    conn: psycopg.Connection,
    ctx: Context,
    remote_tasks: list[dict[str, Any]],
    completed: list[dict[str, Any]],
) -> Report:
    """Compare every mapped task with the full remote snapshot and repair drift by POLICY."""
    report = Report()
    by_id = {str(t["id"]): t for t in completed}
    by_id.update({str(t["id"]): t for t in remote_tasks})
    cur = conn.cursor(row_factory=dict_row)
    open_items = {
        str(r["item_id"])
        for r in cur.execute(
            """SELECT DISTINCT item_id FROM todoist_outbox
                WHERE client_id = %s AND status IN ('pending', 'leased', 'failed')""",
            (ctx.client_id,),
        )
    }
    seen: set[str] = set()
    for link in store.links(conn, ctx.client_id, "task"):
        seen.add(link["todoist_id"])
        item = items.get_item(conn, link["item_id"], ctx.client_id, include_deleted=True)
        if item is None or item["deleted_at"] is not None or item["status"] == "dropped":
            continue  # its deletion is queued or done
        report.compared += 1
        task = by_id.get(link["todoist_id"])
        if task is None or task.get("is_deleted"):
            if item["status"] == "done" and task is None:
                continue  # completed long ago: Todoist lists only recent completions
            report.add(
                item_id=item["id"],
                todoist_id=link["todoist_id"],
                field="exists",
                local_value=True,
                remote_value=False,
                winner="todoist",
                action="tombstoned_local",
            )
            delete_local(conn, ctx, item["id"], "task", link["todoist_id"])
            continue
        local = fields.local_canonical(item, project_ref(conn, item))
        remote = fields.remote_canonical(task, ctx.tz, ctx.inbox_id)
        differing = fields.diff(local, remote)
        if not differing:
            if link["synced"] != remote:
                store.save_link(
                    conn,
                    client_id=ctx.client_id,
                    item_id=item["id"],
                    kind="task",
                    todoist_id=link["todoist_id"],
                    synced=remote,
                    synced_version=item["version"],
                )
            continue
        if str(item["id"]) in open_items:
            report.in_flight += 1
            continue
        merge = merge_task(conn, ctx, item, link, task)
        for name in differing:
            winner = "todoist" if name in merge.took else "steward"
            report.add(
                item_id=item["id"],
                todoist_id=link["todoist_id"],
                field=name,
                local_value=local[name],
                remote_value=remote[name],
                winner=winner,
                action="applied_local" if winner == "todoist" else "queued_push",
            )
    for task in remote_tasks:
        tid = str(task["id"])
        if tid in seen or task.get("is_deleted") or task.get("checked"):
            continue
        seen.add(tid)  # a task listed twice (a malformed snapshot) is imported once, not twice
        if store.is_tombstoned(conn, ctx.client_id, "task", tid):
            continue
        matched = match_unacknowledged(conn, ctx, task)
        if matched is not None:
            report.add(
                item_id=matched["item_id"],
                todoist_id=tid,
                field="mapping",
                local_value=None,
                remote_value=tid,
                winner="none",
                action="mapped",
            )
            continue
        item = import_task(conn, ctx, task)
        report.remote_only += 1
        report.add(
            item_id=item["id"],
            todoist_id=tid,
            field="exists",
            local_value=False,
            remote_value=True,
            winner="todoist",
            action="imported",
        )
    for row in cur.execute(
        """SELECT i.id FROM items i
            WHERE i.client_id = %s AND i.type = 'task' AND i.deleted_at IS NULL AND i.status IN ('inbox', 'active')
              AND NOT EXISTS (SELECT 1 FROM todoist_links l WHERE l.item_id = i.id)
              AND NOT EXISTS (SELECT 1 FROM todoist_outbox o WHERE o.item_id = i.id
                               AND (o.status IN ('pending', 'leased', 'failed') OR o.outcome = %s))""",
        (ctx.client_id, outbox.AWAITING_MAPPING),
    ).fetchall():
        outbox.enqueue(conn, client_id=ctx.client_id, item_id=str(row["id"]), operation="create")
        report.local_only += 1
        report.add(
            item_id=row["id"],
            todoist_id=None,
            field="exists",
            local_value=True,
            remote_value=False,
            winner="steward",
            action="queued_push",
        )
    _record(conn, ctx.client_id, report)
    return report


def _record(conn: psycopg.Connection, client_id: str, report: Report) -> None:
    cur = conn.cursor(row_factory=dict_row)
    row = cur.execute(
        """INSERT INTO todoist_reconciliations
                  (client_id, compared, drift, repaired, remote_only, local_only, in_flight)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            client_id,
            report.compared,
            report.drift,
            report.repaired,
            report.remote_only,
            report.local_only,
            report.in_flight,
        ),
    ).fetchone()
    report.id = row["id"]
    if report.records:
        cur.executemany(
            """INSERT INTO todoist_drift (reconciliation_id, client_id, item_id, todoist_id, field, local_value,
                                          remote_value, winner, action)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (
                    report.id,
                    client_id,
                    r["item_id"],
                    r["todoist_id"],
                    r["field"],
                    Jsonb(r["local_value"]),
                    Jsonb(r["remote_value"]),
                    r["winner"],
                    r["action"],
                )
                for r in report.records
            ],
        )
    store.update_state(conn, client_id, last_reconcile_id=report.id)

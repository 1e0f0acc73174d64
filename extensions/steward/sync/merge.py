"""Applying one Todoist object to one local item: the three-way merge and its neighbours.

A mapped task is merged field by field against the merge base (`todoist_links.synced`) with the
policy in `policy.py`; an unknown task is imported, or recognised as the answer to a create whose
ack was lost; a deleted one is tombstoned. Every local write goes through `steward.items.store`
with source "todoist", so nothing done here is echoed back to Todoist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from steward.items import store as items
from steward.sync import fields, outbox, store
from steward.sync.fields import FIELDS
from steward.sync.policy import choose, merge_labels, parse_time


@dataclass
class Context:
    """What reading a Todoist payload needs: whose items, the user's zone, the Inbox id."""

    client_id: str
    tz: Any
    inbox_id: str | None

    @classmethod
    def load(cls, conn: psycopg.Connection, client_id: str) -> Context:
        st = store.state(conn, client_id)
        name = st["timezone"]
        if not name:
            row = (
                conn.cursor(row_factory=dict_row)
                .execute("SELECT timezone FROM chat_users WHERE client_id = %s", (client_id,))
                .fetchone()
            )
            name = row["timezone"] if row else "UTC"
        return cls(client_id, fields.zone(name), st["inbox_project_id"])


@dataclass
class Merge:
    """What merging one task did: fields taken from Todoist, kept from Steward, and conflicts."""

    took: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    conflicts: list[tuple[str, str]] = field(default_factory=list)


def project_ref(conn: psycopg.Connection, item: dict[str, Any]) -> str | None:
    """The Todoist id of the item's project; `local:<id>` while that project is not in Todoist."""
    if item.get("project_id") is None:
        return None
    link = store.link_of_item(conn, item["project_id"])
    return link["todoist_id"] if link else f"local:{item['project_id']}"


def local_project(conn: psycopg.Connection, client_id: str, todoist_project: str | None) -> Any:
    if todoist_project is None:
        return None
    link = store.link_of_remote(conn, client_id, "project", todoist_project)
    return link["item_id"] if link else None


def merge_task(
    conn: psycopg.Connection, ctx: Context, item: dict[str, Any], link: dict[str, Any], task: dict[str, Any]
) -> Merge:
    """Three-way merge of one mapped task; writes the item (as source "todoist", so nothing echoes),
    moves the merge base to what Todoist holds, and queues an update for Steward-won fields."""
    base = link["synced"] or {}
    local = fields.local_canonical(item, project_ref(conn, item))
    remote = fields.remote_canonical(task, ctx.tz, ctx.inbox_id)
    merge = Merge()
    target = dict(local)
    for name in FIELDS:
        if local[name] == remote[name]:
            continue
        local_moved, remote_moved = local[name] != base.get(name), remote[name] != base.get(name)
        if name == "labels" and local_moved and remote_moved:
            target[name] = merge_labels(base.get(name), local[name], remote[name])
            merge.conflicts.append((name, "merge"))
            if target[name] != local[name]:
                merge.took.append(name)
            if target[name] != remote[name]:
                merge.kept.append(name)
            continue
        if remote_moved and not local_moved:
            winner = "todoist"
        elif local_moved and not remote_moved:
            winner = "steward"
        else:
            winner = choose(name, item, task)
            merge.conflicts.append((name, winner))
        if winner == "todoist":
            target[name] = remote[name]
            merge.took.append(name)
        else:
            merge.kept.append(name)
    item = _write_local(conn, ctx, item, target, merge.took)
    agreed = fields.local_canonical(item, project_ref(conn, item)) == remote
    store.save_link(
        conn,
        client_id=ctx.client_id,
        item_id=item["id"],
        kind="task",
        todoist_id=link["todoist_id"],
        synced=remote,
        synced_version=item["version"] if agreed else link["synced_version"],
        remote_updated_at=parse_time(task.get("updated_at")),
    )
    if not agreed:
        outbox.enqueue(conn, client_id=ctx.client_id, item_id=str(item["id"]), operation="update")
    return merge


def _write_local(
    conn: psycopg.Connection, ctx: Context, item: dict[str, Any], target: dict[str, Any], took: list[str]
) -> dict[str, Any]:
    """Make the item show `target` for the fields taken from Todoist (source "todoist": no echo)."""
    if not took:
        return item
    changes = fields.to_local_changes(target, [f for f in took if f not in ("project", "checked")], ctx.tz)
    if "project" in took:
        changes["project_id"] = local_project(conn, ctx.client_id, target["project"])
    if "checked" in took:
        changes["status"] = "done" if target["checked"] else ("active" if target["project"] else "inbox")
    return items.update_item(conn, item["id"], ctx.client_id, changes, source="todoist")


def import_task(conn: psycopg.Connection, ctx: Context, task: dict[str, Any]) -> dict[str, Any]:
    """A Todoist task Steward has never seen becomes an item, mapped, with nothing queued."""
    remote = fields.remote_canonical(task, ctx.tz, ctx.inbox_id)
    values = fields.to_local_changes(remote, [f for f in FIELDS if f not in ("project", "checked")], ctx.tz)
    values["title"] = values["title"].strip()[: items.MAX_TITLE] or "(untitled)"
    project = local_project(conn, ctx.client_id, remote["project"])
    status = "done" if remote["checked"] else ("active" if remote["project"] else "inbox")
    item = items.create_item(
        conn, ctx.client_id, source="todoist", type="task", status=status, project_id=project, **values
    )
    store.save_link(
        conn,
        client_id=ctx.client_id,
        item_id=item["id"],
        kind="task",
        todoist_id=str(task["id"]),
        synced=remote,
        synced_version=item["version"],
        remote_updated_at=parse_time(task.get("updated_at")),
    )
    return item


def delete_local(conn: psycopg.Connection, ctx: Context, item_id: Any, kind: str, todoist_id: str) -> None:
    """Todoist deleted it: tombstone the item and the id, and cancel anything queued for it."""
    item = items.get_item(conn, item_id, ctx.client_id, include_deleted=True)
    if item is not None and item["deleted_at"] is None:
        items.delete_item(conn, item_id, ctx.client_id, source="todoist")
    store.tombstone(
        conn, client_id=ctx.client_id, kind=kind, todoist_id=todoist_id, item_id=item_id, deleted_by="todoist"
    )
    store.drop_link(conn, item_id)
    conn.cursor().execute(
        """UPDATE todoist_outbox SET status = 'done', outcome = 'remote_deleted', done_at = now(), updated_at = now(),
                  lease_owner = NULL, lease_expires_at = NULL
            WHERE item_id = %s AND status IN ('pending', 'leased', 'failed')""",
        (item_id,),
    )


def match_unacknowledged(conn: psycopg.Connection, ctx: Context, task: dict[str, Any]) -> dict[str, Any] | None:
    """Map a task to the item whose unacknowledged create produced it (same content, still unmapped)."""
    cur = conn.cursor(row_factory=dict_row)
    op = cur.execute(
        """SELECT o.* FROM todoist_outbox o
            WHERE o.client_id = %s AND o.operation = 'create' AND o.request IS NOT NULL
              AND (o.status IN ('leased', 'failed', 'dead') OR o.outcome = %s)
              AND o.request -> 'commands' -> 0 ->> 'type' = 'item_add'
              AND o.request -> 'commands' -> 0 -> 'args' ->> 'content' = %s
              AND NOT EXISTS (SELECT 1 FROM todoist_links l WHERE l.item_id = o.item_id)
            ORDER BY o.seq LIMIT 1 FOR UPDATE""",
        (ctx.client_id, outbox.AWAITING_MAPPING, task.get("content") or ""),
    ).fetchone()
    if op is None:
        return None
    sent = dict(op["request"]["meta"][0]["sets"])
    store.save_link(
        conn,
        client_id=ctx.client_id,
        item_id=op["item_id"],
        kind="task",
        todoist_id=str(task["id"]),
        synced=sent,
        synced_version=op["item_version"] or 0,
    )
    outbox.finish(cur, op["id"], "done", outcome="matched_by_pull")
    return store.link_of_item(conn, op["item_id"])

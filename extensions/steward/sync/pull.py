"""Apply a Todoist Sync response to local items, then store the new sync token.

n8n posts the response as it received it. Projects are applied first (tasks refer to them), then
tasks, then completed tasks from `tasks/completed` when given. Every local write goes through
`steward.items.store` with source "todoist", so nothing applied here is echoed back to Todoist.

A task is matched by its mapping, never by content, with one exception: a task Steward created
whose id Steward has not learnt yet (the create is leased, failed or dead with a request sent, or
was acked without an id) is recognised by its content and mapped to the item that created it, so
a lost ack cannot turn into a duplicate. Tombstoned Todoist ids are never imported again.

A refused token (HTTP 410, or error_tag INVALID_SYNC_TOKEN) resets the token to '*': the next pull
is a full sync, which the mapping turns into merges, not duplicates.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from steward.core.errors import ApiError, Conflict
from steward.items import store as items
from steward.sync import commands, merge, policy, store
from steward.sync.merge import Context

log = logging.getLogger(__name__)
RESOURCE_TYPES = ["items", "projects", "labels", "user"]
TOKEN_ERRORS = {"INVALID_SYNC_TOKEN", "SYNC_TOKEN_INVALID"}


@dataclass
class Applied:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    matched: int = 0
    unchanged: int = 0
    skipped: int = 0
    conflicts: int = 0
    projects: int = 0
    labels: int = 0
    missing: int = 0  # after a full sync: mapped open tasks Todoist no longer lists (reconcile settles them)
    refused: int = 0  # objects Steward could not apply (see `problems`); the rest of the pull still lands
    problems: list[dict[str, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, int)}


def sync_request(token: str) -> dict[str, Any]:
    """The read request n8n sends to Todoist's Sync endpoint."""
    return commands.sync_request({"sync_token": token, "resource_types": RESOURCE_TYPES})


def token_refused(http_status: int | None, error: Any) -> bool:
    tag = error.get("error_tag") if isinstance(error, dict) else None
    return http_status == 410 or tag in TOKEN_ERRORS


def reset(conn: psycopg.Connection, client_id: str) -> None:
    store.update_state(conn, client_id, sync_token="*", token_resets=store.Raw("token_resets + 1"))


def pull(
    conn: psycopg.Connection,
    client_id: str,
    *,
    since_token: str | None,
    sync_token: str,
    full_sync: bool,
    tasks: list[dict[str, Any]],
    projects: list[dict[str, Any]],
    labels: list[dict[str, Any]],
    user: dict[str, Any] | None,
    completed: list[dict[str, Any]],
) -> Applied:
    st = store.state(conn, client_id, lock=True)  # one pull per client at a time
    if since_token is not None and since_token != st["sync_token"]:
        raise Conflict(
            f"this response answers sync_token {since_token!r} but the stored token is {st['sync_token']!r}; "
            "another pull ran first: GET /state and pull again"
        )
    apply_user(conn, client_id, user, projects)
    ctx = Context.load(conn, client_id)
    applied = Applied(labels=len(labels))
    for project in projects:
        _guarded(conn, applied, "project", project, lambda p=project: apply_project(conn, ctx, p, applied))
    for task in [*tasks, *completed]:
        _guarded(conn, applied, "task", task, lambda t=task: _apply_task(conn, ctx, t, applied))
    values: dict[str, Any] = {"sync_token": sync_token, "last_pull_at": store.NOW}
    if full_sync:
        applied.missing = _missing(conn, client_id, {str(t["id"]) for t in tasks})
        values.update(last_full_sync_at=store.NOW, full_sync_count=store.Raw("full_sync_count + 1"))
    store.update_state(conn, client_id, **values)
    return applied


def _guarded(conn: psycopg.Connection, applied: Applied, kind: str, obj: dict[str, Any], apply: Any) -> None:
    """Apply one object in a savepoint: one malformed task must not hold every later change back
    (the token would never advance), so it is skipped, reported, and left for reconciliation."""
    try:
        with conn.transaction():
            apply()
    except (ApiError, ValueError, TypeError, KeyError) as exc:
        applied.refused += 1
        message = exc.message if isinstance(exc, ApiError) else f"{type(exc).__name__}: {exc}"
        log.warning("todoist %s %s not applied: %s", kind, obj.get("id"), message)
        if len(applied.problems) < 20:
            applied.problems.append({"kind": kind, "todoist_id": str(obj.get("id")), "problem": message[:300]})


def apply_user(conn: psycopg.Connection, client_id: str, user: dict[str, Any] | None, projects: list) -> None:
    values: dict[str, Any] = {}
    inbox = next((p["id"] for p in projects if p.get("inbox_project") or p.get("is_inbox_project")), None)
    if user:
        values["timezone"] = (user.get("tz_info") or {}).get("timezone") or None
        inbox = inbox or user.get("inbox_project_id")
    if inbox:
        values["inbox_project_id"] = str(inbox)
    values = {k: v for k, v in values.items() if v}
    if values:
        store.update_state(conn, client_id, **values)


def apply_project(conn: psycopg.Connection, ctx: Context, project: dict[str, Any], applied: Applied) -> None:
    pid = str(project["id"])
    if project.get("inbox_project") or project.get("is_inbox_project") or pid == ctx.inbox_id:
        return
    link = store.link_of_remote(conn, ctx.client_id, "project", pid)
    if project.get("is_deleted"):
        if link is not None:
            merge.delete_local(conn, ctx, link["item_id"], "project", pid)
        else:
            store.tombstone(
                conn, client_id=ctx.client_id, kind="project", todoist_id=pid, item_id=None, deleted_by="todoist"
            )
        return
    if store.is_tombstoned(conn, ctx.client_id, "project", pid):
        return
    name = str(project.get("name") or "").strip()[: items.MAX_TITLE] or "(untitled project)"
    applied.projects += 1
    if link is None:
        item = _local_project_named(conn, ctx.client_id, name) or items.create_item(
            conn, ctx.client_id, source="todoist", type="project", status="active", title=name
        )
        store.save_link(
            conn,
            client_id=ctx.client_id,
            item_id=item["id"],
            kind="project",
            todoist_id=pid,
            synced={"content": name},
            synced_version=item["version"],
        )
        return
    mapped = items.get_item(conn, link["item_id"], ctx.client_id)
    if mapped is not None and mapped["title"] != name:
        mapped = items.update_item(conn, mapped["id"], ctx.client_id, {"title": name}, source="todoist")
    if mapped is not None:
        store.save_link(
            conn,
            client_id=ctx.client_id,
            item_id=mapped["id"],
            kind="project",
            todoist_id=pid,
            synced={"content": name},
            synced_version=mapped["version"],
        )


def _local_project_named(conn: psycopg.Connection, client_id: str, name: str) -> dict[str, Any] | None:
    """An unmapped local project of the same name: the first sync joins the two instead of doubling."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""SELECT {items.COLUMNS} FROM items i
             WHERE client_id = %s AND type = 'project' AND deleted_at IS NULL AND lower(title) = lower(%s)
               AND NOT EXISTS (SELECT 1 FROM todoist_links l WHERE l.item_id = i.id)
             ORDER BY created_at LIMIT 1""",
            (client_id, name),
        )
        .fetchone()
    )


def _apply_task(conn: psycopg.Connection, ctx: Context, task: dict[str, Any], applied: Applied) -> None:
    tid = str(task["id"])
    link = store.link_of_remote(conn, ctx.client_id, "task", tid)
    if task.get("is_deleted"):
        if link is not None:
            merge.delete_local(conn, ctx, link["item_id"], "task", tid)
            applied.deleted += 1
        else:
            store.tombstone(
                conn, client_id=ctx.client_id, kind="task", todoist_id=tid, item_id=None, deleted_by="todoist"
            )
        return
    if store.is_tombstoned(conn, ctx.client_id, "task", tid):
        applied.skipped += 1
        return
    if link is None:
        link = merge.match_unacknowledged(conn, ctx, task)
        if link is not None:
            applied.matched += 1
    if link is None:
        if task.get("checked") or task.get("completed_at"):
            applied.skipped += 1  # a task finished before Steward knew it: nothing to track
            return
        merge.import_task(conn, ctx, task)
        applied.created += 1
        return
    item = items.get_item(conn, link["item_id"], ctx.client_id, include_deleted=True)
    if item is None or item["deleted_at"] is not None:
        applied.skipped += 1  # deleted here: the queued delete reaches Todoist, nothing comes back
        return
    seen = link["remote_updated_at"]
    updated = policy.parse_time(task.get("updated_at"))
    if seen is not None and updated is not None and updated < seen:
        applied.skipped += 1  # an older view of the task than one already applied
        return
    merged = merge.merge_task(conn, ctx, item, link, task)
    applied.conflicts += len(merged.conflicts)
    if merged.took:
        applied.updated += 1
    else:
        applied.unchanged += 1


def _missing(conn: psycopg.Connection, client_id: str, listed: set[str]) -> int:
    """Mapped open tasks a full sync did not list: completed or deleted while Steward was not looking."""
    rows = conn.cursor(row_factory=dict_row).execute(
        """SELECT l.todoist_id FROM todoist_links l JOIN items i ON i.id = l.item_id
            WHERE l.client_id = %s AND l.kind = 'task' AND i.deleted_at IS NULL AND i.status IN ('inbox', 'active')""",
        (client_id,),
    )
    return sum(1 for r in rows if r["todoist_id"] not in listed)


def summary(applied: Applied) -> dict[str, int]:
    return applied.counts()

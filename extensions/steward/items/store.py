"""Item persistence: the only code that writes `items` and `item_links`.

Every write names its `source` ("chat", "api", "todoist"): a change to a task that did not come
from Todoist is queued for Todoist in the same transaction (outbox.py). Updates bump `version`
and `updated_at`, and `content_updated_at` when the title or body change; a change that changes
nothing writes nothing. Deletion is a tombstone (`deleted_at`); a tombstoned item is never
changed or brought back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, get_args
from uuid import UUID

import psycopg
from psycopg import sql

from steward.core.errors import Conflict, NotFound, ValidationFailed
from steward.core.types import decode_cursor, encode_cursor
from steward.items import outbox
from steward.items.kinds import ItemStatus, ItemType, LinkType, Priority

COLUMNS = (
    "id, client_id, type, status, title, body, due, due_has_time, duration_minutes, priority, labels, project_id, "
    "recurrence, source, version, content_updated_at, created_at, updated_at, completed_at, deleted_at"
)
EDITABLE = frozenset(
    {
        "type",
        "status",
        "title",
        "body",
        "due",
        "due_has_time",
        "duration_minutes",
        "priority",
        "labels",
        "project_id",
        "recurrence",
    }
)
MAX_TITLE = 500
_CHOICES = {"type": get_args(ItemType), "status": get_args(ItemStatus), "priority": (None, *get_args(Priority))}


def _one(row: Any) -> dict[str, Any]:
    """A RETURNING row, which an INSERT or an UPDATE of a locked live row always has."""
    assert row is not None
    return row


def _check(fields: dict[str, Any]) -> None:
    """Refuse unknown fields and values the table would refuse, naming the field (400, not 500)."""
    unknown = sorted(set(fields) - EDITABLE)
    if unknown:
        raise ValidationFailed.field(unknown[0], f"not an item field; editable: {', '.join(sorted(EDITABLE))}")
    for name, allowed in _CHOICES.items():
        if name in fields and fields[name] not in allowed:
            raise ValidationFailed.field(name, f"must be one of {', '.join(str(a) for a in allowed if a)}")
    if "title" in fields:
        title = fields["title"]
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
            raise ValidationFailed.field("title", f"must be 1 to {MAX_TITLE} characters")
    duration = fields.get("duration_minutes")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        raise ValidationFailed.field("duration_minutes", "must be a positive number of minutes")
    due = fields.get("due")
    if due is not None and (not isinstance(due, datetime) or due.tzinfo is None):
        raise ValidationFailed.field("due", "must be a datetime with a timezone")


def _check_project(conn: psycopg.Connection[Any], client_id: str, project_id: Any, item_id: Any = None) -> None:
    if project_id is None:
        return
    if item_id is not None and str(project_id) == str(item_id):
        raise ValidationFailed.field("project_id", "an item cannot be its own project")
    row = conn.execute(
        "SELECT type FROM items WHERE id = %s AND client_id = %s AND deleted_at IS NULL", (project_id, client_id)
    ).fetchone()
    if row is None or row["type"] != "project":
        raise ValidationFailed.field("project_id", "no such project for this client")


def all_day(due: datetime) -> datetime:
    """A date-only due as stored: 00:00 UTC of the calendar date `due` names in its own offset."""
    return datetime(due.year, due.month, due.day, tzinfo=UTC)


def _normalise_due(fields: dict[str, Any], has_time: bool) -> None:
    if fields.get("due") is not None and not has_time:
        fields["due"] = all_day(fields["due"])


def create_item(conn: psycopg.Connection[Any], client_id: str, *, source: str, **fields: Any) -> dict[str, Any]:
    """Insert an item (type defaults to task, status to inbox) and queue it for Todoist if a task."""
    fields.setdefault("type", "task")
    fields.setdefault("status", "inbox")
    if "title" not in fields:
        raise ValidationFailed.field("title", "is required")
    _check(fields)
    _check_project(conn, client_id, fields.get("project_id"))
    _normalise_due(fields, bool(fields.get("due_has_time")))
    if fields["status"] == "done":
        fields["completed_at"] = datetime.now(UTC)
    names = ["client_id", "source", *fields]
    query = sql.SQL("INSERT INTO items ({}) VALUES ({}) RETURNING {}").format(
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.Placeholder() * len(names)),
        sql.SQL(COLUMNS),
    )
    item = _one(conn.execute(query, [client_id, source, *fields.values()]).fetchone())
    outbox.notify(conn, item, "create", source)
    return item


def get_item(
    conn: psycopg.Connection[Any], item_id: Any, client_id: str, *, include_deleted: bool = False, lock: bool = False
) -> dict[str, Any] | None:
    query = f"SELECT {COLUMNS} FROM items WHERE id = %s AND client_id = %s"
    if not include_deleted:
        query += " AND deleted_at IS NULL"
    return conn.execute(query + (" FOR UPDATE" if lock else ""), (item_id, client_id)).fetchone()


def require_item(conn: psycopg.Connection[Any], item_id: Any, client_id: str, *, lock: bool = False) -> dict[str, Any]:
    """The live item, or 404 (not there) / 409 (tombstoned)."""
    item = get_item(conn, item_id, client_id, include_deleted=True, lock=lock)
    if item is None:
        raise NotFound(f"no item {item_id} for client {client_id}")
    if item["deleted_at"] is not None:
        raise Conflict(f"item {item_id} was deleted; deleted items are never changed or restored")
    return item


def _same(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return old is new
    if isinstance(old, UUID) or isinstance(new, UUID):
        return str(old) == str(new)
    return bool(old == new)


def _operations(before: dict[str, Any], changes: dict[str, Any]) -> list[outbox.Operation]:
    """What Todoist must hear about: field edits, then a status move."""
    ops: list[outbox.Operation] = []
    if set(changes) - {"status"}:
        ops.append("update")
    if "status" in changes:
        new, old = changes["status"], before["status"]
        if new == "done":
            ops.append("complete")
        elif new == "dropped":
            ops.append("delete")
        elif old in ("done", "dropped"):
            ops.append("reopen")
    return ops


def update_item(
    conn: psycopg.Connection[Any], item_id: Any, client_id: str, changes: dict[str, Any], *, source: str
) -> dict[str, Any]:
    """Apply `changes`; returns the item as it is now. Unchanged values are ignored."""
    _check(changes)
    before = require_item(conn, item_id, client_id, lock=True)
    changes = dict(changes)
    if "due" in changes or "due_has_time" in changes:
        changes.setdefault("due", before["due"])
        _normalise_due(changes, changes.get("due_has_time", before["due_has_time"]))
    changed = {k: v for k, v in changes.items() if not _same(before[k], v)}
    if not changed:
        return before
    if "project_id" in changed:
        _check_project(conn, client_id, changed["project_id"], item_id)
    assignments: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder()) for k in changed
    ]
    values = list(changed.values())
    if "status" in changed:
        assignments.append(sql.SQL("completed_at = {}").format(sql.Placeholder()))
        values.append(datetime.now(UTC) if changed["status"] == "done" else None)
    if {"title", "body"} & set(changed):
        assignments.append(sql.SQL("content_updated_at = now()"))
    query = sql.SQL("UPDATE items SET {}, version = version + 1, updated_at = now() WHERE id = %s RETURNING {}")
    item = _one(
        conn.execute(query.format(sql.SQL(", ").join(assignments), sql.SQL(COLUMNS)), [*values, item_id]).fetchone()
    )
    for operation in _operations(before, changed):
        outbox.notify(conn, item, operation, source)
    return item


def complete_item(conn: psycopg.Connection[Any], item_id: Any, client_id: str, *, source: str) -> dict[str, Any]:
    return update_item(conn, item_id, client_id, {"status": "done"}, source=source)


def reopen_item(
    conn: psycopg.Connection[Any], item_id: Any, client_id: str, *, source: str, status: str = "inbox"
) -> dict[str, Any]:
    return update_item(conn, item_id, client_id, {"status": status}, source=source)


def drop_item(conn: psycopg.Connection[Any], item_id: Any, client_id: str, *, source: str) -> dict[str, Any]:
    return update_item(conn, item_id, client_id, {"status": "dropped"}, source=source)


def delete_item(conn: psycopg.Connection[Any], item_id: Any, client_id: str, *, source: str) -> dict[str, Any]:
    """Tombstone the item (idempotent); a task's deletion is queued for Todoist."""
    item = get_item(conn, item_id, client_id, include_deleted=True, lock=True)
    if item is None:
        raise NotFound(f"no item {item_id} for client {client_id}")
    if item["deleted_at"] is not None:
        return item
    gone = _one(
        conn.execute(
            f"""UPDATE items SET deleted_at = now(), updated_at = now(), version = version + 1
                 WHERE id = %s RETURNING {COLUMNS}""",
            (item_id,),
        ).fetchone()
    )
    outbox.notify(conn, gone, "delete", source)
    return gone


def list_items(
    conn: psycopg.Connection[Any],
    client_id: str,
    *,
    type: str | Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Live items, most recently updated first; `q` matches words of the title or body, or a substring
    of the title. Raises ValueError for a cursor this function did not make."""
    where: list[str] = ["client_id = %s", "deleted_at IS NULL"]
    args: list[Any] = [client_id]
    for column, value in (("type", type), ("status", status)):
        if value:
            where.append(f"{column} = ANY(%s)")
            args.append([value] if isinstance(value, str) else list(value))
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(search_tsv @@ websearch_to_tsquery('simple', %s) OR title ILIKE %s)")
        args += [q, pattern]
    if cursor:
        updated, item_id = decode_cursor(cursor, 2)
        where.append("(updated_at, id) < (%s::timestamptz, %s::uuid)")
        args += [updated, item_id]
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM items WHERE {' AND '.join(where)} ORDER BY updated_at DESC, id DESC LIMIT %s",
        (*args, limit + 1),
    ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]["updated_at"], rows[-1]["id"]) if more else None


def link_items(
    conn: psycopg.Connection[Any], client_id: str, source_item_id: Any, target_item_id: Any, link_type: LinkType
) -> tuple[dict[str, Any], bool]:
    """(the link, created?); linking twice returns the existing link."""
    if link_type not in get_args(LinkType):
        raise ValidationFailed.field("link_type", f"must be one of {', '.join(get_args(LinkType))}")
    if str(source_item_id) == str(target_item_id):
        raise ValidationFailed.field("target_item_id", "an item cannot be linked to itself")
    for field, item_id in (("source_item_id", source_item_id), ("target_item_id", target_item_id)):
        if get_item(conn, item_id, client_id) is None:
            raise ValidationFailed.field(field, f"no item {item_id} for this client")
    made = conn.execute(
        """INSERT INTO item_links (client_id, source_item_id, target_item_id, link_type) VALUES (%s, %s, %s, %s)
           ON CONFLICT (source_item_id, target_item_id, link_type) DO NOTHING
           RETURNING id, client_id, source_item_id, target_item_id, link_type, created_at""",
        (client_id, source_item_id, target_item_id, link_type),
    ).fetchone()
    if made is not None:
        return made, True
    existing = conn.execute(
        """SELECT id, client_id, source_item_id, target_item_id, link_type, created_at FROM item_links
            WHERE source_item_id = %s AND target_item_id = %s AND link_type = %s""",
        (source_item_id, target_item_id, link_type),
    ).fetchone()
    return _one(existing), False


def unlink(conn: psycopg.Connection[Any], client_id: str, link_id: Any) -> bool:
    row = conn.execute(
        "DELETE FROM item_links WHERE id = %s AND client_id = %s RETURNING id", (link_id, client_id)
    ).fetchone()
    return row is not None


def links_of(conn: psycopg.Connection[Any], client_id: str, item_id: Any) -> list[dict[str, Any]]:
    return conn.execute(
        """SELECT id, source_item_id, target_item_id, link_type, created_at FROM item_links
            WHERE client_id = %s AND (source_item_id = %s OR target_item_id = %s) ORDER BY created_at""",
        (client_id, item_id, item_id),
    ).fetchall()

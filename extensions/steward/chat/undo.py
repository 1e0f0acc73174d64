"""/undo: revert the chat's last applied draft, if it is recent enough and nothing has moved since.

The draft's `result` lists what the executor did; each entry is reverted in reverse order inside
one savepoint: created items are tombstoned (and their memory ended), changed fields and statuses
are put back, new links removed, new memories ended, new facts invalidated with any fact they
replaced asserted again. If an item was changed after the draft (its fields differ from what the
draft left), nothing is reverted and the user is told which item, so /undo never overwrites later work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from steward.chat import drafts
from steward.chat.executor import snapshot
from steward.core.errors import ApiError
from steward.events import store as events
from steward.items import store as items
from steward.memory import caching, facts, models

SOURCE = "chat"


class CannotUndo(Exception):
    pass


def _check(conn: psycopg.Connection[Any], client_id: str, applied: list[dict[str, Any]]) -> None:
    """Each touched item must still be as the draft left it (an undone later draft puts it back)."""
    last: dict[str, dict[str, Any]] = {}
    for entry in applied:
        if "after" in entry:
            last[entry["item_id"]] = entry
    for item_id, entry in last.items():
        item = items.get_item(conn, item_id, client_id, include_deleted=True, lock=True)
        if item is None or item["deleted_at"] is not None:
            raise CannotUndo(f"“{entry.get('title', 'an item')}” was deleted since")
        if snapshot(item) != entry["after"]:
            raise CannotUndo(f"“{item['title']}” was changed since; change it back by hand")


def _end_memory(conn: psycopg.Connection[Any], rt, client_id: str, memory_id: str | None) -> None:
    """End a memory's validity now (it stays on record, as memory never deletes)."""
    if not memory_id:
        return
    conn.execute(
        "UPDATE memories SET invalid_at = now(), updated_at = now() "
        "WHERE id = %s AND client_id = %s AND invalid_at IS NULL",
        (memory_id, client_id),
    )
    caching.invalidate(rt.cache, client_id)


def _restore(value: Any, name: str) -> Any:
    if name == "due" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _revert_fact(conn: psycopg.Connection[Any], rt, client_id: str, entry: dict[str, Any]) -> None:
    if entry.get("unchanged"):
        return
    old = [facts.get_fact(conn, client_id, fact_id) for fact_id in entry.get("superseded", [])]
    facts.invalidate(conn, rt, client_id, entry["fact_id"], None)
    for fact in old:
        facts.assert_fact(
            conn,
            rt,
            models.FactIn(
                client_id=client_id,
                subject=fact["subject"],
                predicate=fact["predicate"],
                object=fact["object"],
                valid_from=None,
                single_valued=None,
                provenance={"source": SOURCE, "restored_by_undo": True},
            ),
        )


def _revert(conn: psycopg.Connection[Any], rt, client_id: str, entry: dict[str, Any]) -> None:
    kind = entry["type"]
    if kind == "create_item":
        items.delete_item(conn, entry["item_id"], client_id, source=SOURCE)
        if entry.get("memory_new"):
            _end_memory(conn, rt, client_id, entry.get("memory_id"))
    elif kind in ("update_item", "schedule", "complete_item"):
        before = {name: _restore(value, name) for name, value in entry["before"].items()}
        items.update_item(conn, entry["item_id"], client_id, before, source=SOURCE)
    elif kind == "link_items" and entry.get("created"):
        items.unlink(conn, client_id, entry["link_id"])
    elif kind == "remember" and "fact_id" in entry:
        _revert_fact(conn, rt, client_id, entry)
    elif kind == "remember" and not entry.get("duplicate"):
        _end_memory(conn, rt, client_id, entry.get("memory_id"))


def undo_last(
    conn: psycopg.Connection[Any], rt, client_id: str, chat_id: int, window_minutes: int
) -> tuple[str, dict[str, Any] | None]:
    """(outcome, the reverted draft): outcome is undone, nothing_to_undo, too_late or conflict:<why>."""
    draft = drafts.last_executed(conn, client_id, chat_id)
    if draft is None:
        return "nothing_to_undo", None
    age = conn.execute(
        "SELECT now() - %s > make_interval(mins => %s) AS late", (draft["executed_at"], window_minutes)
    ).fetchone()
    if age["late"]:
        return "too_late", draft
    applied = (draft["result"] or {}).get("applied", [])
    try:
        with conn.transaction():
            _check(conn, client_id, applied)
            for entry in reversed(applied):
                _revert(conn, rt, client_id, entry)
                events.append(
                    conn,
                    "action_undone",
                    SOURCE,
                    client_id,
                    {"draft_id": str(draft["id"]), "action_type": entry["type"], "item_id": entry.get("item_id")},
                )
            drafts.mark_undone(conn, draft["id"])
    except CannotUndo as exc:
        return f"conflict:{exc}", draft
    except ApiError as exc:
        return f"conflict:{exc.message}", draft
    return "undone", draft

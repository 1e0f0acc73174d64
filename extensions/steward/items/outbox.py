"""The seam to Todoist sync: item changes go to the outbox, except those that came from Todoist.

A change that came *from* Todoist is never sent back (no echo). Which item types Todoist mirrors
(tasks, and projects) is sync's decision, made in `enqueue`. The outbox row is written in the
caller's transaction, so an item change and its sync intent commit or roll back together.
"""

from __future__ import annotations

from typing import Any, Literal

import psycopg

from steward.sync import outbox

Operation = Literal["create", "update", "complete", "reopen", "delete"]
NO_ECHO_SOURCES = frozenset({"todoist"})


def notify(conn: psycopg.Connection[Any], item: dict[str, Any], operation: Operation, source: str) -> bool:
    """Enqueue `operation` for `item` unless the change came from Todoist."""
    if source in NO_ECHO_SOURCES:
        return False
    outbox.enqueue(conn, client_id=item["client_id"], item_id=str(item["id"]), operation=operation)
    return True

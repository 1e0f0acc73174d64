"""What the planner and the critic are shown about the user: similar items, people, projects, facts.

Items come from Postgres (full-text over titles); facts from the memory service's recall. Recall is
an input, never a reason to fail: it runs in a savepoint and a failure (embedder down, memory
error) costs the context, not the capture.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from steward.items import search
from steward.memory import service as memory

log = logging.getLogger(__name__)


@dataclass
class Context:
    similar_items: list[dict[str, Any]] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)


def recall_texts(conn: psycopg.Connection[Any], rt, client_id: str, text: str, k: int, kinds: list[str]) -> list[str]:
    if k < 1 or not text.strip():
        return []
    try:
        with conn.transaction():
            found = memory.recall(conn, rt, client_id=client_id, q=text[:1000], k=k, kinds=kinds)
    except Exception as exc:  # recall is an input to planning; plan without it
        log.warning("chat context not recalled: %s: %s", type(exc).__name__, exc)
        return []
    return [hit.text for hit in found.hits]


def gather(conn: psycopg.Connection[Any], rt, client_id: str, text: str, budget: int) -> Context:
    rows = search.candidates(conn, client_id, text, limit=budget)
    return Context(
        similar_items=[
            {"id": str(r["id"]), "type": r["type"], "title": r["title"], "status": r["status"]} for r in rows
        ],
        people=search.names(conn, client_id, "person"),
        projects=search.names(conn, client_id, "project"),
        facts=recall_texts(conn, rt, client_id, text, budget, ["fact", "preference"]),
    )

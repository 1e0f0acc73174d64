"""What the planner recalls before it plans: similar past plans and the client's preferences.

This file is the planner's one seam to memory. Preferences come from the memory service's
in-process recall (`kind=preference`). Similar plans are found here with the process's embedder
(local MiniLM unless EMBEDDINGS_BASE_URL is set): each plan row keeps the embedding of its
intent, compared by cosine with the client's recent plans; `similar_plans` is the one function to
switch if plans are later recalled from memory instead. An embedder that fails to load disables
reuse (logged), it never fails the request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from steward.core.embeddings import EmbeddingError
from steward.core.runtime import runtime
from steward.memory import service as memory

log = logging.getLogger(__name__)

CANDIDATES = 1000  # the client's most recent plans that are compared; older ones are not recalled
REUSABLE = ("draft", "active", "completed")


@dataclass(frozen=True)
class Similar:
    plan_id: str
    score: float


def embed(text: str) -> tuple[list[float], str] | None:
    """(unit vector, model name), or None when the embedder is unavailable."""
    rt = runtime()
    try:
        vector = rt.embedder.embed_query(text)
    except (EmbeddingError, OSError, RuntimeError) as exc:
        log.warning("planner similarity unavailable, reuse disabled for this request: %s", exc)
        return None
    return [float(x) for x in vector], rt.embedding_model


def similar_plans(conn: psycopg.Connection, client_id: str, intent: str, limit: int) -> list[Similar]:
    """The client's stored plans most similar to `intent`, best first (cosine, 1.0 = same meaning)."""
    embedded = embed(intent)
    if embedded is None or limit < 1:
        return []
    vector, model = embedded
    rows = conn.execute(
        """SELECT id, intent_embedding FROM plans
            WHERE client_id = %s AND status = ANY(%s) AND intent_embedding_model = %s
              AND cardinality(intent_embedding) = %s
            ORDER BY created_at DESC LIMIT %s""",
        (client_id, list(REUSABLE), model, len(vector), CANDIDATES),
    ).fetchall()
    if not rows:
        return []
    scores = np.asarray([r["intent_embedding"] for r in rows], dtype=np.float32) @ np.asarray(vector, np.float32)
    best = np.argsort(-scores, kind="stable")[:limit]
    return [Similar(str(rows[i]["id"]), round(float(scores[i]), 4)) for i in best]


def similarity(a: str, b: str) -> float | None:
    """Cosine similarity of two texts, or None when the embedder is unavailable."""
    first, second = embed(a), embed(b)
    if first is None or second is None:
        return None
    return round(float(np.dot(first[0], second[0])), 4)


def preferences(
    conn: psycopg.Connection, client_id: str, intent: str, limit: int, context: dict[str, Any] | None = None
) -> list[str]:
    """How the client likes to work: what the caller passed in `context.preferences`, then the
    client's `preference` memories most relevant to the intent, at most `limit` in all."""
    given = (context or {}).get("preferences")
    if isinstance(given, str):
        given = [given]
    found = [str(p)[:500] for p in given if str(p).strip()] if isinstance(given, list) else []
    if limit > len(found):
        found += _remembered_preferences(conn, client_id, intent, limit)
    return list(dict.fromkeys(found))[:limit]


def _remembered_preferences(conn: psycopg.Connection, client_id: str, intent: str, limit: int) -> list[str]:
    """The memory service's recall, in a savepoint: a memory failure costs the preferences, not the plan."""
    if limit < 1:
        return []
    try:
        with conn.transaction():
            found = memory.recall(conn, runtime(), client_id=client_id, q=intent[:500], k=limit, kinds=["preference"])
    except Exception as exc:  # recall is an optional input to planning; log it and plan without
        log.warning("preferences not recalled for planning: %s: %s", type(exc).__name__, exc)
        return []
    return [hit.text for hit in found.hits]

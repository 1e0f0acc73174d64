"""Events in vector space: embedded into the `events` collection when logged, searched by example.

`index_event` is the hook the event log calls after its insert. It is best effort: an event is
never refused because the embedder or Qdrant is down (`steward reindex` rebuilds the collection
from the `events` table). `similar_events` embeds the example event's text again (the embedder
memoises it) and searches that client's events only.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg

from steward.core.errors import NotFound
from steward.core.vectors import VectorFilter, VectorPoint

log = logging.getLogger(__name__)

COLLECTION = "events"
EVENT_COLUMNS = "id, client_id, event_type, event_source, payload, metadata, occurred_at"
MAX_EVENT_TEXT = 2000


def _flatten(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        return [part for key, item in value.items() for part in _flatten(item, f"{prefix}{key} ")]
    if isinstance(value, list):
        return [part for item in value[:20] for part in _flatten(item, prefix)]
    if value is None or isinstance(value, bool):
        return []
    return [f"{prefix.strip()}: {value}" if prefix else str(value)]


def event_text(event: dict[str, Any]) -> str:
    """A readable rendering of an event: its type and source, then its payload's values."""
    kind = str(event["event_type"]).replace("_", " ")
    payload = event.get("payload") or {}
    if isinstance(payload, str):
        payload = json.loads(payload)
    text = f"{kind} (from {event['event_source']}). " + "; ".join(_flatten(payload))
    return text[:MAX_EVENT_TEXT]


def event_payload(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "client_id": event["client_id"],
        "event_type": event["event_type"],
        "occurred_ts": event["occurred_at"].timestamp(),
    }


def index_event(rt, event: dict[str, Any]) -> bool:
    """Embed one logged event into the `events` collection; False (logged) on failure."""
    try:
        vector = rt.embedder.embed_documents([event_text(event)])[0]
        rt.vectors.upsert(COLLECTION, [VectorPoint(str(event["id"]), vector.tolist(), event_payload(event))])
    except Exception as exc:
        log.warning("event %s not embedded (%s); `steward reindex` will add it", event.get("id"), type(exc).__name__)
        return False
    return True


def similar_events(
    conn: psycopg.Connection[Any], rt, client_id: str, event_id: str, k: int = 5
) -> tuple[list[dict[str, Any]], str | None]:
    """(events most like `event_id`, best first, with `score`; the degradation reason or None)."""
    event = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE client_id = %s AND id = %s", (client_id, event_id)
    ).fetchone()
    if event is None:
        raise NotFound(
            f"event_id: no event {event_id} for this client",
            details=[{"field": "event_id", "problem": "no such event for this client"}],
        )
    try:
        vector = rt.embedder.embed_query(event_text(event)).tolist()
        hits = rt.vectors.search(COLLECTION, vector, k + 1, VectorFilter(client_id=client_id))
    except Exception as exc:
        log.warning("similar events degraded to same-type recency: %s", type(exc).__name__)
        rows = conn.execute(
            f"""SELECT {EVENT_COLUMNS} FROM events WHERE client_id = %s AND event_type = %s AND id <> %s
                 ORDER BY occurred_at DESC LIMIT %s""",
            (client_id, event["event_type"], event_id, k),
        ).fetchall()
        reason = f"vector search unavailable ({type(exc).__name__}); showing the latest events of the same type"
        return [{**r, "score": 0.0} for r in rows], reason
    scores = {h.id: h.score for h in hits if h.id != str(event_id)}
    if not scores:
        return [], None
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE client_id = %s AND id = ANY(%s::uuid[])", (client_id, list(scores))
    ).fetchall()
    ranked = sorted(rows, key=lambda r: scores[str(r["id"])], reverse=True)[:k]
    return [{**r, "score": round(scores[str(r["id"])], 6)} for r in ranked], None

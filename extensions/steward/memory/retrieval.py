"""Hybrid recall: Qdrant vector similarity fused with Postgres full-text search, time-aware.

    query ─┬─ worker thread: full-text (IDF-weighted lexemes, same connection) ──┐
           └─ this thread:   query embedding -> vector search (per collection) ─┤
                                                                                ├─ rows from Postgres
              validity (now or as_of), kinds, since/until filter the candidates ┘  (truth + filters)
           -> reciprocal rank fusion (+ time-window and recency lists from the query's words)
           -> age-and-use multiplier -> drop echoes -> top k

The full-text query runs while the model embeds the question, so hybrid costs little over the
embedding alone. When the vector side fails, the answer comes from full-text only and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from steward.core.vectors import VectorFilter
from steward.memory import fulltext, timeexpr
from steward.memory.compaction import rank_multiplier
from steward.memory.fusion import Ranked, fuse
from steward.memory.store import COLLECTION_OF_KIND, DEFAULT_COLLECTION, decode, fetch_candidates, fulltext_filters
from steward.memory.text import same_words, words

log = logging.getLogger(__name__)

MEMORY_TERMS = fulltext.TermStats("memories")
TEXT_WEIGHT = 1.0
WINDOW_WEIGHT = 0.6
RECENCY_BOOST = 0.25


@dataclass
class Recall:
    client_id: str
    q: str
    k: int = 10
    kinds: list[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    as_of: datetime | None = None
    include_superseded: bool = False


@dataclass
class Outcome:
    hits: list[dict[str, Any]]
    degraded_reason: str | None = None
    window: timeexpr.Window | None = None
    ids_by_list: dict[str, list[str]] = field(default_factory=dict)


def collections_for(kinds: list[str] | None) -> list[str]:
    if not kinds:
        return [DEFAULT_COLLECTION, *sorted(set(COLLECTION_OF_KIND.values()))]
    return sorted({COLLECTION_OF_KIND.get(kind, DEFAULT_COLLECTION) for kind in kinds})


def vector_filter(req: Recall) -> VectorFilter:
    ranges = {}
    if req.since or req.until:
        ranges["occurred_ts"] = (
            req.since.timestamp() if req.since else None,
            req.until.timestamp() if req.until else None,
        )
    return VectorFilter(client_id=req.client_id, match_any={"kind": list(req.kinds)} if req.kinds else {}, range=ranges)


def _fulltext(
    conn: psycopg.Connection[Any], req: Recall, at: datetime, include_superseded: bool, depth: int
) -> tuple[list[tuple[str, float]], set[str]]:
    """(id, coverage) best first, coverage being the share of the query's IDF weight the row holds;
    and which of the collections other than the default the client has memories in (a vector
    search of an empty collection still costs a millisecond)."""
    others = {c: k for k, c in COLLECTION_OF_KIND.items() if c in collections_for(req.kinds)}
    present = set()
    if others:
        row = conn.execute(
            "SELECT array_agg(k) AS kinds FROM unnest(%s::text[]) AS k WHERE EXISTS "
            "(SELECT 1 FROM memories WHERE client_id = %s AND kind = k)",
            (list(others.values()), req.client_id),
        ).fetchone()
        present = {c for c, k in others.items() if k in (row["kinds"] or [])}
    where, args = fulltext_filters(
        req.client_id, at=at, include_superseded=include_superseded, kinds=req.kinds, since=req.since, until=req.until
    )
    return fulltext.search(conn, "memories", where, args, req.q, MEMORY_TERMS, req.client_id, depth), present


def _vectors(rt, req: Recall, depth: int, text_future) -> list[tuple[str, float]]:
    vector = rt.embedder.embed_query(req.q).tolist()
    where = vector_filter(req)
    hits = []
    for collection in collections_for(req.kinds):
        if collection != DEFAULT_COLLECTION and collection not in text_future.result()[1]:
            continue
        hits += rt.vectors.search(collection, vector, depth, where)
    hits.sort(key=lambda h: h.score, reverse=True)
    return [(h.id, h.score) for h in hits]


def hybrid(conn: psycopg.Connection[Any], rt, req: Recall) -> Outcome:
    at = req.as_of or datetime.now(UTC)
    intent = timeexpr.parse(req.q, at)
    include_superseded = req.include_superseded or intent.history
    depth = max(40, 4 * req.k)
    text_future = fulltext.WORKERS.submit(_fulltext, conn, req, at, include_superseded, depth)
    degraded = None
    try:
        vector_hits = _vectors(rt, req, depth, text_future)
    except Exception as exc:  # any vector-side failure: answer from full-text and say so
        log.warning("vector search failed, degrading to full-text: %s: %s", type(exc).__name__, exc)
        vector_hits = []
        degraded = f"vector search unavailable ({type(exc).__name__}); results come from full-text search only"
    text_hits = text_future.result()[0]

    ids = list(dict.fromkeys([i for i, _ in vector_hits] + [i for i, _ in text_hits]))
    rows = (
        fetch_candidates(
            conn,
            req.client_id,
            ids,
            at=at,
            include_superseded=include_superseded,
            kinds=req.kinds,
            since=req.since,
            until=req.until,
        )
        if ids
        else {}
    )
    vector_ids = [i for i, _ in vector_hits if i in rows]
    vector_ids = list(dict.fromkeys(vector_ids))
    text_ids = [i for i, _ in text_hits if i in rows]
    coverage = dict(text_hits)
    similarity = dict(reversed(vector_hits))
    lists = [
        Ranked("vector", vector_ids),
        Ranked("text", text_ids, TEXT_WEIGHT, {i: min(coverage[i], 1.0) for i in text_ids}),
    ]
    scores, _ = fuse(lists)
    by_score = sorted(scores, key=lambda i: scores[i], reverse=True)
    if intent.window:
        inside = [i for i in by_score if intent.window.since <= rows[i]["occurred_at"] < intent.window.until]
        lists.append(Ranked("time", inside, WINDOW_WEIGHT))
    boost: dict[str, float] = {}
    if intent.recency:  # "now", "currently", "latest": among the relevant, the newer rank higher
        pool = by_score[: max(3 * req.k, 20)]
        times = [rows[i]["occurred_at"].timestamp() for i in pool]
        span = (max(times) - min(times)) if times else 0.0
        if span > 0:
            boost = {i: 1 + RECENCY_BOOST * (t - min(times)) / span for i, t in zip(pool, times, strict=True)}
    scores, found_by = fuse(lists)
    for item in scores:
        row = rows[item]
        age_days = (at - row["occurred_at"]).total_seconds() / 86400
        uses = row["access_count"] + row["mention_count"] - 1
        scores[item] *= rank_multiplier(row["kind"], age_days, uses) * boost.get(item, 1.0)
        if boost.get(item, 1.0) >= 1 + RECENCY_BOOST / 2:
            found_by[item].append("recency")
    ranked = sorted(scores, key=lambda i: scores[i], reverse=True)
    hits: list[dict[str, Any]] = []
    kept_words: list[set[str]] = []
    for item in ranked:
        row = rows[item]
        row_words = words(row["text"])
        if any(same_words(row_words, kept) for kept in kept_words):
            continue
        kept_words.append(row_words)
        current = row["valid_from"] <= at and (row["invalid_at"] is None or row["invalid_at"] > at)
        hits.append(
            {
                **decode(row),
                "score": round(scores[item], 6),
                "matched_by": found_by[item],
                "current": current,
                "similarity": round(similarity[item], 6) if item in similarity else None,
            }
        )
        if len(hits) == req.k:
            break
    return Outcome(
        hits=hits, degraded_reason=degraded, window=intent.window, ids_by_list={r.name: list(r.ids) for r in lists}
    )

"""The memory gateway's in-process API, used by the routes and by other services alike.

    remember(conn, rt, client_id=..., text=..., kind=...)   -> RememberOut
    remember_many(conn, rt, client_id, [MemoryItem, ...])   -> list[RememberOut]
    recall(conn, rt, client_id=..., q=..., k=..., ...)      -> RecallOut
    find_duplicates(conn, rt, client_id, text, ...)         -> list[RecallHit] above a similarity

`conn` is the caller's transaction (nothing here commits); `rt` is the process `Runtime`.
Order on write: Postgres first (the truth, with the content hash), then the vector, then the
cache. A vector-store failure does not lose the memory: it is saved unindexed (full-text still
finds it) and written to Qdrant by compaction or `steward reindex`.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import datetime
from typing import Any

import psycopg

from steward.core.errors import NotFound
from steward.core.vectors import VectorPoint
from steward.memory import caching, fulltext, retrieval, store
from steward.memory.models import (
    MemoryItem,
    RecallHit,
    RecallOut,
    RememberOut,
    TimeHint,
)
from steward.memory.usage import recorder

log = logging.getLogger(__name__)


def _write_vectors(rt, rows: list[dict[str, Any]], embedded: Future, positions: list[int]) -> bool:
    """Upsert the vectors of `rows` (at `positions` in the `embedded` batch); False (and logged)
    when the embedder or the vector store failed."""
    if not rows:
        return True
    try:
        vectors = embedded.result()[positions]
        for collection in {store.collection_for(r["kind"]) for r in rows}:
            rt.vectors.upsert(
                collection,
                [
                    VectorPoint(str(r["id"]), v.tolist(), store.vector_payload(r))
                    for r, v in zip(rows, vectors, strict=True)
                    if store.collection_for(r["kind"]) == collection
                ],
            )
    except Exception as exc:
        log.warning(
            "memories saved without vectors (%s: %s); compaction or reindex will add them", type(exc).__name__, exc
        )
        return False
    return True


def remember_many(
    conn: psycopg.Connection[Any],
    rt,
    client_id: str,
    items: list[MemoryItem],
    *,
    fact_ids: list[str | None] | None = None,
    hash_salts: list[str] | None = None,
) -> list[RememberOut]:
    """Store `items` for one client; exact repeats return the stored memory (`duplicate=True`)."""
    new = [
        store.NewMemory(
            client_id=client_id,
            text=item.text,
            kind=item.kind,
            metadata=item.metadata,
            provenance=item.provenance,
            occurred_at=item.occurred_at,
            valid_from=item.valid_from,
            fact_id=(fact_ids or [None] * len(items))[n],
            hash_salt=(hash_salts or [""] * len(items))[n],
        )
        for n, item in enumerate(items)
    ]
    # The model embeds while Postgres inserts; vectors are written only after the rows exist.
    texts = [spec.indexed for spec in new]
    embedded = fulltext.WORKERS.submit(lambda: rt.embedder.embed_documents(texts))
    try:
        results = store.insert_many(conn, new)
    except BaseException:
        embedded.cancel()
        raise
    for index, (item, (row, duplicate)) in enumerate(zip(items, results, strict=True)):
        if item.supersedes is not None and not duplicate:
            if store.supersede(conn, client_id, str(item.supersedes), str(row["id"]), row["valid_from"]) is None:
                raise NotFound(
                    f"items.{index}.supersedes: no memory {item.supersedes} for this client",
                    details=[
                        {
                            "field": "supersedes" if len(items) == 1 else f"items.{index}.supersedes",
                            "problem": "no such memory for this client",
                        }
                    ],
                )
    fresh = [n for n, (_, duplicate) in enumerate(results) if not duplicate]
    indexed = _write_vectors(rt, [results[n][0] for n in fresh], embedded, fresh)
    if indexed:
        store.mark_indexed(conn, [str(results[n][0]["id"]) for n in fresh])
    caching.invalidate(rt.cache, client_id)
    return [
        RememberOut.model_validate({**row, "duplicate": duplicate, "indexed": indexed or duplicate})
        for row, duplicate in results
    ]


def remember(
    conn: psycopg.Connection[Any],
    rt,
    *,
    client_id: str,
    text: str,
    kind: str = "note",
    metadata: dict | None = None,
    provenance: dict | None = None,
    occurred_at: datetime | None = None,
    valid_from: datetime | None = None,
    supersedes: str | None = None,
) -> RememberOut:
    """Store one memory (see `remember_many`)."""
    item = MemoryItem.model_validate(
        {
            "text": text,
            "kind": kind,
            "metadata": metadata or {},
            "provenance": provenance or {},
            "occurred_at": occurred_at,
            "valid_from": valid_from,
            "supersedes": supersedes,
        }
    )
    return remember_many(conn, rt, client_id, [item])[0]


def recall(
    conn: psycopg.Connection[Any],
    rt,
    *,
    client_id: str,
    q: str,
    k: int = 10,
    kinds: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    as_of: datetime | None = None,
    include_superseded: bool = False,
    use_cache: bool = True,
) -> RecallOut:
    """Hybrid, time-aware recall of one client's memories (current truth unless `as_of`)."""
    req = retrieval.Recall(
        client_id=client_id,
        q=q,
        k=k,
        kinds=sorted(kinds) if kinds else None,
        since=since,
        until=until,
        as_of=as_of,
        include_superseded=include_superseded,
    )
    key = caching.result_key(rt.cache, client_id, "recall", vars(req)) if use_cache else None
    cached = rt.cache.get(key) if key else None
    if cached is not None:
        out = RecallOut.model_validate({**cached, "cached": True})
    else:
        outcome = retrieval.hybrid(conn, rt, req)
        window = outcome.window
        out = RecallOut(
            query=q,
            hits=[RecallHit.model_validate(hit) for hit in outcome.hits],
            degraded=outcome.degraded_reason is not None,
            degraded_reason=outcome.degraded_reason,
            time_hint=TimeHint(expression=window.expression, since=window.since, until=window.until)
            if window
            else None,
        )
        if key and not out.degraded:
            rt.cache.set(key, out.model_dump(mode="json"), rt.settings.cache_ttl_seconds)
    if out.hits:
        recorder(rt.pool).record([str(h.id) for h in out.hits])
    return out


def find_duplicates(
    conn: psycopg.Connection[Any],
    rt,
    client_id: str,
    text: str,
    *,
    kinds: list[str] | None = None,
    min_score: float = 0.9,
    k: int = 5,
) -> list[RecallHit]:
    """Current memories whose vectors are within `min_score` cosine of `text` (for "did I already
    note this?" checks); best first. Empty when the vector store is down."""
    from steward.core.vectors import VectorFilter

    try:
        vector = rt.embedder.embed_query(text).tolist()
        hits = []
        for collection in retrieval.collections_for(kinds):
            hits += rt.vectors.search(
                collection,
                vector,
                k,
                VectorFilter(client_id=client_id, match_any={"kind": list(kinds)} if kinds else {}),
            )
    except Exception as exc:
        log.warning("duplicate check skipped: %s", type(exc).__name__)
        return []
    close = {h.id: h.score for h in hits if h.score >= min_score}
    if not close:
        return []
    now = conn.execute("SELECT now() AS now").fetchone()["now"]
    rows = store.fetch_candidates(
        conn, client_id, list(close), at=now, include_superseded=False, kinds=kinds, since=None, until=None
    )
    ordered = sorted(rows, key=lambda i: close[i], reverse=True)[:k]
    return [
        RecallHit.model_validate(
            {
                **store.decode(rows[i]),
                "score": round(close[i], 6),
                "similarity": round(close[i], 6),
                "matched_by": ["vector"],
                "current": True,
            }
        )
        for i in ordered
    ]


def get_memory(conn: psycopg.Connection[Any], client_id: str, memory_id: str) -> dict[str, Any]:
    row = store.get(conn, client_id, memory_id)
    if row is None:
        raise NotFound(f"no memory {memory_id} for this client")
    return row

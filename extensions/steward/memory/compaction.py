"""Keeping memory tidy without losing anything: the age-and-use score, near-duplicate merging,
per-kind retention and catching up on vectors that could not be written at remember time.

- Age and use: a memory's rank is multiplied by a factor in [1 - STALE_WEIGHT, 1]; it decays with
  age (half-life per kind) unless the memory keeps being used. Stale memories rank lower, never vanish.
- Merging: memories of one client and kind whose vectors are nearly identical, and whose wording
  differs by no number or name (so "meeting at 3pm" never swallows "meeting at 4pm"), are folded
  into the oldest one. The others stay in Postgres with `merged_into` set and their provenance is
  appended to the survivor's `provenance.merged`; only their vectors go.
- Retention: `memory_retention` rows (per client and kind) delete what is older than the limit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from steward.core.vectors import VectorFilter, VectorPoint
from steward.memory.store import collection_for, mark_indexed, vector_payload

log = logging.getLogger(__name__)

STALE_WEIGHT = 0.1
HALF_LIFE_DAYS = {
    "message": 60,
    "event": 60,
    "task": 90,
    "reflection": 120,
    "note": 180,
    "plan": 180,
    "summary": 365,
    "preference": 365,
    "fact": 365,
}
_DISTINCTIVE = re.compile(r"\d|^[A-Z]")


def freshness(kind: str, age_days: float, uses: int) -> float:
    """1.0 for a new or much-used memory, towards 0 for an old unused one."""
    recency = 0.5 ** (max(age_days, 0.0) / HALF_LIFE_DAYS.get(kind, 180))
    use = 1 - 0.5 ** (max(uses, 0) / 10)
    return max(recency, use)


def rank_multiplier(kind: str, age_days: float, uses: int) -> float:
    return 1 - STALE_WEIGHT * (1 - freshness(kind, age_days, uses))


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[\w']+", text))


def wording_compatible(a: str, b: str) -> bool:
    """No number or capitalised word (a name, mostly) appears in one text but not the other."""
    differing = _tokens(a) ^ _tokens(b)
    lowered_a, lowered_b = {t.lower() for t in _tokens(a)}, {t.lower() for t in _tokens(b)}
    return not any(
        _DISTINCTIVE.search(t) and not (t.lower() in lowered_a and t.lower() in lowered_b) for t in differing
    )


@dataclass
class CompactResult:
    merged: list[tuple[str, list[str]]] = field(default_factory=list)
    expired: dict[str, int] = field(default_factory=dict)
    reindexed: int = 0


def index_pending(conn: psycopg.Connection[Any], rt, client_id: str | None = None, limit: int = 2000) -> int:
    """Write vectors for memories saved while the vector store or embedder was down."""
    where, args = "indexed_at IS NULL AND merged_into IS NULL", []
    if client_id:
        where += " AND client_id = %s"
        args.append(client_id)
    rows = conn.execute(
        f"SELECT id, client_id, kind, text, metadata, occurred_at FROM memories WHERE {where} "
        "ORDER BY created_at LIMIT %s",
        (*args, limit),
    ).fetchall()
    from steward.memory.text import index_text

    for start in range(0, len(rows), 128):
        batch = rows[start : start + 128]
        vectors = rt.embedder.embed_documents([index_text(r["text"], r["metadata"]) for r in batch])
        for collection in {collection_for(r["kind"]) for r in batch}:
            rt.vectors.upsert(
                collection,
                [
                    VectorPoint(str(r["id"]), v.tolist(), vector_payload(r))
                    for r, v in zip(batch, vectors, strict=True)
                    if collection_for(r["kind"]) == collection
                ],
            )
        mark_indexed(conn, [str(r["id"]) for r in batch])
    return len(rows)


def expire(conn: psycopg.Connection[Any], rt, client_id: str, dry_run: bool) -> dict[str, int]:
    """Delete memories past their kind's retention; returns how many per kind."""
    sql = """SELECT m.id, m.kind FROM memories m JOIN memory_retention r
                ON r.client_id = m.client_id AND r.kind = m.kind
             WHERE m.client_id = %s AND m.occurred_at < now() - make_interval(days => r.retain_days)
               AND m.fact_id IS NULL"""
    rows = conn.execute(sql, (client_id,)).fetchall()
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["kind"]] = counts.get(row["kind"], 0) + 1
    if rows and not dry_run:
        ids = [str(r["id"]) for r in rows]
        conn.execute("DELETE FROM memories WHERE id = ANY(%s::uuid[])", (ids,))
        for collection in {collection_for(r["kind"]) for r in rows}:
            rt.vectors.delete(collection, [str(r["id"]) for r in rows if collection_for(r["kind"]) == collection])
    return counts


def find_merges(
    conn: psycopg.Connection[Any], rt, client_id: str, threshold: float, kinds: list[str] | None
) -> list[tuple[str, list[str]]]:
    """Groups (survivor, [merged...]) of near-duplicates, oldest first as survivor."""
    where, args = "client_id = %s AND merged_into IS NULL AND fact_id IS NULL", [client_id]
    args_any: list[Any] = args
    if kinds:
        where += " AND kind = ANY(%s)"
        args_any.append(list(kinds))
    rows = conn.execute(
        f"SELECT id::text AS id, kind, text, metadata, created_at FROM memories WHERE {where} ORDER BY created_at, id",
        args,
    ).fetchall()
    by_id = {r["id"]: r for r in rows}
    order = {r["id"]: n for n, r in enumerate(rows)}
    parent: dict[str, str] = {}
    from steward.memory.text import index_text

    for start in range(0, len(rows), 128):
        batch = rows[start : start + 128]
        vectors = rt.embedder.embed_documents([index_text(r["text"], r["metadata"]) for r in batch])
        for row, vector in zip(batch, vectors, strict=True):
            if row["id"] in parent:
                continue
            hits = rt.vectors.search(
                collection_for(row["kind"]),
                vector.tolist(),
                8,
                VectorFilter(client_id=client_id, match_any={"kind": [row["kind"]]}),
            )
            for hit in hits:
                other = by_id.get(hit.id)
                if (
                    other is None
                    or hit.id == row["id"]
                    or hit.score < threshold
                    or hit.id in parent
                    or order[hit.id] < order[row["id"]]
                    or not wording_compatible(row["text"], other["text"])
                ):
                    continue
                parent[hit.id] = row["id"]
    groups: dict[str, list[str]] = {}
    for child, survivor in parent.items():
        groups.setdefault(survivor, []).append(child)
    return sorted(groups.items(), key=lambda g: order[g[0]])


def merge(conn: psycopg.Connection[Any], rt, client_id: str, survivor: str, merged: list[str]) -> None:
    rows = conn.execute(
        """UPDATE memories SET merged_into = %s, updated_at = now()
            WHERE client_id = %s AND id = ANY(%s::uuid[]) AND merged_into IS NULL
        RETURNING id::text AS id, kind, text, provenance, occurred_at, mention_count, access_count""",
        (survivor, client_id, merged),
    ).fetchall()
    if not rows:
        return
    sources = [
        {
            "memory_id": r["id"],
            "text": r["text"],
            "occurred_at": r["occurred_at"].isoformat(),
            "provenance": r["provenance"],
        }
        for r in rows
    ]
    conn.execute(
        """UPDATE memories SET provenance = jsonb_set(provenance, '{merged}',
                   COALESCE(provenance->'merged', '[]'::jsonb) || %s::jsonb),
               mention_count = mention_count + %s, access_count = access_count + %s, updated_at = now()
            WHERE client_id = %s AND id = %s""",
        (
            Jsonb(sources),
            sum(r["mention_count"] for r in rows),
            sum(r["access_count"] for r in rows),
            client_id,
            survivor,
        ),
    )
    for collection in {collection_for(r["kind"]) for r in rows}:
        rt.vectors.delete(collection, [r["id"] for r in rows if collection_for(r["kind"]) == collection])


def compact(
    conn: psycopg.Connection[Any],
    rt,
    client_id: str,
    *,
    threshold: float = 0.95,
    dry_run: bool = False,
    kinds: list[str] | None = None,
) -> CompactResult:
    result = CompactResult()
    if not dry_run:
        result.reindexed = index_pending(conn, rt, client_id)
    result.expired = expire(conn, rt, client_id, dry_run)
    result.merged = find_merges(conn, rt, client_id, threshold, kinds)
    if not dry_run:
        for survivor, merged in result.merged:
            merge(conn, rt, client_id, survivor, merged)
    return result

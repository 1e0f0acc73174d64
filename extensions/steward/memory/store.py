"""Memory rows in Postgres: insert with exact-duplicate detection, lookups, validity changes.

Every statement is scoped by `client_id`. Callers hold the transaction; nothing here commits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from steward.memory.text import TS_CONFIG, content_hash, index_text

COLUMNS = (
    "id, client_id, kind, text, metadata, provenance, occurred_at, valid_from, invalid_at, "
    "superseded_by, merged_into, created_at"
)
# Candidates carry their JSON as text: parsing it for every candidate cost more than the ranking.
LIGHT_COLUMNS = COLUMNS.replace("metadata, provenance", "metadata::text AS metadata, provenance::text AS provenance")
COLLECTION_OF_KIND = {"reflection": "daily_threads"}
DEFAULT_COLLECTION = "agent_memories"


def collection_for(kind: str) -> str:
    return COLLECTION_OF_KIND.get(kind, DEFAULT_COLLECTION)


@dataclass
class NewMemory:
    client_id: str
    text: str
    kind: str = "note"
    metadata: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    occurred_at: datetime | None = None
    valid_from: datetime | None = None
    hash_salt: str = ""
    fact_id: str | None = None

    @property
    def hash(self) -> str:
        return content_hash(self.kind, self.text, self.hash_salt)

    @property
    def indexed(self) -> str:
        return index_text(self.text, self.metadata)


def insert_many(conn: psycopg.Connection[Any], items: list[NewMemory]) -> list[tuple[dict[str, Any], bool]]:
    """Insert `items` (one client); returns (row, duplicate) per item, in order. An item whose hash
    already exists for the client returns that row, with its mention recorded."""
    if not items:
        return []
    client_id = items[0].client_id
    rows = conn.execute(
        f"""INSERT INTO memories (client_id, kind, text, content_hash, metadata, provenance, occurred_at,
                                  valid_from, fact_id, search_tsv)
            SELECT %s, i.kind, i.text, i.hash, i.metadata, i.provenance, COALESCE(i.occurred_at, now()),
                   COALESCE(i.valid_from, LEAST(i.occurred_at, now()), now()), i.fact_id,
                   to_tsvector(%s::regconfig, i.indexed)
              FROM unnest(%s::text[], %s::text[], %s::text[], %s::jsonb[], %s::jsonb[], %s::timestamptz[],
                          %s::timestamptz[], %s::uuid[], %s::text[])
                   AS i(kind, text, hash, metadata, provenance, occurred_at, valid_from, fact_id, indexed)
            ON CONFLICT (client_id, content_hash) DO NOTHING
            RETURNING {COLUMNS}, content_hash""",
        (
            client_id,
            TS_CONFIG,
            [i.kind for i in items],
            [i.text for i in items],
            [i.hash for i in items],
            [Jsonb(i.metadata or {}) for i in items],
            [Jsonb(i.provenance or {}) for i in items],
            [i.occurred_at for i in items],
            [i.valid_from for i in items],
            [i.fact_id for i in items],
            [i.indexed for i in items],
        ),
    ).fetchall()
    created = {row["content_hash"]: row for row in rows}
    missing = [i.hash for i in items if i.hash not in created]
    existing = {}
    if missing:
        existing = {
            row["content_hash"]: row
            for row in conn.execute(
                f"""UPDATE memories SET mention_count = mention_count + 1, updated_at = now()
                 WHERE client_id = %s AND content_hash = ANY(%s) RETURNING {COLUMNS}, content_hash""",
                (client_id, missing),
            )
        }
    results, seen = [], set()
    for item in items:
        row = created.get(item.hash)
        if row is not None and item.hash not in seen:
            results.append((row, False))
        else:
            results.append((created.get(item.hash) or existing[item.hash], True))
        seen.add(item.hash)
    return results


def mark_indexed(conn: psycopg.Connection[Any], ids: list[str]) -> None:
    if ids:
        conn.execute("UPDATE memories SET indexed_at = now() WHERE id = ANY(%s::uuid[])", (ids,))


def get(conn: psycopg.Connection[Any], client_id: str, memory_id: str) -> dict[str, Any] | None:
    return conn.execute(
        f"SELECT {COLUMNS} FROM memories WHERE client_id = %s AND id = %s", (client_id, memory_id)
    ).fetchone()


def supersede(conn: psycopg.Connection[Any], client_id: str, old_id: str, new_id: str, at: datetime) -> dict | None:
    """End `old_id`'s validity at `at` in favour of `new_id`; None when the client has no such
    memory. An already-ended memory keeps its earlier end."""
    return conn.execute(
        f"""UPDATE memories SET invalid_at = LEAST(COALESCE(invalid_at, %s), GREATEST(%s, valid_from)),
                                superseded_by = COALESCE(superseded_by, %s), updated_at = now()
             WHERE client_id = %s AND id = %s AND id <> %s RETURNING {COLUMNS}""",
        (at, at, new_id, client_id, old_id, new_id),
    ).fetchone()


def fetch_candidates(
    conn: psycopg.Connection[Any],
    client_id: str,
    ids: list[str],
    *,
    at: datetime,
    include_superseded: bool,
    kinds: list[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, dict[str, Any]]:
    """The rows of `ids` that pass the filters, with the use counters ranking needs."""
    where, args = (
        ["client_id = %s", "id = ANY(%s::uuid[])", "merged_into IS NULL", "valid_from <= %s"],
        [client_id, ids, at],
    )
    if not include_superseded:
        where.append("(invalid_at IS NULL OR invalid_at > %s)")
        args.append(at)
    _time_filters(where, args, kinds, since, until)
    rows = conn.execute(
        f"""SELECT {LIGHT_COLUMNS}, access_count, mention_count, last_accessed_at FROM memories
             WHERE {" AND ".join(where)}""",
        args,
    ).fetchall()
    return {str(r["id"]): r for r in rows}


def decode(row: dict[str, Any]) -> dict[str, Any]:
    """A `fetch_candidates` row with its JSON columns parsed (done for the winners only)."""
    return {**row, "metadata": json.loads(row["metadata"]), "provenance": json.loads(row["provenance"])}


def _time_filters(where: list[str], args: list, kinds, since, until) -> None:
    if kinds:
        where.append("kind = ANY(%s)")
        args.append(list(kinds))
    if since is not None:
        where.append("occurred_at >= %s")
        args.append(since)
    if until is not None:
        where.append("occurred_at <= %s")
        args.append(until)


def fulltext_filters(
    client_id: str, *, at: datetime, include_superseded: bool, kinds, since, until
) -> tuple[str, list]:
    where, args = ["client_id = %s", "merged_into IS NULL", "valid_from <= %s"], [client_id, at]
    if not include_superseded:
        where.append("(invalid_at IS NULL OR invalid_at > %s)")
        args.append(at)
    _time_filters(where, args, kinds, since, until)
    return " AND ".join(where), args


def vector_payload(row: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": row["client_id"], "kind": row["kind"], "occurred_ts": row["occurred_at"].timestamp()}

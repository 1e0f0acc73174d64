"""What `steward reindex` rebuilds for the memory gateway, read from Postgres (the truth).

Rows stream through server-side cursors, so a rebuild of 100k memories holds one batch in memory.
Merged memories have no vector (their survivor stands for them); superseded ones keep theirs, so
`as_of` recall still finds them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from steward.core.reindex import IndexDoc
from steward.memory.documents import chunk_index_text
from steward.memory.similar import event_payload, event_text
from steward.memory.store import vector_payload
from steward.memory.text import index_text

_MEMORY_WHERE = {
    "agent_memories": "merged_into IS NULL AND kind <> 'reflection'",
    "daily_threads": "merged_into IS NULL AND kind = 'reflection'",
}


def _stream(conn: psycopg.Connection[Any], name: str, sql: str) -> Iterator[dict]:
    with conn.cursor(name=f"steward_reindex_{name}") as cursor:
        cursor.itersize = 500
        cursor.execute(sql)
        yield from cursor


def _count(sql: str):
    def count(conn: psycopg.Connection[Any]) -> int:
        return int(conn.execute(sql).fetchone()["n"])

    return count


def _memories(collection: str):
    where = _MEMORY_WHERE[collection]

    def source(conn: psycopg.Connection[Any]) -> Iterator[IndexDoc]:
        sql = f"SELECT id, client_id, kind, text, metadata, occurred_at FROM memories WHERE {where} ORDER BY id"
        for row in _stream(conn, collection, sql):
            yield IndexDoc(
                id=str(row["id"]), text=index_text(row["text"], row["metadata"]), payload=vector_payload(row)
            )
        conn.execute(f"UPDATE memories SET indexed_at = now() WHERE indexed_at IS NULL AND {where}")

    return source, _count(f"SELECT count(*) AS n FROM memories WHERE {where}")


def _chunks(conn: psycopg.Connection[Any]) -> Iterator[IndexDoc]:
    sql = """SELECT c.id, c.client_id, c.document_id, c.position, c.heading, c.text, d.title
               FROM doc_chunks c JOIN documents d ON d.id = c.document_id ORDER BY c.id"""
    for row in _stream(conn, "doc_chunks", sql):
        yield IndexDoc(
            id=str(row["id"]),
            text=chunk_index_text(row["heading"], row["text"], row["title"]),
            payload={
                "client_id": row["client_id"],
                "document_id": str(row["document_id"]),
                "position": row["position"],
            },
        )


def _events(conn: psycopg.Connection[Any]) -> Iterator[IndexDoc]:
    sql = "SELECT id, client_id, event_type, event_source, payload, occurred_at FROM events ORDER BY id"
    for row in _stream(conn, "events", sql):
        yield IndexDoc(id=str(row["id"]), text=event_text(row), payload=event_payload(row))


INDEX_SOURCES = {
    "agent_memories": [_memories("agent_memories")],
    "daily_threads": [_memories("daily_threads")],
    "doc_chunks": [(_chunks, _count("SELECT count(*) AS n FROM doc_chunks"))],
    "events": [(_events, _count("SELECT count(*) AS n FROM events"))],
}

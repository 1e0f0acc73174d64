"""Documents for retrieval-augmented answers: ingest into overlapping chunks, hybrid search.

A document is stored whole in `documents` (hash for exact repeats, optional `external_id` so a
new version replaces the old one) and as chunks in `doc_chunks`, each embedded into the
`doc_chunks` collection with its heading path. Search fuses vector and full-text hits like recall.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from steward.core.vectors import VectorFilter, VectorPoint
from steward.memory import caching, fulltext
from steward.memory.chunking import Chunk, chunk
from steward.memory.fusion import Ranked, fuse
from steward.memory.models import DocHit, DocSearchOut, DocumentIn, DocumentOut
from steward.memory.text import TS_CONFIG, normalise

log = logging.getLogger(__name__)

COLLECTION = "doc_chunks"
CHUNK_TERMS = fulltext.TermStats("doc_chunks")
DOC_COLUMNS = "id, client_id, external_id, title, format, char_count, chunk_count, created_at, updated_at"


def chunk_index_text(heading: str, text: str, title: str = "") -> str:
    context = " > ".join(part for part in (title, heading) if part)
    return f"{context}\n{text}" if context else text


def _doc_hash(doc: DocumentIn) -> str:
    return hashlib.sha256(f"{doc.format}\n{doc.title}\n{normalise(doc.text)}".encode()).hexdigest()


def _insert_chunks(
    conn: psycopg.Connection[Any], document_id: str, client_id: str, title: str, chunks: list[Chunk]
) -> list[dict[str, Any]]:
    return conn.execute(
        """INSERT INTO doc_chunks (document_id, client_id, position, heading, text, start_char, end_char, search_tsv)
           SELECT %s, %s, c.position, c.heading, c.text, c.start_char, c.end_char,
                  to_tsvector(%s::regconfig, c.indexed)
             FROM unnest(%s::int[], %s::text[], %s::text[], %s::int[], %s::int[], %s::text[])
                  AS c(position, heading, text, start_char, end_char, indexed)
           RETURNING id::text AS id, position, heading, text""",
        (
            document_id,
            client_id,
            TS_CONFIG,
            [c.position for c in chunks],
            [c.heading for c in chunks],
            [c.text for c in chunks],
            [c.start for c in chunks],
            [c.end for c in chunks],
            [chunk_index_text(c.heading, c.text, title) for c in chunks],
        ),
    ).fetchall()


def _index(rt, client_id: str, document_id: str, title: str, rows: list[dict[str, Any]]) -> bool:
    try:
        for start in range(0, len(rows), 128):
            batch = rows[start : start + 128]
            vectors = rt.embedder.embed_documents([chunk_index_text(r["heading"], r["text"], title) for r in batch])
            rt.vectors.upsert(
                COLLECTION,
                [
                    VectorPoint(
                        r["id"],
                        v.tolist(),
                        {"client_id": client_id, "document_id": document_id, "position": r["position"]},
                    )
                    for r, v in zip(batch, vectors, strict=True)
                ],
            )
    except Exception as exc:
        log.warning("document chunks saved without vectors (%s); `steward reindex` adds them", type(exc).__name__)
        return False
    return True


def ingest(conn: psycopg.Connection[Any], rt, doc: DocumentIn) -> DocumentOut:
    content_hash = _doc_hash(doc)
    same = conn.execute(
        f"SELECT {DOC_COLUMNS} FROM documents WHERE client_id = %s AND content_hash = %s", (doc.client_id, content_hash)
    ).fetchone()
    if same is not None:
        return DocumentOut.model_validate({**same, "duplicate": True})
    chunks = chunk(doc.text, markdown=doc.format == "markdown", size=doc.chunk_size, overlap=doc.overlap)
    previous, row = None, None
    if doc.external_id is not None:
        previous = conn.execute(
            "SELECT id::text AS id FROM documents WHERE client_id = %s AND external_id = %s FOR UPDATE",
            (doc.client_id, doc.external_id),
        ).fetchone()
    if previous is not None:
        old_chunks = [
            r["id"]
            for r in conn.execute(
                "DELETE FROM doc_chunks WHERE document_id = %s RETURNING id::text AS id", (previous["id"],)
            )
        ]
        row = conn.execute(
            f"""UPDATE documents SET title = %s, format = %s, content_hash = %s, char_count = %s, chunk_count = %s,
                       metadata = %s, provenance = %s, updated_at = now()
                 WHERE id = %s RETURNING {DOC_COLUMNS}""",
            (
                doc.title,
                doc.format,
                content_hash,
                len(doc.text),
                len(chunks),
                Jsonb(doc.metadata),
                Jsonb(doc.provenance),
                previous["id"],
            ),
        ).fetchone()
        try:
            rt.vectors.delete(COLLECTION, old_chunks)
        except Exception as exc:  # stale vectors are filtered out by the Postgres join at search time
            log.warning("old chunk vectors not deleted (%s)", type(exc).__name__)
    else:
        row = conn.execute(
            f"""INSERT INTO documents (client_id, external_id, title, format, content_hash, char_count, chunk_count,
                                       metadata, provenance)
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {DOC_COLUMNS}""",
            (
                doc.client_id,
                doc.external_id,
                doc.title,
                doc.format,
                content_hash,
                len(doc.text),
                len(chunks),
                Jsonb(doc.metadata),
                Jsonb(doc.provenance),
            ),
        ).fetchone()
    assert row is not None
    rows = _insert_chunks(conn, str(row["id"]), doc.client_id, doc.title, chunks)
    indexed = _index(rt, doc.client_id, str(row["id"]), doc.title, rows)
    caching.invalidate(rt.cache, doc.client_id)
    return DocumentOut.model_validate({**row, "replaced": previous is not None, "indexed": indexed})


def _fulltext(
    conn: psycopg.Connection[Any], client_id: str, q: str, document_id: str | None, depth: int
) -> list[tuple[str, float]]:
    where, args = "client_id = %s", [client_id]
    if document_id:
        where += " AND document_id = %s"
        args.append(document_id)
    return fulltext.search(conn, "doc_chunks", where, args, q, CHUNK_TERMS, client_id, depth)


def search(
    conn: psycopg.Connection[Any], rt, client_id: str, q: str, k: int = 5, document_id: str | None = None
) -> DocSearchOut:
    key = caching.result_key(rt.cache, client_id, "docs", {"q": q, "k": k, "document_id": document_id})
    cached = rt.cache.get(key)
    if cached is not None:
        return DocSearchOut.model_validate(cached)
    depth = max(30, 4 * k)
    text_future = fulltext.WORKERS.submit(_fulltext, conn, client_id, q, document_id, depth)
    degraded = None
    try:
        vector = rt.embedder.embed_query(q).tolist()
        where = VectorFilter(client_id=client_id, match_any={"document_id": [document_id]} if document_id else {})
        vector_ids = [h.id for h in rt.vectors.search(COLLECTION, vector, depth, where)]
    except Exception as exc:
        log.warning("document vector search failed, degrading to full-text: %s", type(exc).__name__)
        vector_ids = []
        degraded = f"vector search unavailable ({type(exc).__name__}); results come from full-text search only"
    text_hits = text_future.result()
    scores, found_by = fuse(
        [
            Ranked("vector", vector_ids),
            Ranked("text", [i for i, _ in text_hits], 1.0, {i: min(c, 1.0) for i, c in text_hits}),
        ]
    )
    ids = sorted(scores, key=lambda i: scores[i], reverse=True)
    rows = (
        {
            r["chunk_id"]: r
            for r in conn.execute(
                """SELECT c.id::text AS chunk_id, c.document_id, d.title AS document_title, d.external_id, c.position,
                  c.heading, c.text, c.start_char, c.end_char
             FROM doc_chunks c JOIN documents d ON d.id = c.document_id
            WHERE c.client_id = %s AND c.id = ANY(%s::uuid[])""",
                (client_id, ids),
            )
        }
        if ids
        else {}
    )
    hits = [
        DocHit.model_validate({**rows[i], "score": round(scores[i], 6), "matched_by": found_by[i]})
        for i in ids
        if i in rows
    ][:k]
    out = DocSearchOut(query=q, hits=hits, degraded=degraded is not None, degraded_reason=degraded)
    if not out.degraded:
        rt.cache.set(key, out.model_dump(mode="json"), rt.settings.cache_ttl_seconds)
    return out

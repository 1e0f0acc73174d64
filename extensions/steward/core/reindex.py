"""Rebuild the vector collections from Postgres, the source of truth.

Each service that keeps vectors registers a *source*: a function that yields `IndexDoc`s for one
collection, read from its Postgres tables. `rebuild` drops each collection, recreates it for the
current embedding model and dimension, and re-embeds every document in batches, reporting progress.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from steward.core.vectors import COLLECTIONS, VectorPoint

# Modules that define `INDEX_SOURCES: dict[collection, list[(Source, CountSource)]]`, imported lazily.
SOURCE_MODULES = ("steward.memory.indexing",)


@dataclass(frozen=True)
class IndexDoc:
    id: str
    text: str
    payload: dict[str, Any]


Source = Callable[[psycopg.Connection], Iterable[IndexDoc]]
CountSource = Callable[[psycopg.Connection], int]


def sources() -> dict[str, list[tuple[Source, CountSource]]]:
    found: dict[str, list[tuple[Source, CountSource]]] = {name: [] for name in COLLECTIONS}
    for module_name in SOURCE_MODULES:
        module = importlib.import_module(module_name)
        for collection, pairs in module.INDEX_SOURCES.items():
            found[collection].extend(pairs)
    return found


def _batches(docs: Iterable[IndexDoc], size: int) -> Iterator[list[IndexDoc]]:
    batch: list[IndexDoc] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rebuild(
    runtime,
    collections: Iterable[str] = COLLECTIONS,
    batch_size: int = 128,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Re-embed every source document; returns the number of points written per collection."""
    store, embedder = runtime.vectors_for_rebuild(), runtime.embedder
    written: dict[str, int] = {}
    registered = sources()
    for collection in collections:
        store.drop_collection(collection)
        store.ensure_collection(collection)
        written[collection] = 0
        with runtime.pool.connection() as conn:
            total = sum(count(conn) for _, count in registered[collection])
            for source, _ in registered[collection]:
                for batch in _batches(source(conn), batch_size):
                    vectors = embedder.embed_documents([d.text for d in batch])
                    store.upsert(
                        collection,
                        [
                            VectorPoint(id=d.id, vector=v.tolist(), payload=d.payload)
                            for d, v in zip(batch, vectors, strict=True)
                        ],
                    )
                    written[collection] += len(batch)
                    if progress:
                        progress(collection, written[collection], total)
        if progress:
            progress(collection, written[collection], total)
    store.optimize()  # index the bulk load now rather than on the first queries
    return written

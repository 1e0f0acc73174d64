"""Qdrant server backend over qdrant-client, for several processes or a bigger machine.

The model check uses a named vector, not collection metadata: each collection stores one vector
named after the embedding model (`vector_name(model)`), sized to its dimension. That works on every
Qdrant server version (collection metadata needs 1.16+), and Qdrant enforces it on every call, not
only at open: upserts and queries name the vector (`using=`), so a collection rebuilt by another
Steward with another model fails loudly instead of comparing vectors from two models.

Multitenancy follows Qdrant's guide: `client_id` is a keyword index with `is_tenant`, and HNSW is
built per client (m=0, payload_m=16), since every search filters on one client. Writes use
`wait=True`, so an acknowledged upsert is applied (and in the server's WAL) before we return.
Tests inject `QdrantClient(":memory:")`; it ignores payload indexes and warns that it does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient, models

from steward.core.vectors.base import (
    CollectionMismatch,
    VectorFilter,
    VectorHit,
    VectorPoint,
    VectorStore,
    VectorStoreError,
)

_INDEXES: dict[str, Any] = {
    "client_id": models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
    "kind": models.PayloadSchemaType.KEYWORD,
    "occurred_ts": models.PayloadSchemaType.FLOAT,
}


def vector_name(model: str) -> str:
    """The model name, kept readable in the Qdrant dashboard: `BAAI/bge-small` -> `BAAI_bge-small`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model)[:64]


def server_filter(where: VectorFilter) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key="client_id", match=models.MatchValue(value=where.client_id))
    ]
    for key, values in where.match_any.items():
        must.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(values))))
    for key, (gte, lte) in where.range.items():
        must.append(models.FieldCondition(key=key, range=models.Range(gte=gte, lte=lte)))
    return models.Filter(must=must)


@contextmanager
def _errors(what: str) -> Iterator[None]:
    try:
        yield
    except VectorStoreError:
        raise
    except Exception as exc:  # HTTP, gRPC, timeouts, validation: callers only need "it failed"
        raise VectorStoreError(f"{what}: Qdrant server failed: {type(exc).__name__}: {exc}") from exc


class QdrantServerStore(VectorStore):
    """Collections on a Qdrant server at `url` (or on an injected client)."""

    def __init__(
        self, model: str, dimension: int, url: str, api_key: str | None = None, client: QdrantClient | None = None
    ) -> None:
        super().__init__(model, dimension)
        self.url = url
        self.vector = vector_name(model)
        self._owns_client = client is None
        self._client = client or QdrantClient(url=url, api_key=api_key, timeout=10)
        self._ensured: set[str] = set()  # what ping expects to find: a dropped one is missing until re-created

    def ensure_collection(self, name: str) -> None:
        with _errors(f"creating collection {name}"):
            if not self._client.collection_exists(name):
                try:
                    self._client.create_collection(
                        name,
                        vectors_config={
                            self.vector: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)
                        },
                        hnsw_config=models.HnswConfigDiff(m=0, payload_m=16),
                    )
                except Exception:
                    if not self._client.collection_exists(name):  # else another process won the race
                        raise
            info = self._client.get_collection(name)
            self._check(name, info.config.params.vectors)
            for field, schema in _INDEXES.items():
                if field not in (info.payload_schema or {}):
                    self._client.create_payload_index(name, field, field_schema=schema, wait=True)
        self._ensured.add(name)

    def _check(self, name: str, vectors: Any) -> None:
        found = {key: p.size for key, p in vectors.items()} if isinstance(vectors, dict) else {"": vectors.size}
        params = vectors.get(self.vector) if isinstance(vectors, dict) else None
        if params is None or params.size != self.dimension or params.distance != models.Distance.COSINE:
            raise CollectionMismatch(
                f"collection {name!r} on {self.url} holds vectors {found} but Steward now embeds with "
                f"{self.model} ({self.dimension}-d, vector {self.vector!r}); run `steward reindex` to rebuild it"
            )

    def upsert(self, collection: str, points: list[VectorPoint]) -> None:
        if not points:
            return
        for point in points:
            if not point.payload.get("client_id"):
                raise ValueError(f"point {point.id} has no client_id payload; every point belongs to a client")
        structs = [models.PointStruct(id=p.id, vector={self.vector: p.vector}, payload=p.payload) for p in points]
        with _errors(f"writing {collection}"):
            self._client.upsert(collection, points=structs, wait=True)

    def search(self, collection: str, vector: list[float], limit: int, where: VectorFilter) -> list[VectorHit]:
        with _errors(f"searching {collection}"):
            found = self._client.query_points(
                collection,
                query=vector,
                using=self.vector,
                query_filter=server_filter(where),
                limit=limit,
                with_payload=True,
            ).points
        # min(): float rounding can give 1.0000001 for an identical vector; the invariant says <= 1.
        return [VectorHit(id=str(p.id), score=min(p.score, 1.0), payload=p.payload or {}) for p in found]

    def delete(self, collection: str, ids: list[str]) -> None:
        if ids:
            with _errors(f"deleting from {collection}"):
                self._client.delete(collection, points_selector=models.PointIdsList(points=list(ids)), wait=True)

    def count(self, collection: str, where: VectorFilter | None = None) -> int:
        with _errors(f"counting {collection}"):
            return self._client.count(
                collection, count_filter=server_filter(where) if where else None, exact=True
            ).count

    def drop_collection(self, name: str) -> None:
        with _errors(f"dropping {name}"):
            self._client.delete_collection(name)

    def ping(self) -> None:
        with _errors(f"reaching {self.url}"):
            found = {c.name for c in self._client.get_collections().collections}
        missing = sorted(self._ensured - found)
        if missing:
            raise VectorStoreError(
                f"collection(s) {', '.join(missing)} missing on {self.url}; run `steward reindex` to rebuild "
                "them from Postgres"
            )

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

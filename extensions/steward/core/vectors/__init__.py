"""Vector stores: pick the backend from settings (`QDRANT_URL` set: server; unset: Qdrant Edge)."""

from __future__ import annotations

from steward.core.config import Settings
from steward.core.vectors.base import (
    COLLECTIONS,
    CollectionMismatch,
    VectorFilter,
    VectorHit,
    VectorPoint,
    VectorStore,
    VectorStoreError,
)

__all__ = [
    "COLLECTIONS",
    "CollectionMismatch",
    "VectorFilter",
    "VectorHit",
    "VectorPoint",
    "VectorStore",
    "VectorStoreError",
    "open_vector_store",
]


def open_vector_store(settings: Settings, model: str, dimension: int) -> VectorStore:
    """The configured backend, with the four collections ensured."""
    if settings.qdrant_url:
        from steward.core.vectors.server import QdrantServerStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        store: VectorStore = QdrantServerStore(model, dimension, url=settings.qdrant_url, api_key=api_key)
    else:
        from steward.core.vectors.edge import QdrantEdgeStore

        store = QdrantEdgeStore(model, dimension, path=settings.steward_data_dir / "qdrant")
    for name in COLLECTIONS:
        store.ensure_collection(name)
    return store

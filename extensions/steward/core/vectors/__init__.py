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


def open_vector_store(settings: Settings, model: str, dimension: int, ensure: bool = True) -> VectorStore:
    """The configured backend, with the four collections ensured. `ensure=False` is for
    `steward reindex`, which must open a store whose collections were built with another model
    (ensuring would raise CollectionMismatch before anything could be rebuilt)."""
    if settings.qdrant_url:
        from steward.core.vectors.server import QdrantServerStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        store: VectorStore = QdrantServerStore(model, dimension, url=settings.qdrant_url, api_key=api_key)
    else:
        from steward.core.vectors.edge import QdrantEdgeStore

        store = QdrantEdgeStore(model, dimension, path=settings.steward_data_dir / "qdrant")
    if not ensure:
        return store
    try:
        for name in COLLECTIONS:
            store.ensure_collection(name)
    except BaseException:
        store.close()  # else Edge keeps the folders it opened locked until the process exits
        raise
    return store

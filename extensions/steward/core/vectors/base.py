"""The vector-store seam: one interface, two backends (Qdrant Edge embedded, Qdrant server).

Invariants every backend keeps:
- `search` returns hits best first, `score` is cosine similarity (higher is closer, at most 1.0).
- Every point carries a `client_id` payload; `search`, `count` and `delete_where` filter on it, so
  no call can reach another client's vectors.
- Point ids are UUID strings chosen by Postgres, so an upsert of the same id replaces, never copies.
- A collection remembers the embedding model and dimension it was built with; opening it with
  another raises `CollectionMismatch` whose message says to run `steward reindex`.
- Postgres is the source of truth: everything here can be rebuilt by `steward reindex`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

COLLECTIONS = ("doc_chunks", "events", "agent_memories", "daily_threads")


class VectorStoreError(Exception):
    """The vector store failed or is unreachable; callers may degrade (e.g. to full-text search)."""


class CollectionMismatch(VectorStoreError):
    """A collection was built with another embedding model or dimension."""


@dataclass(frozen=True)
class VectorPoint:
    id: str
    vector: list[float]
    payload: dict[str, Any]


@dataclass(frozen=True)
class VectorHit:
    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VectorFilter:
    """Conditions ANDed together. `client_id` is required; `match_any` maps a payload key to allowed
    values (e.g. {"kind": ["note", "fact"]}); `range` maps a numeric payload key to (gte, lte)."""

    client_id: str
    match_any: dict[str, list[str]] = field(default_factory=dict)
    range: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


class VectorStore(ABC):
    """A named set of collections of `dimension`-sized vectors built with `model`."""

    def __init__(self, model: str, dimension: int) -> None:
        self.model = model
        self.dimension = dimension

    @abstractmethod
    def ensure_collection(self, name: str) -> None:
        """Create the collection if missing (idempotent), with a payload index on client_id;
        raise CollectionMismatch if it exists with another model or dimension."""

    @abstractmethod
    def upsert(self, collection: str, points: list[VectorPoint]) -> None: ...

    @abstractmethod
    def search(self, collection: str, vector: list[float], limit: int, where: VectorFilter) -> list[VectorHit]: ...

    @abstractmethod
    def delete(self, collection: str, ids: list[str]) -> None: ...

    @abstractmethod
    def count(self, collection: str, where: VectorFilter | None = None) -> int: ...

    @abstractmethod
    def drop_collection(self, name: str) -> None:
        """Delete the collection and its data (used by reindex); a missing one is not an error."""

    @abstractmethod
    def ping(self) -> None:
        """Raise VectorStoreError when the store cannot answer."""

    def optimize(self) -> None:  # noqa: B027 - a server indexes by itself
        """Build indexes now (after a bulk load), blocking."""

    def close(self) -> None:  # noqa: B027 - optional hook; most backends hold nothing to release
        """Release files and connections."""

"""The process-wide resources one Steward process holds, built once by the app factory.

Views reach them through `runtime()`. The embedder and the vector store open lazily on first use
(the local model takes seconds to load; a Qdrant server may be down at boot), and a failure to
open is remembered for /health/ready rather than crashing startup.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask import current_app
from psycopg_pool import ConnectionPool

from steward.core.cache import Cache
from steward.core.config import Settings

if TYPE_CHECKING:
    from steward.core.embeddings import Embedder
    from steward.core.vectors import VectorStore


@dataclass
class Runtime:
    settings: Settings
    pool: ConnectionPool
    cache: Cache
    _embedder: Embedder | None = None
    _vectors: VectorStore | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    from steward.core.embeddings import open_embedder

                    self._embedder = open_embedder(self.settings)
        return self._embedder

    @property
    def embedding_model(self) -> str:
        return self.settings.embeddings_model if self.settings.embedding_provider == "openai" else "all-MiniLM-L6-v2"

    @property
    def vectors(self) -> VectorStore:
        if self._vectors is None:
            with self._lock:
                if self._vectors is None:
                    from steward.core.vectors import open_vector_store

                    self._vectors = open_vector_store(
                        self.settings, self.embedding_model, self.settings.embedding_dimension
                    )
        return self._vectors

    def vectors_if_open(self) -> VectorStore | None:
        return self._vectors

    def vectors_for_rebuild(self) -> VectorStore:
        """The store opened without checking collections, so a model change can be rebuilt."""
        with self._lock:
            if self._vectors is None:
                from steward.core.vectors import open_vector_store

                self._vectors = open_vector_store(
                    self.settings, self.embedding_model, self.settings.embedding_dimension, ensure=False
                )
        return self._vectors

    def close(self) -> None:
        if self._vectors is not None:
            self._vectors.close()
            self._vectors = None
        self.pool.close()


def runtime() -> Runtime:
    return current_app.extensions["steward"]

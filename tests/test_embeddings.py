"""The two embedding providers: the offline model, and an OpenAI-compatible endpoint."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from steward.core.embeddings import EmbeddingError, LocalEmbedder, OpenAIEmbedder


@pytest.fixture(scope="module")
def local():
    return LocalEmbedder()


def test_local_vectors_are_normalised_and_meaningful(local):
    vectors = local.embed_documents(
        ["I prefer meetings in the morning", "Mornings suit me best for calls", "The invoice for ACME is overdue"]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_query_embeddings_are_memoised(local):
    first = local.embed_query("when do I like meetings?")
    assert local.embed_query("when do I like meetings?") is first
    assert np.allclose(first, local.embed_documents(["when do I like meetings?"])[0], atol=1e-5)


class _FakeEmbeddings(BaseHTTPRequestHandler):
    dimension = 8
    calls: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append((self.path, self.headers.get("Authorization"), body))
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t))] + [1.0] * (self.dimension - 1)}
            for i, t in reversed(list(enumerate(inputs)))
        ]  # out of order on purpose
        payload = json.dumps(
            {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3}}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEmbeddings)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _FakeEmbeddings.calls = []
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_openai_compatible_endpoint(fake_endpoint):
    embedder = OpenAIEmbedder(fake_endpoint, "sk-test", "text-embedding-3-small", 8, timeout=5)
    vectors = embedder.embed_documents(["a", "abcd"])
    assert vectors.shape == (2, 8)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0][0] < vectors[1][0]  # order restored from `index`
    path, auth, body = _FakeEmbeddings.calls[0]
    assert path == "/v1/embeddings" and auth == "Bearer sk-test" and body["model"] == "text-embedding-3-small"


def test_a_dimension_mismatch_says_to_reindex(fake_endpoint):
    embedder = OpenAIEmbedder(fake_endpoint, None, "m", 1536, timeout=5)
    with pytest.raises(EmbeddingError, match="steward reindex"):
        embedder.embed_documents(["x"])

"""The memory gateway on other backends and under failure: the Qdrant server adapter with Redis,
Qdrant down (recall degrades to full-text and says so), Postgres down (503), and `reindex`
restoring vector recall after the Qdrant data is deleted."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from psycopg_pool import ConnectionPool
from werkzeug.serving import make_server

from steward.app import create_app
from steward.core import db as core_db
from steward.core.cache import RedisCache, open_cache
from steward.core.reindex import rebuild
from steward.core.runtime import Runtime
from steward.core.vectors import COLLECTIONS, VectorFilter
from support import Api, make_settings

M = "/api/v1/memory"
REDIS_URL = "redis://127.0.0.1:6379/14"


@contextmanager
def serve(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.extensions["steward"].close()


def _exercise(api: Api, client_id: str) -> None:
    """The main routes, end to end, on whatever backends the app was built with."""
    made = api.post(
        f"{M}/remember", json={"client_id": client_id, "text": "Invoices are due on the 5th", "kind": "fact"}
    )
    assert made.status_code == 201 and made.json()["indexed"] is True, made.text
    hits = api.get(f"{M}/recall", params={"client_id": client_id, "q": "when must bills be paid?"}).json()
    assert hits["degraded"] is False and hits["hits"][0]["id"] == made.json()["id"]
    assert "vector" in hits["hits"][0]["matched_by"]
    again = api.get(f"{M}/recall", params={"client_id": client_id, "q": "when must bills be paid?"}).json()
    assert again["cached"] is True
    doc = api.post(f"{M}/docs", json={"client_id": client_id, "text": "## Billing\nInvoices go out on the 1st."})
    assert doc.status_code == 201, doc.text
    found = api.get(f"{M}/search/docs", params={"client_id": client_id, "q": "when are invoices sent"}).json()
    assert found["hits"][0]["heading"] == "Billing" and "vector" in found["hits"][0]["matched_by"]
    first = api.post(
        "/api/v1/events",
        json={"event_type": "invoice_sent", "event_source": "n8n", "client_id": client_id, "payload": {"to": "ACME"}},
    ).json()
    second = api.post(
        "/api/v1/events",
        json={"event_type": "invoice_sent", "event_source": "n8n", "client_id": client_id, "payload": {"to": "Globex"}},
    ).json()
    similar = api.get(f"{M}/similar/events", params={"client_id": client_id, "event_id": first["id"]}).json()
    assert [h["id"] for h in similar["hits"]] == [second["id"]] and similar["degraded"] is False


def test_server_adapter_with_redis_cache(database_url, tmp_path, keys, client_id):
    from qdrant_client import QdrantClient

    from steward.core.vectors.server import QdrantServerStore

    cache = open_cache(REDIS_URL)
    if not cache.healthy():
        pytest.skip("Redis is not running at 127.0.0.1:6379")
    settings = make_settings(database_url, tmp_path, steward_services="memory,events")
    store = QdrantServerStore("all-MiniLM-L6-v2", 384, url=":memory:", client=QdrantClient(":memory:"))
    for name in COLLECTIONS:
        store.ensure_collection(name)
    runtime = Runtime(settings=settings, pool=core_db.open_pool(database_url, 4), cache=cache, _vectors=store)
    assert isinstance(runtime.cache, RedisCache)
    with serve(create_app(settings, runtime=runtime)) as url:
        _exercise(Api(url, keys.write), client_id)


def test_edge_store_end_to_end(api, client_id):
    _exercise(api, client_id)


def test_qdrant_down_degrades_to_full_text_and_says_so(database_url, tmp_path, keys, client_id, app, api):
    settings = make_settings(database_url, tmp_path, qdrant_url="http://127.0.0.1:9", steward_services="memory,events")
    with serve(create_app(settings)) as url:
        down = Api(url, keys.write)
        made = down.post(f"{M}/remember", json={"client_id": client_id, "text": "Gym membership renews in June"})
        assert made.status_code == 201 and made.json()["indexed"] is False, made.text
        recall = down.get(f"{M}/recall", params={"client_id": client_id, "q": "when does the gym membership renew?"})
        body = recall.json()
        assert recall.status_code == 200 and body["degraded"] is True
        assert "full-text" in body["degraded_reason"]
        assert body["hits"][0]["id"] == made.json()["id"] and body["hits"][0]["matched_by"] == ["text"]
        doc = down.post(f"{M}/docs", json={"client_id": client_id, "text": "The gym opens at six."})
        assert doc.status_code == 201 and doc.json()["indexed"] is False
        docs = down.get(f"{M}/search/docs", params={"client_id": client_id, "q": "gym opens"}).json()
        assert docs["degraded"] is True and docs["hits"][0]["text"] == "The gym opens at six."
        event = down.post(
            "/api/v1/events",
            json={"event_type": "gym_visit", "event_source": "n8n", "client_id": client_id, "payload": {}},
        )
        assert event.status_code == 201  # the event log never refuses an event for Qdrant's sake
        similar = down.get(f"{M}/similar/events", params={"client_id": client_id, "event_id": event.json()["id"]})
        assert similar.status_code == 200 and similar.json()["degraded"] is True

    # Qdrant is back (the session's Edge store): compaction writes the vectors that were missing.
    assert api.post(f"{M}/compact", json={"client_id": client_id}).json()["reindexed"] == 1
    back = api.get(f"{M}/recall", params={"client_id": client_id, "q": "when does the gym membership renew?"}).json()
    assert back["degraded"] is False and "vector" in back["hits"][0]["matched_by"]


def test_postgres_down_is_a_503(tmp_path, keys, client_id):
    settings = make_settings("postgresql://postgres@127.0.0.1:9/steward", tmp_path)
    pool = ConnectionPool(
        "postgresql://postgres@127.0.0.1:9/steward",
        min_size=1,
        max_size=2,
        timeout=1,
        open=False,
        kwargs={"connect_timeout": 1},
    )
    pool.open(wait=False)
    runtime = Runtime(settings=settings, pool=pool, cache=open_cache(None))
    with serve(create_app(settings, runtime=runtime)) as url:
        down = Api(url, keys.write)
        for resp in (
            down.post(f"{M}/remember", json={"client_id": client_id, "text": "x"}),
            down.get(f"{M}/recall", params={"client_id": client_id, "q": "x"}),
        ):
            assert resp.status_code == 503 and resp.json()["error"]["code"] == "database_unavailable"


def test_reindex_restores_recall_after_qdrant_data_is_deleted(app, api, client_id):
    rt = app.extensions["steward"]
    memory = api.post(f"{M}/remember", json={"client_id": client_id, "text": "The spare key is under the blue pot"})
    reflection = api.post(
        f"{M}/remember",
        json={"client_id": client_id, "kind": "reflection", "text": "A calm day; finished the tax forms"},
    )
    api.post(f"{M}/docs", json={"client_id": client_id, "text": "Alarm code instructions: press 1234 then #."})
    api.post("/api/v1/events", json={"event_type": "door_opened", "event_source": "n8n", "client_id": client_id})
    question = {"client_id": client_id, "q": "where can I find the extra key?"}
    assert "vector" in api.get(f"{M}/recall", params=question).json()["hits"][0]["matched_by"]

    for name in COLLECTIONS:  # the Qdrant data is lost
        rt.vectors.drop_collection(name)
        rt.vectors.ensure_collection(name)
    lost = api.get(f"{M}/recall", params={**question, "k": 5}).json()
    assert all("vector" not in h["matched_by"] for h in lost["hits"])

    progress: list[tuple[str, int, int]] = []
    written = rebuild(rt, progress=lambda c, done, total: progress.append((c, done, total)))
    assert written == {"doc_chunks": 1, "events": 1, "agent_memories": 1, "daily_threads": 1}
    assert ("agent_memories", 1, 1) in progress
    assert rt.vectors.count("agent_memories", VectorFilter(client_id=client_id)) == 1
    api.post(f"{M}/remember", json={"client_id": client_id, "text": "unrelated write to refresh the cache"})
    restored = api.get(f"{M}/recall", params=question).json()["hits"][0]
    assert restored["id"] == memory.json()["id"] and "vector" in restored["matched_by"]
    calm = api.get(f"{M}/recall", params={"client_id": client_id, "q": "how was the day?", "kinds": "reflection"})
    assert calm.json()["hits"][0]["id"] == reflection.json()["id"]

"""Redis stops mid-run: requests still succeed with the cache bypassed, /health/ready says the cache
is degraded (still 200: Redis holds only what may be lost), the per-chat rate limit keeps working in
process, and when Redis returns the cache is used again without serving anything stale.

A private redis-server with append-only persistence (as compose runs Valkey) is SIGKILLed and
restarted on the same port; a restart is warm, so it comes back holding the entries from before
the outage, which is what makes stale results possible.
"""

from __future__ import annotations

import time

import pytest
import redis as redis_client
from chat_helpers import Chat
from fault_helpers import PrivateRedis, serve

from fakes.openai_server import FakeOpenAI
from steward.app import create_app
from support import Api, make_settings

M = "/api/v1/memory"


@pytest.fixture
def redis(tmp_path):
    with PrivateRedis(tmp_path / "redis") as server:
        yield server


def _ready(api: Api) -> tuple[int, dict]:
    resp = api.get("/health/ready")
    return resp.status_code, resp.json()


@pytest.fixture(scope="module")
def embeddings():
    with FakeOpenAI(dimension=384) as fake:  # no model to load
        yield fake


def test_redis_outage_bypasses_the_cache_and_the_cache_recovers(
    redis, database_url, tmp_path, keys, db, client_id, embeddings
):
    settings = make_settings(
        database_url,
        tmp_path / "data",
        redis_url=redis.url,
        steward_services="memory,events,chat",
        embeddings_base_url=embeddings.url,
        embeddings_model="fake-384",
        embeddings_dimension=384,
    )
    question = {"client_id": client_id, "q": "when is the boiler serviced?"}
    with serve(create_app(settings)) as url:
        api = Api(url, keys.write)
        first = api.post(f"{M}/remember", json={"client_id": client_id, "text": "The boiler is serviced in March"})
        assert first.status_code == 201, first.text
        assert api.get(f"{M}/recall", params=question).json()["cached"] is False
        assert api.get(f"{M}/recall", params=question).json()["cached"] is True  # Redis serves it
        assert _ready(api)[1]["dependencies"]["cache"] == {"status": "up", "backend": "redis", "detail": ""}

        redis.kill()
        started = time.monotonic()
        during = api.get(f"{M}/recall", params=question)
        assert during.status_code == 200 and during.json()["cached"] is False
        assert during.json()["hits"][0]["id"] == first.json()["id"]
        second = api.post(
            f"{M}/remember",
            json={"client_id": client_id, "text": "The boiler service moved: it is serviced in April"},
        )
        assert second.status_code == 201, second.text
        event = api.post("/api/v1/events", json={"event_type": "t", "event_source": "n8n", "client_id": client_id})
        assert event.status_code == 201, event.text
        hits = api.get(f"{M}/recall", params=question).json()
        assert hits["cached"] is False and second.json()["id"] in {h["id"] for h in hits["hits"]}
        assert time.monotonic() - started < 10, "an outage must not make every request wait on Redis"

        status, body = _ready(api)
        assert status == 200 and body["status"] == "degraded"
        assert body["dependencies"]["cache"]["status"] == "degraded"
        assert "bypass" in body["dependencies"]["cache"]["detail"]

        redis.start()  # warm: the pre-outage entries are back
        deadline = time.monotonic() + 10
        while _ready(api)[1]["dependencies"]["cache"]["status"] != "up":
            assert time.monotonic() < deadline, "the cache never came back up"
            time.sleep(0.1)
        after = api.get(f"{M}/recall", params=question).json()
        assert second.json()["id"] in {h["id"] for h in after["hits"]}, "a pre-outage result was served stale"
        again = api.get(f"{M}/recall", params=question).json()
        assert again["cached"] is True and again["hits"] == after["hits"]  # the cache is used again
        status, body = _ready(api)
        assert status == 200 and body["status"] == "ready"

    stored = db.execute("SELECT id::text FROM memories WHERE client_id = %s", (client_id,)).fetchall()
    assert {r["id"] for r in stored} == {first.json()["id"], second.json()["id"]}


def test_the_chat_rate_limit_holds_in_process_while_redis_is_down(redis, database_url, tmp_path, keys):
    settings = make_settings(
        database_url, tmp_path / "data", redis_url=redis.url, steward_services="chat", chat_rate_limit="3/minute"
    )
    with serve(create_app(settings)) as url:
        chat = Chat(Api(url, keys.write))
        assert chat.send("/help").status_code == 200
        redis.kill()
        answers = [chat.send("/help") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429], [r.text[:200] for r in answers]
        limited = answers[-1]
        assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0
        other = Chat(Api(url, keys.write))
        assert other.send("/help").status_code == 200  # another chat is not limited
        redis.start()  # flask-limiter re-checks the storage with a backoff, then counts in Redis again
        client = redis_client.Redis.from_url(redis.url)
        client.delete(*client.keys("*steward-chat*") or ["none"])
        deadline = time.monotonic() + 15
        while not client.keys("*steward-chat*"):
            assert time.monotonic() < deadline, "the limiter never went back to Redis"
            assert Chat(Api(url, keys.write)).send("/help").status_code == 200
            time.sleep(0.2)

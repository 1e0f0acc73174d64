"""Idempotency-Key: a repeat returns the first response and writes nothing new."""

from concurrent.futures import ThreadPoolExecutor

BODY = {"event_type": "task_created", "event_source": "n8n", "client_id": "idem"}


def _count(db):
    return db.execute("SELECT count(*) AS n FROM events").fetchone()["n"]


def test_a_repeat_returns_the_first_response_and_writes_nothing(api, db):
    first = api.post("/api/v1/events", json=BODY, headers={"Idempotency-Key": "exec-1-item-0"})
    again = api.post("/api/v1/events", json=BODY, headers={"Idempotency-Key": "exec-1-item-0"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert _count(db) == 1


def test_without_a_key_each_post_writes(api, db):
    api.post("/api/v1/events", json=BODY)
    api.post("/api/v1/events", json=BODY)
    assert _count(db) == 2


def test_the_same_key_with_another_body_is_refused(api, db):
    api.post("/api/v1/events", json=BODY, headers={"Idempotency-Key": "k2"})
    resp = api.post("/api/v1/events", json={**BODY, "event_type": "other"}, headers={"Idempotency-Key": "k2"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "idempotency_key_reused"
    assert _count(db) == 1


def test_a_failed_request_is_not_remembered(api, db):
    bad = api.post("/api/v1/events", json={**BODY, "client_id": ""}, headers={"Idempotency-Key": "k3"})
    assert bad.status_code == 400
    good = api.post("/api/v1/events", json={**BODY, "client_id": ""}, headers={"Idempotency-Key": "k3"})
    assert good.status_code == 400  # validated again, not replayed from a stored failure
    assert db.execute("SELECT count(*) AS n FROM idempotency_keys").fetchone()["n"] == 0


def test_concurrent_repeats_write_once(api, db):
    def send(_):
        return api.post("/api/v1/events", json=BODY, headers={"Idempotency-Key": "race"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(send, range(16)))
    assert {r.status_code for r in responses} <= {201, 409}
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    assert _count(db) == 1


def test_keys_are_scoped_per_api_key(live_server, db):
    writer = live_server.api("write")
    admin = live_server.api("admin")
    writer.post("/api/v1/events", json=BODY, headers={"Idempotency-Key": "shared"})
    admin.post("/api/v1/events", json=BODY, headers={"Idempotency-Key": "shared"})
    assert _count(db) == 2


def test_an_overlong_key_is_refused(api, db):
    resp = api.post("/api/v1/events", json=BODY, headers={"Idempotency-Key": "x" * 300})
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == "Idempotency-Key"
    assert _count(db) == 0

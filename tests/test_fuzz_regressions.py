"""What the schemathesis fuzzing (test_fuzz_api.py) found, pinned as plain tests: each input once
broke the HTTP contract (a 500, an input the document refuses but the API took, or a status the
document did not list); now each is a 4xx naming the field, writes nothing, and is documented."""

from __future__ import annotations

from datetime import datetime

import pytest

VALID_EVENT = {"event_type": "t", "event_source": "s", "client_id": "c"}


def _refused(resp, field: str) -> None:
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [d["field"] for d in error["details"]], error


def _rows(db, table: str) -> int:
    return db.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]


def test_unix_seconds_past_year_9999_are_refused_not_a_500(api, db):
    # Was 500: datetime.fromtimestamp(1e20) raises OverflowError, which pydantic does not catch.
    for date in (1e20, -1, float("1e300")):
        resp = api.post("/api/v1/chat/message", json={"chat_id": 5, "message_id": 1, "text": "hi", "date": date})
        _refused(resp, "date")
    assert _rows(db, "chat_updates") == 0


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        # Pydantic read a number as Unix seconds: these were 200/201 about 1970-01-01.
        ("GET", "/api/v1/events", {"params": {"until": "0.5"}}, "until"),
        ("GET", "/api/v1/llm/usage", {"params": {"until": "0.5"}}, "until"),
        ("GET", "/api/v1/memory/facts", {"params": {"client_id": "c", "as_of": "536870913"}}, "as_of"),
        ("POST", "/api/v1/events", {"json": {**VALID_EVENT, "occurred_at": 0}}, "occurred_at"),
        ("POST", "/api/v1/observer/reflect?mode=daily", {"json": {"client_id": "c", "date": 0}}, "date"),
        (
            "POST",
            "/api/v1/scheduler/daily-plan",
            {
                "json": {
                    "client_id": "c",
                    "blocks": [{"task_id": "t", "start": 0, "end": "2026-11-21T10:00:00Z"}],
                }
            },
            "blocks.0.start",
        ),
    ],
)
def test_a_number_is_not_a_time(api, db, method, path, kwargs, field):
    _refused(api.request(method, path, **kwargs), field)
    assert _rows(db, "events") == _rows(db, "reflections") == _rows(db, "scheduler_runs") == 0


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # Was 500: psycopg cannot encode a lone surrogate (JSON may escape one) as UTF-8.
        ("/api/v1/sync/todoist/reconcile", {"client_id": "c", "items": [{"id": "\ud800"}]}, "items.0.id"),
        ("/api/v1/events", {**VALID_EVENT, "payload": {"note": "a\udfffb"}}, "payload.note"),
        ("/api/v1/memory/remember", {"client_id": "c", "text": "x\ud83d"}, "text"),
    ],
)
def test_a_lone_surrogate_is_refused_not_a_500(api, db, path, body, field):
    _refused(api.post(path, json=body), field)
    assert _rows(db, "events") == _rows(db, "memories") == _rows(db, "todoist_reconciliations") == 0


def test_an_empty_list_entry_in_a_query_is_refused(api):
    # Was 200: `kinds=` dropped the empty entry and recalled every kind.
    resp = api.get("/api/v1/memory/recall", params={"client_id": "c", "q": "milk", "kinds": ""})
    _refused(resp, "kinds.0")
    resp = api.get("/api/v1/memory/recall", params={"client_id": "c", "q": "milk", "kinds": "note,,fact"})
    _refused(resp, "kinds.1")
    assert api.get("/api/v1/memory/recall", params={"client_id": "c", "q": "milk", "kinds": "note,fact"}).ok


def test_the_document_lists_every_status_a_route_answers(live_server):
    doc = live_server.api(None).get("/openapi.json").json()

    def statuses(path: str, method: str) -> set[str]:
        return set(doc["paths"][path][method]["responses"])

    # Every write: Idempotency-Key in progress (409) or reused (422), a body over the limit, the database down.
    assert {"201", "400", "401", "403", "409", "413", "422", "429", "503"} <= statuses("/api/v1/events", "post")
    # Alternative successes: a duplicate or an update answers 200 with the same body.
    remember = doc["paths"]["/api/v1/memory/remember"]["post"]["responses"]
    assert remember["200"]["content"] == remember["201"]["content"]
    assert {"200", "201", "404"} <= statuses("/api/v1/memory/remember", "post")
    # Ids named in a body or a query: 404 although the path has no parameter.
    assert "404" in statuses("/api/v1/memory/graph/edges", "post")
    assert "404" in statuses("/api/v1/memory/graph/neighbors", "get")
    assert "404" in statuses("/api/v1/scheduler/daily-plan", "get")
    assert {"404", "409"} <= statuses("/api/v1/sync/todoist/ack", "post")
    # The LLM's failures where an answer needs it; the readiness probe's 503 is its own body, not an error.
    assert {"422", "502", "503"} <= statuses("/api/v1/planner/plan", "post")
    ready = doc["paths"]["/health/ready"]["get"]["responses"]["503"]
    assert ready["content"]["application/json"]["schema"]["$ref"].endswith("/ReadyOut")
    # A query string cannot carry null: optional parameters are documented without a null branch.
    for op in (doc["paths"][p][m] for p in doc["paths"] for m in doc["paths"][p]):
        for param in op["parameters"]:
            if param["in"] == "query":
                assert {"type": "null"} not in param["schema"].get("anyOf", []), param


def test_a_task_listed_twice_in_a_reconcile_snapshot_is_imported_once(api, db):
    # Was 500: the second copy hit the unique (client_id, kind, todoist_id) link.
    body = {"client_id": "c", "items": [{"id": "0", "content": "Buy milk"}, {"id": "0", "content": "Buy milk"}]}
    resp = api.post("/api/v1/sync/todoist/reconcile", json=body)
    assert resp.status_code == 200, resp.text
    assert db.execute("SELECT count(*) AS n FROM todoist_links WHERE todoist_id = '0'").fetchone()["n"] == 1


def test_times_in_a_plain_dict_answer_are_iso_8601(api):
    # Found once the fuzz database kept rows between operations: /status returned its last
    # reconciliation straight from the row, and Flask wrote the time as "Sat, 21 Nov 2026 ... GMT".
    assert api.post("/api/v1/sync/todoist/reconcile", json={"client_id": "c", "items": []}).status_code == 200
    resp = api.get("/api/v1/sync/todoist/status", params={"client_id": "c"})
    assert resp.status_code == 200, resp.text
    at = resp.json()["last_reconciliation"]["at"]
    assert datetime.fromisoformat(at).utcoffset() is not None, at


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # Was 201: pydantic reads 0/1 and "yes"/"no" as booleans; the document says true or false.
        (
            "/api/v1/memory/facts",
            {"client_id": "c", "subject": "s", "predicate": "p", "object": "o", "single_valued": 0},
            "single_valued",
        ),
        ("/api/v1/memory/compact", {"client_id": "c", "dry_run": "yes"}, "dry_run"),
    ],
)
def test_a_boolean_is_true_or_false(api, db, path, body, field):
    _refused(api.post(path, json=body), field)
    assert _rows(db, "facts") == _rows(db, "memories") == 0


def test_a_telegram_id_is_a_json_number(api, db):
    # Was 200: pydantic read `false` as chat 0 and "12" as chat 12.
    for chat_id in (False, "12", 12.0):
        resp = api.post("/api/v1/chat/message", json={"chat_id": chat_id, "message_id": 1, "text": "hi"})
        _refused(resp, "chat_id")
    _refused(api.post("/api/v1/chat/message", json={"chat_id": 12, "message_id": True, "text": "hi"}), "message_id")
    assert _rows(db, "chat_updates") == 0

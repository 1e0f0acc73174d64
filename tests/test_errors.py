"""Every error path answers with the JSON envelope, a 4xx, and writes nothing."""

import pytest


def _envelope(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert "Traceback" not in resp.text
    return body["error"]


def _count(db):
    return db.execute("SELECT count(*) AS n FROM events").fetchone()["n"]


VALID = {"event_type": "t", "event_source": "s", "client_id": "c"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**VALID, "event_type": 5}, "event_type"),
        ({**VALID, "payload": "not-an-object"}, "payload"),
        ({**VALID, "surprise": 1}, "surprise"),
        ({"event_source": "s", "client_id": "c"}, "event_type"),
        ({**VALID, "occurred_at": "yesterday"}, "occurred_at"),
        ({**VALID, "occurred_at": "2026-11-21T09:00:00"}, "occurred_at"),  # no offset
        ({**VALID, "client_id": ""}, "client_id"),
        ({**VALID, "payload": {"deep": ["ok", "bad\u0000"]}}, "payload.deep.1"),
    ],
)
def test_invalid_fields_are_named(api, db, body, field):
    error = _envelope(api.post("/api/v1/events", json=body), 400, "validation_error")
    assert field in [d["field"] for d in error["details"]]
    assert _count(db) == 0


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b'"string"'])
def test_malformed_or_non_object_json(api, db, raw):
    resp = api.post("/api/v1/events", data=raw, headers={"Content-Type": "application/json"})
    error = _envelope(resp, 400, "validation_error")
    assert error["details"][0]["field"] == "body"
    assert _count(db) == 0


def test_body_over_the_limit_is_413(api, settings, db):
    big = {**VALID, "payload": {"x": "a" * (settings.steward_max_body_bytes + 10)}}
    error = _envelope(api.post("/api/v1/events", json=big), 413, "payload_too_large")
    assert "limit" in error["message"]
    assert _count(db) == 0


def test_unknown_route_is_404(api):
    _envelope(api.get("/api/v1/nowhere"), 404, "not_found")


def test_wrong_method_is_405_with_allow_header(api):
    resp = api.delete("/api/v1/events")
    _envelope(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"since": "not-a-date"}, "since"),
        ({"since": "2026-11-21T10:00:00Z", "until": "2026-11-20T10:00:00Z"}, "until"),
        ({"cursor": "garbage"}, "cursor"),
        ({"unknown": "x"}, "unknown"),
    ],
)
def test_bad_query_parameters_are_named(api, params, field):
    error = _envelope(api.get("/api/v1/events", params=params), 400, "validation_error")
    assert field in [d["field"] for d in error["details"]]

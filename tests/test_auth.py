"""Keys and scopes on every route: the URL map is walked, so a new route cannot forget auth."""

import re

import pytest

from steward.core import auth
from steward.core.api import spec_of

PUBLIC = {"/health/live", "/health/ready", "/openapi.json"}


def _concrete(rule: str) -> str:
    """A URL for a rule, with path arguments filled by plausible values."""
    return re.sub(r"<(?:uuid:)?[^>]+>", "00000000-0000-4000-8000-000000000000", rule)


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_declared_with_a_scope_or_as_public(app):
    for rule, _ in _routes(app):
        spec = spec_of(app.view_functions[rule.endpoint])
        assert spec is not None, f"{rule.rule} is not declared with steward.core.api.endpoint"
        assert (spec.scope is None) == (rule.rule in PUBLIC), f"{rule.rule}: unexpected scope {spec.scope}"


def test_every_non_public_route_needs_a_key(app, live_server):
    anonymous = live_server.api(None)
    for rule, method in _routes(app):
        if rule.rule in PUBLIC:
            continue
        resp = anonymous.request(method, _concrete(rule.rule), json={})
        assert resp.status_code == 401, f"{method} {rule.rule} answered {resp.status_code} without a key"
        assert resp.json()["error"]["code"] == "unauthorized"


def test_a_read_key_cannot_write_anywhere(app, live_server):
    reader = live_server.api("read")
    for rule, method in _routes(app):
        spec = spec_of(app.view_functions[rule.endpoint])
        if spec.scope in ("write", "admin"):
            resp = reader.request(method, _concrete(rule.rule), json={})
            assert resp.status_code == 403, f"{method} {rule.rule} let a read key through ({resp.status_code})"
            assert "scope" in resp.json()["error"]["message"]


def test_public_routes_need_no_key(live_server):
    anonymous = live_server.api(None)
    for path in PUBLIC:
        assert anonymous.get(path).status_code in (200, 503), path


def test_bearer_header_works_like_x_api_key(live_server, keys):
    resp = live_server.api(None).get("/api/v1/events", headers={"Authorization": f"Bearer {keys.read}"})
    assert resp.status_code == 200


@pytest.mark.parametrize("bad", ["nonsense", "stw_deadbeef_wrong", "stw__", "Bearer"])
def test_a_bad_key_is_refused(live_server, bad):
    resp = live_server.api(bad).get("/api/v1/events")
    assert resp.status_code == 401
    assert resp.json()["error"]["message"] == "invalid or revoked API key"


def test_a_revoked_key_stops_working(live_server, database_url):
    import psycopg

    with psycopg.connect(database_url) as conn:
        key_id, plaintext = auth.create_key(conn, "short-lived", ["read"])
    client = live_server.api(plaintext)
    assert client.get("/api/v1/events").status_code == 200
    with psycopg.connect(database_url) as conn:
        assert auth.revoke_key(conn, key_id)
    assert client.get("/api/v1/events").status_code == 401


def test_keys_are_stored_hashed(db, keys):
    stored = [r["key_hash"] for r in db.execute("SELECT key_hash FROM api_keys")]
    assert keys.write not in stored and all(len(h) == 64 for h in stored)


def test_unknown_scope_is_refused(database_url):
    import psycopg

    with psycopg.connect(database_url) as conn, pytest.raises(ValueError, match="unknown scope"):
        auth.create_key(conn, "x", ["superuser"])

"""Health, readiness per dependency, Prometheus metrics and the OpenAPI document."""

from steward.app import create_app
from support import create_database, drop_database, make_settings


def test_live_is_open_and_ok(live_server):
    resp = live_server.api(None).get("/health/live")
    assert resp.status_code == 200 and resp.json() == {"status": "ok"}


def test_ready_reports_each_dependency(live_server):
    resp = live_server.api(None).get("/health/ready")
    assert resp.status_code == 200, resp.text
    deps = resp.json()["dependencies"]
    assert deps["database"]["status"] == "up" and "schema version" in deps["database"]["detail"]
    assert deps["vectors"] == {"status": "up", "backend": "qdrant-edge", "detail": ""}
    assert deps["cache"]["status"] == "up"
    assert deps["llm"]["status"] == "disabled"


def test_ready_is_503_naming_the_database_when_it_is_behind(admin_pg_url, tmp_path):
    url = create_database(admin_pg_url)  # never migrated
    try:
        app = create_app(make_settings(url, tmp_path))
        resp = app.test_client().get("/health/ready")
        assert resp.status_code == 503
        body = resp.get_json()
        assert body["status"] == "not_ready"
        assert body["dependencies"]["database"]["status"] == "down"
        assert "steward migrate" in body["dependencies"]["database"]["detail"]
        app.extensions["steward"].close()
    finally:
        drop_database(admin_pg_url, url)


def test_ready_is_503_when_the_database_goes_away(admin_pg_url, tmp_path):
    from steward.core import migrations

    url = create_database(admin_pg_url)
    migrations.migrate(url)
    app = create_app(make_settings(url, tmp_path))
    client = app.test_client()
    assert client.get("/health/ready").status_code == 200
    drop_database(admin_pg_url, url)  # terminates the pool's connections too
    resp = client.get("/health/ready")
    assert resp.status_code == 503
    assert resp.get_json()["dependencies"]["database"]["status"] == "down"
    app.extensions["steward"].close()


def test_metrics_count_requests_by_route_and_status(live_server):
    api = live_server.api("read")
    api.get("/api/v1/events")
    api.get("/api/v1/events", params={"limit": "0"})
    text = api.get("/metrics").text
    assert 'steward_http_requests_total{method="GET",route="/api/v1/events",status="200"}' in text
    assert 'steward_http_requests_total{method="GET",route="/api/v1/events",status="400"}' in text
    assert "steward_http_request_duration_seconds_bucket" in text


def test_openapi_lists_every_route_with_schemas(app, live_server):
    doc = live_server.api(None).get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule
        for conv in ("<uuid:", "<int:", "<path:", "<"):
            path = path.replace(conv, "{")
        path = path.replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, f"{method} {rule.rule} missing from /openapi.json"
    post = doc["paths"]["/api/v1/events"]["post"]
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    event_in = doc["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert {"event_type", "event_source", "client_id"} <= set(event_in["required"])
    assert event_in["additionalProperties"] is False
    assert post["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/EventOut")
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    get = doc["paths"]["/api/v1/events"]["get"]
    assert {"client_id", "limit", "cursor"} <= {p["name"] for p in get["parameters"]}


def test_openapi_document_is_valid_openapi(live_server):
    from openapi_spec_validator import validate

    validate(live_server.api(None).get("/openapi.json").json())


def test_a_commit_failure_is_a_503_not_a_false_success(api, db):
    # A deferred constraint fails only at COMMIT: the client must not be told the write happened.
    db.execute("""CREATE OR REPLACE FUNCTION reject_marked() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN IF NEW.event_type = 'fail_on_commit' THEN RAISE EXCEPTION 'refused'; END IF;
                  RETURN NEW; END $$""")
    db.execute("""CREATE CONSTRAINT TRIGGER reject_marked AFTER INSERT ON events
                  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION reject_marked()""")
    try:
        resp = api.post("/api/v1/events", json={"event_type": "fail_on_commit", "event_source": "t", "client_id": "c"})
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "database_unavailable"
        assert db.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 0
    finally:
        db.execute("DROP TRIGGER reject_marked ON events")
        db.execute("DROP FUNCTION reject_marked()")

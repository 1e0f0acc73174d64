"""The scheduler over real HTTP against real Postgres: rules, storage, diff, daily plan, .ics, auth."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from test_scheduler_reschedule import check_reschedule
from test_scheduler_rules import check_rules, scenarios

BASE = "/api/v1/scheduler"
MONDAY = "2026-06-01T08:00:00+02:00"
WEEK = {
    d: [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri")
}
OVER_HTTP = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)


def body(client_id: str, **changes) -> dict:
    base = {
        "client_id": client_id,
        "timezone": "Europe/Berlin",
        "now": MONDAY,
        "horizon_days": 5,
        "working_hours": WEEK,
        "buffer_minutes": 10,
        "workload_limit_minutes": 480,
        "busy": [
            {
                "start": "2026-06-01T09:00:00+02:00",
                "end": "2026-06-01T09:30:00+02:00",
                "title": "Standup",
                "id": "evt-1",
            }
        ],
        "tasks": [
            {"id": "T-1", "title": "Write report", "duration_minutes": 150, "priority": "p1", "max_chunk_minutes": 90},
            {"id": "T-2", "title": "Review", "duration_minutes": 45, "depends_on": ["T-1"]},
            {
                "id": "T-3",
                "title": "Visa form",
                "duration_minutes": 30,
                "priority": "p4",
                "deadline": "2026-06-01T12:00:00+02:00",
                "deadline_type": "hard",
            },
        ],
    }
    base.update(changes)
    return base


def runs(db, client_id: str) -> list[dict]:
    return db.execute("SELECT * FROM scheduler_runs WHERE client_id = %s ORDER BY created_at", (client_id,)).fetchall()


def test_schedule_over_http_keeps_the_rules_and_stores_the_run(api, db, client_id):
    request = body(client_id)
    resp = api.post(f"{BASE}/schedule", json=request)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["meta"]["service"] == "scheduler"
    check_rules(request, data)
    assert [b["task_id"] for b in data["blocks"]] == ["T-3", "T-1", "T-1", "T-2"]
    assert "steward:task_id=T-1" in data["blocks"][1]["description"]
    (row,) = runs(db, client_id)
    assert str(row["id"]) == data["run_id"] and row["kind"] == "schedule"
    assert row["result"]["blocks"] == data["blocks"]
    assert row["request"]["options"]["timezone"] == "Europe/Berlin" and len(row["request"]["tasks"]) == 3


@OVER_HTTP
@given(request_data=scenarios(max_tasks=8), data=st.data())
def test_generated_schedules_and_reschedules_over_http_keep_every_rule(live_server, request_data, data):
    """Done-when: schedules and reschedules over HTTP satisfy every rule on generated inputs."""
    api = live_server.api("write")
    request = {**request_data, "client_id": f"gen-{uuid.uuid4().hex[:8]}"}
    resp = api.post(f"{BASE}/schedule", json=request)
    if resp.status_code == 422:  # a generated contradiction (pins, chunks): refused, field named
        assert resp.json()["error"]["details"][0]["field"].startswith("tasks.")
        return
    assert resp.status_code == 200, resp.text
    first = resp.json()
    check_rules(request, first)
    blocks = first["blocks"]
    now = data.draw(st.sampled_from([request["now"]] + [b["start"] for b in blocks] + [b["end"] for b in blocks]))
    done = data.draw(st.lists(st.sampled_from([t["id"] for t in request["tasks"]]), unique=True, max_size=2))
    slipped = (
        data.draw(st.lists(st.sampled_from([b["key"] for b in blocks]), unique=True, max_size=2)) if blocks else []
    )
    again = api.post(
        f"{BASE}/reschedule",
        json={
            "client_id": request["client_id"],
            "scheduler_run_id": first["run_id"],
            "now": now,
            "done": done,
            "slipped": slipped,
        },
    )
    assert again.status_code == 200, again.text
    check_reschedule(request, blocks, now, done, slipped, request["busy"], again.json())


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(api, db, client_id):
    cyclic = body(
        client_id,
        tasks=[
            {"id": "a", "duration_minutes": 30, "depends_on": ["b"]},
            {"id": "b", "duration_minutes": 30, "depends_on": ["a"]},
        ],
    )
    resp = api.post(f"{BASE}/schedule", json=cyclic)
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"] == [{"field": "tasks.0.depends_on", "problem": "dependency cycle: a -> b -> a"}]
    bad_zone = api.post(f"{BASE}/schedule", json=body(client_id, timezone="Nowhere/Atlantis"))
    assert bad_zone.status_code == 400 and bad_zone.json()["error"]["details"][0]["field"] == "timezone"
    overlap = api.post(
        f"{BASE}/schedule",
        json=body(
            client_id, working_hours={"mon": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]}
        ),
    )
    assert overlap.status_code == 400 and overlap.json()["error"]["details"][0]["field"] == "working_hours.mon.1"
    inverted = api.post(
        f"{BASE}/schedule",
        json=body(client_id, busy=[{"start": "2026-06-01T10:00:00+02:00", "end": "2026-06-01T09:00:00+02:00"}]),
    )
    assert inverted.status_code == 400 and inverted.json()["error"]["details"][0]["field"] == "busy.0.end"
    assert runs(db, client_id) == []


def test_a_stored_plan_is_scheduled_step_by_step(api, db, client_id):
    plan_id = uuid.uuid4()
    sop = {
        "title": "Launch",
        "steps": [
            {"key": "draft", "title": "Draft the page", "estimate_minutes": 60, "depends_on": []},
            {"key": "review", "title": "Review", "estimate_minutes": 30, "depends_on": ["draft"]},
            {"key": "ship", "title": "Ship", "estimate_minutes": 0, "depends_on": ["review"]},
        ],
    }
    db.execute(
        "INSERT INTO plans (id, client_id, intent, title, sop) VALUES (%s, %s, 'launch', 'Launch', %s)",
        (plan_id, client_id, json.dumps(sop)),
    )
    resp = api.post(
        f"{BASE}/schedule",
        json={
            "client_id": client_id,
            "plan_id": str(plan_id),
            "now": MONDAY,
            "timezone": "Europe/Berlin",
            "working_hours": WEEK,
            "plan_defaults": {"priority": "p1", "deadline": "2026-06-03T17:00:00+02:00", "deadline_type": "hard"},
        },
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert [(b["task_id"], b["start"][11:16]) for b in data["blocks"]] == [
        ("draft", "09:00"),
        ("review", "10:00"),
        ("ship", "10:30"),
    ]
    assert [w["code"] for w in data["warnings"]] == ["estimate_assumed"]
    assert str(runs(db, client_id)[0]["plan_id"]) == str(plan_id)
    other = api.post(f"{BASE}/schedule", json={"client_id": "someone-else", "plan_id": str(plan_id)})
    assert other.status_code == 404


def test_reschedule_by_run_id_returns_only_what_changed(api, db, client_id):
    first = api.post(f"{BASE}/schedule", json=body(client_id)).json()
    keys = {b["task_id"]: b["key"] for b in first["blocks"]}
    resp = api.post(
        f"{BASE}/reschedule",
        json={
            "client_id": client_id,
            "scheduler_run_id": first["run_id"],
            "now": "2026-06-01T10:15:00+02:00",
            "done": ["T-3"],
            "busy": [{"start": "2026-06-01T13:00:00+02:00", "end": "2026-06-01T14:00:00+02:00", "title": "New call"}],
        },
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert data["parent_run_id"] == first["run_id"] and data["meta"]["service"] == "scheduler"
    diff = data["diff"]
    assert keys["T-3"] in [b["key"] for b in data["blocks"]]  # done and in the past: kept as history
    assert {m["key"] for m in diff["move"]} <= {b["key"] for b in first["blocks"]}
    assert all(b["start"] >= "2026-06-01T10:15" for b in diff["create"])
    latest = runs(db, client_id)[-1]
    assert latest["kind"] == "reschedule" and str(latest["parent_run_id"]) == first["run_id"]
    unknown = api.post(
        f"{BASE}/reschedule", json={"client_id": client_id, "scheduler_run_id": first["run_id"], "done": ["nope"]}
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["field"] == "done.0"
    missing = api.post(f"{BASE}/reschedule", json={"client_id": client_id, "scheduler_run_id": str(uuid.uuid4())})
    assert missing.status_code == 404


def test_daily_plan_get_reads_the_latest_run_and_post_refreshes_it(api, db, client_id):
    assert api.get(f"{BASE}/daily-plan", params={"client_id": client_id, "date": "2026-06-01"}).status_code == 404
    first = api.post(f"{BASE}/schedule", json=body(client_id)).json()
    resp = api.get(f"{BASE}/daily-plan", params={"client_id": client_id, "date": "2026-06-01"})
    assert resp.status_code == 200, resp.text
    day = resp.json()
    assert day["source_run_id"] == first["run_id"] and day["run_id"] is None
    assert day["meta"]["service"] == "scheduler" and day["parse_mode"] == "HTML"
    assert [(a["kind"], a["title"]) for a in day["agenda"]][:2] == [("event", "Standup"), ("block", "Visa form")]
    assert day["workload"]["busy_minutes"] == 30 and day["workload"]["limit_minutes"] == 480
    assert day["top_tasks"][0]["task_id"] == "T-1"
    assert "<b>Plan for Monday, 1 June</b>" in day["text"]
    assert len(runs(db, client_id)) == 1  # a GET writes nothing

    fresh = api.post(
        f"{BASE}/daily-plan",
        json={
            "client_id": client_id,
            "date": "2026-06-01",
            "now": "2026-06-01T12:30:00+02:00",
            "timezone": "Europe/Berlin",
            "working_hours": WEEK,
            "workload_limit_minutes": 300,
            "busy": [{"start": "2026-06-01T13:00:00+02:00", "end": "2026-06-01T14:00:00+02:00", "title": "Lunch talk"}],
            "tasks": [{"id": "X", "title": "Inbox zero", "duration_minutes": 45, "priority": "p2"}],
        },
    )
    assert fresh.status_code == 200, fresh.text
    refreshed = fresh.json()
    blocks = [a for a in refreshed["agenda"] if a["kind"] == "block"]
    assert [(b["title"], b["start"][11:16]) for b in blocks] == [("Inbox zero", "14:10")]
    assert refreshed["workload"]["task_minutes"] == 45 and refreshed["workload"]["limit_minutes"] == 300
    stored = runs(db, client_id)[-1]
    assert stored["kind"] == "daily_plan" and str(stored["id"]) == refreshed["run_id"]
    ics = api.get(f"{BASE}/runs/{refreshed['run_id']}.ics")
    assert ics.status_code == 200 and len(Calendar.from_ical(ics.content).walk("VEVENT")) == 1


def test_ics_export_of_a_run(live_server, api, client_id):
    first = api.post(f"{BASE}/schedule", json=body(client_id)).json()
    resp = live_server.api("read").get(f"{BASE}/runs/{first['run_id']}.ics")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/calendar")
    events = Calendar.from_ical(resp.content).walk("VEVENT")
    assert sorted(str(e["x-steward-task-id"]) for e in events) == sorted(b["task_id"] for b in first["blocks"])
    assert api.get(f"{BASE}/runs/{uuid.uuid4()}.ics").status_code == 404
    stored = api.get(f"{BASE}/runs/{first['run_id']}").json()
    assert stored["kind"] == "schedule" and stored["meta"]["service"] == "scheduler"


def test_scopes_idempotency_and_processing_mode(live_server, api, db, client_id):
    reader = live_server.api("read")
    assert reader.post(f"{BASE}/schedule", json=body(client_id)).status_code == 403
    assert live_server.api(None).get(f"{BASE}/daily-plan", params={"client_id": client_id}).status_code == 401
    headers = {"Idempotency-Key": f"sched-{client_id}"}
    one = api.post(f"{BASE}/schedule", json=body(client_id), headers=headers)
    two = api.post(f"{BASE}/schedule", json=body(client_id), headers=headers)
    assert one.status_code == two.status_code == 200
    assert one.json()["run_id"] == two.json()["run_id"] and len(runs(db, client_id)) == 1
    fast = api.post(f"{BASE}/schedule", json=body(client_id, processing={"mode": "fast"}))
    assert fast.status_code == 200 and fast.json()["meta"]["service"] == "scheduler"
    assert fast.json()["meta"]["processing"]["mode"] == "fast"


def test_the_routes_are_documented_in_openapi(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/schedule", "/reschedule", "/daily-plan", "/runs/{run_id}", "/runs/{run_id}.ics"):
        assert f"{BASE}{path}" in paths, path
    assert "post" in paths[f"{BASE}/daily-plan"] and "get" in paths[f"{BASE}/daily-plan"]


def test_preferences_remembered_in_memory_fill_what_the_request_leaves_out(api, client_id):
    """A preference memory with structured `metadata.scheduler` settings is used when the request
    omits them; the request still wins where it speaks, and meta says where each value came from."""
    remembered = api.post(
        "/api/v1/memory/remember",
        json={
            "client_id": client_id,
            "kind": "preference",
            "text": "I want 45 minutes between meetings and work from Berlin",
            "metadata": {"scheduler": {"buffer_minutes": 45, "timezone": "Europe/Berlin"}},
        },
    )
    assert remembered.status_code in (200, 201), remembered.text
    request = body(client_id)
    del request["buffer_minutes"], request["timezone"]
    data = api.post(f"{BASE}/schedule", json=request).json()
    standup_end = "2026-06-01T09:30:00+02:00"
    first_after_standup = min(b["start"] for b in data["blocks"] if b["start"] > standup_end)
    assert first_after_standup >= "2026-06-01T10:15:00+02:00", data["blocks"]
    assert "memory" in json.dumps(data["meta"]["preferences"]).lower()
    explicit = api.post(f"{BASE}/schedule", json=body(client_id, buffer_minutes=0)).json()
    assert min(b["start"] for b in explicit["blocks"] if b["start"] > standup_end) < first_after_standup

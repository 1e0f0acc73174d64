"""Daily and weekly reflections over HTTP, without an LLM: the figures for a seeded week (worked out
by hand below, independently of the code), re-trigger dedupe, bad input, listing and recall."""

from __future__ import annotations

import threading

import pytest
from observer_week import FRIDAY, MONDAY, PREVIOUS_MONDAY, TZ, daily_body, seed, task, weekly_body

from steward.core.vectors import VectorFilter

REFLECT = "/api/v1/observer/reflect"


def reflect(api, mode: str, body: dict, **params) -> dict:
    resp = api.post(REFLECT, params={"mode": mode, **params}, json=body)
    assert resp.status_code in (200, 201), resp.text
    return resp.json()


@pytest.fixture
def seeded(api, db, client_id):
    seed(api, db, client_id)
    return client_id


def test_daily_figures_for_the_seeded_friday(api, seeded):
    out = reflect(api, "daily", daily_body(seeded))
    f = out["figures"]
    assert f["period"] == {"mode": "daily", "start": FRIDAY, "end": FRIDAY, "timezone": TZ}
    # Planned Friday: T1-T5. Done Friday (Berlin time): T1, T2, T6 (09:00) and T8 (00:15); T7 is Saturday 00:30.
    assert f["tasks"] == {
        "planned": 5,
        "completed": 2,
        "unplanned_completed": 2,
        "slipped": 1,
        "carried_over": 1,
        "dropped": 1,
        "completion_rate_percent": 50.0,  # 2 / (5 - 1 dropped)
        "planned_estimate_hours": 2 + 1 + 3 + 2,  # T1-T4; T5 is dropped
        "completed_estimate_hours": 2 + 1 + 1.5,  # T1, T2, T6; T8 has no estimate
        "without_estimate": 1,  # T8
        "completed_ids": ["T1", "T2"],
        "unplanned_completed_ids": ["T6", "T8"],
        "slipped_ids": ["T3"],
        "carried_over_ids": ["T4"],
    }
    # Blocked: "Work on T1" 1.5 h + "Focus" 2 h. Used: actuals of T1, T2, T3, T4, T5, T6, T8.
    assert f["time"] == {
        "blocked_hours": 3.5,
        "used_hours": 2.5 + 0.5 + 1 + 1.5 + 2 + 0.5,
        "utilisation_percent": round(8.0 / 3.5 * 100, 1),
    }
    # Meetings: Standup 1 h, Client call 1 h, Late deploy 1 h (its Friday part); One on one is cancelled.
    # Busy: 00:00-01:00, 09:00-11:00 (Standup and the T1 block overlap), 13:00-16:00 = 6 h of 7.5.
    assert f["calendar"] == {
        "events": 5,
        "cancelled": 1,
        "meetings": 3,
        "meeting_hours": 3.0,
        "blocked_hours": 3.5,
        "scheduled_hours": 1 + 1.5 + 2 + 1 + 1,
        "busy_hours": 6.0,
        "available_hours": 7.5,
        "load_percent": 80.0,
    }
    assert f["steward"] == {
        "events": 4,
        "events_by_type": {"plan_completed": 1, "sync_failed": 1, "task_created": 2},
        "execution_runs": 2,
        "execution_estimated_hours": 3.0,
        "execution_actual_hours": 3.6,
        "memories": 3,
        "memories_by_kind": {"note": 2, "preference": 1},
    }
    assert [(n["source"], n["type"], n["summary"], n["at"][11:16]) for n in f["notable_events"]] == [
        ("steward", "plan_completed", "Launch website", "12:00"),
        ("steward", "sync_failed", "Todoist answered 503", "14:00"),
        ("calendar", "event_cancelled", "One on one", "16:00"),
    ]
    assert f["drafts"]["open"] == 0 and (f["drafts"]["available"] or "no drafts table" in f["drafts"]["note"])
    assert [g["title"] for g in f["goals"]["advanced"]] == ["Launch website"]
    assert f["goals"]["advanced"][0] | {"plan_id": None} == {
        "plan_id": None,
        "title": "Launch website",
        "status": "completed",
        "steps_total": 2,
        "steps_done": 2,
        "steps_done_in_period": 1,
        "blocked_steps": 0,
    }
    assert sorted(g["title"] for g in f["goals"]["stalled"]) == ["Hire designer", "Write book"]

    assert out["narration"]["by"] == "template" and len(out["suggestions"]) == 3
    assert "you completed 2 of 5 planned tasks (50%), plus 2 unplanned" in out["narrative"]
    assert "1 slipped past a deadline and 1 carried over" in out["narrative"]
    assert any("T3" in s for s in out["suggestions"])  # the slipped task comes first
    assert out["markdown"].startswith(f"# Daily reflection {FRIDAY}\n")
    assert "| Time used | 8 h (228.6%) |" in out["markdown"]
    cells = {c["column"]: c["value"] for c in out["coda_row"]["rows"][0]["cells"]}
    assert out["coda_row"]["keyColumns"] == ["Key"] and cells["Key"] == f"{seeded}:daily:{FRIDAY}"
    assert (cells["Planned"], cells["Completed"], cells["Slipped"], cells["Carried over"]) == (5, 2, 1, 1)
    assert cells["Calendar load %"] == 80.0 and cells["Narrative"] == out["narrative"]
    assert out["reused"] is False and out["memory_id"]


def test_weekly_figures_drift_and_sprint(api, seeded):
    out = reflect(api, "weekly", weekly_body(seeded))
    f = out["figures"]
    assert f["period"] == {"mode": "weekly", "start": MONDAY, "end": "2026-11-22", "timezone": TZ}
    # Planned in the week: T1-T6, T9, T10, T11. Done in it: T1, T2, T6, T9, T11 (planned), T7, T8 (not).
    assert f["tasks"] == {
        "planned": 9,
        "completed": 5,
        "unplanned_completed": 2,
        "slipped": 2,
        "carried_over": 1,
        "dropped": 1,
        "completion_rate_percent": 62.5,  # 5 / 8
        "planned_estimate_hours": 2 + 1 + 3 + 2 + 1.5 + 4 + 2 + 1,  # all planned but the dropped T5
        "completed_estimate_hours": 2 + 1 + 1.5 + 4 + 1,  # T7 and T8 have no estimate
        "without_estimate": 2,
        "completed_ids": ["T1", "T2", "T6", "T9", "T11"],
        "unplanned_completed_ids": ["T7", "T8"],
        "slipped_ids": ["T3", "T10"],
        "carried_over_ids": ["T4"],
    }
    used = 2.5 + 0.5 + 1 + 1.5 + 2 + 1 + 0.5 + 6.5 + 0.5 + 1  # every task active in the week
    assert f["time"] == {"blocked_hours": 5.5, "used_hours": used, "utilisation_percent": round(used / 5.5 * 100, 1)}
    assert f["calendar"] == {
        "events": 7,
        "cancelled": 1,
        "meetings": 4,
        "meeting_hours": 1 + 1 + 2 + 1.5,
        "blocked_hours": 1.5 + 2 + 2,
        "scheduled_hours": 11.0,
        "busy_hours": 10.5,
        "available_hours": 37.5,
        "load_percent": 28.0,
    }
    assert f["steward"]["events"] == 5 and f["steward"]["events_by_type"]["task_created"] == 3
    assert f["steward"]["execution_runs"] == 6
    assert f["steward"]["execution_estimated_hours"] == 9.0 and f["steward"]["execution_actual_hours"] == 10.3
    assert f["steward"]["memories_by_kind"] == {"note": 3, "preference": 1}
    assert sorted(g["title"] for g in f["goals"]["advanced"]) == ["Launch website", "Write book"]
    assert [g["title"] for g in f["goals"]["stalled"]] == ["Hire designer"]

    days = {d["date"]: d for d in f["days"]}
    assert list(days) == [f"2026-11-{n}" for n in range(16, 23)]
    assert days[MONDAY] == {
        "date": MONDAY,
        "planned": 1,
        "completed": 1,
        "unplanned_completed": 0,
        "slipped": 0,
        "carried_over": 0,
        "blocked_hours": 2.0,
        "used_hours": 6.5,
        "busy_hours": 2.0,
    }
    assert (days["2026-11-17"]["carried_over"], days["2026-11-17"]["used_hours"]) == (1, 0.5)  # due on the 18th
    assert days["2026-11-19"]["busy_hours"] == 1.0  # the Thursday hour of the late deploy
    assert days[FRIDAY] | {"date": None} == {
        "date": None,
        "planned": 5,
        "completed": 2,
        "unplanned_completed": 2,
        "slipped": 1,
        "carried_over": 1,
        "blocked_hours": 3.5,
        "used_hours": 8.0,
        "busy_hours": 6.0,
    }
    assert days["2026-11-21"]["unplanned_completed"] == 1  # T7, just after midnight in Berlin
    assert sum(d["completed"] + d["unplanned_completed"] for d in f["days"]) == 5 + 2

    # Runs: tpl-onboarding 2 h -> 3 h and 2 h -> 2.6 h; tpl-report 1 -> 1.2 (and one without estimate);
    # wf-invoice 3 -> 1.5; one run with neither template nor workflow.
    perf = f["pattern_performance"]
    assert [
        (
            p["group"],
            p["id"],
            p["runs"],
            p["estimated_hours"],
            p["actual_hours"],
            p["drift_percent"],
            p["flagged"],
            p["runs_over_threshold"],
        )
        for p in perf["patterns"]
    ] == [
        ("workflow", "wf-invoice", 1, 3.0, 1.5, -50.0, True, 1),
        ("process_template", "tpl-onboarding", 2, 4.0, 5.6, 40.0, True, 1),  # 2.6 vs 2 is exactly 30%: not over
        ("process_template", "tpl-report", 1, 1.0, 1.2, 20.0, False, 0),
    ]
    assert [p["id"] for p in perf["flagged"]] == ["wf-invoice", "tpl-onboarding"]
    assert (
        perf["threshold_percent"],
        perf["runs_considered"],
        perf["runs_without_estimate"],
        perf["ungrouped_runs"],
    ) == (30.0, 4, 1, 1)

    # Sprint: billable T1 2.5 + T3 1 + T4 1.5 + T6 2 + T9 6.5 = 13.5 h against 12 planned.
    assert f["sprint"] == {
        "name": "Sprint 47",
        "planned_billable_hours": 12.0,
        "actual_billable_hours": 13.5,
        "variance_hours": 1.5,
        "variance_percent": 12.5,
        "billable_tasks": 5,
        "billable_tasks_completed": 3,
        "missing_task_ids": ["T-missing"],
    }

    # No weekly review is stored for the week before: it is recomputed from the same inputs
    # (T12 done, T13 carried over, the 2 h Prep block, one 1 h run).
    trends = f["trends"]
    assert (trends["previous_start"], trends["previous_end"], trends["source"]) == (
        PREVIOUS_MONDAY,
        "2026-11-15",
        "computed",
    )
    expected = {
        "tasks_completed": (5, 1, 4, 400.0),
        "completion_rate_percent": (62.5, 50.0, 12.5, 25.0),
        "planned_estimate_hours": (16.5, 3.0, 13.5, 450.0),
        "slipped": (2, 0, 2, None),
        "carried_over": (1, 1, 0, 0.0),
        "blocked_hours": (5.5, 2.0, 3.5, 175.0),
        "used_hours": (17.0, 2.0, 15.0, 750.0),
        "busy_hours": (10.5, 2.0, 8.5, 425.0),
        "execution_actual_hours": (10.3, 1.0, 9.3, 930.0),
    }
    assert {
        k: (m["current"], m["previous"], m["delta"], m["delta_percent"]) for k, m in trends["metrics"].items()
    } == expected

    assert "wf-invoice (-50%), tpl-onboarding (+40%)" in out["narrative"]
    assert "planned 12 billable hours and delivered 13.5 h (+12.5%)" in out["narrative"]
    assert out["suggestions"][0].startswith("Re-estimate workflow wf-invoice")
    cells = {c["column"]: c["value"] for c in out["coda_row"]["rows"][0]["cells"]}
    assert cells["Sprint actual billable hours"] == 13.5
    assert cells["Drifting patterns"] == "wf-invoice (-50%); tpl-onboarding (+40%)"
    assert (
        "## Pattern performance" in out["markdown"]
        and "| workflow wf-invoice | 1 | 3 | 1.5 | -50% |" in out["markdown"]
    )


def test_weekly_trends_compare_with_the_stored_previous_week(api, seeded):
    previous = reflect(
        api,
        "weekly",
        weekly_body(
            seeded,
            week=PREVIOUS_MONDAY,
            tasks=[task("T12", "done", "2026-11-13", 2, 2, completed_at="2026-11-13T11:00:00+01:00")],
            calendar=[],
            sprint=None,
        ),
    )
    assert previous["figures"]["tasks"]["completed"] == 1 and previous["figures"]["tasks"]["planned"] == 1
    out = reflect(api, "weekly", weekly_body(seeded))
    trends = out["figures"]["trends"]
    assert trends["source"] == "stored_reflection"
    assert trends["metrics"]["completion_rate_percent"] == {
        "current": 62.5,
        "previous": 100.0,
        "delta": -37.5,
        "delta_percent": -37.5,
    }
    assert trends["metrics"]["carried_over"]["previous"] == 0 and trends["metrics"]["blocked_hours"]["previous"] == 0


def test_retrigger_returns_the_existing_run_unless_forced(api, db, client_id):
    body = daily_body(client_id)
    first = reflect(api, "daily", body)
    again = api.post(REFLECT, params={"mode": "daily"}, json=body)
    assert again.status_code == 200
    assert again.json()["reused"] is True and again.json()["input_changed"] is False
    assert (again.json()["run_id"], again.json()["reflection_id"]) == (first["run_id"], first["reflection_id"])

    changed = daily_body(client_id, tasks=[task("T1", "done", FRIDAY, 2, 2.5, completed_at=f"{FRIDAY}T10:30:00+01:00")])
    stale = reflect(api, "daily", changed)
    assert stale["reused"] is True and stale["input_changed"] is True
    assert stale["figures"] == first["figures"]  # the stored run, not the new input

    forced = api.post(REFLECT, params={"mode": "daily", "force": "true"}, json=changed)
    assert forced.status_code == 201, forced.text
    out = forced.json()
    assert out["run_id"] != first["run_id"] and out["reflection_id"] == first["reflection_id"]  # replaced in place
    assert out["figures"]["tasks"]["planned"] == 1 and out["reused"] is False
    old = api.get(f"/api/v1/pipelines/{first['run_id']}").json()
    assert old["superseded_by"] == out["run_id"] and old["status"] == "completed"
    assert db.execute("SELECT count(*) AS n FROM reflections WHERE client_id = %s", (client_id,)).fetchone()["n"] == 1
    assert db.execute("SELECT count(*) AS n FROM pipeline_runs WHERE client_id = %s", (client_id,)).fetchone()["n"] == 2
    memories = db.execute(
        "SELECT id, invalid_at, superseded_by FROM memories WHERE client_id = %s AND kind = "
        "'reflection' ORDER BY created_at",
        (client_id,),
    ).fetchall()
    assert [str(m["id"]) for m in memories] == [first["memory_id"], out["memory_id"]]
    assert str(memories[0]["superseded_by"]) == out["memory_id"] and memories[1]["invalid_at"] is None


def test_the_run_is_a_four_step_pipeline(api, client_id):
    out = reflect(api, "daily", daily_body(client_id))
    state = api.get(f"/api/v1/pipelines/{out['run_id']}").json()
    assert state["pipeline"] == "observer.reflection" and state["status"] == "completed"
    assert state["completed"] == ["gather", "aggregate", "narrate", "store"] and state["current_step"] is None
    assert [s["attempts"] for s in state["steps"]] == [1, 1, 1, 1]
    assert state["partial_results"]["aggregate"] == out["figures"]
    assert state["partial_results"]["store"]["reflection_id"] == out["reflection_id"]


def test_the_reflection_is_found_again_by_recall(api, db, app, seeded):
    out = reflect(api, "daily", daily_body(seeded))
    row = db.execute("SELECT kind, indexed_at FROM memories WHERE id = %s", (out["memory_id"],)).fetchone()
    assert row["kind"] == "reflection" and row["indexed_at"] is not None  # its vector was written
    vectors = app.extensions["steward"].vectors  # reflections live in daily_threads, not agent_memories
    assert vectors.count("daily_threads", VectorFilter(client_id=seeded, match_any={"kind": ["reflection"]})) == 1
    assert vectors.count("agent_memories", VectorFilter(client_id=seeded, match_any={"kind": ["reflection"]})) == 0
    resp = api.get("/api/v1/memory/recall", params={"client_id": seeded, "q": "daily reflection slipped tasks"})
    assert resp.status_code == 200, resp.text
    hits = resp.json()["hits"]
    found = [h for h in hits if h["id"] == out["memory_id"]]
    assert found and found[0]["kind"] == "reflection"
    assert "2 of 5 planned tasks completed" in found[0]["text"]
    assert found[0]["metadata"]["period_start"] == FRIDAY and found[0]["provenance"]["run_id"] == out["run_id"]
    only = api.get(
        "/api/v1/memory/recall", params={"client_id": seeded, "q": "reflection on the day", "kinds": "reflection"}
    ).json()["hits"]
    assert [h["id"] for h in only] == [out["memory_id"]]


def test_list_reflections_filters_and_pages(api, client_id):
    for day in ("2026-11-17", "2026-11-18", FRIDAY):
        reflect(api, "daily", daily_body(client_id, date=day))
    reflect(api, "weekly", weekly_body(client_id))
    everything = api.get("/api/v1/observer/reflections", params={"client_id": client_id}).json()
    assert [(r["mode"], r["period"]["start"]) for r in everything["items"]] == [
        ("daily", FRIDAY),
        ("daily", "2026-11-18"),
        ("daily", "2026-11-17"),
        ("weekly", MONDAY),
    ]
    daily = api.get(
        "/api/v1/observer/reflections", params={"client_id": client_id, "mode": "daily", "since": "2026-11-18"}
    ).json()["items"]
    assert [r["period"]["start"] for r in daily] == [FRIDAY, "2026-11-18"]
    pages, cursor = [], None
    while True:
        page = api.get(
            "/api/v1/observer/reflections",
            params={"client_id": client_id, "limit": 3, **({"cursor": cursor} if cursor else {})},
        ).json()
        pages.append(len(page["items"]))
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == [3, 1]
    assert api.get("/api/v1/observer/reflections", params={"client_id": "nobody"}).json() == {
        "items": [],
        "next_cursor": None,
    }
    bad = api.get("/api/v1/observer/reflections", params={"client_id": client_id, "cursor": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["field"] == "cursor"


def _field(resp) -> str:
    assert resp.status_code == 400, resp.text
    return resp.json()["error"]["details"][0]["field"]


@pytest.mark.parametrize(
    "mode, change, field",
    [
        ("hourly", {}, "mode"),
        ("weekly", {"week": "2026-11-18"}, "week"),  # a Wednesday, not the week's start
        ("weekly", {"week": None}, "week"),
        ("daily", {"date": None}, "date"),
        ("daily", {"tasks": [{"title": "no id", "status": "open"}]}, "tasks.0.id"),
        ("daily", {"tasks": [{"id": "", "status": "open"}]}, "tasks.0.id"),
        ("daily", {"tasks": [{"id": "A", "status": "open"}, {"id": "A", "status": "done"}]}, "tasks.1.id"),
        ("daily", {"tasks": [{"id": "A", "status": "open", "actual_hours": -1}]}, "tasks.0.actual_hours"),
        ("daily", {"tasks": [{"id": "A", "status": "open", "estimate_hours": -0.5}]}, "tasks.0.estimate_hours"),
        ("daily", {"tasks": [{"id": "A", "status": "maybe"}]}, "tasks.0.status"),
        ("weekly", {"sprint": {"planned_billable_hours": -3}}, "sprint.planned_billable_hours"),
        ("daily", {"sprint": {"planned_billable_hours": 3}}, "sprint"),
        (
            "daily",
            {"calendar": [{"start": "2026-11-20T10:00:00+01:00", "end": "2026-11-20T09:00:00+01:00"}]},
            "calendar.0.end",
        ),
        (
            "daily",
            {"calendar": [{"start": "2026-11-20T10:00:00", "end": "2026-11-20T11:00:00+01:00"}]},
            "calendar.0.start",
        ),
        ("daily", {"timezone": "Mars/Olympus"}, "timezone"),
        ("daily", {"working_hours_per_day": 0}, "working_hours_per_day"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, db, client_id, mode, change, field):
    body = (weekly_body(client_id) if mode == "weekly" else daily_body(client_id)) | change
    body = {k: v for k, v in body.items() if v is not None}
    assert _field(api.post(REFLECT, params={"mode": mode}, json=body)) == field
    assert db.execute("SELECT count(*) AS n FROM pipeline_runs").fetchone()["n"] == 0
    assert db.execute("SELECT count(*) AS n FROM reflections").fetchone()["n"] == 0


def test_mode_is_required_and_a_read_key_cannot_reflect(live_server, client_id):
    assert _field(live_server.api("write").post(REFLECT, json=daily_body(client_id))) == "mode"
    denied = live_server.api("read").post(REFLECT, params={"mode": "daily"}, json=daily_body(client_id))
    assert denied.status_code == 403


def test_concurrent_triggers_of_one_period_share_one_run(live_server, db, client_id):
    body, results = daily_body(client_id), []

    def trigger() -> None:
        results.append(live_server.api().post(REFLECT, params={"mode": "daily"}, json=body))

    threads = [threading.Thread(target=trigger) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in results) == [200, 200, 201], [r.text for r in results]
    assert len({r.json()["run_id"] for r in results}) == 1
    state = live_server.api().get(f"/api/v1/pipelines/{results[0].json()['run_id']}").json()
    assert [s["attempts"] for s in state["steps"]] == [1, 1, 1, 1]  # no step ran twice
    assert db.execute("SELECT count(*) AS n FROM memories WHERE kind = 'reflection'").fetchone()["n"] == 1


def test_an_empty_day_and_week_reflect_with_null_rates_not_made_up_ones(api, client_id):
    day = reflect(api, "daily", {"client_id": client_id, "date": FRIDAY})
    f = day["figures"]
    assert f["period"]["timezone"] == "UTC" and f["tasks"]["planned"] == 0
    assert f["tasks"]["completion_rate_percent"] is None and f["time"]["utilisation_percent"] is None
    assert f["calendar"]["load_percent"] == 0.0 and f["calendar"]["available_hours"] == 8.0
    assert "| Completion rate | n/a |" in day["markdown"] and len(day["suggestions"]) == 3
    week = reflect(api, "weekly", {"client_id": client_id, "week": MONDAY})
    assert week["figures"]["sprint"] is None and week["figures"]["pattern_performance"]["patterns"] == []
    assert week["figures"]["trends"]["metrics"]["tasks_completed"] == {
        "current": 0.0,
        "previous": 0.0,
        "delta": 0.0,
        "delta_percent": None,
    }
    assert "No sprint was given." in week["markdown"]

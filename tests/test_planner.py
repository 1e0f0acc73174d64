"""The planner over HTTP: generate, reuse, refuse, and track a plan to completion.

Generation runs against the local fake OpenAI server; the offline tests use the default app,
which has no LLM configured. Postgres is real throughout.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fakes.llm_data import BIG, sop

pytest_plugins = ["fakes.llm_fixtures"]

INTENT = "Onboard Acme Corp as a new client: kickoff, access, first report"
SIMILAR_INTENT = "Onboard Acme Corp as a new client: kickoff, access and first report"
PLAN = "/api/v1/planner/plan"


def plan_body(client_id, intent=INTENT, **extra):
    return {"intent": intent, "client_id": client_id, **extra}


def events_of(db, client_id):
    return [
        r["event_type"]
        for r in db.execute("SELECT event_type FROM events WHERE client_id = %s ORDER BY occurred_at", (client_id,))
    ]


def step(api, plan_id, key, **body):
    return api.post(f"/api/v1/planner/plans/{plan_id}/steps/{key}", json=body)


def test_a_plan_is_generated_reused_and_tracked_to_completion(llm_stack, fake, db, client_id):
    api = llm_stack.api()
    fake.responder = lambda body: sop("Acme onboarding")
    made = api.post(
        PLAN,
        json=plan_body(
            client_id, engagement_id="eng-1", workflow_id="wf-onboarding", blueprint={"id": "bp-7", "name": "Retainer"}
        ),
    )
    assert made.status_code == 201, made.text
    plan = made.json()
    assert plan["status"] == "draft" and plan["source"] == "llm" and plan["title"] == "Acme onboarding"
    assert plan["generation"]["generated"] and plan["generation"]["llm_calls"] == 1
    assert plan["generation"]["cost_usd"] > 0 and plan["llm_model"] == BIG and plan["prompt_version"] >= 1
    assert (plan["engagement_id"], plan["workflow_id"], plan["blueprint_id"]) == ("eng-1", "wf-onboarding", "bp-7")
    assert [s["key"] for s in plan["steps"]] == ["s1", "s2", "s3"] and plan["steps"][1]["depends_on"] == ["s1"]
    assert plan["meta"]["processing"]["mode"] == "default"
    prompt = fake.chat_requests()[0]["messages"][-1]["content"]
    assert INTENT in prompt and "Retainer" in prompt and "wf-onboarding" in prompt

    reused = api.post(PLAN, json=plan_body(client_id, SIMILAR_INTENT)).json()
    assert fake.count() == 1, "reuse must not call the LLM"
    assert reused["source"] == "reused_plan" and not reused["generation"]["generated"]
    assert reused["reused_from"]["id"] == plan["id"] and reused["reused_from"]["similarity"] >= 0.8
    assert [s["key"] for s in reused["steps"]] == ["s1", "s2", "s3"]

    pid = plan["id"]
    assert api.patch(f"/api/v1/planner/plans/{pid}", json={"action": "activate"}).json()["status"] == "active"
    blocked = step(api, pid, "s2", status="doing")
    assert blocked.status_code == 409 and "s1" in blocked.json()["error"]["message"]
    assert blocked.json()["error"]["details"] == [{"field": "depends_on", "problem": "s1 is todo"}]
    assert step(api, pid, "s1", status="doing").status_code == 200
    assert step(api, pid, "s1", status="done", actual_minutes=45).json()["progress"]["done"] == 1
    assert step(api, pid, "s2", status="done", actual_minutes=50).status_code == 200
    done = step(api, pid, "s3", status="done", actual_minutes=120, task_id="todoist-99").json()
    assert done["status"] == "completed" and done["finished_at"] and done["progress"]["percent"] == 100.0

    assert api.get(f"/api/v1/planner/plans/{pid}").json()["status"] == "completed"
    listed = api.get("/api/v1/planner/plans", params={"client_id": client_id, "status": "completed"}).json()
    assert [p["id"] for p in listed["items"]] == [pid]
    assert events_of(db, client_id) == [
        "plan_created",
        "plan_created",
        "plan_activated",
        "plan_step_started",
        "plan_step_done",
        "plan_step_done",
        "plan_step_done",
        "plan_completed",
    ]
    runs = db.execute(
        "SELECT step_key, estimated_hours, actual_hours, task_id, project_id, run_type, metadata"
        " FROM execution_runs WHERE plan_id = %s ORDER BY step_key",
        (pid,),
    ).fetchall()
    assert [(r["step_key"], float(r["estimated_hours"]), float(r["actual_hours"])) for r in runs] == [
        ("s1", 0.5, 0.75),
        ("s2", 1.0, 0.83),
        ("s3", 1.5, 2.0),
    ]
    assert runs[2]["task_id"] == "todoist-99" and runs[0]["project_id"] == "eng-1"
    assert runs[0]["run_type"] == "plan_step" and runs[0]["metadata"]["drift"] == 1.5


def test_reuse_adapts_estimates_from_what_the_steps_actually_took(llm_stack, fake, client_id):
    api = llm_stack.api()
    fake.responder = lambda body: sop()
    pid = api.post(PLAN, json=plan_body(client_id)).json()["id"]
    step(api, pid, "s1", status="done", actual_minutes=90)
    reused = api.post(PLAN, json=plan_body(client_id, SIMILAR_INTENT)).json()
    assert [s["estimate_minutes"] for s in reused["steps"]] == [90, 60, 90]


def test_reuse_false_asks_the_llm_even_when_a_plan_is_similar(llm_stack, fake, client_id):
    api = llm_stack.api()
    fake.responder = lambda body: sop()
    api.post(PLAN, json=plan_body(client_id))
    again = api.post(PLAN, json=plan_body(client_id, SIMILAR_INTENT, reuse=False)).json()
    assert again["source"] == "llm" and fake.count() == 2
    assert "Similar past plans" in fake.chat_requests()[1]["messages"][-1]["content"]


def test_plans_of_other_clients_are_never_reused(llm_stack, fake, client_id):
    api = llm_stack.api()
    fake.responder = lambda body: sop()
    api.post(PLAN, json=plan_body(client_id))
    other = api.post(PLAN, json=plan_body(f"other-{client_id}", SIMILAR_INTENT)).json()
    assert other["source"] == "llm" and fake.count() == 2


def test_offline_a_similar_template_or_plan_is_reused_else_503(api, db, client_id):
    template = {
        "id": "pt-close",
        "name": "Monthly bookkeeping close",
        "steps": [
            {"title": "Collect receipts"},
            {"title": "Reconcile bank", "estimate_minutes": 60},
            {"title": "Send the report"},
        ],
    }
    made = api.post(PLAN, json=plan_body(client_id, "Monthly bookkeeping close", process_template=template))
    assert made.status_code == 201, made.text
    plan = made.json()
    assert plan["source"] == "process_template" and plan["process_template_id"] == "pt-close"
    assert plan["reused_from"]["kind"] == "process_template"
    assert [(s["key"], s["estimate_minutes"], s["depends_on"]) for s in plan["steps"]] == [
        ("collect_receipts", 30, []),
        ("reconcile_bank", 60, ["collect_receipts"]),
        ("send_the_report", 30, ["reconcile_bank"]),
    ]

    again = api.post(PLAN, json=plan_body(client_id, "Monthly bookkeeping close")).json()
    assert again["source"] == "reused_plan" and again["reused_from"]["id"] == plan["id"]

    refused = api.post(PLAN, json=plan_body(client_id, "Write a grant proposal for the city arts council"))
    assert refused.status_code == 503
    error = refused.json()["error"]
    assert error["code"] == "llm_not_configured" and "LLM_BASE_URL" in error["message"]
    assert {"LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL"} <= {d["field"] for d in error["details"]}
    assert db.execute("SELECT count(*) AS n FROM plans WHERE client_id = %s", (client_id,)).fetchone()["n"] == 2


def test_a_template_that_is_not_a_dag_is_refused_naming_the_step(api, db, client_id):
    template = {
        "name": "Monthly bookkeeping close",
        "steps": [{"key": "a", "title": "A", "depends_on": []}, {"key": "b", "title": "B", "depends_on": ["zz"]}],
    }
    refused = api.post(PLAN, json=plan_body(client_id, "Monthly bookkeeping close", process_template=template))
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_sop" and error["details"][0]["field"] == "process_template.steps.1.depends_on"
    assert db.execute("SELECT count(*) AS n FROM plans").fetchone()["n"] == 0


def test_a_cyclic_sop_is_repaired_in_one_round(llm_stack, fake, client_id):
    cyclic = sop()
    cyclic["steps"][0]["depends_on"] = ["s3"]
    fake.enqueue(cyclic, sop("Fixed"))
    made = llm_stack.api().post(PLAN, json=plan_body(client_id, reuse=False))
    assert made.status_code == 201, made.text
    assert made.json()["title"] == "Fixed" and made.json()["generation"]["repaired"]
    assert made.json()["generation"]["llm_calls"] == 2
    repair = fake.chat_requests()[1]["messages"]
    assert "dependency cycle s1 -> s3 -> s2 -> s1" in repair[-1]["content"]


def test_an_sop_still_invalid_after_repair_is_a_422_and_stores_nothing(llm_stack, fake, db, client_id):
    cyclic, unknown = sop(), sop()
    cyclic["steps"][0]["depends_on"] = ["s3"]
    unknown["steps"][2]["depends_on"] = ["nope"]
    fake.enqueue(cyclic, unknown)
    refused = llm_stack.api().post(PLAN, json=plan_body(client_id, reuse=False))
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_sop" and error["details"][0]["field"] == "steps.2.depends_on"
    assert "nope" in error["details"][0]["problem"]
    assert db.execute("SELECT count(*) AS n FROM plans").fetchone()["n"] == 0
    assert db.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 0
    # the calls were paid for, so they stay accounted although the request rolled back
    assert db.execute("SELECT count(*) AS n FROM llm_calls").fetchone()["n"] == 2


def test_output_that_never_validates_is_a_502(llm_stack, fake, db, client_id):
    fake.invalid_json(times=2)
    refused = llm_stack.api().post(PLAN, json=plan_body(client_id, reuse=False))
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "llm_bad_output"
    assert db.execute("SELECT count(*) AS n FROM plans").fetchone()["n"] == 0


def test_budget_exhaustion_is_a_429_over_http(llm_stacks, fake, client_id):
    api = llm_stacks(llm_daily_budget_usd=0.000001).api()
    fake.responder = lambda body: sop()
    assert api.post(PLAN, json=plan_body(client_id, reuse=False)).status_code == 201
    refused = api.post(PLAN, json=plan_body(client_id, "Plan the company offsite in Lisbon", reuse=False))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "llm_budget_exceeded"
    assert int(refused.headers["Retry-After"]) > 0
    assert fake.count() == 1


def test_a_provider_outage_is_a_503_with_retry_after(llm_stack, fake, client_id):
    fake.fail(500, times=3)
    refused = llm_stack.api().post(PLAN, json=plan_body(client_id, reuse=False))
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "llm_unavailable"
    assert refused.headers["Retry-After"]


def test_the_newest_prompt_version_in_the_database_is_used(llm_stack, fake, db, client_id):
    top = db.execute("SELECT max(version) AS v FROM prompt_templates WHERE name = 'sop_generator'").fetchone()["v"]
    db.execute(
        "INSERT INTO prompt_templates (name, version, body, content_hash, source)"
        " VALUES ('sop_generator', %s, 'OPERATOR PROMPT for {{ intent }}', 'x', 'operator')",
        (top + 1,),
    )
    try:
        fake.responder = lambda body: sop()
        made = llm_stack.api().post(PLAN, json=plan_body(client_id, reuse=False)).json()
        assert made["prompt_version"] == top + 1
        assert fake.chat_requests()[0]["messages"][-1]["content"] == f"OPERATOR PROMPT for {INTENT}"
    finally:
        db.execute("DELETE FROM prompt_templates WHERE name = 'sop_generator' AND version = %s", (top + 1,))


def test_the_critic_runs_in_default_mode_only(llm_stack, fake, client_id):
    big = sop()
    big["steps"][0]["estimate_minutes"] = 900
    fake.responder = lambda body: big
    api = llm_stack.api()
    default = api.post(PLAN, json=plan_body(client_id, reuse=False)).json()
    assert any("split it" in w for w in default["generation"]["warnings"])
    fast = api.post(
        PLAN, json=plan_body(client_id, "Plan the offsite", reuse=False, processing={"mode": "fast"})
    ).json()
    assert fast["generation"]["warnings"] == [] and fast["mode"] == "fast"


def test_an_idempotency_key_makes_one_plan_and_one_llm_call(llm_stack, fake, db, client_id):
    fake.responder = lambda body: sop()
    api = llm_stack.api()
    headers = {"Idempotency-Key": f"plan-{uuid.uuid4()}"}
    first = api.post(PLAN, json=plan_body(client_id, reuse=False), headers=headers)
    second = api.post(PLAN, json=plan_body(client_id, reuse=False), headers=headers)
    assert first.status_code == second.status_code == 201 and first.json()["id"] == second.json()["id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert fake.count() == 1
    assert db.execute("SELECT count(*) AS n FROM plans").fetchone()["n"] == 1


def test_a_step_blocked_past_its_deadline_fails_the_plan(llm_stack, fake, db, client_id):
    fake.responder = lambda body: sop()
    api = llm_stack.api()
    pid = api.post(PLAN, json=plan_body(client_id, reuse=False)).json()["id"]
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    active = api.patch(f"/api/v1/planner/plans/{pid}", json={"action": "activate", "step_due": {"s1": future}}).json()
    assert active["steps"][0]["due_at"] is not None
    assert step(api, pid, "s1", status="blocked", note="waiting for access").json()["status"] == "active"
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    failed = step(api, pid, "s1", due_at=past).json()
    assert failed["status"] == "failed"
    refused = step(api, pid, "s1", status="doing")
    assert refused.status_code == 409 and "activate" in refused.json()["error"]["message"]
    reopened = api.patch(f"/api/v1/planner/plans/{pid}", json={"action": "activate", "step_due": {"s1": future}})
    assert reopened.json()["status"] == "active"
    assert events_of(db, client_id) == [
        "plan_created",
        "plan_activated",
        "plan_step_blocked",
        "plan_failed",
        "plan_activated",
    ]


def test_moving_a_step_activates_a_draft_and_cancel_is_final(llm_stack, fake, db, client_id):
    fake.responder = lambda body: sop()
    api = llm_stack.api()
    pid = api.post(PLAN, json=plan_body(client_id, reuse=False)).json()["id"]
    assert step(api, pid, "s1", status="doing").json()["status"] == "active"
    cancelled = api.patch(f"/api/v1/planner/plans/{pid}", json={"action": "cancel", "reason": "client left"})
    assert cancelled.json()["status"] == "cancelled"
    assert api.patch(f"/api/v1/planner/plans/{pid}", json={"action": "activate"}).status_code == 409
    assert step(api, pid, "s1", status="done").status_code == 409
    assert events_of(db, client_id)[-1] == "plan_cancelled"


def test_a_done_step_is_final_but_its_actual_can_be_corrected(llm_stack, fake, db, client_id):
    fake.responder = lambda body: sop()
    api = llm_stack.api()
    pid = api.post(PLAN, json=plan_body(client_id, reuse=False)).json()["id"]
    step(api, pid, "s1", status="done", actual_minutes=20)
    assert step(api, pid, "s1", status="doing").status_code == 409
    assert step(api, pid, "s1", actual_minutes=40).status_code == 200
    run = db.execute("SELECT actual_hours, metadata FROM execution_runs WHERE plan_id = %s", (pid,)).fetchone()
    assert float(run["actual_hours"]) == 0.67 and run["metadata"]["actual_minutes"] == 40


def test_bad_input_is_a_400_naming_the_field(llm_stack, fake, client_id):
    api = llm_stack.api()
    cases = [
        ({"client_id": client_id}, "intent"),
        ({"intent": "x" * 5, "client_id": "bad id!"}, "client_id"),
        ({"intent": "valid intent", "client_id": client_id, "surprise": 1}, "surprise"),
        (
            {"intent": "valid intent", "client_id": client_id, "process_template": {"steps": [{"key": "A B"}]}},
            "process_template.steps.0.key",
        ),
    ]
    for body, field in cases:
        resp = api.post(PLAN, json=body)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["error"]["details"][0]["field"] == field, resp.text
    assert fake.count() == 0
    fake.responder = lambda body: sop()
    pid = api.post(PLAN, json=plan_body(client_id, reuse=False)).json()["id"]
    assert step(api, pid, "s1").status_code == 400
    assert step(api, pid, "s1", status="finished").json()["error"]["details"][0]["field"] == "status"
    missing = step(api, pid, "nope", status="done")
    assert missing.status_code == 404 and "s1, s2, s3" in missing.json()["error"]["message"]
    bad_due = api.patch(f"/api/v1/planner/plans/{pid}", json={"action": "activate", "step_due": {"zz": "2030-01-01"}})
    assert bad_due.status_code == 400
    assert api.get(f"/api/v1/planner/plans/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/v1/planner/plans/not-a-uuid").status_code == 404
    assert api.get("/api/v1/planner/plans").json()["error"]["details"][0]["field"] == "client_id"


def test_listing_pages_through_one_clients_plans(llm_stack, fake, client_id):
    fake.responder = lambda body: sop()
    api = llm_stack.api()
    made = [
        api.post(PLAN, json=plan_body(client_id, f"Plan number {i} of many", reuse=False)).json()["id"]
        for i in range(5)
    ]
    api.post(PLAN, json=plan_body(f"x-{client_id}", reuse=False))
    seen, cursor = [], None
    while True:
        page = api.get(
            "/api/v1/planner/plans",
            params={"client_id": client_id, "limit": 2, **({"cursor": cursor} if cursor else {})},
        ).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(made))
    drafts = api.get("/api/v1/planner/plans", params={"client_id": client_id, "status": "draft,active"}).json()
    assert len(drafts["items"]) == 5


def test_a_read_key_cannot_plan(llm_stack, fake, client_id):
    resp = llm_stack.api("read").post(PLAN, json=plan_body(client_id))
    assert resp.status_code == 403


def test_the_prompt_carries_the_clients_preferences_from_memory_and_the_request(llm_stack, fake, client_id):
    api = llm_stack.api()
    remembered = api.post(
        "/api/v1/memory/remember",
        json={"client_id": client_id, "kind": "preference", "text": "Prefers deep-work blocks in the morning"},
    )
    assert remembered.status_code in (200, 201), remembered.text
    fake.responder = lambda body: sop()
    made = api.post(
        PLAN,
        json=plan_body(
            client_id, reuse=False, context={"preferences": ["Weekly status mail on Fridays"], "budget": "small"}
        ),
    )
    assert made.status_code == 201, made.text
    prompt = fake.chat_requests()[0]["messages"][-1]["content"]
    assert "- Weekly status mail on Fridays" in prompt and "- Prefers deep-work blocks in the morning" in prompt
    assert '"budget": "small"' in prompt and '"preferences"' not in prompt


def test_openapi_documents_the_planner_and_usage_routes(llm_stack):
    doc = llm_stack.api().get("/openapi.json").json()
    paths = doc["paths"]
    assert {"post"} <= set(paths["/api/v1/planner/plan"])
    assert {"get", "patch"} <= set(paths["/api/v1/planner/plans/{plan_id}"])
    assert "post" in paths["/api/v1/planner/plans/{plan_id}/steps/{key}"]
    assert "get" in paths["/api/v1/llm/usage"]
    assert {"PlanIn", "PlanCreated", "StepUpdate", "UsageOut"} <= set(doc["components"]["schemas"])

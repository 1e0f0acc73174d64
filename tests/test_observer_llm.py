"""Reflections narrated by an LLM (a local fake OpenAI server): the prose is the LLM's, the numbers are
not; a run that fails at the LLM resumes there, and the LLM is paid once per reflection."""

from __future__ import annotations

import json

from observer_week import FRIDAY, daily_body, seed, weekly_body

pytest_plugins = ["fakes.llm_fixtures"]

REFLECT = "/api/v1/observer/reflect"
ANSWER = {
    "narrative": "A solid Friday: 2 of 5 planned tasks done and the website launched; 7 things went well.",
    "suggestions": ["Start with T3, it slipped.", "Decide on T4 before noon.", "Keep the afternoon focus block."],
}


def _prompt(request: dict) -> str:
    return request["messages"][-1]["content"]


def test_the_llm_writes_the_prose_around_computed_figures(llm_stack, fake, db, client_id, live_server):
    api = llm_stack.api()
    seed(api, db, client_id)
    without_llm = live_server.api().post(REFLECT, params={"mode": "daily"}, json=daily_body("offline-" + client_id))
    offline = without_llm.json()
    fake.enqueue(ANSWER)
    resp = api.post(REFLECT, params={"mode": "daily"}, json=daily_body(client_id))
    assert resp.status_code == 201, resp.text
    out = resp.json()
    assert out["narrative"] == ANSWER["narrative"] and out["suggestions"] == ANSWER["suggestions"]
    info = out["narration"]
    assert info["by"] == "llm" and info["prompt_version"] >= 1 and info["calls"] == 1 and info["cost_usd"] > 0
    assert info["unmatched_numbers"] == ["7"]  # "7 things" is not a figure; 2 and 5 are
    assert out["figures"]["tasks"]["completed"] == 2 and out["figures"]["time"]["used_hours"] == 8.0
    assert out["figures"]["tasks"] == offline["figures"]["tasks"]  # same task figures with or without the LLM
    cells = {c["column"]: c["value"] for c in out["coda_row"]["rows"][0]["cells"]}
    assert cells["Narrative"] == ANSWER["narrative"] and cells["Completed"] == 2

    prompt = _prompt(fake.chat_requests()[-1])
    assert f"daily shutdown note for {FRIDAY}" in prompt
    sent = json.loads(prompt.split("Figures (computed, authoritative):\n", 1)[1].split("\n\nNotable events", 1)[0])
    assert sent == out["figures"]  # the LLM saw exactly the figures that were returned
    assert "sync_failed: Todoist answered 503" in prompt and "Maria prefers invoices" in prompt
    calls = db.execute("SELECT purpose, outcome FROM llm_calls WHERE client_id = %s", (client_id,)).fetchall()
    assert [(c["purpose"], c["outcome"]) for c in calls] == [("daily_reflection", "ok")]


def test_weekly_prompt_names_the_drift_and_the_sprint(llm_stack, fake, db, client_id):
    api = llm_stack.api()
    seed(api, db, client_id)
    fake.enqueue({"narrative": "Estimates drifted.", "suggestions": ["a", "b", "c"]})
    resp = api.post(REFLECT, params={"mode": "weekly"}, json=weekly_body(client_id))
    assert resp.status_code == 201, resp.text
    prompt = _prompt(fake.chat_requests()[-1])
    assert "weekly review for the week 2026-11-16 to 2026-11-22" in prompt
    assert "- workflow wf-invoice: 1 runs, estimated 3.0 h, actual 1.5 h (-50.0%)" in prompt
    assert "- process_template tpl-onboarding: 2 runs, estimated 4.0 h, actual 5.6 h (40.0%)" in prompt
    assert "- planned 12.0 billable h, actual 13.5 h (1.5 h)" in prompt
    assert resp.json()["figures"]["pattern_performance"]["flagged"][0]["id"] == "wf-invoice"


def test_a_run_that_fails_at_the_llm_resumes_there_and_pays_once(llm_stack, fake, db, client_id):
    api = llm_stack.api()
    fake.fail(500, times=3)  # the first call and both retries
    failed = api.post(REFLECT, params={"mode": "daily"}, json=daily_body(client_id))
    assert failed.status_code == 503, failed.text
    error = failed.json()["error"]
    assert error["code"] == "llm_unavailable"
    where = next(d for d in error["details"] if d["field"] == "pipeline")
    run_id = where["problem"].split()[1]
    assert "stopped at step narrate" in where["problem"]
    state = api.get(f"/api/v1/pipelines/{run_id}").json()
    assert state["status"] == "failed" and state["current_step"] == "narrate"
    assert state["completed"] == ["gather", "aggregate"] and state["error"]["step"] == "narrate"
    assert db.execute("SELECT count(*) AS n FROM reflections").fetchone()["n"] == 0
    assert fake.count() == 3

    fake.enqueue(ANSWER)
    resumed = api.post(REFLECT, params={"mode": "daily"}, json=daily_body(client_id))
    assert resumed.status_code == 200, resumed.text
    out = resumed.json()
    assert out["run_id"] == run_id and out["reused"] is True and out["narration"]["by"] == "llm"
    state = api.get(f"/api/v1/pipelines/{run_id}").json()
    assert state["status"] == "completed"
    assert {s["name"]: s["attempts"] for s in state["steps"]} == {"gather": 1, "aggregate": 1, "narrate": 2, "store": 1}
    assert fake.count() == 4

    llm_stack.clear_cache()  # not the LLM cache: the checkpoint is what keeps a re-trigger from paying again
    again = api.post(REFLECT, params={"mode": "daily"}, json=daily_body(client_id))
    assert again.status_code == 200 and again.json()["narrative"] == ANSWER["narrative"]
    assert fake.count() == 4
    paid = db.execute(
        "SELECT count(*) AS n FROM llm_calls WHERE client_id = %s AND outcome = 'ok'", (client_id,)
    ).fetchone()["n"]
    assert paid == 1


def test_a_spent_budget_falls_back_to_the_template(llm_stacks, fake, db, client_id):
    stack = llm_stacks(llm_daily_budget_usd=0.000001)
    db.execute("""INSERT INTO llm_calls (service, mode, model, outcome, cost_usd) VALUES ('test', 'default', 'x', 'ok',
                  1)""")
    resp = stack.api().post(REFLECT, params={"mode": "daily"}, json=daily_body(client_id))
    assert resp.status_code == 201, resp.text
    info = resp.json()["narration"]
    assert info["by"] == "template" and "budget" in info["note"] and fake.count() == 0

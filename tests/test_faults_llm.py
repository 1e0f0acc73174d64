"""The LLM provider misbehaving, seen over HTTP: 500s, 429 with Retry-After, a hang past the
timeout, and responses that are not JSON. Each answer is a clear error envelope (502/503 with a
code and Retry-After, never a 500), retries are bounded (counted at the fake provider), nothing is
half written, failed calls cost nothing in `llm_calls` and /api/v1/llm/usage, and a reflection
pipeline that fails after its paid LLM step resumes without paying again.

The provider is tests/fakes/openai_server.py; the stacks use LLM_MAX_RETRIES=2 (3 attempts),
LLM_RETRY_MAX_WAIT_SECONDS=1 and LLM_TIMEOUT_SECONDS=1.5 (tests/fakes/llm_data.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from observer_week import daily_body, seed

from fakes.llm_data import sop
from fakes.openai_server import FakeOpenAI

pytest_plugins = ["fakes.llm_fixtures"]

PLAN = "/api/v1/planner/plan"
USAGE = "/api/v1/llm/usage"
REFLECT = "/api/v1/observer/reflect"
TRUNCATED = '{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "mess'


@dataclass(frozen=True)
class Fault:
    script: Callable[[FakeOpenAI], None]
    status: int
    code: str
    requests: int  # what the provider receives: the bound on retries
    outcomes: list[str]  # the llm_calls rows, in order
    retry_after: str | None = None  # the exact Retry-After, when the provider set it
    says: str = ""


FAULTS = {
    "500 three times": Fault(lambda f: f.fail(500, times=3), 503, "llm_unavailable", 3, ["error"], says="HTTP 500"),
    "503 three times": Fault(lambda f: f.fail(503, times=3), 503, "llm_unavailable", 3, ["error"], says="3 attempt"),
    "429 asking for 120 s": Fault(
        lambda f: f.fail(429, retry_after=120), 503, "llm_unavailable", 1, ["error"], retry_after="120", says="429"
    ),
    "a hang past the timeout": Fault(
        lambda f: f.hang(5), 503, "llm_unavailable", 1, ["timeout"], says="did not answer within"
    ),
    "truncated JSON bodies": Fault(
        lambda f: f.garbage(TRUNCATED, times=3), 502, "llm_bad_output", 3, ["error"], says="not JSON"
    ),
    "a proxy's HTML page": Fault(
        lambda f: f.garbage("<html><h1>502 Bad Gateway</h1></html>", "text/html", times=3),
        502,
        "llm_bad_output",
        3,
        ["error"],
        says="not a chat completion",
    ),
    "content that is not JSON twice": Fault(
        lambda f: f.invalid_json(times=2), 502, "llm_bad_output", 2, ["invalid_output", "invalid_output"]
    ),
}


@pytest.fixture(autouse=True, scope="module")
def _warm_embedder(llm_stacks):
    """Load the local embedding model before any test times a request (the planner embeds the intent)."""
    llm_stacks().app.extensions["steward"].embedder.embed_query("warm up")


def _calls(db, client_id: str) -> list[dict]:
    return db.execute(
        "SELECT outcome, attempts, cost_usd, prompt_tokens FROM llm_calls WHERE client_id = %s ORDER BY created_at, id",
        (client_id,),
    ).fetchall()


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_provider_fault_is_a_clear_error_with_bounded_retries_and_no_cost(name, llm_stacks, fake, db, client_id):
    fault = FAULTS[name]
    api = llm_stacks(llm_daily_budget_usd=5.0).api()
    spent_before = api.get(USAGE).json()["budget"]["spent_today_usd"]
    fault.script(fake)
    started = time.monotonic()
    resp = api.post(PLAN, json={"intent": f"Plan the offsite ({name})", "client_id": client_id, "reuse": False})
    took = time.monotonic() - started

    assert resp.status_code == fault.status, resp.text
    error = resp.json()["error"]
    assert error["code"] == fault.code and fault.says in error["message"], error
    assert "Traceback" not in resp.text and "openai." not in resp.text
    if fault.status == 503:
        assert resp.headers["Retry-After"] == (fault.retry_after or resp.headers["Retry-After"])
        assert int(resp.headers["Retry-After"]) >= 1
    assert fake.count() == fault.requests, "retries must be bounded"
    assert took < 5, f"the caller waited {took:.1f} s"
    assert db.execute("SELECT count(*) AS n FROM plans WHERE client_id = %s", (client_id,)).fetchone()["n"] == 0

    rows = _calls(db, client_id)
    assert [r["outcome"] for r in rows] == fault.outcomes
    billed = sum(float(r["cost_usd"]) for r in rows)
    for row in rows:
        if row["outcome"] in ("error", "timeout"):  # no completion came back: nothing was billed
            assert float(row["cost_usd"]) == 0 and row["prompt_tokens"] == 0
        else:  # a completion that broke its contract was still generated, and billed
            assert float(row["cost_usd"]) > 0
    assert rows[0]["attempts"] == (fault.requests if fault.outcomes[0] != "invalid_output" else 1)
    budget = api.get(USAGE).json()["budget"]
    assert budget["spent_today_usd"] == pytest.approx(spent_before + billed)
    assert budget["remaining_usd"] == pytest.approx(5.0 - budget["spent_today_usd"])

    fake.responder = lambda body: sop()  # the provider is back: the same request now succeeds
    again = api.post(PLAN, json={"intent": f"Plan the offsite ({name})", "client_id": client_id, "reuse": False})
    assert again.status_code == 201, again.text


def test_a_short_retry_after_is_waited_out_and_the_caller_sees_success(llm_stack, fake, db, client_id):
    fake.fail(429, retry_after=0.5)
    fake.fail(500)
    fake.enqueue(sop())
    started = time.monotonic()
    resp = llm_stack.api().post(PLAN, json={"intent": "Plan the quarter", "client_id": client_id, "reuse": False})
    assert resp.status_code == 201, resp.text
    assert time.monotonic() - started >= 0.5 and fake.count() == 3
    (row,) = _calls(db, client_id)
    assert row["outcome"] == "ok" and row["attempts"] == 3 and float(row["cost_usd"]) > 0  # one completion, paid once


REFLECTION_FAILS_ONCE = """
CREATE SEQUENCE IF NOT EXISTS reflection_faults;
CREATE OR REPLACE FUNCTION reflection_fails_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF nextval('reflection_faults') = 1 THEN  -- sequences ignore rollbacks: this fires exactly once
    RAISE EXCEPTION 'injected: could not serialize access' USING ERRCODE = 'serialization_failure';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER reflection_fails_once BEFORE INSERT ON reflections
  FOR EACH ROW EXECUTE FUNCTION reflection_fails_once();
"""


def test_a_reflection_failing_after_its_paid_llm_step_resumes_without_paying_again(llm_stack, fake, db, client_id):
    api = llm_stack.api()
    seed(api, db, client_id)
    answer = {"narrative": "A steady Friday.", "suggestions": ["Start with T3.", "Decide on T4.", "Keep focus."]}
    fake.enqueue(answer)
    db.execute(REFLECTION_FAILS_ONCE)
    try:
        failed = api.post(REFLECT, params={"mode": "daily"}, json=daily_body(client_id))
        assert failed.status_code == 503, failed.text  # the database failed the store step: retry, not a 500
        error = failed.json()["error"]
        assert error["code"] == "database_unavailable" and int(failed.headers["Retry-After"]) >= 1
        where = next(d for d in error["details"] if d["field"] == "pipeline")
        assert "stopped at step store" in where["problem"]
        run_id = where["problem"].split()[1]
        state = api.get(f"/api/v1/pipelines/{run_id}").json()
        assert state["completed"] == ["gather", "aggregate", "narrate"] and state["status"] == "failed"
        assert (
            db.execute("SELECT count(*) AS n FROM reflections WHERE client_id = %s", (client_id,)).fetchone()["n"] == 0
        )
        assert fake.count() == 1

        llm_stack.clear_cache()  # the checkpoint, not the LLM cache, is what spares the second payment
        resumed = api.post(REFLECT, params={"mode": "daily"}, json=daily_body(client_id))
        assert resumed.status_code == 200, resumed.text
        out = resumed.json()
        assert out["run_id"] == run_id and out["narrative"] == answer["narrative"]
        assert fake.count() == 1, "the paid narrate step ran again"
        steps = {s["name"]: s["attempts"] for s in api.get(f"/api/v1/pipelines/{run_id}").json()["steps"]}
        assert steps == {"gather": 1, "aggregate": 1, "narrate": 1, "store": 2}
        paid = [r for r in _calls(db, client_id) if r["outcome"] == "ok"]
        assert len(paid) == 1
    finally:
        db.execute("DROP TRIGGER IF EXISTS reflection_fails_once ON reflections")
        db.execute("DROP FUNCTION IF EXISTS reflection_fails_once()")
        db.execute("DROP SEQUENCE IF EXISTS reflection_faults")

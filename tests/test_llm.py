"""The LLM layer against a local OpenAI-compatible server: contracts, repair, retries, timeouts,
accounting in Postgres, metrics, the response cache and the daily budget."""

from __future__ import annotations

import time

import pytest
from prometheus_client import generate_latest
from pydantic import BaseModel, Field

from fakes.llm_data import BIG, PRICES, SMALL
from fakes.openai_server import completion_tokens, prompt_tokens
from steward.core import processing
from steward.core.llm import LLMBadOutput, LLMBudgetExceeded, LLMNotConfigured, LLMUnavailable, llm

pytest_plugins = ["fakes.llm_fixtures"]


class Verdict(BaseModel):
    answer: str
    confidence: float = Field(ge=0, le=1)


GOOD = {"answer": "yes", "confidence": 0.9}


def ask(app, text="Is the sky blue?", mode=None):
    with app.test_request_context("/api/v1/test"):
        token = processing.use_profile(processing.profile_for(mode, app.config["STEWARD_SETTINGS"])) if mode else None
        try:
            return llm(app).complete([{"role": "user", "content": text}], Verdict, purpose="test", client_id="c1")
        finally:
            if token is not None:
                processing.reset_profile(token)


def calls(db):
    return db.execute("SELECT * FROM llm_calls ORDER BY created_at, id").fetchall()


def test_answer_is_validated_sent_with_its_schema_and_accounted(llm_stack, fake, db):
    fake.enqueue(GOOD)
    result = ask(llm_stack.app)
    assert result.value == Verdict(**GOOD) and not result.cached and result.calls == 1
    sent = fake.chat_requests()[0]
    assert sent["model"] == BIG and sent["max_tokens"] == 4000
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == "Verdict"
    assert sent["messages"][0]["role"] == "system" and '"confidence"' in sent["messages"][0]["content"]

    (row,) = calls(db)
    p, c = prompt_tokens(sent["messages"]), completion_tokens(result.raw)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (p, c)
    expected_cost = round((p * PRICES[BIG]["prompt"] + c * PRICES[BIG]["completion"]) / 1e6, 6)
    assert float(row["cost_usd"]) == pytest.approx(expected_cost) == result.cost_usd
    assert row["outcome"] == "ok" and row["mode"] == "default" and row["model"] == BIG and row["priced"]
    assert row["purpose"] == "test" and row["client_id"] == "c1" and row["attempts"] == 1

    exposition = generate_latest(llm_stack.app.extensions["steward.metrics"].registry).decode()
    assert f'steward_llm_tokens_total{{kind="prompt",mode="default",model="{BIG}"}}' in exposition
    assert "steward_llm_cost_usd_total" in exposition


def test_fast_mode_uses_the_fast_model_and_smaller_budget(llm_stack, fake, db):
    fake.enqueue(GOOD)
    result = ask(llm_stack.app, mode="fast")
    sent = fake.chat_requests()[0]
    assert sent["model"] == SMALL and sent["max_tokens"] == 1200 and result.mode == "fast"
    assert calls(db)[0]["mode"] == "fast"


def test_cache_hit_makes_no_http_call_and_costs_nothing(llm_stack, fake, db):
    fake.enqueue(GOOD)
    first = ask(llm_stack.app, "cache me")
    second = ask(llm_stack.app, "cache me")
    assert fake.count() == 1
    assert second.cached and second.value == first.value and second.cost_usd == 0 and second.calls == 0
    rows = calls(db)
    assert [r["cache_hit"] for r in rows] == [False, True]
    assert (rows[1]["prompt_tokens"], rows[1]["completion_tokens"], float(rows[1]["cost_usd"])) == (0, 0, 0.0)
    fake.enqueue(GOOD)
    ask(llm_stack.app, "cache me", mode="fast")  # another model is another key
    assert fake.count() == 2


def test_invalid_json_gets_one_repair_with_the_problem(llm_stack, fake, db):
    fake.invalid_json()
    fake.enqueue(GOOD)
    result = ask(llm_stack.app)
    assert result.repaired and result.calls == 2 and result.value.answer == "yes"
    repair = fake.chat_requests()[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "not valid JSON" in repair[-1]["content"]
    assert [(r["outcome"], r["repair"]) for r in calls(db)] == [("invalid_output", False), ("ok", True)]


def test_schema_violation_twice_is_a_502(llm_stack, fake, db):
    fake.enqueue({"answer": "yes", "confidence": 7}, '```json\n{"answer": 1}\n```')
    with pytest.raises(LLMBadOutput) as caught:
        ask(llm_stack.app)
    assert caught.value.status == 502 and caught.value.code == "llm_bad_output"
    assert any("confidence" in d["problem"] for d in caught.value.details)
    assert fake.count() == 2
    assert [r["outcome"] for r in calls(db)] == ["invalid_output", "invalid_output"]


def test_markdown_fenced_json_is_accepted(llm_stack, fake):
    fake.enqueue('```json\n{"answer": "fenced", "confidence": 0.5}\n```')
    assert ask(llm_stack.app).value.answer == "fenced"


def test_5xx_is_retried_then_succeeds(llm_stack, fake, db):
    fake.fail(500, times=2)
    fake.enqueue(GOOD)
    assert ask(llm_stack.app).value.answer == "yes"
    assert fake.count() == 3
    assert calls(db)[0]["attempts"] == 3


def test_retry_after_is_honoured(llm_stack, fake):
    fake.fail(429, retry_after=0.6)
    fake.enqueue(GOOD)
    started = time.perf_counter()
    ask(llm_stack.app)
    assert time.perf_counter() - started >= 0.6
    assert fake.count() == 2


def test_a_retry_after_longer_than_we_wait_is_passed_on(llm_stack, fake, db):
    fake.fail(429, retry_after=30)
    with pytest.raises(LLMUnavailable) as caught:
        ask(llm_stack.app)
    assert caught.value.status == 503 and caught.value.headers["Retry-After"] == "30"
    assert fake.count() == 1
    assert calls(db)[0]["outcome"] == "error"


def test_exhausted_retries_are_a_503(llm_stack, fake, db):
    fake.fail(503, times=3)
    with pytest.raises(LLMUnavailable) as caught:
        ask(llm_stack.app)
    assert "HTTP 503" in caught.value.message and "3 attempt" in caught.value.message
    assert fake.count() == 3
    (row,) = calls(db)
    assert (row["outcome"], row["attempts"], float(row["cost_usd"])) == ("error", 3, 0.0)


def test_a_hung_provider_times_out(llm_stack, fake, db):
    fake.hang(4)
    started = time.perf_counter()
    with pytest.raises(LLMUnavailable) as caught:
        ask(llm_stack.app)
    assert time.perf_counter() - started < 3.5
    assert "did not answer within" in caught.value.message
    assert fake.count() == 1  # a timeout is not retried
    assert calls(db)[0]["outcome"] == "timeout"


def test_json_mode_when_the_provider_refuses_json_schema(llm_stacks, fake):
    stack = llm_stacks(llm_response_format="json_schema", llm_cache_ttl_seconds=0)
    fake.json_schema = False
    fake.enqueue(GOOD, GOOD)
    assert ask(stack.app, "first").value.answer == "yes"
    assert ask(stack.app, "second").value.answer == "yes"
    formats = [r["response_format"]["type"] for r in fake.chat_requests()]
    assert formats == ["json_schema", "json_object", "json_object"]  # probed once, then remembered


def test_missing_usage_is_estimated_and_flagged(llm_stack, fake, db):
    fake.usage = False
    fake.enqueue(GOOD)
    ask(llm_stack.app)
    row = calls(db)[0]
    assert row["tokens_estimated"] and row["prompt_tokens"] > 0 and row["completion_tokens"] > 0


def test_an_unlisted_model_is_unpriced_not_guessed(llm_stacks, fake, db):
    stack = llm_stacks(llm_model="local-llama")
    fake.enqueue(GOOD)
    result = ask(stack.app)
    assert result.cost_usd == 0
    row = calls(db)[0]
    assert row["prompt_tokens"] > 0 and not row["priced"] and float(row["cost_usd"]) == 0


def test_budget_exhaustion_refuses_new_calls_but_serves_the_cache(llm_stacks, fake, db):
    stack = llm_stacks(llm_daily_budget_usd=0.000001)
    fake.enqueue(GOOD)
    ask(stack.app, "spend")
    with pytest.raises(LLMBudgetExceeded) as caught:
        ask(stack.app, "spend more")
    err = caught.value
    assert err.status == 429 and err.code == "llm_budget_exceeded" and int(err.headers["Retry-After"]) > 0
    assert err.details[0]["field"] == "LLM_DAILY_BUDGET_USD"
    assert fake.count() == 1
    assert ask(stack.app, "spend").cached  # already paid for
    assert [r["outcome"] for r in calls(db)] == ["ok", "refused", "ok"]


def test_without_an_llm_the_error_names_the_variables(app):
    with app.test_request_context("/"), pytest.raises(LLMNotConfigured) as caught:
        llm(app).complete([{"role": "user", "content": "x"}], Verdict, purpose="test")
    assert caught.value.status == 503 and caught.value.code == "llm_not_configured"
    assert [d["field"] for d in caught.value.details][:1] == ["LLM_BASE_URL"]

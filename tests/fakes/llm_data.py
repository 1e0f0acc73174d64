"""Shared test data for the LLM and planner tests: model names, prices, a valid SOP answer."""

from __future__ import annotations

from typing import Any

from fakes.openai_server import FakeOpenAI

BIG, SMALL = "big-model", "small-model"
PRICES = {BIG: {"prompt": 3.0, "completion": 15.0}, SMALL: {"prompt": 0.5, "completion": 1.5}}


def llm_settings(fake: FakeOpenAI, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(
        llm_base_url=fake.url,
        llm_api_key="sk-test",
        llm_model=BIG,
        llm_model_fast=SMALL,
        llm_timeout_seconds=1.5,
        llm_max_retries=2,
        llm_retry_max_wait_seconds=1.0,
        llm_daily_budget_usd=0.0,
        llm_prices=PRICES,
    )
    values.update(overrides)
    return values


def sop(title: str = "Onboard the client", steps: int = 3, **extra: Any) -> dict[str, Any]:
    """A valid SOP answer: a chain s1 -> s2 -> ... ."""
    return {
        "title": title,
        "summary": "Get the client running",
        "steps": [
            {
                "key": f"s{i}",
                "title": f"Step {i}",
                "description": f"Do step {i}",
                "estimate_minutes": 30 * i,
                "depends_on": [f"s{i - 1}"] if i > 1 else [],
                "role": "consultant",
                "deliverable": f"deliverable {i}",
            }
            for i in range(1, steps + 1)
        ],
        "risks": ["client is slow to grant access"],
        "assumptions": ["a kickoff can happen this week"],
        **extra,
    }

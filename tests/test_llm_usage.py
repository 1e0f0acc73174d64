"""GET /api/v1/llm/usage: tokens and cost per mode (and other dimensions) from `llm_calls`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fakes.llm_data import BIG, SMALL, sop

pytest_plugins = ["fakes.llm_fixtures"]

USAGE = "/api/v1/llm/usage"


def make_plans(api, client_id, modes):
    for i, mode in enumerate(modes):
        resp = api.post(
            "/api/v1/planner/plan",
            json={
                "intent": f"Usage plan {i} for {client_id}",
                "reuse": False,
                "client_id": client_id,
                "processing": {"mode": mode},
            },
        )
        assert resp.status_code == 201, resp.text


def test_usage_shows_tokens_and_cost_per_mode(llm_stack, fake, db, client_id):
    fake.responder = lambda body: sop()
    api = llm_stack.api()
    make_plans(api, client_id, ["fast", "fast", "default"])
    for other in ("a", "b"):  # the same prompt for two clients with no history: the second is a cache hit
        resp = api.post("/api/v1/planner/plan", json={"intent": "Same intent", "client_id": f"{client_id}-{other}"})
        assert resp.status_code == 201
    assert fake.count() == 4

    report = api.get(USAGE, params={"group_by": "mode"}, headers={"X-API-Key": llm_stack.keys.read}).json()
    groups = {g["key"]["mode"]: g for g in report["groups"]}
    assert set(groups) == {"fast", "default"}
    assert (groups["fast"]["calls"], groups["default"]["calls"], groups["default"]["cache_hits"]) == (2, 3, 1)
    for mode in ("fast", "default"):
        rows = db.execute(
            "SELECT sum(prompt_tokens) AS p, sum(completion_tokens) AS c, sum(cost_usd) AS usd"
            " FROM llm_calls WHERE mode = %s",
            (mode,),
        ).fetchone()
        group = groups[mode]
        assert group["prompt_tokens"] == rows["p"] > 0 and group["completion_tokens"] == rows["c"] > 0
        assert group["total_tokens"] == rows["p"] + rows["c"]
        assert group["cost_usd"] == pytest.approx(float(rows["usd"])) and group["cost_usd"] > 0
    assert groups["default"]["cost_usd"] > groups["fast"]["cost_usd"]  # the big model costs more
    totals = report["totals"]
    assert totals["calls"] == 5 and totals["cost_usd"] == pytest.approx(sum(g["cost_usd"] for g in groups.values()))
    assert report["budget"] == {
        "daily_usd": 0.0,
        "spent_today_usd": pytest.approx(totals["cost_usd"]),
        "remaining_usd": None,
    }

    by_model = api.get(USAGE, params={"group_by": "mode,model"}).json()["groups"]
    assert {(g["key"]["mode"], g["key"]["model"]) for g in by_model} == {("fast", SMALL), ("default", BIG)}
    by_day = api.get(USAGE, params={"group_by": "day,cache_hit"}).json()["groups"]
    assert {g["key"]["cache_hit"] for g in by_day} == {True, False}


def test_the_window_and_budget(llm_stacks, fake, client_id):
    api = llm_stacks(llm_daily_budget_usd=2.5).api()
    fake.responder = lambda body: sop()
    make_plans(api, client_id, ["default"])
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    empty = api.get(USAGE, params={"since": future}).json()
    assert empty["totals"]["calls"] == 0 and empty["groups"] == []
    report = api.get(USAGE, params={"since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}).json()
    assert report["totals"]["calls"] == 1
    assert report["budget"]["daily_usd"] == 2.5
    assert report["budget"]["remaining_usd"] == pytest.approx(2.5 - report["totals"]["cost_usd"])


def test_bad_queries_are_400s_naming_the_field(llm_stack):
    api = llm_stack.api()
    assert api.get(USAGE, params={"group_by": "colour"}).json()["error"]["details"][0]["field"] == "group_by.0"
    assert api.get(USAGE, params={"group_by": "mode,mode"}).json()["error"]["details"][0]["field"] == "group_by"
    assert api.get(USAGE, params={"since": "yesterday"}).json()["error"]["details"][0]["field"] == "since"
    now = datetime.now(UTC)
    reversed_window = {"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()}
    assert api.get(USAGE, params=reversed_window).json()["error"]["details"][0]["field"] == "until"
    assert llm_stack.api(None).get(USAGE).status_code == 401

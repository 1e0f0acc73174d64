"""Processing modes: validated at the edge, held per request, reported in every response."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from fakes.llm_data import BIG, SMALL, sop

pytest_plugins = ["fakes.llm_fixtures"]

PLAN = "/api/v1/planner/plan"
EXPECTED = {"fast": (SMALL, 1200, 3, False), "default": (BIG, 4000, 8, True)}


def test_mixed_mode_concurrent_requests_never_share_a_profile(llm_stack, fake, db):
    """24 plans at once, alternating modes (half by header, half by body), against a provider whose
    big model is slower, so requests of both modes overlap. Each request must have run, end to
    end, with its own profile: the model the provider saw, the accounting row, the stored plan and
    the response's meta all agree with the mode that request asked for."""
    fake.latency.update({BIG: 0.15, SMALL: 0.05})
    fake.responder = lambda body: sop("Concurrent plan")
    api = llm_stack.api()
    run = uuid.uuid4().hex[:8]

    def one(i):
        mode = "fast" if i % 2 else "default"
        client = f"mix-{run}-{i}"
        body = {"intent": f"Distinct intent {run} #{i:02d}", "client_id": client, "reuse": False}
        headers = {}
        if i % 4 < 2:
            body["processing"] = {"mode": mode}
        else:
            headers["X-Processing-Mode"] = mode.upper()
        resp = api.post(PLAN, json=body, headers=headers)
        return i, mode, client, body["intent"], resp

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(one, range(24)))

    sent = fake.chat_requests()
    assert len(sent) == 24
    for i, mode, client, intent, resp in results:
        assert resp.status_code == 201, resp.text
        model, max_tokens, budget, critic = EXPECTED[mode]
        meta = resp.json()["meta"]["processing"]
        assert meta == {
            "mode": mode,
            "model": model,
            "retrieval_budget": budget,
            "critic": critic,
            "max_tokens": max_tokens,
        }, (i, meta)
        assert resp.headers["X-Processing-Mode"] == mode
        assert resp.json()["mode"] == mode and resp.json()["llm_model"] == model
        (request,) = [r for r in sent if intent in r["messages"][-1]["content"]]
        assert (request["model"], request["max_tokens"]) == (model, max_tokens), i
        (row,) = db.execute("SELECT mode, model FROM llm_calls WHERE client_id = %s", (client,)).fetchall()
        assert (row["mode"], row["model"]) == (mode, model), i


def test_mode_is_normalised_and_the_body_wins_over_the_header(llm_stack, fake, client_id):
    fake.responder = lambda body: sop()
    resp = llm_stack.api().post(
        PLAN,
        headers={"X-Processing-Mode": "default"},
        json={"intent": "Plan a thing", "client_id": client_id, "reuse": False, "processing": {"mode": " FAST "}},
    )
    assert resp.status_code == 201 and resp.json()["meta"]["processing"]["mode"] == "fast"
    assert fake.chat_requests()[0]["model"] == SMALL


def test_an_unknown_mode_is_a_400_naming_where_it_came_from(llm_stack, fake, client_id):
    api = llm_stack.api()
    body = {"intent": "Plan a thing", "client_id": client_id}
    by_body = api.post(PLAN, json={**body, "processing": {"mode": "turbo"}})
    assert by_body.status_code == 400 and by_body.json()["error"]["details"][0]["field"] == "processing.mode"
    extra = api.post(PLAN, json={**body, "processing": {"mode": "fast", "critic": False}})
    assert extra.status_code == 400 and extra.json()["error"]["details"][0]["field"] == "processing"
    not_object = api.post(PLAN, json={**body, "processing": "fast"})
    assert not_object.json()["error"]["details"][0]["field"] == "processing"
    by_header = api.get("/api/v1/llm/usage", headers={"X-Processing-Mode": "slow"})
    assert by_header.status_code == 400 and by_header.json()["error"]["details"][0]["field"] == "X-Processing-Mode"
    assert fake.count() == 0


def test_every_response_says_which_mode_ran(llm_stack, client_id):
    api = llm_stack.api()
    plain = api.get("/api/v1/llm/usage")
    assert plain.headers["X-Processing-Mode"] == "default"
    asked = api.get("/api/v1/llm/usage", headers={"X-Processing-Mode": "fast"})
    assert asked.headers["X-Processing-Mode"] == "fast" and asked.json()["meta"]["processing"]["mode"] == "fast"
    error = api.get("/api/v1/planner/plans", headers={"X-Processing-Mode": "fast"})
    assert error.status_code == 400 and error.json()["meta"]["processing"]["mode"] == "fast"


def test_a_route_that_ignores_the_mode_keeps_its_body_unchanged(llm_stack, client_id):
    """Plain CRUD bodies stay exactly their models unless the caller asked for a mode."""
    api = llm_stack.api()
    created = api.post("/api/v1/events", json={"event_type": "x", "event_source": "t", "client_id": client_id})
    assert created.status_code == 201 and "meta" not in created.json()
    assert created.headers["X-Processing-Mode"] == "default"

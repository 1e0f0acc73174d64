"""coda-task-created (coda-to-calendar-sync): a Coda task becomes a plan, a schedule and calendar blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.e2e

TEMPLATE_STEPS = "Collect receipts (30 min)\nReconcile bank accounts (60 min)\nSend the report"


def _next_weekday(after: datetime) -> datetime:
    day = (after + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _seed(coda_doc) -> dict[str, str]:
    coda_doc.add_row("Tasks", {"Title": "Monthly bookkeeping close for Acme", "Task ID": "T-100", "Status": "New"})
    return {
        "process_template_id": coda_doc.add_row(
            "Process templates", {"Name": "Monthly bookkeeping close", "Steps": TEMPLATE_STEPS}
        ),
        "blueprint_id": coda_doc.add_row(
            "Blueprints", {"Name": "Bookkeeping retainer", "Deliverables": "Monthly report"}
        ),
        "workflow_id": coda_doc.add_row("Workflows", {"Name": "Month end", "Stage": "Close"}),
    }


def test_a_coda_task_becomes_a_plan_and_calendar_blocks(n8n, api, coda_doc, calendar):
    rows = _seed(coda_doc)
    offsite = _next_weekday(datetime.now(UTC))
    meeting = calendar.add_event(n8n.calendar_id, "Offsite", offsite.replace(hour=9), offsite.replace(hour=17))

    response = n8n.webhook(
        "coda/task-created",
        {
            "task_id": "T-100",
            "title": "Monthly bookkeeping close for Acme",
            "engagement_id": "E-7",
            "priority": "p2",
            **rows,
        },
    )

    assert response.status_code == 201, f"{response.status_code} {response.text}\n{n8n.log_tail()}"
    outcome = response.json()
    plan = api.get(f"/api/v1/planner/plans/{outcome['plan_id']}").json()
    assert plan["source"] == "process_template" and plan["process_template_id"] == rows["process_template_id"]
    assert [s["title"] for s in plan["steps"]] == ["Collect receipts", "Reconcile bank accounts", "Send the report"]
    assert [s["estimate_minutes"] for s in plan["steps"]][:2] == [30, 60]
    assert plan["engagement_id"] == "E-7" and plan["workflow_id"] == rows["workflow_id"]
    assert plan["blueprint_id"] == rows["blueprint_id"]

    blocks = [e for e in calendar.events(n8n.calendar_id) if e["id"] != meeting["id"]]
    assert len(blocks) == outcome["blocks"] >= 3
    assert {e["id"] for e in blocks} == {e["id"] for e in outcome["events"]}
    for event in blocks:
        props = event["extendedProperties"]["private"]
        assert props["steward_task"] == "T-100" and props["steward_scope"] == outcome["plan_id"]
        assert props["steward_run"] == outcome["scheduler_run_id"]
        assert "T-100" in event["description"]
        start, end = _parse(event["start"]["dateTime"]), _parse(event["end"]["dateTime"])
        assert end <= offsite.replace(hour=9) or start >= offsite.replace(hour=17), "a block overlaps the offsite"
    [free_busy] = calendar.calls("POST", "/freeBusy")
    assert free_busy.body["items"] == [{"id": n8n.calendar_id}]
    assert free_busy.headers["Authorization"] == f"Bearer {calendar.token}"  # the OAuth2 credential's token

    [task] = [r for r in coda_doc.rows("Tasks") if r["Task ID"] == "T-100"]
    assert task["Status"] == "Scheduled" and task["Plan ID"] == outcome["plan_id"]
    assert task["Next block"] == min(e["start"] for e in outcome["events"])
    [event] = api.get("/api/v1/events", params={"event_type": "coda_task_planned"}).json()["items"]
    assert event["event_source"] == "n8n:coda-to-calendar-sync"
    assert event["payload"]["plan_id"] == outcome["plan_id"] and event["payload"]["coda_task_id"] == "T-100"


def test_coda_redelivering_the_task_replays_its_plan_without_new_blocks(n8n, api, coda_doc, calendar):
    rows = _seed(coda_doc)
    body = {"task_id": "T-100", "title": "Monthly bookkeeping close for Acme", **rows}
    first = n8n.webhook("coda/task-created", body)
    assert first.status_code == 201, f"{first.text}\n{n8n.failures()}"
    events = calendar.events(n8n.calendar_id)

    again = n8n.webhook("coda/task-created", body)

    assert again.status_code == 200, again.text
    assert again.json() == {"plan_id": first.json()["plan_id"], "plan_source": "process_template", "replayed": True}
    assert calendar.events(n8n.calendar_id) == events
    assert len(calendar.calls("POST", "/freeBusy")) == 1
    assert len(api.get("/api/v1/planner/plans", params={"client_id": n8n.client_id}).json()["items"]) == 1


def test_a_bad_task_is_refused_with_the_field(n8n, coda_doc, calendar):
    response = n8n.webhook("coda/task-created", {"task_id": "T-1", "title": "x", "priority": "urgent"})

    assert response.status_code == 400
    assert {d["field"] for d in response.json()["error"]["details"]} == {"title", "priority"}
    assert calendar.requests == [] and coda_doc.requests == []


def test_a_missing_coda_row_is_a_422_naming_it(n8n, coda_doc, calendar):
    response = n8n.webhook(
        "coda/task-created", {"task_id": "T-1", "title": "Monthly bookkeeping close", "process_template_id": "i-nope"}
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "process_template_id"
    assert calendar.requests == []


def test_without_a_template_or_llm_stewards_503_reaches_coda_and_the_operator(n8n, coda_doc, calendar, fake_telegram):
    response = n8n.webhook("coda/task-created", {"task_id": "T-9", "title": "Write a grant proposal for the arts"})

    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "llm_not_configured"
    fake_telegram.wait_for("sendMessage", lambda p: "coda-to-calendar-sync" in str(p.get("text")))
    assert calendar.requests == []

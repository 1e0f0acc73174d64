"""daily-review and weekly-review: calendar, Coda and Todoist in; a reflection, a Coda row, a Telegram out.

The schedules (18:00 daily, 18:00 on Fridays) are not waited for: `scripts/n8n execute` runs each
workflow through its "When called" trigger, in a second n8n process next to the running one.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.e2e


def _wait_for_events(api, timeout: float = 30, **query) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = api.get("/api/v1/events", params=query).json()["items"]
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no event matching {query} within {timeout} s")


def _seed_today(coda_doc, calendar, fake_todoist, calendar_id: str) -> tuple[str, str]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    coda_doc.add_row(
        "Tasks",
        {
            "Title": "Send the invoice",
            "Task ID": "T-1",
            "Status": "Done",
            "Estimate minutes": 30,
            "Planned for": today.date().isoformat(),
            "Completed at": (today + timedelta(hours=10)).isoformat(),
            "Billable": True,
        },
    )
    coda_doc.add_row(
        "Tasks",
        {
            "Title": "Draft the proposal",
            "Task ID": "T-2",
            "Status": "Scheduled",
            "Estimate minutes": 90,
            "Planned for": today.date().isoformat(),
        },
    )
    calendar.add_event(calendar_id, "Client call", today + timedelta(hours=9), today + timedelta(hours=10))
    calendar.add_event(
        calendar_id,
        "Draft the proposal",
        today + timedelta(hours=11),
        today + timedelta(hours=12),
        extendedProperties={"private": {"steward": "1", "steward_task": "T-2"}},
    )
    done = fake_todoist.phone_add(f"Buy stamps {time.monotonic_ns()}")
    fake_todoist.phone_close(done["id"])
    return today.date().isoformat(), done["content"]


def test_the_daily_review_posts_a_row_to_coda_and_a_summary_to_telegram(
    n8n, api, coda_doc, calendar, fake_todoist, fake_telegram
):
    day, _ = _seed_today(coda_doc, calendar, fake_todoist, n8n.calendar_id)

    started = time.monotonic()
    run = n8n.execute("daily-review")
    took = time.monotonic() - started

    assert run.returncode == 0, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}\n{n8n.failures()}"
    [row] = coda_doc.rows("Daily Thread")
    assert row["Key"] == f"{n8n.client_id}:daily:{day}" and row["Mode"] == "daily" and row["Date"] == day
    assert row["Planned"] == 2 and row["Completed"] == 1 and row["Narrative"]  # T-1 done, T-2 open
    assert row["Unplanned completed"] == 1  # the task closed in Todoist
    [write] = coda_doc.writes("grid-daily") or coda_doc.writes("Daily%20Thread")
    assert write.body["keyColumns"] == ["Key"]
    sent = fake_telegram.wait_for("sendMessage", lambda p: f"Daily reflection {day}" in str(p.get("text")))
    assert str(sent.params["chat_id"]) == "4242" and "Suggestions:" in sent.params["text"]
    [event] = _wait_for_events(api, event_type="daily_review_sent")
    assert event["event_source"] == "n8n:daily-observer-trigger"
    assert event["payload"]["gaps"] == [] and event["payload"]["coda_request_id"]
    [reflection] = api.get("/api/v1/observer/reflections", params={"client_id": n8n.client_id}).json()["items"]
    assert reflection["reflection_id"] == event["payload"]["reflection_id"]
    assert reflection["figures"]["tasks"]["unplanned_completed_ids"][0].startswith("todoist:")
    print(f"daily-review via scripts/n8n execute: {took:.1f} s")


def test_the_weekly_review_still_goes_out_when_a_source_fails(
    n8n, api, coda_doc, calendar, fake_todoist, fake_telegram
):
    _seed_today(coda_doc, calendar, fake_todoist, n8n.calendar_id)
    monday = (datetime.now(UTC) - timedelta(days=datetime.now(UTC).weekday())).date().isoformat()
    fake_todoist.fail(503, times=3, path="/api/v1/tasks/completed/by_completion_date")  # every try n8n makes
    try:
        run = n8n.execute("weekly-review")
    finally:
        fake_todoist._script.clear()

    assert run.returncode == 0, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}\n{n8n.failures()}"
    [row] = coda_doc.rows("Daily Thread")
    assert row["Key"] == f"{n8n.client_id}:weekly:{monday}" and row["Mode"] == "weekly"
    sent = fake_telegram.wait_for("sendMessage", lambda p: f"Weekly review {monday}" in str(p.get("text")))
    assert "Not included (could not be read): todoist" in sent.params["text"]
    [event] = _wait_for_events(api, event_type="weekly_review_sent")
    assert event["payload"]["gaps"] == ["todoist"]
    assert json.dumps(event["payload"]["period"]).count(monday) >= 1

"""daily-plan: the day's calendar and open Coda tasks -> Steward's daily plan -> blocks -> Telegram agenda.

Run through `scripts/n8n execute` (its "When called" trigger) rather than waiting for 07:30. The
operator's working hours come from a Steward preference source registered for this test: the whole
day, so the test does not depend on the hour it runs at.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from steward.scheduler import preferences
from steward.scheduler.preferences import SOURCES_KEY

pytestmark = pytest.mark.e2e
ALL_DAY = {day: [{"start": "00:00", "end": "24:00"}] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def round_the_clock(app, n8n):
    def working_hours(client_id: str) -> dict:
        return {"working_hours": ALL_DAY, "workload_limit_minutes": 1440} if client_id == n8n.client_id else {}

    preferences.register_source(app, working_hours)
    yield
    app.extensions[SOURCES_KEY].remove(working_hours)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_daily_plan_lays_blocks_and_telegrams_the_agenda(
    n8n, api, coda_doc, calendar, fake_telegram, round_the_clock
):
    now = datetime.now(UTC)
    if now.hour >= 21:
        pytest.skip("too little of the day is left to plan (UTC); the test needs three hours")
    today = now.date().isoformat()
    for values in (
        {
            "Title": "Write the newsletter",
            "Task ID": "T-1",
            "Status": "Not started",
            "Estimate minutes": 45,
            "Priority": "p1",
        },
        {"Title": "Call the accountant", "Task ID": "T-2", "Status": "In progress", "Estimate minutes": 30},
        {"Title": "Already shipped", "Task ID": "T-3", "Status": "Done", "Estimate minutes": 60},
        {"Title": "Part of a plan", "Task ID": "T-4", "Status": "Scheduled", "Plan ID": "a-plan"},
    ):
        coda_doc.add_row("Tasks", values)
    meeting_start = (now + timedelta(minutes=20)).replace(second=0, microsecond=0)
    meeting = calendar.add_event(n8n.calendar_id, "Standup", meeting_start, meeting_start + timedelta(hours=1))

    started = time.monotonic()
    run = n8n.execute("daily-plan")
    took = time.monotonic() - started

    assert run.returncode == 0, f"{run.stdout[-2000:]}\n{run.stderr[-2000:]}\n{n8n.failures()}"
    blocks = [e for e in calendar.events(n8n.calendar_id) if e["id"] != meeting["id"]]
    assert sorted(e["extendedProperties"]["private"]["steward_task"] for e in blocks) == ["T-1", "T-2"]
    for event in blocks:
        assert event["extendedProperties"]["private"]["steward_scope"] == f"day:{today}"
        start, end = _parse(event["start"]["dateTime"]), _parse(event["end"]["dateTime"])
        assert end <= meeting_start or start >= meeting_start + timedelta(hours=1), "a block overlaps the standup"
    sent = fake_telegram.wait_for("sendMessage", lambda p: "Write the newsletter" in str(p.get("text")))
    assert sent.params.get("parse_mode") == "HTML" and str(sent.params["chat_id"]) == "4242"
    assert "Standup" in sent.params["text"] and "Already shipped" not in sent.params["text"]
    [event] = api.get("/api/v1/events", params={"event_type": "daily_plan_sent"}).json()["items"]
    assert {b["status"] for b in event["payload"]["blocks"]} == {"created"}
    print(f"daily-plan via scripts/n8n execute: {took:.1f} s")

    again = n8n.execute("daily-plan")  # planning the day again moves the same blocks

    assert again.returncode == 0, f"{again.stdout[-2000:]}\n{n8n.failures()}"
    assert len([e for e in calendar.events(n8n.calendar_id) if e["id"] != meeting["id"]]) == 2
    assert len(calendar.calls("PUT")) == 2

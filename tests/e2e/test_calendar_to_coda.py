"""gcal-event-updated (calendar-to-coda-sync): Google's push channel -> Coda task status, event, reschedule.

Google notifies with headers only (`X-Goog-Resource-State: sync`, then `exists`); the workflow
lists what changed with the stored sync token. The test plays Google's part: it changes the fake
calendar as the operator would, then posts the notification.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import requests
from test_coda_to_calendar import _seed

pytestmark = pytest.mark.e2e
WORKFLOW = "gcal-event-updated"


def _push(n8n, state: str, number: int, token: str | None = None) -> requests.Response:
    return requests.post(
        f"{n8n.url}/webhook/gcal/event-updated",
        timeout=30,
        headers={
            "X-Goog-Channel-ID": "steward-e2e-channel",
            "X-Goog-Channel-Token": token or n8n.webhook_token,
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-ID": "e2e-resource",
            "X-Goog-Message-Number": str(number),
            "X-Goog-Resource-URI": f"https://www.googleapis.com/calendar/v3/calendars/{n8n.calendar_id}/events",
        },
    )


def _notify(n8n, state: str, number: int) -> None:
    before = n8n.last_execution_id(WORKFLOW)
    answer = _push(n8n, state, number)
    assert answer.status_code == 200, answer.text
    n8n.wait_for_runs(WORKFLOW, after=before)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _block(calendar, n8n, step: str) -> dict:
    [event] = [
        e
        for e in calendar.events(n8n.calendar_id)
        if e["extendedProperties"]["private"]["steward_block"].startswith(f"{step}#")
    ]
    return event


def _reschedules(db) -> list[dict]:
    return db.execute(
        "SELECT id, parent_run_id, request FROM scheduler_runs WHERE kind = 'reschedule' ORDER BY created_at"
    ).fetchall()


def test_moving_or_removing_a_block_updates_coda_and_reschedules(n8n, api, db, coda_doc, calendar):
    planned = n8n.webhook(
        "coda/task-created", {"task_id": "T-100", "title": "Monthly bookkeeping close for Acme", **_seed(coda_doc)}
    )
    assert planned.status_code == 201, planned.text
    first_run = planned.json()["scheduler_run_id"]
    _notify(n8n, "sync", 1)  # the channel starts: the workflow takes its sync token, changes nothing
    assert [r for r in coda_doc.writes("grid-tasks") if "Calendar note" in str(r.body)] == []

    # The operator drags "Reconcile bank accounts" one day later.
    reconcile = _block(calendar, n8n, "reconcile_bank_accounts")
    new_start = _parse(reconcile["start"]["dateTime"]) + timedelta(days=1)
    new_end = _parse(reconcile["end"]["dateTime"]) + timedelta(days=1)
    calendar.user_move(n8n.calendar_id, reconcile["id"], new_start, new_end)
    _notify(n8n, "exists", 2)

    [task] = [r for r in coda_doc.rows("Tasks") if r["Task ID"] == "T-100"]
    assert task["Status"] == "Scheduled" and "Reconcile bank accounts" in task["Calendar note"]
    assert "moved to" in task["Calendar note"]
    [moved] = api.get("/api/v1/events", params={"event_type": "calendar_block_moved"}).json()["items"]
    assert moved["event_source"] == "n8n:calendar-to-coda-sync"
    assert moved["payload"]["block"] == "reconcile_bank_accounts#1" and moved["payload"]["coda_task_id"] == "T-100"
    [reschedule] = _reschedules(db)
    assert str(reschedule["parent_run_id"]) == first_run
    pinned = {t["id"]: t.get("pinned_start") for t in reschedule["request"]["tasks"]}
    assert _parse(pinned["reconcile_bank_accounts"]) == new_start
    after = _block(calendar, n8n, "reconcile_bank_accounts")  # still where the operator put it
    assert _parse(after["start"]["dateTime"]) == new_start
    props = after["extendedProperties"]["private"]
    assert props["steward_run"] == str(reschedule["id"]) and _parse(props["steward_start"]) == new_start

    # Steward's own writes come back as notifications too: they are not changes.
    writes = len(coda_doc.writes("grid-tasks"))
    _notify(n8n, "exists", 3)
    assert len(_reschedules(db)) == 1 and len(coda_doc.writes("grid-tasks")) == writes

    # The operator deletes "Send the report": the block was missed.
    report = _block(calendar, n8n, "send_the_report")
    calendar.user_delete(n8n.calendar_id, report["id"])
    _notify(n8n, "exists", 4)

    [task] = [r for r in coda_doc.rows("Tasks") if r["Task ID"] == "T-100"]
    assert task["Status"] == "Slipped" and "missed" in task["Calendar note"]
    [missed] = api.get("/api/v1/events", params={"event_type": "calendar_block_missed"}).json()["items"]
    assert missed["payload"]["block"] == "send_the_report#1"
    runs = _reschedules(db)
    assert len(runs) == 2 and runs[1]["request"]["slipped"] == ["send_the_report#1"]
    back = _block(calendar, n8n, "send_the_report")  # Steward placed it again: the event is back
    assert back["status"] == "confirmed" and back["extendedProperties"]["private"]["steward_run"] == str(runs[1]["id"])


def test_a_push_without_the_channel_token_is_refused(n8n, calendar):
    assert _push(n8n, "exists", 1, token="wrong").status_code == 403
    assert calendar.requests == []

"""todoist-sync run by a real n8n against the live Steward and the stateful fake Todoist API v1.

Items are made the way the operator makes them (the chat API: a message, then Yes), changes "on the
phone" go straight into the fake, and each run is a real execution of the published workflow:
`e2e-todoist-sync` (tests/e2e/workflows) calls it through its "When called" trigger inside the
running n8n, with {"mode": "reconcile"} for the daily branch, and answers when it has finished.
Counting the tasks in the fake proves there are no duplicates.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from chat_helpers import Chat, link

pytestmark = pytest.mark.e2e
SYNC = "/api/v1/sync/todoist"


@pytest.fixture
def todoist(fake_todoist):
    """The fake Todoist, emptied: an account with only its Inbox."""
    _clear_of_the_schedule()
    fake_todoist.reset()
    return fake_todoist


@pytest.fixture
def chat(n8n, live_server) -> Chat:
    """The operator's chat, linked to the client n8n syncs (UTC, so dates read plainly)."""
    operator = Chat(live_server.api("write"))
    link(live_server.api("admin"), operator, n8n.client_id, timezone="UTC")
    return operator


def _clear_of_the_schedule(margin: float = 20) -> None:
    """The published workflow also runs every 10 minutes; start a scenario clear of that run, so
    a scripted Todoist failure is not spent on it."""
    into = time.time() % 600
    if into > 600 - margin or into < 5:
        time.sleep((600 - into) % 600 + 5)


def run(n8n, mode: str = "sync") -> float:
    """One execution of todoist-sync, finished when this returns; the seconds it took."""
    started = time.monotonic()
    answer = n8n.webhook("e2e/todoist-sync", {"mode": mode})
    assert answer.status_code == 200, f"{answer.status_code} {answer.text}\n{n8n.failures()}\n{n8n.log_tail(20)}"
    return time.monotonic() - started


def capture(chat: Chat, text: str) -> None:
    applied = chat.press(chat.say(text), "yes")
    assert applied["meta"]["outcome"] == "applied", applied


def item(api, n8n, title: str) -> dict:
    found = api.get("/api/v1/items", params={"client_id": n8n.client_id, "q": title}).json()["items"]
    assert len(found) == 1, found
    return found[0]


def status(api, n8n) -> dict:
    answer = api.get(f"{SYNC}/status", params={"client_id": n8n.client_id})
    assert answer.status_code == 200, answer.text
    return answer.json()


def tasks(fake, content: str | None = None) -> list[dict]:
    """Every task Todoist holds (open or completed, not deleted), optionally by exact content."""
    return fake.stored_tasks(content)


def todoist_id(db, item_id: str) -> str | None:
    row = db.execute("SELECT todoist_id FROM todoist_links WHERE item_id = %s", (item_id,)).fetchone()
    return row["todoist_id"] if row else None


def sent(fake, kind: str) -> list[str]:
    """The uuids of the `kind` commands sent to Todoist, in order (a resend repeats its uuid)."""
    return [
        c["uuid"]
        for r in fake.requests
        if r.path == "/api/v1/sync" and r.method == "POST"
        for c in r.body.get("commands", [])
        if c["type"] == kind
    ]


def settled(state: dict) -> bool:
    return state["pending"] == state["leased"] == state["failed"] == state["dead"] == 0


def test_an_item_made_in_steward_reaches_todoist_once(n8n, api, db, chat, todoist):
    capture(chat, "Call the plumber tomorrow p2")
    local = item(api, n8n, "Call the plumber")
    assert status(api, n8n)["pending"] == 1 and tasks(todoist) == []

    took = run(n8n)

    [task] = tasks(todoist)
    assert task["content"] == "Call the plumber" and task["priority"] == 3  # p2 is the API's 3
    assert task["due"]["date"] == local["due"][:10]  # all day
    assert todoist_id(db, local["id"]) == task["id"]  # the mapping is recorded
    sync_requests = [r for r in todoist.requests if r.path == "/api/v1/sync"]
    assert {r.content_type for r in sync_requests} == {"application/x-www-form-urlencoded"}
    state = status(api, n8n)
    assert settled(state) and state["mapped_tasks"] == 1 and state["last_push_at"] and state["last_pull_at"]

    again = run(n8n)

    assert [t["id"] for t in tasks(todoist)] == [task["id"]]  # no duplicate
    assert len(sent(todoist, "item_add")) == 1
    assert item(api, n8n, "Call the plumber")["version"] == local["version"]  # nothing echoed back
    print(f"todoist-sync run via n8n: {took:.1f} s, then {again:.1f} s")


def test_edits_and_completions_on_the_phone_come_back(n8n, api, chat, todoist):
    capture(chat, "Book the dentist")
    capture(chat, "Renew the passport")
    run(n8n)
    [dentist] = tasks(todoist, "Book the dentist")
    [passport] = tasks(todoist, "Renew the passport")

    todoist.phone_update(dentist["id"], content="Book the dentist for Friday", priority=4)
    todoist.phone_close(passport["id"])
    run(n8n)

    edited = item(api, n8n, "Book the dentist for Friday")
    assert edited["priority"] == "p1" and edited["status"] != "done"
    assert item(api, n8n, "Renew the passport")["status"] == "done"
    assert len(tasks(todoist)) == 2  # nothing added, nothing echoed back
    assert sent(todoist, "item_update") == sent(todoist, "item_close") == []
    assert settled(status(api, n8n))


def test_a_recurring_task_completed_on_the_phone_moves_the_due_date(n8n, api, chat, todoist):
    capture(chat, "Water the plants every monday")
    before = item(api, n8n, "Water the plants")
    assert before["recurrence"] == "FREQ=WEEKLY;BYDAY=MO" and before["due"]
    run(n8n)
    [task] = tasks(todoist, "Water the plants")
    assert task["due"]["is_recurring"] and task["due"]["string"] == "every monday"
    first = date.fromisoformat(task["due"]["date"])

    todoist.phone_close(task["id"])  # Todoist moves it to the next Monday, it stays open
    run(n8n)

    after = item(api, n8n, "Water the plants")
    assert after["status"] != "done" and after["completed_at"] is None
    assert date.fromisoformat(after["due"][:10]) == first + timedelta(days=7)
    assert after["recurrence"] == before["recurrence"]
    [still] = tasks(todoist, "Water the plants")
    assert not still["checked"] and still["id"] == task["id"]
    assert settled(status(api, n8n))


def test_the_daily_reconciliation_repairs_drift(n8n, api, db, chat, todoist):
    for text in ("Pay the invoice", "Call the bank", "Sort the receipts"):
        capture(chat, text)
    run(n8n)
    run(n8n)  # its pull reads back the tasks the first run created: the token is past them now
    invoice, bank, receipts = (tasks(todoist, t)[0] for t in ("Pay the invoice", "Call the bank", "Sort the receipts"))
    assert status(api, n8n)["last_reconciliation"] is None

    # Drift on both sides that no incremental sync and no outbox row will ever carry.
    todoist.silently_update(invoice["id"], content="Pay the invoice by card")
    bank_item = item(api, n8n, "Call the bank")
    db.execute("UPDATE items SET priority = 'p1' WHERE id = %s", (bank_item["id"],))
    run(n8n)  # the 10-minute run sees nothing
    assert item(api, n8n, "Pay the invoice")["title"] == "Pay the invoice"
    assert tasks(todoist, "Call the bank")[0]["priority"] == 1

    run(n8n, mode="reconcile")  # the daily branch

    state = status(api, n8n)
    assert state["drift"] == 2 and state["last_reconciliation"]["repaired"] == 2, state
    assert item(api, n8n, "Pay the invoice by card")["id"]  # Todoist's side was applied
    assert tasks(todoist, "Call the bank")[0]["priority"] == 4  # Steward's side was pushed (p1)
    assert settled(state)

    # A refused token and a deletion Todoist never reported: the 10-minute run resets to a full
    # sync, which finds the task missing and asks for a reconciliation, which the run then does.
    todoist.invalidate_tokens()
    todoist.silently_update(receipts["id"], is_deleted=True)
    run(n8n)

    state = status(api, n8n)
    assert state["token_resets"] == 1 and state["drift"] == 1 and state["tombstones"] == 1, state
    gone = api.get("/api/v1/items", params={"client_id": n8n.client_id, "q": "Sort the receipts"})
    assert gone.json()["items"] == []  # tombstoned locally, as Todoist deleted it
    assert settled(state)

    run(n8n, mode="reconcile")

    state = status(api, n8n)
    assert state["drift"] == 0 and settled(state)
    assert sorted(t["content"] for t in tasks(todoist)) == ["Call the bank", "Pay the invoice by card"]
    assert len(sent(todoist, "item_add")) == 3


def test_a_transient_todoist_failure_is_retried_without_duplicates(n8n, api, db, chat, todoist):
    capture(chat, "Order printer ink")
    todoist.fail(503, times=2, path="/api/v1/sync")  # the pull's read, then the push

    run(n8n)

    state = status(api, n8n)
    assert state["failed"] == 1 and state["pending"] == 0 and tasks(todoist) == [], state
    [op] = db.execute("SELECT attempts, last_http_status, next_attempt_at > now() AS later FROM todoist_outbox")
    assert op == {"attempts": 1, "last_http_status": 503, "later": True}  # backing off
    run(n8n)
    assert tasks(todoist) == []  # not due yet: the backoff holds

    db.execute("UPDATE todoist_outbox SET next_attempt_at = now() WHERE status = 'failed'")  # the backoff passes
    run(n8n)

    [task] = tasks(todoist, "Order printer ink")
    assert settled(status(api, n8n))
    run(n8n)
    assert [t["id"] for t in tasks(todoist)] == [task["id"]]
    first, resent = sent(todoist, "item_add")  # the 503 answered the first send
    assert resent == first  # resent unchanged: Todoist runs a command uuid at most once

"""The outbox under failure: retries with backoff, lost and duplicate acks, dead operations, and
two workers leasing at once. Todoist is the stateful fake; n8n is the loop in fakes/todoist_loop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from fakes.todoist_loop import SYNC, TodoistLoop
from fakes.todoist_server import FakeTodoist
from steward.items import store as items
from steward.sync import outbox

CLIENT = "acme"


@pytest.fixture
def fake():
    with FakeTodoist() as server:
        yield server


@pytest.fixture
def loop(api, fake) -> TodoistLoop:
    return TodoistLoop(api, fake, CLIENT)


def make(db, title: str, **fields):
    with db.transaction():
        return items.create_item(db, CLIENT, source="chat", title=title, **fields)


def ops(db) -> list[dict]:
    return db.execute("SELECT * FROM todoist_outbox ORDER BY seq").fetchall()


def time_passes(db) -> None:
    """Every backoff and lease has run out."""
    db.execute("UPDATE todoist_outbox SET next_attempt_at = now() WHERE status IN ('pending', 'failed')")
    db.execute("UPDATE todoist_outbox SET lease_expires_at = now() - interval '1 second' WHERE status = 'leased'")


def sync_commands(fake) -> list[list[str]]:
    return [[c["uuid"] for c in r.body.get("commands", [])] for r in fake.requests if r.path == "/api/v1/sync"]


def test_transient_failure_is_retried_with_backoff_under_the_same_uuids(db, loop, fake):
    make(db, "First")
    make(db, "Second")
    fake.fail(503, path="/api/v1/sync")

    results = loop.push()

    assert [r["status"] for r in results] == ["failed", "failed"]
    assert all(r["next_attempt_at"] for r in results)
    wait = datetime.fromisoformat(results[0]["next_attempt_at"]) - datetime.now(UTC)
    assert timedelta(seconds=20) < wait <= timedelta(seconds=31)  # 30 s after the first failure
    assert loop.push() == []  # not due yet: nothing is leased
    status = loop.status()
    assert status["failed"] == 2 and status["pending"] == 0 and status["last_push_at"] is None

    time_passes(db)
    results = loop.push()

    assert [r["status"] for r in results] == ["done", "done"]
    first, second = sync_commands(fake)
    assert first == second  # the retry resent the same command uuids
    assert len(fake.active_tasks()) == 2
    assert {r["attempts"] for r in ops(db)} == {2}


def test_lost_ack_never_creates_a_duplicate(db, loop, fake):
    make(db, "Only once")
    leased = loop.lease()
    loop.todoist(leased["batch"]["request"])  # Todoist ran it; the ack never arrived (n8n crashed)
    assert len(fake.active_tasks()) == 1

    time_passes(db)  # the lease runs out; the next run leases the operation again
    again = loop.lease()
    assert again["operations"][0]["operation_id"] == leased["operations"][0]["operation_id"]
    assert again["batch"]["request"] == leased["batch"]["request"]  # unchanged, same uuid
    status, payload, headers = loop.todoist(again["batch"]["request"])
    [result] = loop.ack_batch(again, status, payload, headers)["results"]

    assert result["status"] == "done" and result["todoist_id"] == fake.active_tasks()[0]["id"]
    assert len(fake.active_tasks()) == 1
    loop.pull()
    assert db.execute("SELECT count(*) AS n FROM items WHERE type = 'task'").fetchone()["n"] == 1


def test_pull_before_the_ack_matches_the_in_flight_create(db, loop, fake):
    a = make(db, "Created, ack pending", priority="p2")
    leased = loop.lease()
    status, payload, headers = loop.todoist(leased["batch"]["request"])

    [answer] = loop.pull()  # the new task shows up before Steward heard back

    assert answer["applied"]["matched"] == 1 and answer["applied"]["created"] == 0
    assert db.execute("SELECT count(*) AS n FROM items WHERE type = 'task'").fetchone()["n"] == 1
    [result] = loop.ack_batch(leased, status, payload, headers)["results"]
    assert result["duplicate"] is True and result["status"] == "done"
    link = db.execute("SELECT todoist_id FROM todoist_links WHERE item_id = %s", (a["id"],)).fetchone()
    assert link["todoist_id"] == fake.active_tasks()[0]["id"]
    assert loop.push() == []
    assert loop.reconcile()["drift"] == 0


def test_ack_without_an_id_is_matched_by_the_next_pull(db, loop, fake):
    a = make(db, "Acked without an id")
    leased = loop.lease()
    op = leased["operations"][0]
    status, payload, _ = loop.todoist(op["request"])
    payload["temp_id_mapping"] = {}  # Todoist ran it, but the answer did not say which id it got
    result = loop.api.post(
        f"{SYNC}/ack", json={"operation_id": op["operation_id"], "status": "ok", "response": payload}
    ).json()
    assert result["status"] == "done" and result["outcome"] == "awaiting_mapping" and result["todoist_id"] is None

    [answer] = loop.pull()
    assert answer["applied"]["matched"] == 1 and answer["applied"]["created"] == 0
    link = db.execute("SELECT todoist_id FROM todoist_links WHERE item_id = %s", (a["id"],)).fetchone()
    assert link["todoist_id"] == fake.active_tasks()[0]["id"]
    assert db.execute("SELECT count(*) AS n FROM items WHERE type = 'task'").fetchone()["n"] == 1
    assert loop.reconcile()["drift"] == 0


def test_acking_twice_is_harmless(db, loop, fake):
    a = make(db, "Ack me twice")
    leased = loop.lease()
    op = leased["operations"][0]
    status, payload, _ = loop.todoist(op["request"])
    body = {"operation_id": op["operation_id"], "status": "ok", "http_status": status, "response": payload}
    first = loop.api.post(f"{SYNC}/ack", json=body).json()
    second = loop.api.post(f"{SYNC}/ack", json=body).json()
    failure = loop.api.post(f"{SYNC}/ack", json={**body, "status": "error", "http_status": 500}).json()

    assert first["duplicate"] is False and second["duplicate"] is True and failure["duplicate"] is True
    assert first["todoist_id"] == second["todoist_id"] == failure["todoist_id"]
    assert [r["status"] for r in ops(db)] == ["done"]
    assert db.execute("SELECT count(*) AS n FROM todoist_links WHERE item_id = %s", (a["id"],)).fetchone()["n"] == 1


def test_idempotency_key_replays_an_ack(db, loop, fake):
    make(db, "Keyed ack")
    leased = loop.lease()
    op = leased["operations"][0]
    status, payload, _ = loop.todoist(op["request"])
    body = {"operation_id": op["operation_id"], "status": "ok", "http_status": status, "response": payload}
    headers = {"Idempotency-Key": "ack-" + op["operation_id"]}
    first = loop.api.post(f"{SYNC}/ack", json=body, headers=headers)
    again = loop.api.post(f"{SYNC}/ack", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


def test_rejected_command_is_dead_at_once_and_can_be_requeued(db, loop, fake, live_server):
    make(db, "Todoist says no")
    make(db, "Fine")
    fake.reject(400, "INVALID_ARGUMENT_VALUE")

    results = loop.push()

    assert sorted(r["status"] for r in results) == ["dead", "done"]
    dead = next(r for r in results if r["status"] == "dead")
    assert "INVALID_ARGUMENT_VALUE" in dead["last_error"]
    assert loop.status()["dead"] == 1
    assert loop.push() == []  # dead operations are not retried on their own

    admin = live_server.api("admin")
    resp = admin.post(f"{SYNC}/outbox/retry", json={"client_id": CLIENT})
    assert resp.status_code == 200 and resp.json() == {"requeued": 1}
    assert [r["status"] for r in loop.push()] == ["done"]
    assert loop.status()["dead"] == 0 and len(fake.active_tasks()) == 2


def test_transient_failures_surface_as_dead_after_max_attempts(db, loop, fake):
    make(db, "Never reachable")
    fake.fail(502, times=outbox.MAX_ATTEMPTS, path="/api/v1/sync")
    seen = []
    for _ in range(outbox.MAX_ATTEMPTS):
        seen += [r["status"] for r in loop.push()]
        time_passes(db)
    assert seen == ["failed"] * (outbox.MAX_ATTEMPTS - 1) + ["dead"]
    status = loop.status()
    assert status["dead"] == 1 and status["failed"] == 0
    assert fake.active_tasks() == []


def test_rate_limit_honours_retry_after(db, loop, fake):
    make(db, "Slow down")
    fake.fail(429, path="/api/v1/sync", retry_after=900)
    [result] = loop.push()
    wait = datetime.fromisoformat(result["next_attempt_at"]) - datetime.now(UTC)
    assert timedelta(seconds=890) < wait <= timedelta(seconds=901)


def test_command_server_error_is_rebuilt_under_fresh_uuids(db, loop, fake):
    a = make(db, "Rebuild me")
    fake.reject(500, "INTERNAL_ERROR")
    [first] = loop.push()
    assert first["status"] == "failed"
    with db.transaction():
        items.update_item(db, a["id"], CLIENT, {"title": "Rebuilt title"}, source="chat")
    time_passes(db)
    [second] = loop.push()
    assert second["status"] == "done"
    one, two = sync_commands(fake)
    assert one != two  # Todoist did not run the first: the retry is a new command
    assert [t["content"] for t in fake.active_tasks()] == ["Rebuilt title"]


def test_one_item_is_sent_in_order_and_edits_coalesce(db, loop, fake):
    with db.transaction():
        a = items.create_item(db, CLIENT, source="chat", title="v1")
        items.update_item(db, a["id"], CLIENT, {"title": "v2"}, source="chat")
        items.update_item(db, a["id"], CLIENT, {"title": "v3", "priority": "p2"}, source="chat")
        items.complete_item(db, a["id"], CLIENT, source="chat")
        items.reopen_item(db, a["id"], CLIENT, source="chat")
    # create (carrying every edit); complete + reopen cancelled each other before either was sent
    assert [(r["operation"], r["status"]) for r in ops(db) if r["outcome"] != "cancelled"] == [("create", "pending")]
    loop.push()
    [task] = fake.active_tasks()
    assert task["content"] == "v3" and task["priority"] == 3

    with db.transaction():
        items.update_item(db, a["id"], CLIENT, {"title": "v4"}, source="chat")
        items.complete_item(db, a["id"], CLIENT, source="chat")
    first = loop.lease()
    assert [o["operation"] for o in first["operations"]] == ["update"]  # one op per item per lease
    # the update was built from the item now: it already carries the completion
    assert [c["type"] for c in first["operations"][0]["commands"]] == ["item_update", "item_close"]
    status, payload, headers = loop.todoist(first["batch"]["request"])
    loop.ack_batch(first, status, payload, headers)
    second = loop.lease()
    assert second["operations"] == []  # the complete had nothing left to say: settled as no_change
    assert [r["outcome"] for r in ops(db)][-1] == "no_change"
    assert fake.tasks[task["id"]]["checked"] is True and fake.tasks[task["id"]]["content"] == "v4"


def test_two_workers_never_lease_the_same_row(db, live_server, fake):
    with db.transaction():
        for n in range(300):
            items.create_item(db, CLIENT, source="chat", title=f"Task {n}")
    taken: dict[str, list[str]] = {"a": [], "b": []}
    errors: list[str] = []

    def work(name: str) -> None:
        worker_loop = TodoistLoop(live_server.api("write"), fake, CLIENT)
        while True:
            resp = worker_loop.api.get(f"{SYNC}/outbox", params={"client_id": CLIENT, "limit": 7, "worker": name})
            if resp.status_code != 200:
                errors.append(resp.text)
                return
            got = [o["operation_id"] for o in resp.json()["operations"]]
            if not got:
                return
            taken[name] += got

    threads = [threading.Thread(target=work, args=(name,)) for name in taken]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert taken["a"] and taken["b"]  # both really worked
    assert not set(taken["a"]) & set(taken["b"])
    assert len(taken["a"]) + len(taken["b"]) == 300
    owners = {r["lease_owner"] for r in ops(db)}
    assert owners == {"a", "b"}


def test_concurrent_lease_transactions_skip_each_others_rows(db, database_url):
    with db.transaction():
        for n in range(20):
            items.create_item(db, CLIENT, source="chat", title=f"Task {n}")
    with (
        psycopg.connect(database_url, row_factory=dict_row) as one,
        psycopg.connect(database_url, row_factory=dict_row) as two,
    ):
        first = outbox.lease(one, CLIENT, limit=15, owner="one", lease_seconds=60)  # not committed yet
        second = outbox.lease(two, CLIENT, limit=15, owner="two", lease_seconds=60)
        assert len(first) == 15 and len(second) == 5
        assert not {r["id"] for r in first} & {r["id"] for r in second}
        one.commit()
        two.commit()

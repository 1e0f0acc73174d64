"""Todoist two-way sync, driven as the todoist-sync workflow drives it, against a stateful fake
Todoist API v1: create offline then push, edits on both sides, recurring completion, deletions,
a refused sync token, and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
import requests

from fakes.todoist_loop import SYNC, TodoistLoop
from fakes.todoist_server import TOKEN, FakeTodoist
from steward.items import store as items

FORM = "application/x-www-form-urlencoded"

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


def edit(db, item_id, **changes):
    with db.transaction():
        return items.update_item(db, item_id, CLIENT, changes, source="chat")


def item(db, item_id):
    return items.get_item(db, item_id, CLIENT, include_deleted=True)


def todoist_id(db, item_id) -> str:
    return db.execute("SELECT todoist_id FROM todoist_links WHERE item_id = %s", (item_id,)).fetchone()["todoist_id"]


def live_tasks(db) -> list[dict]:
    return db.execute(
        "SELECT * FROM items WHERE client_id = %s AND type = 'task' AND deleted_at IS NULL", (CLIENT,)
    ).fetchall()


def open_ops(db) -> int:
    return db.execute(
        "SELECT count(*) AS n FROM todoist_outbox WHERE status IN ('pending', 'leased', 'failed')"
    ).fetchone()["n"]


def test_create_offline_then_push(db, loop, fake):
    project = make(db, "Acme launch", type="project", status="active")
    due = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)
    a = make(
        db,
        "Call Anna",
        priority="p1",
        labels=["phone"],
        due=due,
        due_has_time=True,
        duration_minutes=30,
        project_id=project["id"],
        body="about the contract",
    )
    b = make(db, "Buy milk", due=datetime(2026, 12, 4, tzinfo=UTC))
    c = make(db, "Someday idea task", priority="p3")
    assert fake.active_tasks() == []  # offline: nothing reached Todoist yet

    results = loop.push()

    assert {r["status"] for r in results} == {"done"}
    tasks = {t["content"]: t for t in fake.active_tasks()}
    assert set(tasks) == {"Call Anna", "Buy milk", "Someday idea task"}
    call = tasks["Call Anna"]
    assert call["priority"] == 4  # p1 is the API's 4
    assert call["labels"] == ["phone"]
    assert call["due"]["date"] == "2026-12-03T15:30:00Z"
    assert call["duration"] == {"amount": 30, "unit": "minute"}
    assert call["description"] == "about the contract"
    assert fake.projects[call["project_id"]]["name"] == "Acme launch"  # created in the same batch
    assert tasks["Buy milk"]["due"]["date"] == "2026-12-04"
    assert tasks["Buy milk"]["priority"] == 1 and tasks["Someday idea task"]["priority"] == 2
    assert fake.count("/api/v1/sync") == 1  # one batch request carried all four operations
    for it in (a, b, c):
        assert todoist_id(db, it["id"]) in fake.tasks

    answers = loop.pull()  # the first pull is a full sync: it must recognise everything
    assert answers[-1]["applied"]["created"] == 0
    assert len(live_tasks(db)) == 3
    assert open_ops(db) == 0  # nothing echoed back
    status = loop.status()
    assert status["last_push_at"] and status["last_pull_at"]
    assert status["pending"] == 0 and status["failed"] == 0 and status["dead"] == 0
    assert status["mapped_tasks"] == 3 and status["mapped_projects"] == 1
    assert loop.reconcile()["drift"] == 0


def test_task_created_on_the_phone_is_imported_once(db, loop, fake):
    inbox_task = fake.phone_add("Pay rent", priority=3, labels=["home"], due={"date": "2026-12-01"})
    project = fake._add_project({"name": "Garden"})
    fake.phone_add("Plant tulips", project_id=project["id"], due={"date": "2026-12-02T09:00:00"})
    loop.pull()
    loop.pull()

    rows = {r["title"]: r for r in live_tasks(db)}
    assert set(rows) == {"Pay rent", "Plant tulips"}
    assert rows["Pay rent"]["priority"] == "p2" and rows["Pay rent"]["labels"] == ["home"]
    assert rows["Pay rent"]["status"] == "inbox" and rows["Pay rent"]["due_has_time"] is False
    assert rows["Plant tulips"]["status"] == "active"
    assert rows["Plant tulips"]["due"] == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # floating time, user in UTC
    garden = item(db, rows["Plant tulips"]["project_id"])
    assert garden["title"] == "Garden" and garden["type"] == "project"
    assert todoist_id(db, rows["Pay rent"]["id"]) == inbox_task["id"]
    assert open_ops(db) == 0
    loop.push()
    assert len(fake.active_tasks()) == 2  # nothing was sent back


def test_edits_on_both_sides_converge_by_policy(db, loop, fake):
    a = make(db, "Draft report", priority="p3", labels=["work", "writing"], due=datetime(2026, 12, 10, tzinfo=UTC))
    b = make(db, "Book flights")
    loop.sync()
    ta, tb = todoist_id(db, a["id"]), todoist_id(db, b["id"])

    # Steward: retitle a (later than the phone's edit), relabel a, new body on b.
    fake.phone_update(
        ta, content="Draft the report (phone)", priority=4, due={"date": "2026-12-12"}, labels=["work", "urgent"]
    )
    edit(db, a["id"], title="Write the Q4 report", labels=["work", "writing", "q4"])
    edit(db, b["id"], body="window seat")
    fake.phone_update(tb, priority=3)

    loop.sync()

    ia, ib = item(db, a["id"]), item(db, b["id"])
    assert ia["title"] == "Write the Q4 report"  # newer edit wins the title
    assert ia["priority"] == "p1"  # Todoist wins priority
    assert ia["due"] == datetime(2026, 12, 12, tzinfo=UTC)  # Todoist wins the due date
    assert sorted(ia["labels"]) == ["q4", "urgent", "work"]  # labels merge: writing removed on the phone
    assert ib["body"] == "window seat" and ib["priority"] == "p2"  # one side each: both kept
    remote_a, remote_b = fake.tasks[ta], fake.tasks[tb]
    assert remote_a["content"] == "Write the Q4 report"
    assert sorted(remote_a["labels"]) == ["q4", "urgent", "work"]
    assert remote_a["priority"] == 4 and remote_a["due"]["date"] == "2026-12-12"
    assert remote_b["description"] == "window seat" and remote_b["priority"] == 3
    assert open_ops(db) == 0
    report = loop.reconcile()
    assert report["drift"] == 0 and report["in_flight"] == 0
    assert len(fake.active_tasks()) == 2 and len(live_tasks(db)) == 2


def test_phone_edit_wins_title_when_newer(db, loop, fake):
    a = make(db, "Old title")
    loop.sync()
    edit(db, a["id"], title="Steward title")
    fake.phone_update(todoist_id(db, a["id"]), content="Phone title")  # edited after Steward's edit
    loop.pull()
    loop.push()
    assert item(db, a["id"])["title"] == "Phone title"
    assert fake.tasks[todoist_id(db, a["id"])]["content"] == "Phone title"
    assert loop.reconcile()["drift"] == 0


def test_completion_both_ways(db, loop, fake):
    a = make(db, "Send invoice")
    b = make(db, "Water plants")
    loop.sync()
    fake.phone_close(todoist_id(db, a["id"]))
    with db.transaction():
        items.complete_item(db, b["id"], CLIENT, source="chat")
    loop.sync()
    assert item(db, a["id"])["status"] == "done"
    assert fake.tasks[todoist_id(db, b["id"])]["checked"] is True
    with db.transaction():
        items.reopen_item(db, a["id"], CLIENT, source="chat")
    loop.sync()
    assert fake.tasks[todoist_id(db, a["id"])]["checked"] is False
    assert loop.reconcile()["drift"] == 0


def test_recurring_task_completed_in_todoist_moves_due_and_stays_open(db, loop, fake):
    a = make(
        db,
        "Stand-up notes",
        due=datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
        due_has_time=True,
        recurrence="FREQ=DAILY",
        status="active",
    )
    loop.sync()
    tid = todoist_id(db, a["id"])
    assert fake.tasks[tid]["due"]["string"] == "every day" and fake.tasks[tid]["due"]["is_recurring"] is True

    fake.phone_close(tid)  # Todoist reschedules instead of completing
    loop.pull()
    now = item(db, a["id"])
    assert now["status"] == "active" and now["completed_at"] is None
    assert now["due"] == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    assert now["recurrence"] == "FREQ=DAILY"

    with db.transaction():  # completing it in Steward closes it in Todoist, which moves it again
        items.complete_item(db, a["id"], CLIENT, source="chat")
    loop.sync()
    assert item(db, a["id"])["status"] == "active"  # reopened as soon as Todoist accepted the close
    loop.pull()  # the next run brings the date Todoist moved it to
    now = item(db, a["id"])
    assert now["status"] == "active"
    assert now["due"] == datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
    assert fake.tasks[tid]["checked"] is False and fake.tasks[tid]["due"]["date"] == "2026-12-09T09:00:00Z"
    assert open_ops(db) == 0
    assert loop.reconcile()["drift"] == 0


def test_deletions_are_tombstoned_on_both_sides(db, loop, fake):
    a = make(db, "Delete me in Todoist")
    b = make(db, "Delete me in Steward")
    c = make(db, "Drop me in Steward")
    loop.sync()
    ta, tb, tc = (todoist_id(db, x["id"]) for x in (a, b, c))

    fake.phone_delete(ta)
    with db.transaction():
        items.delete_item(db, b["id"], CLIENT, source="chat")
        items.drop_item(db, c["id"], CLIENT, source="chat")
    loop.sync()

    assert item(db, a["id"])["deleted_at"] is not None
    assert fake.tasks[tb]["is_deleted"] and fake.tasks[tc]["is_deleted"]
    tomb = {r["todoist_id"]: r["deleted_by"] for r in db.execute("SELECT * FROM todoist_tombstones")}
    assert tomb == {ta: "todoist", tb: "steward", tc: "steward"}

    # A later full sync that still listed them (here: undeleted by hand) must not resurrect them.
    for tid in (ta, tb):
        fake.tasks[tid]["is_deleted"] = False
    fake.invalidate_tokens()
    loop.pull()
    assert [(r["title"], r["status"]) for r in live_tasks(db)] == [("Drop me in Steward", "dropped")]
    assert db.execute("SELECT count(*) AS n FROM items WHERE type = 'task'").fetchone()["n"] == 3  # nothing new
    assert open_ops(db) == 0


def test_refused_token_resets_to_a_full_sync_without_duplicates(db, loop, fake):
    for n in range(5):
        make(db, f"Task {n}")
    fake.phone_add("From the phone")
    loop.sync()
    assert len(live_tasks(db)) == 6 and len(fake.active_tasks()) == 6

    fake.invalidate_tokens()
    fake.phone_add("Added while the token was dead")
    done_meanwhile = next(r for r in live_tasks(db) if r["title"] == "Task 0")
    gone_meanwhile = next(r for r in live_tasks(db) if r["title"] == "Task 1")
    fake.phone_close(todoist_id(db, done_meanwhile["id"]))
    fake.phone_delete(todoist_id(db, gone_meanwhile["id"]))
    answers = loop.pull()

    assert answers[0]["reset"] is True and answers[0]["follow_up"][0]["action"] == "pull"
    assert answers[0]["follow_up"][0]["request"]["body"]["sync_token"] == "*"
    assert answers[1]["full_sync"] is True and answers[1]["applied"]["created"] == 1
    # the full sync lists only open tasks: the two missing ones are settled by the reconciliation
    assert answers[1]["applied"]["missing"] == 2 and answers[1]["follow_up"][0]["action"] == "reconcile"
    assert answers[1]["reconciled"]["drift"] == 2
    assert item(db, done_meanwhile["id"])["status"] == "done"
    assert item(db, gone_meanwhile["id"])["deleted_at"] is not None
    titles = [r["title"] for r in live_tasks(db)]
    assert len(titles) == len(set(titles)) == 6
    loop.push()
    assert len(fake.active_tasks()) == 5
    status = loop.status()
    assert status["token_resets"] == 1 and status["sync_token_is_full"] is False
    assert loop.reconcile()["drift"] == 0


def test_reconcile_reports_and_repairs_drift(db, loop, fake):
    a = make(db, "Mapped task")
    b = make(db, "Gone remotely")
    loop.sync()
    ta, tb = todoist_id(db, a["id"]), todoist_id(db, b["id"])
    # Drift no incremental pull saw: changed behind the token's back.
    fake.tasks[ta]["priority"] = 4
    del fake.tasks[tb]
    fake.tasks["X" * 16] = dict(fake.tasks[ta], id="X" * 16, content="Only in Todoist")
    db.execute("DELETE FROM todoist_links WHERE item_id = %s", (a["id"],))
    db.execute(
        "INSERT INTO todoist_links (item_id, client_id, kind, todoist_id, synced) VALUES (%s, %s, 'task', %s, %s)",
        (a["id"], CLIENT, ta, '{"content": "Mapped task", "priority": 1}'),
    )
    local_only = make(db, "Never pushed")
    db.execute("UPDATE todoist_outbox SET status = 'dead' WHERE item_id = %s", (local_only["id"],))

    report = loop.reconcile()

    fields = {(r["field"], r["action"]) for r in report["records"]}
    assert ("priority", "applied_local") in fields
    assert ("exists", "tombstoned_local") in fields
    assert ("exists", "imported") in fields
    assert ("exists", "queued_push") in fields
    assert report["remote_only"] == 1 and report["local_only"] == 1 and report["drift"] == 4
    assert item(db, a["id"])["priority"] == "p1"
    assert item(db, b["id"])["deleted_at"] is not None
    loop.push()
    again = loop.reconcile()
    assert again["drift"] == 0
    assert loop.status()["drift"] == 0


def test_a_missed_daily_reconciliation_is_asked_for_by_the_next_pull(db, loop, fake):
    make(db, "Water the plants")
    loop.sync()
    loop.reconcile()
    assert [f["action"] for f in loop.pull()[-1]["follow_up"]] == []

    db.execute("UPDATE todoist_reconciliations SET created_at = now() - interval '2 days'")  # 03:30 was missed
    answers = loop.pull()

    assert [f["action"] for f in answers[0]["follow_up"]] == ["reconcile"]
    assert answers[0]["reconciled"]["drift"] == 0  # the workflow reconciles in the same run
    assert [f["action"] for f in loop.pull()[-1]["follow_up"]] == []


def test_sync_requests_are_form_encoded_as_todoist_documents(api, db):
    make(db, "Call Anna")
    state = api.get(f"{SYNC}/state", params={"client_id": CLIENT}).json()
    leased = api.get(f"{SYNC}/outbox", params={"client_id": CLIENT}).json()

    for spec in (state["request"], state["reconcile"]["full_sync"], leased["batch"]["request"]):
        assert spec["method"] == "POST" and spec["path"] == "/api/v1/sync" and spec["content_type"] == FORM
        wire = dict(parse_qsl(spec["encoded"], strict_parsing=True))
        decoded = {k: v if k == "sync_token" else json.loads(v) for k, v in wire.items()}
        assert decoded == spec["body"]  # lists travel as JSON-encoded strings
    assert state["reconcile"]["full_sync"]["body"]["resource_types"] == ["items", "projects", "user"]
    completed = state["reconcile"]["completed"]
    assert completed["path"] == "/api/v1/tasks/completed/by_completion_date"
    window = completed["query"]
    assert set(window) == {"since", "until", "limit"} and window["since"] < window["until"]


def _post_sync(fake, headers: dict | None = None, **kwargs):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    return requests.post(f"{fake.base_url}/api/v1/sync", headers={**auth, **(headers or {})}, timeout=10, **kwargs)


def test_the_fake_reads_the_sync_body_only_in_the_documented_forms(fake):
    form = _post_sync(fake, data={"sync_token": "*", "resource_types": '["projects"]'})
    sdk = _post_sync(fake, json={"sync_token": "*", "resource_types": ["projects"]})  # Doist's TypeScript SDK
    assert form.status_code == sdk.status_code == 200
    assert [p["name"] for p in form.json()["projects"]] == ["Inbox"] == [p["name"] for p in sdk.json()["projects"]]

    refused = [
        _post_sync(fake, json={"sync_token": "*", "resource_types": '["projects"]'}),  # a string inside JSON
        _post_sync(fake, data={"sync_token": "*", "resource_types": "projects"}),  # not JSON-encoded
        _post_sync(fake, data={"commands": '{"type": "item_add"}'}),  # not an array
        _post_sync(fake, data="sync_token=*", headers={"Content-Type": "text/plain"}),
    ]
    assert [r.status_code for r in refused] == [400] * 4
    assert all(r.json()["error_tag"] == "INVALID_ARGUMENT_VALUE" for r in refused)


def test_the_fake_recurs_on_the_due_strings_todoist_recognises(fake):
    for text in ("every monday", "ev 3 days", "every! week", "daily", "Every other Friday"):
        assert fake.phone_add("Recurring", due={"string": text, "date": "2026-12-07"})["due"]["is_recurring"], text
    for text in ("tomorrow", "next monday", "everyone's birthday"):
        assert not fake.phone_add("Once", due={"string": text, "date": "2026-12-07"})["due"]["is_recurring"], text


@pytest.mark.parametrize(
    "body, field",
    [
        ({"operation_id": "not-a-uuid", "status": "ok"}, "operation_id"),
        ({"operation_id": "6f1c2d3e-0000-4000-8000-000000000000", "status": "maybe"}, "status"),
        ({"operation_id": "6f1c2d3e-0000-4000-8000-000000000000", "status": "ok", "extra": 1}, "extra"),
    ],
)
def test_bad_ack_is_a_400_naming_the_field(api, body, field):
    resp = api.post(f"{SYNC}/ack", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["details"][0]["field"] == field


def test_bad_requests(api, db):
    assert api.get(f"{SYNC}/outbox", params={"client_id": CLIENT, "limit": 0}).status_code == 400
    resp = api.post(f"{SYNC}/pull", json={"client_id": CLIENT, "items": []})
    assert resp.status_code == 400 and "sync_token" in resp.json()["error"]["message"]
    resp = api.post(f"{SYNC}/pull", json={"client_id": CLIENT, "sync_token": "t", "items": [{"content": "no id"}]})
    assert resp.status_code == 400 and resp.json()["error"]["details"][0]["field"] == "items.0.id"
    resp = api.post(f"{SYNC}/ack", json={"operation_id": "6f1c2d3e-0000-4000-8000-000000000000", "status": "ok"})
    assert resp.status_code == 404
    a = make(db, "Not leased yet")
    op = db.execute("SELECT id FROM todoist_outbox WHERE item_id = %s", (a["id"],)).fetchone()["id"]
    resp = api.post(f"{SYNC}/ack", json={"operation_id": str(op), "status": "ok"})
    assert resp.status_code == 409
    assert db.execute("SELECT status FROM todoist_outbox WHERE id = %s", (op,)).fetchone()["status"] == "pending"
    resp = api.post(f"{SYNC}/pull", json={"client_id": CLIENT, "since_token": "stale", "sync_token": "x"})
    assert resp.status_code == 409
    assert db.execute("SELECT * FROM todoist_sync_state").fetchone() is None  # rolled back whole


def test_read_key_cannot_lease(live_server):
    resp = live_server.api("read").get(f"{SYNC}/outbox", params={"client_id": CLIENT})
    assert resp.status_code == 403


def test_routes_are_documented(api):
    spec = api.get("/openapi.json").json()
    for path in ("/outbox", "/ack", "/ack/batch", "/state", "/pull", "/reconcile", "/status", "/outbox/retry"):
        assert f"{SYNC}{path}" in spec["paths"], path


def test_one_malformed_task_does_not_hold_the_pull_back(api, db):
    body = {
        "client_id": CLIENT,
        "sync_token": "tok-1",
        "full_sync": True,
        "items": [
            {"id": "badDue0000000001", "content": "Bad due", "project_id": "inbox", "due": {"date": "someday"}},
            {"id": "good000000000001", "content": "Good one", "project_id": "inbox", "priority": 4},
        ],
        "projects": [{"id": "inbox", "name": "Inbox", "inbox_project": True}],
        "day_orders": {},  # keys Steward does not read are ignored, not refused
    }
    resp = api.post(f"{SYNC}/pull", json=body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["applied"]["created"] == 1 and answer["applied"]["refused"] == 1
    assert answer["problems"][0]["todoist_id"] == "badDue0000000001"
    assert [r["title"] for r in live_tasks(db)] == ["Good one"]
    assert api.get(f"{SYNC}/state", params={"client_id": CLIENT}).json()["sync_token"] == "tok-1"

"""1,000 tasks round trip between Steward and the fake Todoist, with edits on both sides in
between: zero duplicates and zero drift at the end. Prints the timings it measured."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from fakes.todoist_loop import TodoistLoop
from fakes.todoist_server import FakeTodoist
from steward.items import store as items

CLIENT = "acme"
N = 1000
RULES = [None, None, None, "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO", "FREQ=MONTHLY;BYMONTHDAY=15"]


@pytest.fixture
def fake():
    with FakeTodoist() as server:
        yield server


def seed(db, rng: random.Random) -> list[dict]:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    with db.transaction():
        projects = [
            items.create_item(db, CLIENT, source="chat", type="project", status="active", title=f"Project {p}")
            for p in range(5)
        ]
        made = []
        for n in range(N):
            due = start + timedelta(days=n % 60, hours=rng.choice([0, 9, 14]))
            fields = dict(
                title=f"Task {n:04d}",
                body=f"notes for {n}" if n % 3 == 0 else "",
                priority=rng.choice([None, "p1", "p2", "p3", "p4"]),
                labels=rng.sample(["home", "work", "errand", "phone", "deep"], k=rng.randint(0, 2)),
                project_id=rng.choice([None, *[p["id"] for p in projects]]),
                duration_minutes=rng.choice([None, 15, 30, 90]),
            )
            if n % 4:
                fields.update(due=due, due_has_time=due.hour != 0, recurrence=rng.choice(RULES))
            made.append(items.create_item(db, CLIENT, source="chat", **fields))
    return made


def test_thousand_items_round_trip_without_duplicates_or_drift(db, api, fake):
    rng = random.Random(8)
    loop = TodoistLoop(api, fake, CLIENT, limit=100)
    made = seed(db, rng)
    timings = {}

    began = time.perf_counter()
    results = loop.push()
    timings["push 1,000 creates"] = time.perf_counter() - began
    assert len(results) == N + 5 and {r["status"] for r in results} == {"done"}
    assert len(fake.active_tasks()) == N
    assert fake.count("/api/v1/sync") <= 12  # batched: ~100 commands a request, not 1,005 requests

    began = time.perf_counter()
    [first_pull] = loop.pull()
    timings["first pull (full sync)"] = time.perf_counter() - began
    assert first_pull["applied"]["created"] == 0 and first_pull["applied"]["updated"] == 0

    # Both sides keep working between runs.
    remote = fake.active_tasks()
    rng.shuffle(remote)
    for task in remote[:150]:
        fake.phone_update(task["id"], priority=rng.randint(1, 4), content=task["content"] + " (phone)")
    for task in remote[150:200]:
        fake.phone_close(task["id"])
    for task in remote[200:220]:
        fake.phone_delete(task["id"])
    for n in range(100):
        fake.phone_add(f"Phone task {n:03d}", priority=rng.randint(1, 4), labels=["mobile"])
    with db.transaction():
        for row in rng.sample(made, 100):
            if items.get_item(db, row["id"], CLIENT) is not None:
                items.update_item(
                    db, row["id"], CLIENT, {"labels": ["steward"], "body": "edited in Steward"}, source="chat"
                )
        for row in rng.sample(made, 30):
            current = items.get_item(db, row["id"], CLIENT)
            if current is not None and current["status"] != "done":
                items.complete_item(db, row["id"], CLIENT, source="chat")

    began = time.perf_counter()
    loop.sync()
    loop.pull()
    timings["pull + push of the edits"] = time.perf_counter() - began

    began = time.perf_counter()
    report = loop.reconcile()
    timings["full reconciliation"] = time.perf_counter() - began
    assert report["drift"] == 0, report["records"][:5]
    assert report["in_flight"] == 0 and report["compared"] >= N

    # Zero duplicates: one mapping per Todoist id and per item, every open task on both sides once.
    live = db.execute(
        """SELECT i.id, i.title, i.status, l.todoist_id FROM items i LEFT JOIN todoist_links l ON l.item_id = i.id
            WHERE i.client_id = %s AND i.type = 'task' AND i.deleted_at IS NULL""",
        (CLIENT,),
    ).fetchall()
    titles = [r["title"] for r in live]
    assert len(titles) == len(set(titles)) == N + 100 - 20
    assert all(r["todoist_id"] for r in live)
    assert len({r["todoist_id"] for r in live}) == len(live)
    open_local = {r["todoist_id"] for r in live if r["status"] != "done"}
    open_remote = {t["id"] for t in fake.active_tasks()}
    assert open_local == open_remote
    status = loop.status()
    assert status["pending"] == status["failed"] == status["dead"] == status["leased"] == 0
    assert status["drift"] == 0
    print("\n" + "\n".join(f"  {name:<28} {seconds:6.2f} s" for name, seconds in timings.items()))

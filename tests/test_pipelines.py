"""Resumable pipelines against real Postgres: checkpoints, resume after an exception and after a
SIGKILL of a real process, leases between concurrent workers, dedupe, and the HTTP state view.

Every step writes a `start` row (autocommitted, so it survives a crash) and a `commit` row inside
its own step transaction; "executed exactly once" means one `commit` row per step, and a finished
step never gets a second `start`.

Run as a script (`python tests/test_pipelines.py DATABASE_URL RUN_ID`) this file is the worker
process the SIGKILL test starts and kills.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from steward.core import pipelines
from steward.core.pipelines import Pipeline, Step, StepContext, StepFailed

LOG_TABLE = """CREATE TABLE IF NOT EXISTS pipeline_test_log (
    run_id uuid NOT NULL, step text NOT NULL, event text NOT NULL, pid integer NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp())"""
STEPS = ("one", "two", "three", "four")
LEASE_SECONDS = 1.0


def _log(conninfo: str, run_id, step: str, event: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO pipeline_test_log (run_id, step, event, pid) VALUES (%s, %s, %s, %s)",
            (run_id, step, event, os.getpid()),
        )


def _counting_step(position: int):
    def run(ctx: StepContext) -> dict:
        _log(ctx.conn.info.dsn, ctx.run_id, ctx.step, "start")
        first_try = ctx.attempt == 1
        if ctx.input.get("fail_at") == ctx.step and first_try:
            raise RuntimeError(f"injected failure at {ctx.step}")
        if ctx.input.get("hang_at") == ctx.step and first_try:
            time.sleep(120)  # the test kills this process here
        time.sleep(ctx.input.get("sleep", 0))
        ctx.conn.execute(
            "INSERT INTO pipeline_test_log (run_id, step, event, pid) VALUES (%s, %s, 'commit', %s)",
            (ctx.run_id, ctx.step, os.getpid()),
        )
        before = ctx.outputs[STEPS[position - 1]]["total"] if position else 0
        return {"step": ctx.step, "total": before + position + 1, "pid": os.getpid()}

    return run


COUNTING = Pipeline(
    "test.counting", [Step(name, _counting_step(i)) for i, name in enumerate(STEPS)], lease_seconds=LEASE_SECONDS
)


def _pool(url: str) -> ConnectionPool:
    return ConnectionPool(url, min_size=1, max_size=6, open=True)


@pytest.fixture
def pool(database_url, db):
    db.execute(LOG_TABLE)
    with _pool(database_url) as opened:
        yield opened


def _events(db, run_id) -> tuple[Counter, Counter]:
    rows = db.execute("SELECT step, event FROM pipeline_test_log WHERE run_id = %s", (run_id,)).fetchall()
    starts = Counter(r["step"] for r in rows if r["event"] == "start")
    commits = Counter(r["step"] for r in rows if r["event"] == "commit")
    return starts, commits


def _assert_finished(state) -> None:
    assert state.status == "completed" and state.current_step is None
    assert state.completed == list(STEPS) and state.pending == []
    assert [state.partial_results[s]["total"] for s in STEPS] == [1, 3, 6, 10]


def test_execute_until_next_and_state_checkpoint_each_step(pool, db):
    run, created = COUNTING.start(pool, {})
    assert created
    state = run.execute_until("two")
    assert state.status == "running" and state.current_step == "three"
    assert state.completed == ["one", "two"] and state.pending == ["three", "four"]
    assert state.partial_results == {
        "one": {"step": "one", "total": 1, "pid": os.getpid()},
        "two": {"step": "two", "total": 3, "pid": os.getpid()},
    }
    assert run.execute_next() == "three"
    assert run.state().current_step == "four"
    _assert_finished(pipelines.resume(pool, run.id))
    assert run.execute_next() is None
    starts, commits = _events(db, run.id)
    assert starts == commits == Counter(dict.fromkeys(STEPS, 1))


def test_an_exception_at_a_step_fails_the_run_and_resume_repeats_nothing(pool, db):
    run, _ = COUNTING.start(pool, {"fail_at": "three"})
    with pytest.raises(StepFailed) as failed:
        run.execute_all()
    assert failed.value.step == "three" and isinstance(failed.value.__cause__, RuntimeError)
    state = run.state()
    assert state.status == "failed" and state.current_step == "three"
    assert state.error["step"] == "three" and "injected failure" in state.error["message"]
    assert state.completed == ["one", "two"] and state.steps[2].status == "failed"

    _assert_finished(pipelines.resume(pool, run.id))
    starts, commits = _events(db, run.id)
    assert commits == Counter(dict.fromkeys(STEPS, 1))  # each step's work committed exactly once
    assert starts == Counter({"one": 1, "two": 1, "three": 2, "four": 1})  # only the failed one re-ran
    assert [s.attempts for s in run.state().steps] == [1, 1, 2, 1]


def test_a_worker_killed_with_sigkill_mid_step_is_resumed_from_that_step(pool, db, database_url):
    run, _ = COUNTING.start(pool, {"hang_at": "three"})
    worker = subprocess.Popen(
        [sys.executable, __file__, database_url, str(run.id)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while _events(db, run.id)[0]["three"] == 0:  # wait until the worker is inside step three
            assert worker.poll() is None, worker.stderr.read().decode()
            assert time.monotonic() < deadline, "the worker never reached step three"
            time.sleep(0.05)
        midway = run.state()
        assert midway.steps[2].status == "running" and midway.completed == ["one", "two"]
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    dead = run.state()
    assert dead.status == "running" and dead.steps[2].status == "running"  # as the dead worker left it
    started = time.monotonic()
    state = pipelines.resume(pool, run.id)
    _assert_finished(state)
    assert time.monotonic() - started < LEASE_SECONDS * 3  # taken over once the dead lease expired
    starts, commits = _events(db, run.id)
    assert commits == Counter(dict.fromkeys(STEPS, 1))
    assert starts == Counter({"one": 1, "two": 1, "three": 2, "four": 1})
    pids = {s: state.partial_results[s]["pid"] for s in STEPS}
    assert pids["one"] == pids["two"] == worker.pid and pids["three"] == pids["four"] == os.getpid()


def test_concurrent_workers_never_run_the_same_step_twice(pool, db):
    run, _ = COUNTING.start(pool, {"sleep": 0.2})
    errors: list[BaseException] = []

    def work() -> None:
        try:
            pipelines.load(pool, run.id).execute_all(wait=10)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    _assert_finished(run.state())
    starts, commits = _events(db, run.id)
    assert starts == commits == Counter(dict.fromkeys(STEPS, 1))


def test_two_worker_processes_never_run_the_same_step_twice(pool, db, database_url):
    run, _ = COUNTING.start(pool, {"sleep": 0.3})
    workers = [
        subprocess.Popen([sys.executable, __file__, database_url, str(run.id)], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=60) == 0, worker.stderr.read().decode()
    state = run.state()
    _assert_finished(state)
    starts, commits = _events(db, run.id)
    assert starts == commits == Counter(dict.fromkeys(STEPS, 1))
    assert {state.partial_results[s]["pid"] for s in STEPS} <= {w.pid for w in workers}


def test_a_busy_step_is_not_taken_while_its_lease_is_alive(pool, db):
    run, _ = COUNTING.start(pool, {"sleep": 1.5})  # longer than the lease: the heartbeat must renew it
    worker = threading.Thread(target=run.execute_next)
    worker.start()
    time.sleep(0.3)
    with pytest.raises(pipelines.StepBusy):
        pipelines.load(pool, run.id).execute_next()
    worker.join()
    assert run.state().completed == ["one"]
    assert _events(db, run.id)[0]["one"] == 1


def test_dedupe_key_returns_the_current_run_unless_forced(pool, db):
    key = f"client:daily:{uuid.uuid4().hex[:6]}"
    first, created = COUNTING.start(pool, {"n": 1}, client_id="c", dedupe_key=key)
    again, created_again = COUNTING.start(pool, {"n": 2}, client_id="c", dedupe_key=key)
    assert created and not created_again and again.id == first.id
    forced, created_forced = COUNTING.start(pool, {"n": 3}, client_id="c", dedupe_key=key, force=True)
    assert created_forced and forced.id != first.id
    assert first.state().superseded_by == forced.id
    assert COUNTING.start(pool, {}, dedupe_key=key)[0].id == forced.id
    rows = db.execute("SELECT count(*) AS n FROM pipeline_runs WHERE dedupe_key = %s", (key,)).fetchone()
    assert rows["n"] == 2


def test_concurrent_triggers_of_the_same_key_make_one_run(pool, db):
    key = f"race:{uuid.uuid4().hex[:6]}"
    ids: list = []
    barrier = threading.Barrier(4)

    def trigger() -> None:
        barrier.wait()
        ids.append(COUNTING.start(pool, {}, dedupe_key=key)[0].id)

    threads = [threading.Thread(target=trigger) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 1 and len(ids) == 4


def test_outputs_must_be_json(pool):
    broken = Pipeline("test.broken", [Step("only", lambda ctx: {"when": object()})])
    run, _ = broken.start(pool, {})
    with pytest.raises(StepFailed) as failed:
        run.execute_all()
    assert "not JSON" in str(failed.value.__cause__)
    assert run.state().status == "failed"


def test_http_state_view(api, pool):
    run, _ = COUNTING.start(pool, {})
    run.execute_until("one")
    resp = api.get(f"/api/v1/pipelines/{run.id}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["run_id"] == str(run.id) and body["pipeline"] == "test.counting"
    assert body["current_step"] == "two" and body["completed"] == ["one"]
    assert body["pending"] == ["two", "three", "four"] and body["partial_results"]["one"]["total"] == 1
    assert [s["status"] for s in body["steps"]] == ["completed", "pending", "pending", "pending"]
    lean = api.get(f"/api/v1/pipelines/{run.id}", params={"results": "false"}).json()
    assert lean["partial_results"] == {}
    missing = api.get(f"/api/v1/pipelines/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


if __name__ == "__main__":  # the worker process of the SIGKILL test
    with ConnectionPool(sys.argv[1], min_size=1, max_size=4, open=True, kwargs={"row_factory": dict_row}) as p:
        pipelines.resume(p, uuid.UUID(sys.argv[2]))

"""Resumable pipelines: named steps whose outputs are checkpointed in Postgres as each finishes.

    PIPE = Pipeline("observer.reflection", [Step("gather", gather), Step("narrate", narrate), ...])
    run, created = PIPE.start(pool, input, client_id="acme", dedupe_key="acme:daily:2026-11-20")
    run.execute_until("gather")     # runs the steps up to and including gather
    run.execute_next()              # runs one step; returns its name (None when all are done)
    run.state()                     # current step, completed, pending, partial results
    resume(pool, run.id)            # any process, later: from the first unfinished step on

Guarantees:
- A step runs in its own transaction (`ctx.conn`) and its checkpoint is written in that same
  transaction, so a step's database writes and its "done" mark commit together or not at all,
  and a completed step is never run again: a resumed run starts at the first unfinished step.
- A step is claimed with a lease (see pipeline_lease.py). A second worker finds it leased and
  waits; a dead worker's lease expires and the step is taken over. The checkpoint commits only
  while the lease is still ours, so two workers never both complete the same step.
- Outputs are JSON round-tripped before later steps see them, so a fresh run and a resumed run
  hand later steps identical data.
A step must not commit `ctx.conn` itself. Side effects outside Postgres (an LLM call) are repeated
only if the worker dies between the call and the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

from steward.core.pipeline_lease import Heartbeat, claim
from steward.core.pipeline_state import PipelineState, read_state

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1


class PipelineError(Exception):
    """Base of the errors below; each names the run (and the step where there is one)."""


class StepFailed(PipelineError):
    """A step raised; the original exception is `__cause__`. The run is `failed` and resumable."""

    def __init__(self, run_id: Any, step: str) -> None:
        super().__init__(f"pipeline run {run_id} failed at step {step!r}; resume it to retry from there")
        self.run_id, self.step = run_id, step


class StepBusy(PipelineError):
    """Another live worker holds the next step's lease."""

    def __init__(self, run_id: Any, step: str) -> None:
        super().__init__(f"step {step!r} of run {run_id} is running in another worker")
        self.run_id, self.step = run_id, step


class LeaseLost(PipelineError):
    """Our lease expired and another worker took the step; our work on it was rolled back."""


class UnknownRun(PipelineError):
    pass


@dataclass
class StepContext:
    run_id: uuid.UUID
    step: str
    attempt: int
    input: dict[str, Any]
    outputs: dict[str, Any]
    conn: psycopg.Connection


@dataclass(frozen=True)
class Step:
    name: str
    fn: Callable[[StepContext], Any]


_REGISTRY: dict[str, Pipeline] = {}


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"a pipeline step output holds a {type(value).__name__}, which is not JSON")


def _one(pool: ConnectionPool, sql: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, args).fetchone()


def to_json(value: Any) -> Any:
    """`value` as it will read back from jsonb."""
    return json.loads(json.dumps(value, default=_encode))


class Pipeline:
    def __init__(self, name: str, steps: list[Step], *, lease_seconds: float = 60.0) -> None:
        names = [s.name for s in steps]
        if not steps or len(set(names)) != len(names):
            raise ValueError(f"pipeline {name} needs at least one step and unique step names: {names}")
        self.name, self.steps, self.lease_seconds = name, steps, lease_seconds
        _REGISTRY[name] = self

    def start(
        self,
        pool: ConnectionPool,
        input: dict[str, Any],
        *,
        client_id: str | None = None,
        dedupe_key: str | None = None,
        force: bool = False,
    ) -> tuple[Run, bool]:
        """(run, created): the current run for `dedupe_key` unless `force`, else a new one that
        supersedes it. Committed before any step runs, so every worker can see it."""
        data, digest = to_json(input), self.input_hash(input)
        with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            while True:
                current = None
                if dedupe_key is not None:
                    current = cur.execute(
                        """SELECT id FROM pipeline_runs WHERE pipeline = %s AND dedupe_key = %s
                                AND superseded_at IS NULL FOR UPDATE""",
                        (self.name, dedupe_key),
                    ).fetchone()
                    if current is not None and not force:
                        return Run(pool, self, current["id"]), False
                    if current is not None:
                        cur.execute("UPDATE pipeline_runs SET superseded_at = now() WHERE id = %s", (current["id"],))
                made = cur.execute(
                    """INSERT INTO pipeline_runs (pipeline, client_id, dedupe_key, input, input_hash)
                       VALUES (%s, %s, %s, %s, %s)
                       ON CONFLICT (pipeline, dedupe_key) WHERE dedupe_key IS NOT NULL AND superseded_at IS NULL
                       DO NOTHING RETURNING id""",
                    (self.name, client_id, dedupe_key, Jsonb(data), digest),
                ).fetchone()
                if made is not None:
                    break
                conn.rollback()  # a concurrent trigger created it first: read theirs
            if current is not None:
                cur.execute("UPDATE pipeline_runs SET superseded_by = %s WHERE id = %s", (made["id"], current["id"]))
            cur.executemany(
                "INSERT INTO pipeline_steps (run_id, name, position) VALUES (%s, %s, %s)",
                [(made["id"], s.name, i) for i, s in enumerate(self.steps)],
            )
        return Run(pool, self, made["id"]), True

    @staticmethod
    def input_hash(input: dict[str, Any]) -> str:
        """What `Run.input_hash()` compares with, to tell a re-trigger whether its input changed."""
        return hashlib.sha256(json.dumps(to_json(input), sort_keys=True).encode()).hexdigest()

    def run(self, pool: ConnectionPool, run_id: Any) -> Run:
        return Run(pool, self, run_id)


class Run:
    """A handle on one stored run; any number of handles in any processes may drive it."""

    def __init__(self, pool: ConnectionPool, pipeline: Pipeline, run_id: Any) -> None:
        self.pool, self.pipeline, self.id = pool, pipeline, run_id

    def state(self, results: bool = True) -> PipelineState:
        with self.pool.connection() as conn:
            found = read_state(conn, self.id, results)
        if found is None:
            raise UnknownRun(f"no pipeline run {self.id}")
        return found

    def input_hash(self) -> str:
        row = _one(self.pool, "SELECT input_hash FROM pipeline_runs WHERE id = %s", (self.id,))
        if row is None:
            raise UnknownRun(f"no pipeline run {self.id}")
        return row["input_hash"]

    def _rows(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with self.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            run = cur.execute("SELECT input FROM pipeline_runs WHERE id = %s", (self.id,)).fetchone()
            if run is None:
                raise UnknownRun(f"no pipeline run {self.id}")
            steps = cur.execute(
                "SELECT name, status, output FROM pipeline_steps WHERE run_id = %s ORDER BY position", (self.id,)
            ).fetchall()
        return run["input"], steps

    def execute_next(self) -> str | None:
        """Run the first unfinished step; its name, or None when every step is done.
        Raises StepBusy when another worker holds it, StepFailed when it raises."""
        while True:
            data, rows = self._rows()
            todo = next((r["name"] for r in rows if r["status"] != "completed"), None)
            if todo is None:
                return None
            got = claim(self.pool, self.id, todo, self.pipeline.lease_seconds)
            if got is not None:
                break
            if self._status_of(todo) != "completed":
                raise StepBusy(self.id, todo)
        outputs = {r["name"]: r["output"] for r in rows if r["status"] == "completed"}
        step = next(s for s in self.pipeline.steps if s.name == todo)
        beat = Heartbeat(self.pool, self.id, todo, got.owner, self.pipeline.lease_seconds)
        try:
            with self.pool.connection() as conn:
                ctx = StepContext(
                    run_id=self.id, step=todo, attempt=got.attempt, input=data, outputs=outputs, conn=conn
                )
                output = to_json(step.fn(ctx))
                beat.stop()
                self._checkpoint(conn, todo, got.owner, output)
        except LeaseLost:
            beat.stop()
            raise
        except BaseException as exc:
            beat.stop()
            self._record_failure(todo, got.owner, exc)
            if isinstance(exc, Exception):
                raise StepFailed(self.id, todo) from exc
            raise
        return todo

    def execute_until(self, step: str | None = None, wait: float = 0.0) -> PipelineState:
        """Run steps up to and including `step` (all when None). While another worker holds the
        next step, poll for up to `wait` seconds (its lease may expire), then return the state."""
        names = [s.name for s in self.pipeline.steps]
        if step is not None and step not in names:
            raise ValueError(f"pipeline {self.pipeline.name} has no step {step!r}; steps: {', '.join(names)}")
        deadline = time.monotonic() + wait
        target = names[-1] if step is None else step
        while self._status_of(target) != "completed":
            try:
                if self.execute_next() is None:
                    break
            except (StepBusy, LeaseLost):  # another worker has the step: wait for it, or for its lease to end
                if time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
        return self.state()

    def execute_all(self, wait: float = 0.0) -> PipelineState:
        return self.execute_until(None, wait)

    # ---- bookkeeping ---------------------------------------------------------------------
    def _status_of(self, step: str) -> str:
        row = _one(self.pool, "SELECT status FROM pipeline_steps WHERE run_id = %s AND name = %s", (self.id, step))
        if row is None:
            raise UnknownRun(f"no pipeline run {self.id} with step {step!r}")
        return row["status"]

    def _checkpoint(self, conn: psycopg.Connection, step: str, owner: str, output: Any) -> None:
        done = conn.execute(
            """UPDATE pipeline_steps SET status = 'completed', output = %s, finished_at = now(), lease_owner = NULL,
                      lease_expires_at = NULL
                WHERE run_id = %s AND name = %s AND lease_owner = %s AND status = 'running'""",
            (Jsonb(output), self.id, step, owner),
        )
        if done.rowcount != 1:
            raise LeaseLost(f"the lease on step {step!r} of run {self.id} passed to another worker")
        conn.execute(
            """UPDATE pipeline_runs r
                  SET status = CASE WHEN left_over.n = 0 THEN 'completed' ELSE 'running' END,
                      finished_at = CASE WHEN left_over.n = 0 THEN now() END, updated_at = now()
                 FROM (SELECT count(*) AS n FROM pipeline_steps WHERE run_id = %s AND status <> 'completed') left_over
                WHERE r.id = %s""",
            (self.id, self.id),
        )

    def _record_failure(self, step: str, owner: str, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"[:1000]
        try:
            with self.pool.connection() as conn:
                conn.execute(
                    """UPDATE pipeline_steps SET status = 'failed', error = %s, lease_owner = NULL,
                              lease_expires_at = NULL
                        WHERE run_id = %s AND name = %s AND lease_owner = %s AND status = 'running'""",
                    (message, self.id, step, owner),
                )
                conn.execute(
                    "UPDATE pipeline_runs SET status = 'failed', error = %s, updated_at = now() WHERE id = %s",
                    (Jsonb({"step": step, "type": type(exc).__name__, "message": message}), self.id),
                )
        except psycopg.Error as db_exc:  # the lease will expire on its own; keep the step's own error
            log.error("could not record the failure of step %s: %s", step, type(db_exc).__name__)


def load(pool: ConnectionPool, run_id: Any) -> Run:
    """A handle on a stored run, found by the pipeline name it was started with."""
    row = _one(pool, "SELECT pipeline FROM pipeline_runs WHERE id = %s", (run_id,))
    if row is None:
        raise UnknownRun(f"no pipeline run {run_id}")
    name = row["pipeline"]
    pipeline = _REGISTRY.get(name)
    if pipeline is None:
        raise UnknownRun(f"run {run_id} belongs to pipeline {name!r}, which this process has not loaded")
    return Run(pool, pipeline, run_id)


def resume(pool: ConnectionPool, run_id: Any, wait: float | None = None) -> PipelineState:
    """Finish a run from its first unfinished step. By default waits up to twice the lease for a
    worker that may have died, so a run killed mid-step is taken over as soon as its lease expires."""
    run = load(pool, run_id)
    return run.execute_all(wait=run.pipeline.lease_seconds * 2 if wait is None else wait)

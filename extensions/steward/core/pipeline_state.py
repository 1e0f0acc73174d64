"""What a pipeline run looks like from outside: `PipelineState`, read straight from Postgres.

Shared by `Run.state()` and `GET /api/v1/pipelines/{run_id}`, so the two never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, Field

Status = Literal["pending", "running", "failed", "completed"]


class StepState(BaseModel):
    name: str
    status: Status
    attempts: int = Field(description="How many times the step was claimed (a resumed step counts twice)")
    started_at: datetime | None
    finished_at: datetime | None
    lease_expires_at: datetime | None = Field(description="While running: when another worker may take over")
    error: str | None


class PipelineState(BaseModel):
    run_id: UUID
    pipeline: str
    status: Status
    client_id: str | None
    dedupe_key: str | None
    current_step: str | None = Field(description="The first step not completed; null when the run is done")
    completed: list[str]
    pending: list[str] = Field(description="Steps not completed yet, in order (the current one first)")
    steps: list[StepState]
    partial_results: dict[str, Any] = Field(description="The checkpointed output of each completed step")
    error: dict[str, Any] | None
    superseded_by: UUID | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


def read_state(conn: psycopg.Connection, run_id: Any, results: bool = True) -> PipelineState | None:
    """The run's state, or None when there is no such run."""
    with conn.cursor(row_factory=dict_row) as cur:
        run = cur.execute(
            """SELECT id, pipeline, status, client_id, dedupe_key, error, superseded_by, created_at, updated_at,
                      finished_at FROM pipeline_runs WHERE id = %s""",
            (run_id,),
        ).fetchone()
        if run is None:
            return None
        steps = cur.execute(
            f"""SELECT name, status, attempts, started_at, finished_at, lease_expires_at, error,
                       {"output" if results else "NULL AS output"}
                  FROM pipeline_steps WHERE run_id = %s ORDER BY position""",
            (run_id,),
        ).fetchall()
    completed = [s["name"] for s in steps if s["status"] == "completed"]
    pending = [s["name"] for s in steps if s["status"] != "completed"]
    return PipelineState(
        run_id=run["id"],
        pipeline=run["pipeline"],
        status=run["status"],
        client_id=run["client_id"],
        dedupe_key=run["dedupe_key"],
        current_step=pending[0] if pending else None,
        completed=completed,
        pending=pending,
        steps=[StepState.model_validate(s) for s in steps],
        partial_results={s["name"]: s["output"] for s in steps if s["status"] == "completed" and results},
        error=run["error"],
        superseded_by=run["superseded_by"],
        created_at=run["created_at"],
        updated_at=run["updated_at"],
        finished_at=run["finished_at"],
    )

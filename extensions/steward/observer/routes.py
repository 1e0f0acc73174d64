"""`/api/v1/observer`: daily and weekly reflections, computed as resumable pipelines.

`POST /reflect?mode=daily|weekly` starts (or finds) the run for (client, mode, period) and drives it
to the end inside the request. Its steps commit on their own, so a failure answers with the error
and leaves the run resumable: the same request again continues at the failed step. A finished
period answers from its stored run (`reused`) unless `force=true`.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Blueprint

from steward.core.api import endpoint
from steward.core.db import get_db
from steward.core.errors import ApiError, Conflict, ValidationFailed
from steward.core.llm.errors import LLM_RESPONSES
from steward.core.pipelines import StepFailed
from steward.core.processing import current_profile
from steward.core.runtime import runtime
from steward.memory import caching
from steward.observer import periods, store
from steward.observer.models import (
    ReflectIn,
    ReflectionOut,
    ReflectionPage,
    ReflectionsQuery,
    ReflectQuery,
    StoredReflection,
)
from steward.observer.pipeline import REFLECTION

log = logging.getLogger(__name__)
bp = Blueprint("observer", __name__, url_prefix="/api/v1/observer")

WAIT_SECONDS = 60.0  # for a step another request is running (or a dead worker's lease to expire)


def _input(body: ReflectIn, period: periods.Period) -> dict[str, Any]:
    request = body.model_dump(mode="json", include={"calendar", "tasks", "sprint", "working_hours_per_day"})
    return {
        "client_id": body.client_id,
        "period": period.as_dict(),
        "request": request,
        "processing_mode": current_profile().mode,
    }


def _stopped(failed: StepFailed) -> ApiError:
    """The step's own error (an LLM 503, say), plus where the run stopped and how to go on."""
    where = {
        "field": "pipeline",
        "problem": f"run {failed.run_id} stopped at step {failed.step}; send the same "
        "request again to resume from that step",
    }
    cause = failed.__cause__
    if isinstance(cause, psycopg.OperationalError):  # the database failed the step (restart, conflict): transient
        log.warning(
            "reflection run %s: the database failed step %s (%s)", failed.run_id, failed.step, type(cause).__name__
        )
        cause = ApiError(
            "the database failed during the reflection; finished steps are kept, retry shortly to resume",
            status=503,
            code="database_unavailable",
            headers={"Retry-After": "5"},
        )
    if isinstance(cause, ApiError):
        return ApiError(
            cause.message, status=cause.status, code=cause.code, details=[*cause.details, where], headers=cause.headers
        )
    log.error("reflection run %s failed at %s", failed.run_id, failed.step, exc_info=cause)
    return ApiError(
        f"the reflection failed at step {failed.step}; it has been logged and can be resumed",
        status=500,
        code="pipeline_step_failed",
        details=[where],
    )


def stored(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "reflection_id": row["id"],
        "run_id": row["run_id"],
        "client_id": row["client_id"],
        "mode": row["mode"],
        "period": {
            "mode": row["mode"],
            "start": row["period_start"],
            "end": row["period_end"],
            "timezone": row["timezone"],
        },
        "figures": row["figures"],
        "narrative": row["narrative"],
        "suggestions": row["suggestions"],
        "narration": row["narration"],
        "markdown": row["markdown"],
        "coda_row": row["coda_row"],
        "memory_id": row["memory_id"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


@endpoint(
    bp,
    "/reflect",
    methods=["POST"],
    scope="write",
    query=ReflectQuery,
    body=ReflectIn,
    response=ReflectionOut,
    status=201,
    responses={
        502: LLM_RESPONSES[502],
        503: LLM_RESPONSES[503],
        200: "This period was reflected on before; the stored reflection is returned",
        409: "Another request is computing this reflection; see Retry-After",
    },
    summary="Reflect on a day or a week: computed figures, narrative, suggestions, Markdown, Coda row",
)
def reflect(query: ReflectQuery, body: ReflectIn):
    period = periods.resolve(query.mode, body)
    periods.check_ids(body)
    rt = runtime()
    data = _input(body, period)
    run, created = REFLECTION.start(
        rt.pool, data, client_id=body.client_id, dedupe_key=period.key(body.client_id), force=query.force
    )
    try:
        state = run.execute_all(wait=WAIT_SECONDS)
    except StepFailed as failed:
        raise _stopped(failed) from None
    if state.status != "completed":
        raise Conflict(
            f"the {query.mode} reflection for {period.start} is being computed by another request; "
            f"retry shortly or follow GET /api/v1/pipelines/{run.id}",
            details=[{"field": "pipeline", "problem": f"run {run.id} is at step {state.current_step}"}],
            headers={"Retry-After": "5"},
        )
    caching.invalidate(rt.cache, body.client_id)  # the memory is committed now: drop recalls cached before it
    row = store.by_run(get_db(), run.id)
    if row is None:  # only a superseded run has no row; a concurrent force replaced it
        raise Conflict("a forced re-run replaced this reflection while it ran; send the request again")
    fresh_hash = REFLECTION.input_hash(data)
    out = ReflectionOut.model_validate(
        {**stored(row), "reused": not created, "input_changed": not created and fresh_hash != run.input_hash()}
    )
    return out, 201 if created else 200


@endpoint(
    bp,
    "/reflections",
    methods=["GET"],
    scope="read",
    query=ReflectionsQuery,
    response=ReflectionPage,
    summary="Past reflections of a client, newest period first",
)
def list_reflections(query: ReflectionsQuery):
    try:
        rows, next_cursor = store.page(get_db(), query.client_id, query.mode, query.since, query.limit, query.cursor)
    except ValueError:
        raise ValidationFailed.field("cursor", "not a cursor from this API; pass next_cursor unchanged") from None
    return ReflectionPage(items=[StoredReflection.model_validate(stored(r)) for r in rows], next_cursor=next_cursor)

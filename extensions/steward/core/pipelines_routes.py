"""`GET /api/v1/pipelines/{run_id}`: where a resumable pipeline run stands, step by step."""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint

from steward.core.api import StrictModel, endpoint
from steward.core.db import get_db
from steward.core.errors import NotFound
from steward.core.pipeline_state import PipelineState, read_state

bp = Blueprint("pipelines", __name__, url_prefix="/api/v1/pipelines")


class StateQuery(StrictModel):
    results: bool = True


@endpoint(
    bp,
    "/<uuid:run_id>",
    methods=["GET"],
    scope="read",
    query=StateQuery,
    response=PipelineState,
    summary="A pipeline run: current step, completed and pending steps, partial results",
)
def get_run(run_id: UUID, query: StateQuery):
    state = read_state(get_db(), run_id, results=query.results)
    if state is None:
        raise NotFound(f"no pipeline run {run_id}")
    return state

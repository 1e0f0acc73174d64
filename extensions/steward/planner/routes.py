"""`/api/v1/planner`: intent -> validated SOP plan, and goal tracking of its steps."""

from __future__ import annotations

from uuid import UUID

from flask import Blueprint

from steward.core.api import endpoint
from steward.core.db import get_db
from steward.core.errors import NotFound, ValidationFailed
from steward.core.llm.errors import LLM_RESPONSES
from steward.planner import service, store, tracking
from steward.planner.models import PlanCreated, PlanIn, PlanOut, PlanPage, PlanPatch, PlanQuery, StepUpdate
from steward.planner.present import plan_out

bp = Blueprint("planner", __name__, url_prefix="/api/v1/planner")


def _out(plan: dict) -> PlanOut:
    conn = get_db()
    return plan_out(plan, store.steps_of(conn, [plan["id"]])[str(plan["id"])])


def _load(plan_id: UUID, for_update: bool = False) -> dict:
    plan = store.get_plan(get_db(), plan_id, for_update=for_update)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    return plan


@endpoint(
    bp,
    "/plan",
    methods=["POST"],
    scope="write",
    summary="Plan an intent as an SOP (reused or generated)",
    body=PlanIn,
    response=PlanCreated,
    status=201,
    responses={**LLM_RESPONSES, 422: "The SOP (generated or a reused template) is not a valid dependency graph"},
)
def create_plan(body: PlanIn):
    return service.create(get_db(), body)


@endpoint(bp, "/plans/<uuid:plan_id>", methods=["GET"], scope="read", summary="A plan with its steps", response=PlanOut)
def get_plan(plan_id: UUID):
    return _out(tracking.fail_overdue(get_db(), [_load(plan_id)])[0])


@endpoint(
    bp,
    "/plans",
    methods=["GET"],
    scope="read",
    summary="A client's plans, newest first",
    query=PlanQuery,
    response=PlanPage,
)
def list_plans(query: PlanQuery):
    conn = get_db()
    try:
        rows, next_cursor = store.page(conn, query.client_id, query.status, query.limit, query.cursor)
    except ValueError:
        raise ValidationFailed.field("cursor", "not a cursor from this API; pass next_cursor unchanged") from None
    rows = tracking.fail_overdue(conn, rows)
    steps = store.steps_of(conn, [r["id"] for r in rows])
    return PlanPage(items=[plan_out(r, steps[str(r["id"])]) for r in rows], next_cursor=next_cursor)


@endpoint(
    bp,
    "/plans/<uuid:plan_id>",
    methods=["PATCH"],
    scope="write",
    summary="Activate or cancel a plan",
    body=PlanPatch,
    response=PlanOut,
    responses={409: "The plan cannot make that change in its current status, or changed meanwhile"},
)
def patch_plan(plan_id: UUID, body: PlanPatch):
    return _out(tracking.patch(get_db(), _load(plan_id, for_update=True), body))


@endpoint(
    bp,
    "/plans/<uuid:plan_id>/steps/<key>",
    methods=["POST"],
    scope="write",
    summary="Update a step: status, actual minutes, deadline",
    body=StepUpdate,
    response=PlanOut,
    responses={409: "The step cannot make that change in its current status, or the plan changed meanwhile"},
)
def update_step(plan_id: UUID, key: str, body: StepUpdate):
    return _out(tracking.update_step(get_db(), plan_id, key, body))

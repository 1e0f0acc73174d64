"""Goal tracking: the plan and step state machines, one event per transition.

    plan   draft ─activate─> active ─(every step done)─> completed
             │                 │  └─(a step blocked past its due_at)─> failed ─activate─> active
             └──cancel──> cancelled <──cancel── (draft, active, failed)
    step   todo ⇄ doing ⇄ blocked, then done (final). doing/done need every dependency done.

Moving a step of a draft plan activates the plan. Every finished step writes an `execution_runs`
row (estimate vs actual). A plan fails when it is read or touched after a blocked step's due_at
has passed, so no background job is needed for it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import psycopg

from steward.core.errors import Conflict, NotFound, ValidationFailed
from steward.events import store as events
from steward.planner import store
from steward.planner.models import PlanPatch, StepUpdate

SOURCE = "steward:planner"
PLAN_EVENTS = {
    "active": "plan_activated",
    "completed": "plan_completed",
    "failed": "plan_failed",
    "cancelled": "plan_cancelled",
}
STEP_EVENTS = {
    "todo": "plan_step_reset",
    "doing": "plan_step_started",
    "done": "plan_step_done",
    "blocked": "plan_step_blocked",
}


def emit(conn: psycopg.Connection, plan: dict[str, Any], event_type: str, **payload: Any) -> None:
    # The wall clock, not now(): a request's transitions (step done, then plan completed) share a
    # transaction start time, and their order must survive in the log.
    events.append(
        conn,
        event_type,
        SOURCE,
        plan["client_id"],
        {"plan_id": str(plan["id"]), **payload},
        occurred_at=datetime.now(UTC),
    )


def created(conn: psycopg.Connection, plan: dict[str, Any]) -> None:
    emit(
        conn,
        plan,
        "plan_created",
        to_status=plan["status"],
        source=plan["source"],
        title=plan["title"],
        mode=plan["mode"],
    )


def move(conn: psycopg.Connection, plan: dict[str, Any], to: str, reason: str, **payload: Any) -> dict[str, Any]:
    """Change the plan's status and record the event; 409 when another request changed it first."""
    now = datetime.now(UTC)
    extra: dict[str, Any] = {}
    if to == "active":
        extra = {"activated_at": plan["activated_at"] or now, "finished_at": None}
    elif to in ("completed", "failed", "cancelled"):
        extra = {"finished_at": now}
    moved = store.set_plan(conn, plan["id"], plan["status"], status=to, **extra)
    if moved is None:
        raise Conflict("the plan changed while this request ran; read it again and retry", headers={"Retry-After": "1"})
    emit(conn, moved, PLAN_EVENTS[to], from_status=plan["status"], to_status=to, reason=reason, **payload)
    return moved


def fail_overdue(conn: psycopg.Connection, plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fail each active plan with a blocked step past its deadline; returns the plans as they now are."""
    active = [p["id"] for p in plans if p["status"] == "active"]
    overdue = store.overdue_blocked(conn, active) if active else {}
    result = []
    for plan in plans:
        keys = overdue.get(str(plan["id"]))
        if keys:
            moved = store.set_plan(conn, plan["id"], "active", status="failed", finished_at=datetime.now(UTC))
            if moved is not None:  # else a concurrent request failed it already
                emit(
                    conn,
                    moved,
                    "plan_failed",
                    from_status="active",
                    to_status="failed",
                    reason=f"blocked past its deadline: {', '.join(keys)}",
                    steps=keys,
                )
                plan = moved
            else:
                plan = store.get_plan(conn, plan["id"]) or plan
        result.append(plan)
    return result


def patch(conn: psycopg.Connection, plan: dict[str, Any], body: PlanPatch) -> dict[str, Any]:
    if body.step_due:
        keys = {s["key"] for s in store.steps_of(conn, [plan["id"]])[str(plan["id"])]}
        for key, due in body.step_due.items():
            if key not in keys:
                raise ValidationFailed.field(f"step_due.{key}", f"no such step; steps: {', '.join(sorted(keys))}")
            store.set_step(conn, plan["id"], key, due_at=due)
    reason = body.reason or "requested"
    if body.action == "activate":
        if plan["status"] in ("draft", "failed"):
            plan = move(conn, plan, "active", reason)
        elif plan["status"] != "active":
            raise Conflict(
                f"a {plan['status']} plan cannot be activated",
                details=[{"field": "action", "problem": f"plan is {plan['status']}"}],
            )
    elif plan["status"] in ("draft", "active", "failed"):
        plan = move(conn, plan, "cancelled", reason)
    elif plan["status"] != "cancelled":
        raise Conflict(
            f"a {plan['status']} plan cannot be cancelled",
            details=[{"field": "action", "problem": f"plan is {plan['status']}"}],
        )
    return fail_overdue(conn, [plan])[0]


def update_step(conn: psycopg.Connection, plan_id: Any, key: str, body: StepUpdate) -> dict[str, Any]:
    """Apply one step update under the plan's row lock, then complete or fail the plan if due."""
    plan = store.get_plan(conn, plan_id, for_update=True)
    if plan is None:
        raise NotFound(f"no plan {plan_id}")
    steps = store.steps_of(conn, [plan["id"]])[str(plan["id"])]
    by_key = {s["key"]: s for s in steps}
    step = by_key.get(key)
    if step is None:
        raise NotFound(f"plan {plan_id} has no step {key!r}; steps: {', '.join(by_key)}")
    if plan["status"] in ("completed", "cancelled"):
        raise Conflict(
            f"the plan is {plan['status']}; its steps can no longer change",
            details=[{"field": "status", "problem": f"plan is {plan['status']}"}],
        )

    now = datetime.now(UTC)
    fields = {name: getattr(body, name) for name in ("due_at", "task_id", "note") if name in body.model_fields_set}
    new = body.status if body.status is not None and body.status != step["status"] else None
    if new is not None:
        _check_move(plan, step, new, by_key)
        fields["status"] = new
        if new in ("doing", "done"):
            fields["started_at"] = step["started_at"] or now
        if new == "done":
            fields["finished_at"] = now
            fields["actual_minutes"] = (
                body.actual_minutes if body.actual_minutes is not None else _elapsed(step["started_at"], now)
            )
    elif body.actual_minutes is not None:
        fields["actual_minutes"] = body.actual_minutes
    if not fields:
        return fail_overdue(conn, [plan])[0]

    if new is not None and plan["status"] == "draft" and new != "todo":
        plan = move(conn, plan, "active", f"step {key!r} moved to {new}")
    updated = store.set_step(conn, plan["id"], key, **fields)
    if new is not None:
        emit(
            conn,
            plan,
            STEP_EVENTS[new],
            step_key=key,
            from_status=step["status"],
            to_status=new,
            actual_minutes=updated["actual_minutes"],
        )
    if new == "done":
        store.write_execution_run(conn, plan, updated)
    elif step["status"] == "done" and "actual_minutes" in fields:
        store.update_execution_run_actual(conn, plan["id"], key, fields["actual_minutes"])

    statuses = {k: s["status"] for k, s in by_key.items()} | {key: updated["status"]}
    if plan["status"] == "active" and all(s == "done" for s in statuses.values()):
        return move(conn, plan, "completed", "every step is done")
    return fail_overdue(conn, [plan])[0]


def _check_move(plan: dict[str, Any], step: dict[str, Any], new: str, by_key: dict[str, dict[str, Any]]) -> None:
    if plan["status"] == "failed":
        raise Conflict(
            "the plan failed; PATCH it with action=activate (and new step_due) to reopen it",
            details=[{"field": "status", "problem": "plan is failed"}],
        )
    if step["status"] == "done":
        raise Conflict(
            f"step {step['key']!r} is done, which is final", details=[{"field": "status", "problem": "step is done"}]
        )
    if new in ("doing", "done"):
        waiting = [d for d in step["depends_on"] if by_key[d]["status"] != "done"]
        if waiting:
            raise Conflict(
                f"step {step['key']!r} cannot start before {', '.join(waiting)} "
                f"{'is' if len(waiting) == 1 else 'are'} done",
                details=[{"field": "depends_on", "problem": f"{d} is {by_key[d]['status']}"} for d in waiting],
            )


def _elapsed(started: datetime | None, now: datetime) -> int | None:
    return max(1, math.ceil((now - started).total_seconds() / 60)) if started else None

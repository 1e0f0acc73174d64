"""`/api/v1/scheduler`: fit tasks into free time, reschedule what slipped, the daily plan, .ics.

Each call loads what it needs (a stored plan, a parent run), runs the pure pipeline in
`service.py`, stores the run in `scheduler_runs` and answers with `meta.service = "scheduler"`.
Scheduling needs no LLM; preferences (`preferences.py`) fill what a request leaves out.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from flask import Blueprint, Response

from steward.core.api import endpoint
from steward.core.db import get_db
from steward.core.errors import NotFound
from steward.scheduler import daily, ics, plans, preferences, render, service, store, text
from steward.scheduler.clock import from_minute, zone
from steward.scheduler.models import (
    BlockIn,
    BlockOut,
    BusyIn,
    DailyPlanQuery,
    DailyPlanRequest,
    DailyPlanResponse,
    Meta,
    RescheduleRequest,
    RescheduleResponse,
    RunOptions,
    RunOut,
    ScheduleRequest,
    ScheduleResponse,
    TaskIn,
    UnscheduledOut,
    WarningOut,
    dump,
)
from steward.scheduler.preferences import Preferences, as_options, overlay

bp = Blueprint("scheduler", __name__, url_prefix="/api/v1/scheduler")


def _stored_request(
    tasks: list[TaskIn], busy: list[BusyIn], prefs: Preferences, now: datetime, **extra: Any
) -> dict[str, Any]:
    return {
        "tasks": [t.model_dump(mode="json", exclude_none=True) for t in tasks],
        "busy": [b.model_dump(mode="json", exclude_none=True) for b in busy],
        "options": as_options(prefs),
        "now": now.isoformat(),
        **{k: v for k, v in extra.items() if v is not None},
    }


def _run_of(run_id: UUID, client_id: str | None = None) -> dict[str, Any]:
    run = store.get_run(get_db(), run_id)
    if run is None or (client_id is not None and run["client_id"] != client_id):
        raise NotFound(f"no scheduler run {run_id}" + (f" for client {client_id}" if client_id else ""))
    return run


def _replayed(base: Preferences, run: dict[str, Any]) -> Preferences:
    """`base` overlaid with the settings a stored run used."""
    return overlay(base, RunOptions.model_validate(run["request"].get("options") or {}))


@endpoint(
    bp,
    "/schedule",
    methods=["POST"],
    scope="write",
    body=ScheduleRequest,
    response=ScheduleResponse,
    responses={404: "plan_id names no plan of this client", 422: "The tasks cannot be scheduled as given"},
    summary="Fit tasks (or a stored plan's steps) into free calendar time",
)
def schedule(body: ScheduleRequest):
    conn = get_db()
    base = preferences.for_client(body.client_id)
    tasks, prefix = body.tasks or [], "tasks"
    notes: list[WarningOut] = []
    if body.plan_id is not None:
        plan = store.get_plan(conn, body.plan_id)
        if plan is None or plan["client_id"] != body.client_id:
            raise NotFound(f"no plan {body.plan_id} for client {body.client_id}")
        tasks, notes = plans.tasks_from_plan(
            plan, store.tracked_steps(conn, body.plan_id), body.plan_defaults, base.min_chunk_minutes
        )
        prefix = "plan.steps"
    now = service.now_or(body.now)
    run_id = uuid4()
    _, response, prefs = service.schedule(body.model_copy(update={"now": now}), base, tasks, run_id, prefix)
    response.warnings[:0] = notes
    store.insert_run(
        conn,
        run_id,
        body.client_id,
        "schedule",
        _stored_request(tasks, body.busy, prefs, now, plan_id=str(body.plan_id) if body.plan_id else None),
        dump(response),
        plan_id=body.plan_id,
    )
    return response


@endpoint(
    bp,
    "/reschedule",
    methods=["POST"],
    scope="write",
    body=RescheduleRequest,
    response=RescheduleResponse,
    responses={
        404: "scheduler_run_id names no run of this client",
        422: "The work cannot be rescheduled as given (unknown done or slipped, duplicate keys)",
    },
    summary="Keep what is done or pinned, move unfinished work; returns the create/move/delete diff",
)
def reschedule(body: RescheduleRequest):
    conn = get_db()
    base = preferences.for_client(body.client_id)
    tasks, busy, blocks = body.tasks, body.busy, body.blocks
    plan_id = None
    if body.scheduler_run_id is not None:
        parent = _run_of(body.scheduler_run_id, body.client_id)
        base = _replayed(base, parent)
        plan_id = parent["plan_id"]
        if tasks is None:
            tasks = [TaskIn.model_validate(t) for t in parent["request"].get("tasks", [])]
        if busy is None:
            busy = [BusyIn.model_validate(b) for b in parent["request"].get("busy", [])]
        if blocks is None:
            blocks = [BlockIn.model_validate(b) for b in parent["result"].get("blocks", [])]
    tasks, busy, blocks = tasks or [], busy or [], blocks or []
    now = service.now_or(body.now)
    run_id = uuid4()
    _, response, prefs = service.reschedule(body.model_copy(update={"now": now}), base, tasks, busy, blocks, run_id)
    store.insert_run(
        conn,
        run_id,
        body.client_id,
        "reschedule",
        _stored_request(tasks, busy, prefs, now, done=body.done, slipped=body.slipped),
        dump(response),
        plan_id=plan_id,
        parent_id=body.scheduler_run_id,
    )
    return response


@endpoint(
    bp,
    "/daily-plan",
    methods=["GET"],
    scope="read",
    query=DailyPlanQuery,
    response=DailyPlanResponse,
    responses={404: "No stored schedule covers the day"},
    summary="The day's agenda, top tasks and workload from the latest plan (Telegram-ready text)",
)
def daily_plan(query: DailyPlanQuery):
    return _daily(query.client_id, query.date, None)


@endpoint(
    bp,
    "/daily-plan",
    methods=["POST"],
    scope="write",
    body=DailyPlanRequest,
    response=DailyPlanResponse,
    responses={
        404: "No stored schedule covers the day, or scheduler_run_id names no run",
        422: "The tasks cannot be scheduled as given",
    },
    summary="Refresh the day's plan with fresh events and tasks; stored as a daily_plan run",
)
def refresh_daily_plan(body: DailyPlanRequest):
    return _daily(body.client_id, body.date, body)


def _daily(client_id: str, day: date | None, body: DailyPlanRequest | None) -> DailyPlanResponse:
    """GET (body None) reads the newest run covering the day; POST refreshes it and stores a run."""
    started = time.perf_counter()
    conn = get_db()
    now = service.now_or(body.now if body else None)
    source = _run_of(body.scheduler_run_id, client_id) if body and body.scheduler_run_id else None
    prefs = _day_preferences(client_id, source, body)
    day = day or now.astimezone(zone(prefs.timezone)).date()
    start, end = (from_minute(m, zone(prefs.timezone)) for m in daily.bounds(day, prefs))
    supplied = body is not None and (body.tasks is not None or body.blocks is not None)
    if source is None and not supplied:
        source = store.latest_run_covering(conn, client_id, start, end)
        prefs = _day_preferences(client_id, source, body)
    if source is None and not supplied and (body is None or body.busy is None):
        raise NotFound(
            f"no schedule covers {day} for client {client_id}; POST /api/v1/scheduler/daily-plan with the day's "
            "tasks and events, or POST /api/v1/scheduler/schedule first"
        )
    stored = source["request"] if source else {}
    busy = (
        list(body.busy)
        if body and body.busy is not None
        else [BusyIn.model_validate(b) for b in stored.get("busy", [])]
    )
    tasks = [TaskIn.model_validate(t) for t in stored.get("tasks", [])]
    blocks: list[BlockOut] = []
    unscheduled: list[UnscheduledOut] = []
    if body is not None and body.tasks is not None:  # plan what fits in the rest of the day
        outcome = service.solve(body.tasks, busy, replace(prefs, horizon_days=1), max(now, start), first_day=day)
        tasks, blocks, unscheduled = list(body.tasks), render.blocks(outcome), render.unscheduled(outcome)
    elif body is not None and body.blocks is not None:
        blocks = [_as_block(b) for b in body.blocks]
    elif source is not None:
        blocks = [BlockOut.model_validate(b) for b in source["result"].get("blocks", [])]
        unscheduled = [UnscheduledOut.model_validate(u) for u in source["result"].get("unscheduled", [])]
    done = set(body.done) if body else set()
    view = daily.build(day, prefs, now, busy, blocks, tasks, done, body.top if body else 5)
    run_id = uuid4() if body is not None else None
    response = DailyPlanResponse(
        run_id=run_id,
        source_run_id=source["id"] if source else None,
        client_id=client_id,
        date=day,
        timezone=prefs.timezone,
        agenda=view.agenda,
        top_tasks=view.top_tasks,
        unscheduled=unscheduled,
        workload=view.workload,
        text=text.render(view, prefs.timezone, unscheduled),
        meta=service.meta(prefs, started),
    )
    if run_id is not None:
        todays = [dump(b) for b in blocks if b.start < end and b.end > start]
        result = {
            **dump(response),
            "blocks": todays,
            "horizon_start": start.isoformat(),
            "horizon_end": end.isoformat(),
        }
        request = _stored_request(tasks, busy, prefs, now, date=day.isoformat(), done=sorted(done))
        store.insert_run(
            conn,
            run_id,
            client_id,
            "daily_plan",
            request,
            result,
            plan_id=source["plan_id"] if source else None,
            parent_id=source["id"] if source else None,
        )
    return response


def _day_preferences(client_id: str, source: dict[str, Any] | None, body: DailyPlanRequest | None) -> Preferences:
    """Preferences, then the source run's settings, then what the request sets."""
    prefs = preferences.for_client(client_id)
    if source is not None:
        prefs = _replayed(prefs, source)
    return overlay(prefs, body) if body is not None else prefs


def _as_block(block: BlockIn) -> BlockOut:
    return BlockOut(
        key=block.key or block.event_id or f"{block.task_id}#{block.chunk or 1}",
        task_id=block.task_id,
        title=block.title or block.task_id,
        description=block.description or "",
        start=block.start,
        end=block.end,
        minutes=int((block.end - block.start).total_seconds() // 60),
        chunk=block.chunk or 1,
        of=block.of or 1,
        pinned=bool(block.pinned),
    )


@endpoint(
    bp,
    "/runs/<uuid:run_id>",
    methods=["GET"],
    scope="read",
    response=RunOut,
    summary="A stored run: its normalized request and its result",
)
def get_run(run_id: UUID):
    run = _run_of(run_id)
    return RunOut(**run, meta=Meta())


@endpoint(
    bp,
    "/runs/<uuid:run_id>.ics",
    methods=["GET"],
    scope="read",
    content_type="text/calendar",
    summary="A run's blocks as iCalendar, for any calendar app",
)
def run_ics(run_id: UUID):
    run = _run_of(run_id)
    blocks = [BlockOut.model_validate(b) for b in run["result"].get("blocks", [])]
    timezone = (run["request"].get("options") or {}).get("timezone", "UTC")
    body = ics.calendar(str(run_id), run["created_at"], blocks, timezone)
    headers = {"Content-Disposition": f'inline; filename="steward-plan-{run_id}.ics"', "X-Steward-Service": "scheduler"}
    return Response(body, mimetype="text/calendar", headers=headers)

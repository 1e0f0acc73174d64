"""The scheduling pipeline without HTTP or SQL: request + preferences in, response out.

Routes call these functions after loading what they need from Postgres; tests and the benchmark
call them directly, so what is measured and property-tested is exactly what the API runs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from steward.scheduler import engine, problem, render
from steward.scheduler import reschedule as rescheduling
from steward.scheduler.engine import Outcome
from steward.scheduler.models import (
    BlockIn,
    BusyIn,
    Meta,
    RescheduleRequest,
    RescheduleResponse,
    ScheduleRequest,
    ScheduleResponse,
    TaskIn,
)
from steward.scheduler.preferences import Preferences, overlay
from steward.scheduler.reschedule import Rescheduled


def now_or(moment: datetime | None) -> datetime:
    return moment if moment is not None else datetime.now(UTC)


def meta(prefs: Preferences, started: float) -> Meta:
    return Meta(elapsed_ms=round((time.perf_counter() - started) * 1000, 3), preferences=dict(prefs.origin))


def solve(tasks: Sequence[TaskIn], busy: Sequence[BusyIn], prefs: Preferences, now: datetime, **kwargs) -> Outcome:
    return engine.solve(problem.build(tasks, busy, prefs, now, **kwargs))


def schedule(
    request: ScheduleRequest,
    base: Preferences,
    tasks: Sequence[TaskIn] | None = None,
    run_id=None,
    field_prefix: str = "tasks",
) -> tuple[Outcome, ScheduleResponse, Preferences]:
    """Schedule `tasks` (default: the request's) with the request's settings over `base` preferences."""
    started = time.perf_counter()
    prefs = overlay(base, request)
    outcome = solve(
        tasks if tasks is not None else request.tasks or [],
        request.busy,
        prefs,
        now_or(request.now),
        field_prefix=field_prefix,
    )
    response = render.schedule_response(outcome, request.client_id, run_id, prefs.timezone, meta(prefs, started))
    return outcome, response, prefs


def reschedule(
    request: RescheduleRequest,
    base: Preferences,
    tasks: Sequence[TaskIn],
    busy: Sequence[BusyIn],
    blocks: Sequence[BlockIn],
    run_id=None,
) -> tuple[Rescheduled, RescheduleResponse, Preferences]:
    """Re-plan from `request.now`: `base` is the parent run's effective settings (or preferences)."""
    started = time.perf_counter()
    prefs = overlay(base, request)
    result = rescheduling.reschedule(tasks, busy, prefs, now_or(request.now), blocks, request.done, request.slipped)
    plain = render.schedule_response(
        result.outcome, request.client_id, run_id, prefs.timezone, meta(prefs, started), plan_blocks=result.plan
    )
    response = RescheduleResponse(**dict(plain), parent_run_id=request.scheduler_run_id, diff=result.diff)
    response.meta.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    return result, response, prefs

"""From the engine's minutes back to the wire: aware datetimes in the plan's timezone.

Each block carries a title and a description that names the task id, so an event n8n creates
from it can be traced back (and a calendar change mapped to the task) without any lookup.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from steward.scheduler.clock import from_minute
from steward.scheduler.engine import Outcome
from steward.scheduler.models import (
    BlockOut,
    DayLoad,
    DecisionOut,
    Meta,
    ScheduleResponse,
    UnscheduledOut,
    WarningOut,
)
from steward.scheduler.problem import Job

PRIORITY_NAMES = {1: "p1", 2: "p2", 3: "p3", 4: "p4"}


def describe(job: Job, chunk: int, of: int) -> str:
    lines = [f"Steward task {job.id}" + (f" (part {chunk} of {of})" if of > 1 else "")]
    if job.description:
        lines.append(job.description)
    lines.append(f"steward:task_id={job.id}")
    return "\n".join(lines)


def block(job: Job, start: int, end: int, chunk: int, of: int, key: str, outcome: Outcome) -> BlockOut:
    tz = outcome.problem.tz
    return BlockOut(
        key=key,
        task_id=job.id,
        title=job.title,
        description=describe(job, chunk, of),
        start=from_minute(start, tz),
        end=from_minute(end, tz),
        minutes=end - start,
        chunk=chunk,
        of=of,
        pinned=job.pinned is not None,
    )


def blocks(outcome: Outcome) -> list[BlockOut]:
    out = []
    for placed in outcome.placements.values():
        of = len(placed.blocks)
        for n, (start, end, _) in enumerate(placed.blocks, 1):
            out.append(block(placed.job, start, end, n, of, f"{placed.job.id}#{n}", outcome))
    return sorted(out, key=lambda b: (b.start, b.task_id))


def unscheduled(outcome: Outcome) -> list[UnscheduledOut]:
    return [
        UnscheduledOut(
            task_id=m.job.id,
            title=m.job.title,
            reason=m.reason,  # type: ignore[arg-type]
            message=m.message,
            remaining_minutes=m.job.duration,
        )
        for m in outcome.misses.values()
    ]


def warnings(outcome: Outcome) -> list[WarningOut]:
    first = outcome.problem.first_day
    return [
        WarningOut(
            code=w.code,  # type: ignore[arg-type]
            message=w.message,
            task_id=w.task_id,
            date=first + timedelta(days=w.day) if w.day is not None else None,
        )
        for w in outcome.warnings
    ]


def decisions(outcome: Outcome) -> list[DecisionOut]:
    tz = outcome.problem.tz
    out = []
    for placed in outcome.placements.values():
        end = placed.blocks[-1][1]
        out.append(
            DecisionOut(
                task_id=placed.job.id,
                tier=placed.tier,  # type: ignore[arg-type]
                rank=placed.rank,
                effective_priority=PRIORITY_NAMES[placed.priority],  # type: ignore[arg-type]
                effective_deadline=from_minute(placed.deadline, tz) if placed.deadline is not None else None,
                ready_at=from_minute(placed.ready, tz),
                slack_minutes=placed.deadline - end if placed.deadline is not None else None,
            )
        )
    return out


def workload(outcome: Outcome) -> list[DayLoad]:
    p = outcome.problem
    working = {day for _, _, day in p.windows}
    return [
        DayLoad(
            date=p.first_day + timedelta(days=d),
            busy_minutes=outcome.busy_load[d],
            task_minutes=outcome.task_load[d],
            limit_minutes=p.limit,
        )
        for d in range(p.days)
        if d in working or outcome.task_load[d]
    ]


def schedule_response(
    outcome: Outcome,
    client_id: str,
    run_id: UUID | None,
    tz_name: str,
    meta: Meta,
    plan_blocks: list[BlockOut] | None = None,
) -> ScheduleResponse:
    p = outcome.problem
    return ScheduleResponse(
        run_id=run_id,
        client_id=client_id,
        timezone=tz_name,
        horizon_start=from_minute(p.now, p.tz),
        horizon_end=from_minute(p.horizon_end, p.tz),
        blocks=plan_blocks if plan_blocks is not None else blocks(outcome),
        unscheduled=unscheduled(outcome),
        warnings=warnings(outcome),
        decisions=decisions(outcome),
        workload=workload(outcome),
        meta=meta,
    )

"""A stored plan's steps as scheduler tasks (`plan_id` in /schedule).

Steps come from `plans.sop.steps` ({key, title, estimate_minutes, depends_on}); when the planner
tracks step status in `plan_steps`, done steps are left out (their dependents are free to start)
and a step's `due_at` becomes a soft deadline. A step estimated at 0 minutes gets the minimum
chunk as its estimate, with a warning, rather than vanishing from the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from steward.core.errors import ValidationFailed
from steward.scheduler.models import PlanDefaults, TaskIn, WarningOut


def tasks_from_plan(
    plan: Mapping[str, Any], tracked: Sequence[Mapping[str, Any]], defaults: PlanDefaults | None, fallback_minutes: int
) -> tuple[list[TaskIn], list[WarningOut]]:
    defaults = defaults or PlanDefaults()
    steps = (plan.get("sop") or {}).get("steps") if isinstance(plan.get("sop"), dict) else None
    if not isinstance(steps, list) or not steps:
        raise ValidationFailed.field("plan_id", "the plan has no steps to schedule", status=422)
    status = {row["key"]: row for row in tracked}
    done = {key for key, row in status.items() if row.get("status") == "done"}
    tasks, warnings = [], []
    for step in steps:
        key = str(step.get("key") or "")
        if not key or key in done:
            continue
        minutes = int(step.get("estimate_minutes") or 0)
        if minutes <= 0:
            minutes = fallback_minutes
            warnings.append(
                WarningOut(
                    code="estimate_assumed",
                    task_id=key,
                    message=f"step {key!r} has no estimate; {minutes} minutes assumed",
                )
            )
        due = status.get(key, {}).get("due_at")
        deadline = defaults.deadline or due
        try:
            tasks.append(
                TaskIn.model_validate(
                    {
                        "id": key,
                        "title": str(step.get("title") or key)[:500],
                        "description": f"Plan {plan.get('title', '')} ({plan['id']}), step {key}\n"
                        f"{step.get('description') or ''}".strip()[:4000],
                        "duration_minutes": minutes,
                        "priority": defaults.priority,
                        "deadline": deadline,
                        "deadline_type": defaults.deadline_type if defaults.deadline else "soft",
                        "earliest_start": defaults.earliest_start,
                        "depends_on": [d for d in step.get("depends_on") or [] if d not in done],
                    }
                )
            )
        except ValidationError as exc:
            raise ValidationFailed.field(
                "plan_id", f"step {key!r} cannot be scheduled: {exc.errors()[0]['msg']}", status=422
            ) from None
    if not tasks:
        raise ValidationFailed.field("plan_id", "every step of the plan is done; nothing to schedule", status=422)
    return tasks, warnings

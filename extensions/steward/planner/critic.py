"""The planner's critic (default mode only): cheap, deterministic notes on a plan's realism.

It flags, it does not fix: steps too large to track, steps with no deliverable, a plan whose
critical path is much longer than a working week. The notes go back in `generation.warnings`.
"""

from __future__ import annotations

from steward.planner.dag import order
from steward.planner.models import Sop

MAX_STEP_MINUTES = 8 * 60
LONG_PATH_MINUTES = 5 * 8 * 60


def critical_path_minutes(sop: Sop) -> int:
    finish: dict[str, int] = {}
    by_key = {s.key: s for s in sop.steps}
    for key in order(sop.steps):
        step = by_key[key]
        finish[key] = step.estimate_minutes + max((finish[d] for d in step.depends_on), default=0)
    return max(finish.values(), default=0)


def review(sop: Sop) -> list[str]:
    notes = []
    for step in sop.steps:
        if step.estimate_minutes > MAX_STEP_MINUTES:
            notes.append(
                f"step {step.key!r} is estimated at {step.estimate_minutes} min; split it into steps of "
                "a day or less so progress can be tracked"
            )
        if not step.deliverable.strip():
            notes.append(f"step {step.key!r} names no deliverable")
    path = critical_path_minutes(sop)
    if path > LONG_PATH_MINUTES:
        notes.append(f"the critical path is {path} min of work, more than a working week; check the scope")
    return notes

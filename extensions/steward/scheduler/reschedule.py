"""Reschedule: keep what happened, move what slipped, and say exactly which events change.

Blocks of the current plan fall into two groups at `now`:
- history: blocks that started before `now` and were not reported slipped (or whose task is
  done). Their minutes count as work done and they stay exactly as they are;
- movable: blocks that start later, and slipped blocks. Their minutes are planned again, and the
  events are moved to the new slots (a slipped event leaves the past, so the calendar shows the
  truth) or deleted when their task is done, no longer fits, or is no longer in the task list.

The engine then plans the remaining minutes from `now` with the same rules as /schedule: pinned
tasks come back at their pinned time, so their blocks stay, and a pin whose time passed without
the work is planned like any other task. The diff pairs old and new blocks of
each task in time order: identical times are unchanged, other pairs are moves (n8n patches the
event it already has), and the leftovers are creates or deletes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from steward.core.errors import ValidationFailed
from steward.scheduler import engine, problem, render
from steward.scheduler.clock import from_minute, to_minute
from steward.scheduler.engine import Outcome
from steward.scheduler.models import BlockIn, BlockOut, BusyIn, DeletedBlock, Diff, MovedBlock, TaskIn
from steward.scheduler.preferences import Preferences


@dataclass
class Current:
    key: str
    event_id: str | None
    task_id: str
    start: int
    end: int


def current_blocks(blocks: Sequence[BlockIn]) -> list[Current]:
    """The plan n8n knows, in time order; a block without a key gets '<task_id>#<n>' by position."""
    ordered = sorted(range(len(blocks)), key=lambda i: (blocks[i].start, blocks[i].task_id))
    out: list[Current] = []
    counts: dict[str, int] = {}
    seen: set[str] = set()
    for i in ordered:
        block = blocks[i]
        counts[block.task_id] = counts.get(block.task_id, 0) + 1
        key = block.key or block.event_id or f"{block.task_id}#{counts[block.task_id]}"
        if key in seen:
            raise ValidationFailed.field(f"blocks.{i}.key", f"duplicate block key {key!r}", status=422)
        seen.add(key)
        out.append(Current(key, block.event_id, block.task_id, to_minute(block.start), to_minute(block.end)))
    return out


@dataclass
class Rescheduled:
    outcome: Outcome
    plan: list[BlockOut]
    diff: Diff


def reschedule(
    tasks: Sequence[TaskIn],
    busy: Sequence[BusyIn],
    prefs: Preferences,
    now: datetime,
    blocks: Sequence[BlockIn],
    done: Sequence[str],
    slipped: Sequence[str],
) -> Rescheduled:
    ids = {t.id for t in tasks}
    for i, task_id in enumerate(done):
        if task_id not in ids:
            raise ValidationFailed.field(f"done.{i}", f"unknown task {task_id!r}", status=422)
    current = current_blocks(blocks)
    keys = {c.key for c in current}
    for i, ref in enumerate(slipped):
        if ref not in keys and ref not in ids:
            raise ValidationFailed.field(f"slipped.{i}", f"{ref!r} is neither a block key nor a task id", status=422)
    moment = to_minute(now, up=True)
    finished, missed = set(done), set(slipped)
    history, movable = [], []
    for block in current:
        was_missed = block.key in missed or block.task_id in missed
        if block.task_id not in ids:  # the task is gone: its future events go, its past is left alone
            if block.start >= moment:
                movable.append(block)
        elif block.start < moment and (block.task_id in finished or not was_missed):
            history.append(block)
        else:
            movable.append(block)

    credited: dict[str, int] = {}
    for block in history:
        credited[block.task_id] = credited.get(block.task_id, 0) + block.end - block.start
    by_id = {t.id: t for t in tasks}
    for task_id in finished:
        credited[task_id] = by_id[task_id].duration_minutes
    fixed = [(b.task_id, b.start, b.end) for b in history]
    built = problem.build(tasks, busy, prefs, now, fixed=fixed, credited=credited)
    outcome = engine.solve(built)
    plan, diff = _diff(outcome, history, movable, current)
    return Rescheduled(outcome, plan, diff)


_NUMBERED = re.compile(r"^(?P<task>.*)#(?P<n>\d+)$")


def _diff(
    outcome: Outcome, history: list[Current], movable: list[Current], every: list[Current]
) -> tuple[list[BlockOut], Diff]:
    jobs = {j.id: j for j in outcome.problem.jobs}
    tz = outcome.problem.tz
    used: dict[str, int] = {}
    for block in every:  # slipped past blocks keep their keys too: never reuse one
        match = _NUMBERED.match(block.key)
        if match and match["task"] == block.task_id:
            used[block.task_id] = max(used.get(block.task_id, 0), int(match["n"]))
    new = {tid: [(s, e) for s, e, _ in placed.blocks] for tid, placed in outcome.placements.items()}
    old: dict[str, list[Current]] = {}
    for block in movable:
        old.setdefault(block.task_id, []).append(block)

    entries: list[tuple[str, int, int, str, str | None]] = [
        (b.task_id, b.start, b.end, b.key, b.event_id) for b in history
    ]
    create_keys, moves, unchanged, deletes = [], [], [], []
    for task_id in sorted(set(new) | set(old), key=lambda t: (jobs[t].index if t in jobs else len(jobs), t)):
        olds = sorted(old.get(task_id, []), key=lambda b: b.start)
        news = sorted(new.get(task_id, []))
        same = [b for b in olds if (b.start, b.end) in set(news)]
        for b in same:
            unchanged.append(b.key)
            entries.append((task_id, b.start, b.end, b.key, b.event_id))
        olds = [b for b in olds if b not in same]
        news = [span for span in news if span not in {(b.start, b.end) for b in same}]
        for b, span in zip(olds, news, strict=False):
            moves.append((b, span))
            entries.append((task_id, span[0], span[1], b.key, b.event_id))
        for span in news[len(olds) :]:
            used[task_id] = used.get(task_id, 0) + 1
            key = f"{task_id}#{used[task_id]}"
            create_keys.append(key)
            entries.append((task_id, span[0], span[1], key, None))
        deletes.extend(olds[len(news) :])

    plan_blocks: dict[str, BlockOut] = {}
    per_task: dict[str, list[tuple[int, int, str]]] = {}
    for task_id, start, end, key, _ in entries:
        per_task.setdefault(task_id, []).append((start, end, key))
    for task_id, spans in per_task.items():
        spans.sort()
        for n, (start, end, key) in enumerate(spans, 1):
            plan_blocks[key] = render.block(jobs[task_id], start, end, n, len(spans), key, outcome)
    plan = sorted(plan_blocks.values(), key=lambda b: (b.start, b.task_id))
    diff = Diff(
        create=[plan_blocks[k] for k in create_keys],
        move=[
            MovedBlock(
                key=b.key,
                event_id=b.event_id,
                task_id=b.task_id,
                from_start=from_minute(b.start, tz),
                from_end=from_minute(b.end, tz),
                block=plan_blocks[b.key],
            )
            for b, _ in moves
        ],
        delete=[
            DeletedBlock(
                key=b.key,
                event_id=b.event_id,
                task_id=b.task_id,
                start=from_minute(b.start, tz),
                end=from_minute(b.end, tz),
            )
            for b in deletes
        ],
        unchanged=unchanged,
    )
    return plan, diff

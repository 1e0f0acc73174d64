"""The placement policy, tier by tier. Deterministic: the same Problem gives the same Outcome.

1. Pinned tasks take exactly their pinned time (if it is inside the horizon and free of busy
   events); they may sit outside working hours, which earns a warning. A pin that is already in
   the past is dropped (with a warning) and the task is planned like any other.
2. Hard deadlines, earliest (effective) deadline first. Dependencies of a hard or pinned task
   inherit a deadline: the latest instant that still leaves the dependent enough free time.
   Placing in deadline order, each task as early as it can go, is preemptive EDF, which is exact
   when tasks may split freely: if the hard tasks fit, all are placed. Minimum chunk sizes make
   the problem NP-hard; when EDF leaves a hard task out and there are at most `EXACT_LIMIT` tasks
   in this tier, an exhaustive search (`exact.py`) looks for a plan that meets more deadlines.
3. Everything else by priority (p1 first), then soft deadline, then input order; a dependency
   inherits the most urgent priority and deadline of the tasks waiting on it. This tier keeps
   each day within the workload limit. A task never loses its place to a lower-priority task,
   because it is placed before that task is looked at.

A task whose dependency is unscheduled is unscheduled too; a pinned task whose dependency could
not be placed before it is dropped and the tiers are recomputed without it.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from dataclasses import dataclass, field

from steward.scheduler import exact, graph
from steward.scheduler.fit import Block, State, fit
from steward.scheduler.problem import Job, Problem
from steward.scheduler.slots import FreeTime, intersects, merge

EXACT_LIMIT = 6
EXACT_BUDGET = 3_000
NEVER = 2**62


@dataclass
class Placement:
    job: Job
    blocks: list[Block]
    tier: str
    rank: int
    ready: int
    priority: int
    deadline: int | None


@dataclass
class Miss:
    job: Job
    reason: str
    message: str


@dataclass
class Warn:
    code: str
    message: str
    task_id: str | None = None
    day: int | None = None


@dataclass
class Outcome:
    problem: Problem
    placements: dict[str, Placement]
    misses: dict[str, Miss]
    warnings: list[Warn]
    busy_load: list[int]
    task_load: list[int]
    complete: set[str] = field(default_factory=set)


def solve(problem: Problem) -> Outcome:
    dropped: set[str] = set()
    while True:
        outcome = _Solver(problem, dropped).run()
        late = _pins_with_late_dependencies(outcome)
        if not late:
            return outcome
        dropped |= late


def _pins_with_late_dependencies(outcome: Outcome) -> set[str]:
    late = set()
    for task_id, placed in outcome.placements.items():
        if placed.tier != "pinned":
            continue
        for dep in placed.job.deps:
            if dep in outcome.complete:
                continue
            before = outcome.placements.get(dep)
            if before is None or before.blocks[-1][1] > placed.blocks[0][0]:
                late.add(task_id)
    return late


class _Solver:
    def __init__(self, problem: Problem, dropped: set[str]) -> None:
        self.p = problem
        self.dropped = dropped
        self.jobs = {j.id: j for j in problem.jobs}
        self.deps = {j.id: j.deps for j in problem.jobs}
        self.order = problem.order
        self.children: dict[str, list[str]] = {j.id: [] for j in problem.jobs}
        for job in problem.jobs:
            for dep in job.deps:
                self.children[dep].append(job.id)
        self.complete = {j.id for j in problem.jobs if j.duration == 0}
        self._urgency = self._effective_priorities()
        self.placements: dict[str, Placement] = {}
        self.misses: dict[str, Miss] = {}
        self.warnings: list[Warn] = []

    # ---- setup --------------------------------------------------------------------------
    def _initial_state(self) -> tuple[State, list[int]]:
        p = self.p
        gap = p.break_minutes
        fixed = [(s - gap, e + gap) for _, s, e in p.fixed]
        free = FreeTime(p.windows, merge(list(p.blocked) + fixed), p.now, p.horizon_end)
        busy_load = [0] * p.days
        for w_start, w_end, day in p.windows:
            i = max(bisect_right(p.busy, (w_start, NEVER)) - 1, 0)
            while i < len(p.busy) and p.busy[i][0] < w_end:
                busy_load[day] += max(0, min(p.busy[i][1], w_end) - max(p.busy[i][0], w_start))
                i += 1
        state = State(p, free, busy_load[:])
        for task_id, start, end in p.fixed:
            day = p.day_of(start)
            if 0 <= day < p.days:
                state.load[day] += end - start
            state.ends[task_id] = max(state.ends.get(task_id, start), end)
        return state, busy_load

    def run(self) -> Outcome:
        state, busy_load = self._initial_state()
        for job in self.p.jobs:
            if job.pin_passed and job.id not in self.complete:
                self.warnings.append(
                    Warn(
                        "pinned_time_passed",
                        f"{job.title!r} was pinned to a time that has passed; planned freely",
                        job.id,
                    )
                )
        self._pinned(state)
        self._deadlines(state)
        self._priorities(state)
        task_load = [state.load[d] - busy_load[d] for d in range(self.p.days)]
        self._load_warnings(busy_load, task_load)
        self._soft_deadline_warnings()
        placements = {j.id: self.placements[j.id] for j in self.p.jobs if j.id in self.placements}
        misses = {j.id: self.misses[j.id] for j in self.p.jobs if j.id in self.misses}
        return Outcome(self.p, placements, misses, self.warnings, busy_load, task_load, self.complete)

    def _ready(self, state: State, job: Job) -> int:
        ready = max(self.p.now, job.earliest or 0)
        for dep in job.deps:
            if dep in state.ends:
                ready = max(ready, state.ends[dep])
        if job.id in state.ends:  # kept blocks of this task (reschedule): never touch them
            ready = max(ready, state.ends[job.id] + self.p.chunk_gap)
        return ready

    # ---- tier 1: pinned -----------------------------------------------------------------
    def _pinned(self, state: State) -> None:
        p = self.p
        pinned = sorted(
            ((j.pinned, j.index, j) for j in p.jobs if j.pinned is not None and j.id not in self.complete),
            key=lambda item: item[:2],
        )
        fixed = merge((s, e) for _, s, e in p.fixed)
        for rank, (start, _, job) in enumerate(pinned, 1):
            end = start + job.duration
            if job.id in self.dropped:
                self._miss(job, "dependency_unscheduled", "a dependency cannot be finished before its pinned start")
            elif start < p.now or end > p.horizon_end:
                self._miss(job, "pinned_outside_horizon", "its pinned time is outside the scheduling horizon")
            elif intersects(p.busy, start, end) or intersects(fixed, start, end):
                self._miss(job, "pinned_conflict", "its pinned time overlaps a busy calendar event")
            else:
                block = (start, end, p.day_of(start))
                state.commit(job, [block])
                self.placements[job.id] = Placement(job, [block], "pinned", rank, start, job.priority, None)
                if not any(ws <= start and end <= we for ws, we, _ in p.windows):
                    self.warnings.append(
                        Warn("pinned_outside_working_hours", f"{job.title!r} is pinned outside working hours", job.id)
                    )

    # ---- tier 2: hard deadlines ---------------------------------------------------------
    def _deadlines(self, state: State) -> None:
        deadlines = self._effective_deadlines(state)
        tier = [self.jobs[t] for t in self.order if t in deadlines]
        if not tier:
            return
        tier.sort(key=lambda j: (deadlines[j.id], self._urgency[j.id], j.earliest or 0, j.index))
        hard = {j.id for j in tier if j.hard}
        greedy, _ = self._sequence(state.copy(), tier, deadlines, record=False)
        if len(greedy & hard) < len(hard) and len(tier) <= EXACT_LIMIT:
            ok: set[str] = set()
            for task_id in self.order:
                if task_id in deadlines and all(
                    d in state.ends or d in self.complete or d in ok for d in self.deps[task_id]
                ):
                    ok.add(task_id)
            runnable = [j for j in tier if j.id in ok]
            clips = {j.id: j.deadline if j.hard and j.deadline is not None else deadlines[j.id] for j in runnable}
            ready = {j.id: max(self.p.now, j.earliest or 0) for j in runnable}
            found = exact.search(state, runnable, clips, ready, EXACT_BUDGET)
            if found.hard_done > len(greedy & hard):
                self._commit_exact(state, tier, found.blocks, clips)
                return
        self._sequence(state, tier, deadlines, record=True)

    def _commit_exact(self, state: State, tier: list[Job], plan: dict[str, list[Block]], clips: dict[str, int]) -> None:
        """Commit the searched plan: its hard tasks and the dependencies they (or pins) need."""
        needed: set[str] = set()
        roots = [j.id for j in tier if j.hard and j.id in plan]
        roots += [d for pid, pl in self.placements.items() if pl.tier == "pinned" for d in pl.job.deps]
        for root in roots:
            if root in plan:
                needed.add(root)
                needed |= {a for a in graph.ancestors(root, self.deps) if a in plan}
        chosen = sorted((j for j in tier if j.id in needed), key=lambda j: plan[j.id][0][0])
        for rank, job in enumerate(chosen, 1):
            ready = self._ready(state, job)
            state.commit(job, plan[job.id])
            self.placements[job.id] = Placement(
                job, plan[job.id], "deadline", rank, ready, self._urgency[job.id], clips[job.id]
            )
        for job in tier:
            if job.hard and job.id not in needed:
                if any(d not in state.ends and d not in self.complete for d in job.deps):
                    self._miss_for_dependency(job, state, clips)
                else:
                    self._miss_deadline(job, self._ready(state, job))

    def _effective_deadlines(self, state: State) -> dict[str, int]:
        """Hard deadlines, and for their (and pinned tasks') dependencies the latest useful finish."""
        deadlines: dict[str, int] = {}
        for task_id in reversed(self.order):
            job = self.jobs[task_id]
            if task_id in self.complete or job.pinned is not None or task_id in self.misses:
                continue
            bound = job.deadline if job.hard else None
            for child_id in self.children[task_id]:
                child = self.jobs[child_id]
                placed = self.placements.get(child_id)
                if placed is not None and placed.tier == "pinned":
                    limit = placed.blocks[0][0]
                elif child_id in deadlines:
                    limit = state.free.latest_start(deadlines[child_id], child.duration)
                else:
                    continue
                bound = limit if bound is None else min(bound, limit)
            if bound is not None:
                deadlines[task_id] = bound
        return deadlines

    def _sequence(self, state: State, tier: list[Job], deadlines: dict[str, int], record: bool) -> tuple[set[str], int]:
        placed: set[str] = set()
        for rank, job in enumerate(tier, 1):
            if any(d not in state.ends and d not in self.complete for d in job.deps):
                if record and job.hard:
                    self._miss_for_dependency(job, state, deadlines)
                continue
            ready = self._ready(state, job)
            clip = deadlines[job.id]
            blocks = fit(state, job, ready, clip, cap=False)
            if blocks is None and job.hard and job.deadline is not None and job.deadline > clip:
                clip = job.deadline  # its own deadline: the task stays, a dependent will miss
                blocks = fit(state, job, ready, clip, cap=False)
            if blocks is None:
                if record and job.hard:
                    self._miss_deadline(job, ready)
                continue
            state.commit(job, blocks)
            placed.add(job.id)
            if record:
                self.placements[job.id] = Placement(job, blocks, "deadline", rank, ready, self._urgency[job.id], clip)
        return placed, len(placed)

    def _miss_for_dependency(self, job: Job, state: State, deadlines: dict[str, int]) -> None:
        missing = [d for d in job.deps if d not in state.ends and d not in self.complete]
        hard_missing = [d for d in missing if self.jobs[d].hard or d in self.misses]
        if hard_missing:
            self._miss(job, "dependency_unscheduled", f"its dependency {hard_missing[0]!r} is unscheduled")
        else:
            self._miss(
                job,
                "no_room_before_deadline",
                f"its dependency {missing[0]!r} cannot finish early enough for the hard deadline",
            )

    def _miss_deadline(self, job: Job, ready: int) -> None:
        if job.deadline is not None and job.deadline <= self.p.now:
            self._miss(job, "deadline_passed", "its hard deadline has already passed")
        elif job.deadline is not None and job.deadline > self.p.horizon_end:
            self._miss(job, "beyond_horizon", "no room within the horizon (its deadline is after it)")
        else:
            self._miss(job, "no_room_before_deadline", "not enough free time before its hard deadline")

    # ---- tier 3: priorities -------------------------------------------------------------
    def _effective_priorities(self) -> dict[str, int]:
        urgency = {j.id: j.priority for j in self.p.jobs}
        for task_id in reversed(self.order):
            for child in self.children[task_id]:
                urgency[task_id] = min(urgency[task_id], urgency[child])
        return urgency

    def _soft_deadlines(self) -> dict[str, int]:
        due = {j.id: (j.deadline if j.deadline is not None else NEVER) for j in self.p.jobs}
        for task_id in reversed(self.order):
            for child in self.children[task_id]:
                due[task_id] = min(due[task_id], due[child])
        return due

    def _priorities(self, state: State) -> None:
        urgency, due = self._urgency, self._soft_deadlines()
        todo = [
            j
            for j in self.p.jobs
            if j.id not in self.placements and j.id not in self.misses and j.id not in self.complete
        ]
        ids = {j.id for j in todo}
        waiting = {j.id: sum(1 for d in set(j.deps) if d in ids) for j in todo}
        heap = [(urgency[j.id], due[j.id], j.index) for j in todo if waiting[j.id] == 0]
        heapq.heapify(heap)
        rank = 0
        while heap:
            *_, index = heapq.heappop(heap)
            job = self.p.jobs[index]
            rank += 1
            missing = [d for d in job.deps if d not in state.ends and d not in self.complete]
            if missing:
                self._miss(job, "dependency_unscheduled", f"its dependency {missing[0]!r} is unscheduled")
            else:
                ready = self._ready(state, job)
                blocks = fit(state, job, ready, None, cap=True)
                if blocks is None:
                    where = (
                        "its earliest start is after the horizon"
                        if ready >= self.p.horizon_end
                        else "no free working time left within the horizon (after higher-priority work and the "
                        "daily workload limit)"
                    )
                    self._miss(job, "beyond_horizon", where)
                else:
                    state.commit(job, blocks)
                    deadline = due[job.id] if due[job.id] != NEVER else None
                    self.placements[job.id] = Placement(job, blocks, "priority", rank, ready, urgency[job.id], deadline)
            for child in self.children[job.id]:
                if child in waiting:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        c = self.jobs[child]
                        heapq.heappush(heap, (urgency[child], due[child], c.index))

    # ---- warnings -----------------------------------------------------------------------
    def _miss(self, job: Job, reason: str, message: str) -> None:
        self.misses[job.id] = Miss(job, reason, message)

    def _load_warnings(self, busy_load: list[int], task_load: list[int]) -> None:
        for day in range(self.p.days):
            total = busy_load[day] + task_load[day]
            if total > self.p.limit:
                self.warnings.append(
                    Warn(
                        "day_over_workload_limit",
                        f"{total} minutes of meetings and tasks against a limit of {self.p.limit}",
                        None,
                        day,
                    )
                )

    def _soft_deadline_warnings(self) -> None:
        for job in self.p.jobs:
            if job.deadline is None or job.hard:
                continue
            placed = self.placements.get(job.id)
            if placed is None and job.id in self.misses:
                self.warnings.append(
                    Warn("soft_deadline_at_risk", f"{job.title!r} is not scheduled and its deadline is at risk", job.id)
                )
            elif placed is not None and placed.blocks[-1][1] > job.deadline:
                late = placed.blocks[-1][1] - job.deadline
                self.warnings.append(
                    Warn(
                        "soft_deadline_at_risk",
                        f"{job.title!r} finishes {late} minutes after its soft deadline",
                        job.id,
                    )
                )

"""Exact search for a small set of deadline tasks, used when greedy EDF leaves a hard task out.

Greedy EDF is exact only when tasks may split anywhere; minimum chunks, maximum chunks and the
gap between a task's chunks make the problem NP-hard. For a handful of tasks a depth-first search
is cheap: it builds the plan chunk by chunk in start order, each chunk as early as it can go
(any feasible plan can be shifted left into that form without breaking a rule, so nothing is
missed), branching on which task runs next and how long the chunk is (slot multiples). It keeps
the plan that finishes the most hard tasks, then the most tasks, and stops at `budget` nodes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from steward.scheduler.fit import Block, State
from steward.scheduler.problem import Job, splittable


@dataclass
class Result:
    blocks: dict[str, list[Block]]
    hard_done: int
    done: int
    complete: bool  # False when the node budget ran out first


def search(
    state: State, tier: Sequence[Job], clips: dict[str, int], ready: dict[str, int], budget: int = 20_000
) -> Result:
    """The best plan for `tier` over `state`'s free time (not modified). `ready`: earliest starts."""
    p = state.problem
    free = state.free
    starts, ends, days, origins = free.starts, free.ends, free.days, free.origins
    slot, pause, gap = p.slot, p.break_minutes, p.chunk_gap
    n = len(tier)
    index = {job.id: i for i, job in enumerate(tier)}
    deps = [[index[d] for d in job.deps if d in index] for job in tier]
    outside_end = [max([state.ends[d] for d in job.deps if d not in index and d in state.ends] or [0]) for job in tier]
    rem = [job.duration for job in tier]
    last = [-1] * n
    done_at = [0] * n
    plan: list[list[Block]] = [[] for _ in range(n)]
    best = Result({}, -1, -1, True)
    nodes = 0

    def earliest_fit(lower: int, size: int, clip: int) -> Block | None:
        i = bisect_right(ends, lower)
        while i < len(starts):
            start = max(starts[i], lower)
            if slot > 1:
                start += (origins[i] - start) % slot
            if start + size > clip:
                return None
            if start + size <= ends[i]:
                return (start, start + size, days[i])
            i += 1
        return None

    def sizes(job: Job, left: int) -> list[int]:
        top = min(job.max_chunk, left)
        out = [] if top < job.min_chunk else [top]
        size = top - (top % slot or slot)
        while size >= job.min_chunk:
            out.append(size)
            size -= slot
        return [s for s in out if splittable(left - s, job.min_chunk, job.max_chunk)]

    def score() -> tuple[int, int]:
        hard = sum(1 for i, job in enumerate(tier) if job.hard and rem[i] == 0)
        return hard, sum(1 for r in rem if r == 0)

    total_hard = sum(1 for job in tier if job.hard)
    children = [tuple(j for j in range(n) if i in deps[j]) for i in range(n)]

    before = [0]  # free minutes before each interval, so free time in [a, b) costs two bisects
    for start, end in zip(starts, ends, strict=True):
        before.append(before[-1] + end - start)

    def free_until(moment: int) -> int:
        i = bisect_right(starts, moment) - 1
        if i < 0:
            return 0
        return before[i] + min(moment, ends[i]) - starts[i]

    def can_finish(i: int, cursor: int) -> bool:
        lower = max(cursor, ready[tier[i].id])
        return rem[i] <= free_until(clips[tier[i].id]) - free_until(lower)

    def reachable(cursor: int) -> int:
        """An upper bound on the hard tasks still finishable: the shortest first, in the free time left."""
        alive = [i for i, job in enumerate(tier) if job.hard and rem[i] > 0 and can_finish(i, cursor)]
        if not alive:
            return 0
        room = free_until(max(clips[tier[i].id] for i in alive)) - free_until(cursor)
        count = 0
        for need in sorted(rem[i] for i in alive):
            room -= need
            if room < 0:
                break
            count += 1
        return count

    def visit(cursor: int) -> None:
        nonlocal best, nodes
        nodes += 1
        hard, done = score()
        if (hard, done) > (best.hard_done, best.done):
            kept = {tier[i].id: list(plan[i]) for i in range(n) if rem[i] == 0}
            best = Result(kept, hard, done, True)
        if nodes >= budget or best.hard_done == total_hard:
            best.complete = best.complete and nodes < budget
            return
        if hard + reachable(cursor) <= best.hard_done:
            return
        tried: set[tuple] = set()
        for i, job in enumerate(tier):
            if rem[i] == 0 or any(rem[d] for d in deps[i]):
                continue
            twin = (
                rem[i],
                job.min_chunk,
                job.max_chunk,
                ready[job.id],
                clips[job.id],
                job.hard,
                last[i],
                tuple(deps[i]),
                children[i],
            )
            if twin in tried:  # an identical task was just tried from this node: same subtrees
                continue
            tried.add(twin)
            lower = max(cursor, ready[job.id], outside_end[i], max((done_at[d] for d in deps[i]), default=0))
            if last[i] >= 0:
                lower = max(lower, last[i] + gap)
            for size in sizes(job, rem[i]):
                nodes += 1  # every placement tried counts against the budget
                block = earliest_fit(lower, size, clips[job.id])
                if block is None:
                    continue
                saved = (rem[i], last[i], done_at[i])
                plan[i].append(block)
                rem[i] -= size
                last[i] = block[1]
                if rem[i] == 0:
                    done_at[i] = block[1]
                visit(block[1] + pause)
                plan[i].pop()
                rem[i], last[i], done_at[i] = saved
                if nodes >= budget or best.hard_done == total_hard:
                    return

    visit(state.problem.now)
    return best

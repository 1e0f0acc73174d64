"""Placing one task: walk the free time from its ready instant and cut it into legal chunks.

The walk is greedy (earliest legal chunks first) and tentative: nothing changes until `commit`,
so a task that does not fit leaves the plan untouched. The rules a chunk obeys:

- it lies inside one free interval (working hours minus busy time widened by the buffer),
- it starts on the slot grid of its working window (09:00, 09:05, ... for 5-minute slots),
- its length is between the task's min and max chunk, and what remains stays splittable,
- it keeps `chunk_gap` from the previous chunk of the same task (never back to back, else the two
  would read as one block longer than the maximum),
- blocks of different tasks keep `break_minutes` apart (the reservation in `commit`),
- with `clip` (a hard deadline) it ends by then; with `cap` the day stays within the workload limit.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

from steward.scheduler.problem import Job, Problem
from steward.scheduler.slots import FreeTime

Block = tuple[int, int, int]  # start, end, day index


@dataclass
class State:
    """What placing tasks consumes: free time, per-day load, and where each task ended."""

    problem: Problem
    free: FreeTime
    load: list[int]
    ends: dict[str, int] = field(default_factory=dict)
    blocks: dict[str, list[Block]] = field(default_factory=dict)

    def copy(self) -> State:
        return State(self.problem, self.free.copy(), self.load[:], dict(self.ends), dict(self.blocks))

    def commit(self, job: Job, blocks: list[Block]) -> None:
        gap = self.problem.break_minutes
        for start, end, day in blocks:
            self.free.remove(start - gap, end + gap)
            if 0 <= day < len(self.load):
                self.load[day] += end - start
        self.blocks[job.id] = blocks
        self.ends[job.id] = blocks[-1][1]


def chunk_size(remaining: int, upper: int, low: int, high: int) -> int:
    """The longest chunk <= upper that leaves a remainder splittable into [low, high] chunks; 0 if none."""
    if upper < low:
        return 0
    if remaining <= upper:
        return remaining
    excess = remaining - upper
    chunks = -(-excess // high)
    rest = max(excess, chunks * low)
    if rest > remaining - low:
        return 0
    return remaining - rest


def fit(state: State, job: Job, ready: int, clip: int | None, cap: bool) -> list[Block] | None:
    """The earliest legal chunks for `job` from `ready`, or None when it cannot be finished."""
    problem = state.problem
    free = state.free
    starts, ends, days, origins = free.starts, free.ends, free.days, free.origins
    remaining, low, high = job.duration, job.min_chunk, job.max_chunk
    slot = problem.slot
    gap = problem.chunk_gap
    limit = problem.limit
    load = state.load
    extra: dict[int, int] = {}
    blocks: list[Block] = []
    moment = ready
    i = bisect_right(ends, moment)
    count = len(starts)
    while i < count:
        start = starts[i]
        if start < moment:
            start = moment
        if slot > 1:
            start += (origins[i] - start) % slot
        if clip is not None and start + low > clip:
            return None
        end = ends[i]
        if clip is not None and clip < end:
            end = clip
        upper = end - start
        if upper >= low:
            if upper > high:
                upper = high
            if cap:
                day = days[i]
                left = limit - load[day] - extra.get(day, 0)
                if left < upper:
                    upper = left
            size = chunk_size(remaining, upper, low, high)
            if size:
                day = days[i]
                blocks.append((start, start + size, day))
                remaining -= size
                if remaining == 0:
                    return blocks
                if cap:
                    extra[day] = extra.get(day, 0) + size
                moment = start + size + gap
                if moment < end:
                    continue
        i += 1
    return None

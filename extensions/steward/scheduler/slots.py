"""Free time: working windows materialised in the horizon, minus busy time, as minute intervals.

`FreeTime` is the one mutable structure of the engine: sorted, disjoint intervals, each tagged
with its local day (for workload accounting) and the minute its window started (so block starts
land on the slot grid of local time, not of UTC).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from steward.scheduler.clock import local_minute
from steward.scheduler.models import WEEKDAYS, clock_minutes

Interval = tuple[int, int]


def working_windows(
    hours: Mapping[str, Sequence[Mapping[str, str]]], tz: ZoneInfo, first_day: date, days: int
) -> list[tuple[int, int, int]]:
    """(start, end, day index) of every working window in `days` local days from `first_day`."""
    out: list[tuple[int, int, int]] = []
    for index in range(days):
        day = first_day + timedelta(days=index)
        spans = sorted(
            (clock_minutes(w["start"], allow_24=False), clock_minutes(w["end"], allow_24=True))
            for w in hours.get(WEEKDAYS[day.weekday()], ())
        )
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in merged:
            s = local_minute(day, _clock(start), tz)
            e = local_minute(day, _clock(end), tz)
            if e > s:
                out.append((s, e, index))
    return out


def _clock(minutes: int):
    from datetime import time

    return None if minutes == 1440 else time(minutes // 60, minutes % 60)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint union of `intervals` (touching ones joined)."""
    out: list[list[int]] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def overlap(a: Sequence[Interval], b: Sequence[Interval]) -> int:
    """Minutes shared by two sorted disjoint interval lists."""
    total, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def intersects(sorted_merged: Sequence[Interval], start: int, end: int) -> bool:
    """Whether [start, end) overlaps any interval of a sorted, disjoint list."""
    i = bisect_right(sorted_merged, (start, 2**62)) - 1
    if i >= 0 and sorted_merged[i][1] > start:
        return True
    return i + 1 < len(sorted_merged) and sorted_merged[i + 1][0] < end


class FreeTime:
    """Sorted disjoint free intervals with their day index and grid origin."""

    __slots__ = ("starts", "ends", "days", "origins")

    def __init__(self, windows: Sequence[tuple[int, int, int]], blocked: Sequence[Interval], lo: int, hi: int):
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.days: list[int] = []
        self.origins: list[int] = []
        j = 0
        for w_start, w_end, day in windows:
            start, end = max(w_start, lo), min(w_end, hi)
            while j < len(blocked) and blocked[j][1] <= start:
                j += 1
            k = j
            while start < end:
                if k < len(blocked) and blocked[k][0] < end:
                    b_start, b_end = blocked[k]
                    if b_start > start:
                        self._append(start, b_start, day, w_start)
                    start = max(start, b_end)
                    k += 1
                else:
                    self._append(start, end, day, w_start)
                    break

    def _append(self, start: int, end: int, day: int, origin: int) -> None:
        self.starts.append(start)
        self.ends.append(end)
        self.days.append(day)
        self.origins.append(origin)

    def copy(self) -> FreeTime:
        clone = FreeTime.__new__(FreeTime)
        clone.starts, clone.ends = self.starts[:], self.ends[:]
        clone.days, clone.origins = self.days[:], self.origins[:]
        return clone

    def first_ending_after(self, minute: int) -> int:
        return bisect_right(self.ends, minute)

    def remove(self, start: int, end: int) -> None:
        """Take [start, end) out of every interval it touches."""
        i = bisect_right(self.ends, start)
        while i < len(self.starts) and self.starts[i] < end:
            s, e = self.starts[i], self.ends[i]
            if s < start and e > end:
                self.ends[i] = start
                self.starts.insert(i + 1, end)
                self.ends.insert(i + 1, e)
                self.days.insert(i + 1, self.days[i])
                self.origins.insert(i + 1, self.origins[i])
                return
            if s < start:
                self.ends[i] = start
                i += 1
            elif e > end:
                self.starts[i] = end
                return
            else:
                del self.starts[i], self.ends[i], self.days[i], self.origins[i]

    def total(self) -> int:
        return sum(e - s for s, e in zip(self.starts, self.ends, strict=True))

    def minutes_between(self, start: int, end: int) -> int:
        total = 0
        i = bisect_left(self.ends, start + 1)
        while i < len(self.starts) and self.starts[i] < end:
            total += min(self.ends[i], end) - max(self.starts[i], start)
            i += 1
        return total

    def latest_start(self, deadline: int, minutes: int) -> int:
        """The latest instant from which `minutes` of free time remain before `deadline`."""
        i = bisect_left(self.starts, deadline) - 1
        need = minutes
        while i >= 0:
            s, e = self.starts[i], min(self.ends[i], deadline)
            if e - s >= need:
                return e - need
            need -= max(0, e - s)
            i -= 1
        return -(2**62)

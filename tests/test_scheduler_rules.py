"""Property tests: every rule the scheduler promises, on generated inputs, in any IANA timezone.

The checks here read only the request and the JSON response and recompute what they need with
zoneinfo by brute force, so they do not share code (or bugs) with the engine. The HTTP tests reuse
`check_rules` on responses served over the network.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from steward.core.errors import ValidationFailed
from steward.scheduler import service
from steward.scheduler.models import ScheduleRequest
from steward.scheduler.preferences import Preferences

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
# Days on or next to a daylight-saving change somewhere: EU, US, southern hemisphere, Lord Howe.
DST_DAYS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 5),
    date(2026, 9, 6),
    date(2026, 9, 27),
    date(2026, 10, 4),
    date(2026, 10, 25),
    date(2026, 11, 1),
]
DEFAULT_MIN_CHUNK, DEFAULT_MAX_CHUNK = 30, 120
PREFS = Preferences(min_chunk_minutes=DEFAULT_MIN_CHUNK, max_chunk_minutes=DEFAULT_MAX_CHUNK)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def minute(value: str | datetime) -> int:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return int((moment - EPOCH).total_seconds() // 60)


def ceil_minute(value: str | datetime) -> int:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    seconds = (moment - EPOCH).total_seconds()
    return int(-(-seconds // 60))


def clock(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


@functools.cache
def first_instant(zone: str, day: date, minutes: int) -> int:
    """Brute force: the first UTC minute at which the wall clock in `zone` reaches day + minutes."""
    tz = ZoneInfo(zone)
    target = datetime.combine(day, time()) + timedelta(minutes=minutes)
    probe = minute(target.replace(tzinfo=UTC)) - 16 * 60
    step = 60
    while True:  # coarse then fine, scanning forward only
        wall = (EPOCH + timedelta(minutes=probe + step)).astimezone(tz).replace(tzinfo=None)
        if wall < target:
            probe += step
        elif step > 1:
            step = 1
        else:
            return probe + 1


def windows_of(request: dict, zone: str, first: date, days: int) -> list[tuple[int, int, date]]:
    out = []
    for offset in range(-1, days + 1):
        day = first + timedelta(days=offset)
        for window in request["working_hours"].get(WEEKDAYS[day.weekday()], []):
            start = first_instant(zone, day, clock(window["start"]))
            end = first_instant(zone, day, clock(window["end"]))
            if end > start:
                out.append((start, end, day))
    return sorted(out)


def spans_overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def gap_between(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(b[0] - a[1], a[0] - b[1])


def check_rules(
    request: dict, response: dict, min_chunk: int = DEFAULT_MIN_CHUNK, max_chunk: int = DEFAULT_MAX_CHUNK
) -> None:
    """Assert every scheduling rule on one request/response pair (both plain JSON)."""
    zone = request["timezone"]
    tz = ZoneInfo(zone)
    now = ceil_minute(request["now"])
    end_of_horizon = minute(response["horizon_end"])
    buffer = request["buffer_minutes"]
    policy = request.get("break_policy") or {}
    pause = policy.get("break_minutes", 0)
    slot = request.get("slot_minutes", 5)
    same_gap = max(policy.get("chunk_gap_minutes", 30), pause, slot, 1)
    limit = request["workload_limit_minutes"]
    tasks = {t["id"]: t for t in request["tasks"]}
    busy = [(minute(b["start"]), ceil_minute(b["end"])) for b in request.get("busy", [])]
    first = datetime.fromisoformat(response["horizon_start"]).astimezone(tz).date()
    windows = windows_of(request, zone, first, request["horizon_days"])
    tiers = {d["task_id"]: d["tier"] for d in response["decisions"]}

    blocks: dict[str, list[tuple[int, int]]] = {}
    for b in response["blocks"]:
        start, end = minute(b["start"]), minute(b["end"])
        assert end - start == b["minutes"] > 0, b
        assert (
            datetime.fromisoformat(b["start"]).utcoffset()
            == datetime.fromisoformat(b["start"]).astimezone(tz).utcoffset()
        ), "times are rendered in the plan's timezone"
        assert b["task_id"] in b["description"], "the description names the task id"
        blocks.setdefault(b["task_id"], []).append((start, end))
    missed = {u["task_id"]: u for u in response["unscheduled"]}

    # Every task is either placed or explained, never both.
    assert set(blocks) | set(missed) == set(tasks), set(tasks) - set(blocks) - set(missed)
    assert not set(blocks) & set(missed)

    every = sorted((s, e, tid) for tid, spans in blocks.items() for s, e in spans)
    for (_s1, e1, t1), (s2, _e2, t2) in zip(every, every[1:], strict=False):
        assert e1 <= s2, f"blocks overlap: {t1} and {t2}"
        if t1 != t2:
            assert s2 - e1 >= pause, f"break between {t1} and {t2} is {s2 - e1} < {pause}"

    for tid, spans in blocks.items():
        task = tasks[tid]
        spans.sort()
        assert sum(e - s for s, e in spans) == task["duration_minutes"], tid
        for span in spans:
            assert now <= span[0] and span[1] <= end_of_horizon, "inside the horizon"
            for b in busy:
                assert not spans_overlap(span, b), f"{tid} overlaps a busy event"
        if task.get("pinned_start") and minute(task["pinned_start"]) >= now:
            assert spans == [(minute(task["pinned_start"]), minute(task["pinned_start"]) + task["duration_minutes"])]
            continue
        low, high = chunk_limits(task, min_chunk, max_chunk)
        for s, e in spans:
            assert low <= e - s <= high, f"{tid} chunk of {e - s} outside [{low}, {high}]"
            assert any(ws <= s and e <= we for ws, we, _ in windows), f"{tid} block outside working hours"
            for b in busy:
                assert gap_between((s, e), b) >= buffer, f"{tid} within the buffer of a busy event"
            window_start = max(ws for ws, we, _ in windows if ws <= s and e <= we)
            assert (s - window_start) % slot == 0, f"{tid} starts off the {slot}-minute grid of its window"
        for a, b in zip(spans, spans[1:], strict=False):
            assert b[0] - a[1] >= same_gap, f"{tid} chunks {b[0] - a[1]} minutes apart < {same_gap}"
        if task.get("earliest_start"):
            assert spans[0][0] >= ceil_minute(task["earliest_start"])
        if task.get("deadline") and task.get("deadline_type") == "hard":
            assert spans[-1][1] <= minute(task["deadline"]), f"{tid} misses its hard deadline"
        for dep in task.get("depends_on", []):
            assert dep in blocks, f"{tid} placed although its dependency {dep} is not"
            assert blocks[dep][-1][1] <= spans[0][0], f"{tid} starts before {dep} ends"

    for tid, miss in missed.items():
        if any(dep in missed for dep in tasks[tid].get("depends_on", [])) and miss["reason"] not in (
            "pinned_conflict",
            "pinned_outside_horizon",
        ):
            assert miss["reason"] in (
                "dependency_unscheduled",
                "no_room_before_deadline",
                "deadline_passed",
                "beyond_horizon",
            )

    # Soft deadlines at risk are reported.
    at_risk = {w["task_id"] for w in response["warnings"] if w["code"] == "soft_deadline_at_risk"}
    for tid, task in tasks.items():
        if task.get("deadline") and task.get("deadline_type", "soft") == "soft":
            late = tid in missed or blocks[tid][-1][1] > minute(task["deadline"])
            assert late == (tid in at_risk), tid

    # Workload: the priority tier never pushes a day over the limit; every day over it is reported.
    merged_busy = merge(busy)
    over = {w["date"] for w in response["warnings"] if w["code"] == "day_over_workload_limit"}
    by_day: dict[date, int] = {}
    has_priority_block: set[date] = set()
    for ws, we, day in windows:
        by_day[day] = by_day.get(day, 0) + sum(max(0, min(e, we) - max(s, ws)) for s, e in merged_busy)
    for tid, spans in blocks.items():
        for s, e in spans:
            day = (EPOCH + timedelta(minutes=s)).astimezone(tz).date()
            by_day[day] = by_day.get(day, 0) + e - s
            if tiers.get(tid) == "priority":
                has_priority_block.add(day)
    horizon_days = {first + timedelta(days=i) for i in range(request["horizon_days"])}
    for day, total in by_day.items():
        if day in has_priority_block:
            assert total <= limit, f"{day}: priority work pushed the day to {total} > {limit}"
        if day in horizon_days:
            assert (total > limit) == (day.isoformat() in over), f"{day}: {total} vs {limit}"


def merge(spans):
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def chunk_limits(task: dict, min_default: int, max_default: int) -> tuple[int, int]:
    low, high = task.get("min_chunk_minutes"), task.get("max_chunk_minutes")
    if low is None and high is None:
        low, high = min_default, max(max_default, min_default)
    elif low is None:
        low = min(min_default, high)
    elif high is None:
        high = max(max_default, low)
    duration = task["duration_minutes"]
    low = min(low, duration)
    return low, min(max(high, low), duration)


# ---- generators ------------------------------------------------------------------------------


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def working_hours(draw, step: int = 5) -> dict:
    if draw(st.booleans()):  # an office-like week: two windows a day, some days off
        morning = draw(st.integers(0, 11 * 60 // step)) * step
        split = morning + draw(st.integers(30 // step, 300 // step)) * step
        resume = split + draw(st.integers(0, 90 // step)) * step
        close = min(resume + draw(st.integers(30 // step, 420 // step)) * step, 1440)
        off = draw(st.sets(st.sampled_from(WEEKDAYS), max_size=3))
        windows = [{"start": hhmm(morning), "end": hhmm(split)}]
        if close > resume and resume > split:
            windows.append({"start": hhmm(resume), "end": hhmm(close)})
        elif close > split:
            windows = [{"start": hhmm(morning), "end": hhmm(close)}]
        return {day: ([] if day in off else windows) for day in WEEKDAYS}
    hours: dict[str, list[dict]] = {}
    for day in WEEKDAYS:
        count = draw(st.integers(0, 3))
        points = sorted(draw(st.sets(st.integers(0, 1440 // step), min_size=2 * count, max_size=2 * count)))
        hours[day] = [
            {"start": hhmm(points[2 * i] * step), "end": hhmm(points[2 * i + 1] * step)} for i in range(count)
        ]
        if hours[day] and hours[day][0]["start"] == "24:00":
            hours[day] = []
    if not any(hours.values()):
        hours["mon"] = [{"start": "09:00", "end": "17:00"}]
    return hours


@st.composite
def scenarios(
    draw,
    max_tasks: int = 10,
    pins: bool = True,
    deps: bool = True,
    hard: bool = True,
    soft: bool = True,
    zone: str | None = None,
) -> dict:
    zone = zone or draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone)
    day = draw(st.sampled_from(DST_DAYS)) + timedelta(days=draw(st.integers(-2, 1)))
    local_now = datetime.combine(day, time(draw(st.integers(0, 23)), draw(st.integers(0, 59))))
    now = local_now.replace(tzinfo=tz)
    horizon = draw(st.integers(1, 4))
    span = horizon * 1440

    def at(offset: int) -> str:  # in UTC first: aware + timedelta is wall-clock arithmetic in Python
        return (now.astimezone(UTC) + timedelta(minutes=offset)).astimezone(tz).isoformat()

    busy = []
    for _ in range(draw(st.integers(0, 8))):
        start = draw(st.integers(-300, span))
        busy.append({"start": at(start), "end": at(start + draw(st.integers(5, 150))), "title": "meeting"})
    tasks = []
    pinned_spans: list[tuple[int, int]] = []
    for i in range(draw(st.integers(1, max_tasks))):
        duration = draw(st.integers(5, 180))
        task: dict = {
            "id": f"t{i}",
            "title": f"Task {i}",
            "duration_minutes": duration,
            "priority": draw(st.sampled_from(["p1", "p2", "p3", "p4"])),
        }
        kind = draw(st.sampled_from(["none", "none"] + (["soft"] if soft else []) + (["hard", "hard"] if hard else [])))
        deadline_offset = draw(st.integers(-60, span + 600))
        if kind != "none":
            task["deadline"] = at(deadline_offset)
            task["deadline_type"] = kind
        deadline_at = deadline_offset if kind != "none" else None
        if draw(st.booleans()):
            earliest = draw(st.integers(-60, span))
            if kind != "hard" or earliest < deadline_at:  # else refused (422), tested elsewhere
                task["earliest_start"] = at(earliest)
        if draw(st.booleans()):
            low = draw(st.integers(5, 120))
            high = draw(st.integers(low, 240))
            if -(-duration // high) * min(low, duration) <= duration:  # splittable, else refused (422)
                task["min_chunk_minutes"], task["max_chunk_minutes"] = low, high
        if deps and i and draw(st.booleans()):
            task["depends_on"] = draw(st.lists(st.sampled_from([f"t{j}" for j in range(i)]), max_size=2, unique=True))
        if pins and draw(st.integers(0, 7)) == 0:
            start = draw(st.integers(-60, span))
            if not any(start < e and s < start + duration for s, e in pinned_spans):
                pinned_spans.append((start, start + duration))
                task["pinned_start"] = at(start)
                task.pop("min_chunk_minutes", None)
                task.pop("max_chunk_minutes", None)
                if kind == "hard" and start + duration > deadline_offset:
                    task["deadline_type"] = "soft"  # a pin past its hard deadline is refused (422)
        tasks.append(task)
    return {
        "client_id": "prop",
        "timezone": zone,
        "now": now.isoformat(),
        "horizon_days": horizon,
        "working_hours": draw(working_hours()),
        "buffer_minutes": draw(st.integers(0, 30)),
        "break_policy": {
            "break_minutes": draw(st.sampled_from([0, 0, 5, 10])),
            "chunk_gap_minutes": draw(st.sampled_from([0, 15, 30, 60])),
        },
        "workload_limit_minutes": draw(st.sampled_from([120, 360, 480, 1440, 1440])),
        "slot_minutes": draw(st.sampled_from([1, 5, 15])),
        "busy": busy,
        "tasks": tasks,
    }


def run(request: dict, prefs: Preferences = PREFS) -> dict:
    try:
        parsed = ScheduleRequest.model_validate(request)
        _, response, _ = service.schedule(parsed, prefs)
    except ValidationFailed:
        reject()
    return response.model_dump(mode="json")


RULES = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


# ---- the rules -------------------------------------------------------------------------------


@RULES
@given(scenarios())
def test_every_rule_holds_on_generated_plans(request):
    check_rules(request, run(request))


@RULES
@given(scenarios(max_tasks=6))
def test_same_input_same_output(request):
    first = run(request)
    second = run(request)
    first["meta"].pop("elapsed_ms"), second["meta"].pop("elapsed_ms")
    assert first == second


@RULES
@given(scenarios(max_tasks=8, pins=False, deps=False, hard=False), st.data())
def test_higher_priority_never_loses_its_slot_to_lower_priority(request, data):
    """Removing every task below priority k leaves the blocks of the tasks at k or above unchanged."""
    full = run(request)
    cut = data.draw(st.sampled_from(["p1", "p2", "p3"]))
    kept = [t for t in request["tasks"] if t["priority"] <= cut]
    if not kept:
        return
    fewer = run({**request, "tasks": kept})
    ids = {t["id"] for t in kept}
    assert [b for b in full["blocks"] if b["task_id"] in ids] == fewer["blocks"]


@RULES
@given(scenarios(max_tasks=8, pins=False, hard=False))
def test_dependencies_inherit_priority_and_finish_first(request):
    response = run(request)
    check_rules(request, response)


@RULES
@given(st.sampled_from(ZONES), st.sampled_from(DST_DAYS), st.integers(0, 3))
def test_a_working_window_lasts_its_real_length_on_dst_days(zone, day, shift):
    """09:00-17:00 local is placed at 09:00 local whatever the offset, on the change day too."""
    tz = ZoneInfo(zone)
    day = day + timedelta(days=shift)
    now = datetime.combine(day, time(0, 0)).replace(tzinfo=tz)
    request = {
        "client_id": "dst",
        "timezone": zone,
        "now": now.isoformat(),
        "horizon_days": 1,
        "working_hours": {d: [{"start": "09:00", "end": "17:00"}] for d in WEEKDAYS},
        "buffer_minutes": 0,
        "workload_limit_minutes": 1440,
        "slot_minutes": 5,
        "tasks": [{"id": "a", "duration_minutes": 480, "max_chunk_minutes": 480}],
    }
    response = run(request)
    check_rules(request, response)
    (block,) = response["blocks"]
    start = datetime.fromisoformat(block["start"]).astimezone(tz)
    end = datetime.fromisoformat(block["end"]).astimezone(tz)
    assert (start.hour, start.minute, end.hour, end.minute) == (9, 0, 17, 0)


@pytest.mark.parametrize(
    ("zone", "day", "window", "real_minutes"),
    [
        ("Europe/Berlin", date(2026, 3, 29), ("01:00", "04:00"), 120),  # 02:00 -> 03:00
        ("Europe/Berlin", date(2026, 10, 25), ("01:00", "04:00"), 240),  # 03:00 -> 02:00
        ("America/New_York", date(2026, 3, 8), ("00:00", "06:00"), 300),
        ("America/New_York", date(2026, 11, 1), ("00:00", "06:00"), 420),
        ("Australia/Lord_Howe", date(2026, 4, 5), ("01:00", "03:00"), 150),  # a 30-minute change
        ("Asia/Kathmandu", date(2026, 3, 29), ("09:00", "10:00"), 60),  # +05:45, no DST
    ],
)
def test_windows_across_a_clock_change_hold_their_real_length(zone, day, window, real_minutes):
    tz = ZoneInfo(zone)
    request = {
        "client_id": "dst",
        "timezone": zone,
        "now": datetime.combine(day, time()).replace(tzinfo=tz).isoformat(),
        "horizon_days": 1,
        "buffer_minutes": 0,
        "workload_limit_minutes": 1440,
        "slot_minutes": 1,
        "working_hours": {d: [{"start": window[0], "end": window[1]}] for d in WEEKDAYS},
        "tasks": [{"id": "fits", "duration_minutes": real_minutes, "max_chunk_minutes": 1440}],
    }
    response = run(request)
    check_rules(request, response)
    assert [b["minutes"] for b in response["blocks"]] == [real_minutes]
    too_long = {**request, "tasks": [{"id": "no", "duration_minutes": real_minutes + 1, "max_chunk_minutes": 1440}]}
    assert run(too_long)["unscheduled"][0]["reason"] == "beyond_horizon"


# ---- hard deadlines against exact oracles ----------------------------------------------------
# Time in 15-minute slots from 08:00 UTC on a Monday; the scheduler gets the same problem in minutes.

ORACLE_DAY = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
SLOT = 15


@st.composite
def slot_problems(draw, max_tasks: int, horizon: int, chunky: bool, deps: bool) -> dict:
    free = [False] * horizon
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, horizon - 1))
        for t in range(start, min(horizon, start + draw(st.integers(1, horizon)))):
            free[t] = True
    busy = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(st.integers(0, horizon - 1))
        busy.append((start, start + draw(st.integers(1, 3))))
    buffer = draw(st.sampled_from([0, 0, 1]))
    tasks = []
    for i in range(draw(st.integers(1, max_tasks))):
        duration = draw(st.integers(1, 5))
        release = draw(st.integers(0, horizon - 1))
        deadline = draw(st.integers(release + 1, horizon + 1))
        low, high = (1, duration)
        if chunky:
            low = draw(st.integers(1, duration))
            high = draw(st.integers(low, duration))
            if -(-duration // high) * low > duration:
                low, high = 1, duration
        needs = draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True)) if deps and i else []
        tasks.append({"d": duration, "lo": low, "hi": high, "r": release, "dl": deadline, "deps": needs})
    gap = draw(st.integers(1, 3)) if chunky else 1
    return {"free": free, "busy": busy, "buffer": buffer, "tasks": tasks, "gap": gap, "horizon": horizon}


def usable(sp: dict) -> list[bool]:
    blocked = set()
    for s, e in sp["busy"]:
        blocked.update(range(s - sp["buffer"], e + sp["buffer"]))
    return [f and t not in blocked for t, f in enumerate(sp["free"])]


def as_request(sp: dict) -> dict:
    def at(slot: int) -> str:
        return (ORACLE_DAY + timedelta(minutes=SLOT * slot)).isoformat()

    windows, t = [], 0
    while t < sp["horizon"]:
        if sp["free"][t]:
            start = t
            while t < sp["horizon"] and sp["free"][t]:
                t += 1
            windows.append({"start": hhmm(8 * 60 + SLOT * start), "end": hhmm(8 * 60 + SLOT * t)})
        t += 1
    return {
        "client_id": "oracle",
        "timezone": "UTC",
        "now": at(0),
        "horizon_days": 1,
        "working_hours": {"mon": windows},
        "buffer_minutes": SLOT * sp["buffer"],
        "slot_minutes": SLOT,
        "workload_limit_minutes": 1440,
        "break_policy": {"break_minutes": 0, "chunk_gap_minutes": SLOT * sp["gap"]},
        "busy": [{"start": at(s), "end": at(e)} for s, e in sp["busy"]],
        "tasks": [
            {
                "id": f"h{i}",
                "duration_minutes": SLOT * t["d"],
                "deadline": at(t["dl"]),
                "deadline_type": "hard",
                "earliest_start": at(t["r"]),
                "min_chunk_minutes": SLOT * t["lo"],
                "max_chunk_minutes": SLOT * t["hi"],
                "depends_on": [f"h{d}" for d in t["deps"]],
            }
            for i, t in enumerate(sp["tasks"])
        ],
    }


def exact_best(sp: dict) -> int:
    """Most hard tasks any schedule completes: exhaustive search over slot assignments."""
    free, tasks, gap, horizon = usable(sp), sp["tasks"], sp["gap"], sp["horizon"]

    @functools.cache
    def go(t: int, state: tuple) -> int:
        if t == horizon:
            if any(run and run < tasks[i]["lo"] for i, (_, run, _) in enumerate(state)):
                return -1
            return sum(1 for rem, _, _ in state if rem == 0)
        best = -1
        for choice in [None, *range(len(tasks))]:
            nxt = []
            for i, (rem, run, since) in enumerate(state):
                task = tasks[i]
                if choice == i:
                    if (
                        not free[t]
                        or rem == 0
                        or t < task["r"]
                        or t + 1 > task["dl"]
                        or any(state[d][0] for d in task["deps"])
                        or (run and run + 1 > task["hi"])
                        or (not run and since < gap)
                    ):
                        break
                    nxt.append((rem - 1, run + 1, 0))
                elif run:
                    if run < task["lo"]:
                        break
                    nxt.append((rem, 0, 1))
                else:
                    nxt.append((rem, 0, min(since + 1, gap)))
            else:
                best = max(best, go(t + 1, tuple(nxt)))
        return best

    return go(0, tuple((t["d"], 0, gap) for t in tasks))


def edf_feasible(sp: dict) -> bool:
    """Preemptive earliest-deadline-first, slot by slot: exact for tasks that may split freely."""
    free, tasks = usable(sp), sp["tasks"]
    left = [t["d"] for t in tasks]
    done_at = [None] * len(tasks)
    for t in range(sp["horizon"]):
        ready = [i for i, task in enumerate(tasks) if left[i] and task["r"] <= t]
        if free[t] and ready:
            i = min(ready, key=lambda k: (tasks[k]["dl"], k))
            left[i] -= 1
            if not left[i]:
                done_at[i] = t + 1
    return all(d is not None and d <= task["dl"] for d, task in zip(done_at, tasks, strict=True))


ORACLE = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


@ORACLE
@given(slot_problems(max_tasks=10, horizon=32, chunky=False, deps=False))
def test_splittable_hard_tasks_are_all_placed_whenever_edf_says_they_fit(sp):
    request = as_request(sp)
    response = run(request)
    check_rules(request, response)
    if edf_feasible(sp):
        assert not response["unscheduled"], response["unscheduled"]


@ORACLE
@given(slot_problems(max_tasks=4, horizon=14, chunky=True, deps=True))
def test_as_many_hard_tasks_are_placed_as_an_exhaustive_search_finds(sp):
    request = as_request(sp)
    response = run(request)
    check_rules(request, response)
    placed = len({b["task_id"] for b in response["blocks"]})
    assert placed == exact_best(sp)

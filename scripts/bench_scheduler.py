#!/usr/bin/env python
"""Benchmark the scheduler pipeline: the work one request does, without HTTP or Postgres.

Each case times the whole in-process path a route runs (validate the JSON body with pydantic,
solve, render the response to JSON) and, separately, the engine alone. Prints p50/p95/max per
case, single-core throughput and the peak RSS of the process.

    .venv/bin/python scripts/bench_scheduler.py            # 30 runs per case
    .venv/bin/python scripts/bench_scheduler.py --runs 100 --seed 3
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extensions"))

from steward.scheduler import engine, problem, service  # noqa: E402
from steward.scheduler.models import RescheduleRequest, ScheduleRequest  # noqa: E402
from steward.scheduler.preferences import Preferences, overlay  # noqa: E402

ZONE = "Europe/Berlin"
TZ = ZoneInfo(ZONE)
START = datetime(2026, 3, 16, 8, 0, tzinfo=TZ)  # a Monday; the 4-week horizon crosses the March DST change
HOURS = {
    d: [{"start": "08:30", "end": "12:30"}, {"start": "13:30", "end": "18:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri")
}


def at(minutes: float) -> str:
    return (START.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(TZ).isoformat()


def make_request(rng: random.Random, tasks: int, days: int, busy: int) -> dict:
    """Busy slices from several calendars around the clock; tasks with every kind of constraint."""
    events = []
    for _ in range(busy):
        start = rng.randrange(0, days * 1440 // 5) * 5
        events.append(
            {
                "start": at(start),
                "end": at(start + rng.choice([15, 15, 20, 30, 30, 45])),
                "title": "busy",
                "calendar_id": rng.choice(["work", "team", "home"]),
            }
        )
    items = []
    for i in range(tasks):
        task: dict = {
            "id": f"T-{i}",
            "title": f"Task {i}",
            "duration_minutes": rng.choice([15, 30, 45, 60, 90, 120]),
            "priority": rng.choice(["p1", "p2", "p3", "p3", "p4"]),
        }
        roll = rng.random()
        if roll < 0.15:
            task.update(deadline=at(rng.randrange(min(1440, days * 600), days * 1440)), deadline_type="hard")
        elif roll < 0.35:
            task.update(deadline=at(rng.randrange(min(1440, days * 600), days * 1440)))
        if rng.random() < 0.2:
            earliest = rng.randrange(0, days * 1440)
            if "deadline" not in task or at(earliest) < task["deadline"]:
                task["earliest_start"] = at(earliest)
        if rng.random() < 0.3:
            task.update(min_chunk_minutes=rng.choice([15, 30]), max_chunk_minutes=rng.choice([45, 60, 90]))
        if i and rng.random() < 0.3:
            task["depends_on"] = sorted({f"T-{rng.randrange(i)}" for _ in range(rng.randint(1, 2))})
        if rng.random() < 0.03:
            task["pinned_start"] = at(rng.randrange(0, days * 1440 // 15) * 15)
            task.pop("min_chunk_minutes", None), task.pop("max_chunk_minutes", None)
            task.pop("deadline", None), task.pop("deadline_type", None)
        items.append(task)
    pinned = []
    for task in items:  # drop pins that would overlap another pin (that input is refused with 422)
        if "pinned_start" in task:
            start = datetime.fromisoformat(task["pinned_start"])
            end = start + timedelta(minutes=task["duration_minutes"])
            if any(s < end and start < e for s, e in pinned):
                del task["pinned_start"]
            else:
                pinned.append((start, end))
    return {
        "client_id": "bench",
        "timezone": ZONE,
        "now": START.isoformat(),
        "horizon_days": days,
        "working_hours": HOURS,
        "buffer_minutes": 5,
        "workload_limit_minutes": 420,
        "busy": events,
        "tasks": items,
    }


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up: imports, zoneinfo cache
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def row(name: str, samples: list[float], note: str) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    throughput = 1000 / statistics.mean(samples)
    return (
        f"| {name:<44} | {statistics.median(samples):8.1f} | {p95:8.1f} | {max(samples):8.1f} "
        f"| {throughput:8.1f} | {note:<30} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    prefs = Preferences()

    big = make_request(rng, tasks=500, days=28, busy=1000)
    roomy = make_request(rng, tasks=500, days=28, busy=150)
    roomy["working_hours"] = {d: [{"start": "07:00", "end": "21:00"}] for d in HOURS} | {
        "sat": [{"start": "09:00", "end": "17:00"}]
    }
    roomy["workload_limit_minutes"] = 840
    small = make_request(rng, tasks=50, days=1, busy=12)
    small["horizon_days"] = 1

    def full(body: dict) -> Callable[[], dict]:
        def go() -> dict:
            request = ScheduleRequest.model_validate(body)
            _, response, _ = service.schedule(request, prefs)
            return response.model_dump(mode="json")

        return go

    def engine_only(body: dict) -> Callable[[], object]:
        request = ScheduleRequest.model_validate(body)
        effective = overlay(prefs, request)

        def go() -> object:
            return engine.solve(problem.build(request.tasks or [], request.busy, effective, request.now))

        return go

    first = full(big)()
    placed = len({b["task_id"] for b in first["blocks"]})
    later = START + timedelta(days=2, hours=3)
    past = [b for b in first["blocks"] if datetime.fromisoformat(b["start"]) < later]
    done = sorted({b["task_id"] for b in rng.sample(past, min(20, len(past)))})
    slipped = [b["key"] for b in rng.sample(past, min(10, len(past)))]
    new_busy = make_request(rng, tasks=0, days=28, busy=50)["busy"]
    re_body = {
        "client_id": "bench",
        "now": later.isoformat(),
        "done": done,
        "slipped": slipped,
        "blocks": first["blocks"],
        "tasks": big["tasks"],
        "busy": big["busy"] + new_busy,
        **{
            k: big[k] for k in ("timezone", "horizon_days", "working_hours", "buffer_minutes", "workload_limit_minutes")
        },
    }

    def reschedule() -> dict:
        request = RescheduleRequest.model_validate(re_body)
        _, response, _ = service.reschedule(
            request, prefs, request.tasks or [], request.busy or [], request.blocks or []
        )
        return response.model_dump(mode="json")

    re_first = reschedule()
    changed = sum(len(re_first["diff"][k]) for k in ("create", "move", "delete"))
    small_first = full(small)()
    small_placed = len({b["task_id"] for b in small_first["blocks"]})

    print(f"scheduler benchmark: {args.runs} runs per case, seed {args.seed}, Python {sys.version.split()[0]}")
    print()
    print(f"| {'case':<44} | {'p50 ms':>8} | {'p95 ms':>8} | {'max ms':>8} | {'per s':>8} | {'result':<30} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 32}|")
    print(
        row(
            "schedule 500 tasks/4 wk/1000 busy (request)",
            timed(full(big), args.runs),
            f"{placed} placed, {len(first['blocks'])} blocks",
        )
    )
    print(
        row(
            "schedule 500 tasks/4 wk/1000 busy (engine)",
            timed(engine_only(big), args.runs),
            f"{len(first['unscheduled'])} unscheduled",
        )
    )
    roomy_first = full(roomy)()
    print(
        row(
            "schedule 500 tasks/4 wk/150 busy, roomy",
            timed(full(roomy), args.runs),
            f"{len({b['task_id'] for b in roomy_first['blocks']})} placed, {len(roomy_first['blocks'])} blocks",
        )
    )
    print(row("daily: 50 tasks/1 day/12 busy (request)", timed(full(small), args.runs), f"{small_placed} placed"))
    print(
        row("reschedule 500 tasks, +50 busy (request)", timed(reschedule, args.runs), f"{changed} changes in the diff")
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"peak RSS {peak:.0f} MB; goal: under 100 ms per 500-task schedule")


if __name__ == "__main__":
    main()

"""Reschedule rules on generated plans: history kept, rules kept, and the diff is exactly the change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, reject
from hypothesis import strategies as st
from test_scheduler_rules import (
    PREFS,
    RULES,
    gap_between,
    minute,
    run,
    scenarios,
    spans_overlap,
    windows_of,
)

from steward.core.errors import ValidationFailed
from steward.scheduler import service
from steward.scheduler.models import BlockIn, BusyIn, RescheduleRequest, TaskIn

OPTIONS = (
    "timezone",
    "horizon_days",
    "working_hours",
    "buffer_minutes",
    "break_policy",
    "workload_limit_minutes",
    "slot_minutes",
)


def reschedule(request: dict, blocks: list[dict], now: str, done=(), slipped=(), busy=None) -> dict:
    body = {
        "client_id": request["client_id"],
        "now": now,
        "done": list(done),
        "slipped": list(slipped),
        "blocks": blocks,
        "tasks": request["tasks"],
        "busy": busy if busy is not None else request["busy"],
        **{k: request[k] for k in OPTIONS if k in request},
    }
    parsed = RescheduleRequest.model_validate(body)
    try:
        _, response, _ = service.reschedule(
            parsed,
            PREFS,
            [TaskIn.model_validate(t) for t in body["tasks"]],
            [BusyIn.model_validate(b) for b in body["busy"]],
            [BlockIn.model_validate(b) for b in blocks],
        )
    except ValidationFailed:
        reject()
    return response.model_dump(mode="json")


def apply(calendar: dict[str, tuple[int, int]], diff: dict) -> dict[str, tuple[int, int]]:
    """What n8n does with a diff, on a calendar of key -> (start, end)."""
    after = dict(calendar)
    for gone in diff["delete"]:
        assert gone["key"] in after
        del after[gone["key"]]
    for moved in diff["move"]:
        assert after[moved["key"]] == (minute(moved["from_start"]), minute(moved["from_end"]))
        after[moved["key"]] = (minute(moved["block"]["start"]), minute(moved["block"]["end"]))
    for made in diff["create"]:
        assert made["key"] not in after
        after[made["key"]] = (minute(made["start"]), minute(made["end"]))
    return after


@RULES
@given(scenarios(max_tasks=8), st.data())
def test_reschedule_keeps_history_moves_the_rest_and_the_diff_is_exact(request, data):
    first = run(request)
    blocks = first["blocks"]
    tz = ZoneInfo(request["timezone"])
    start = datetime.fromisoformat(request["now"]).astimezone(UTC)
    later = start + timedelta(minutes=data.draw(st.integers(0, request["horizon_days"] * 1440)))
    if blocks and data.draw(st.booleans()):  # often in the middle of a block: work under way
        block = data.draw(st.sampled_from(blocks))
        inside = data.draw(st.integers(1, block["minutes"] - 1)) if block["minutes"] > 1 else 0
        later = datetime.fromisoformat(block["start"]).astimezone(UTC) + timedelta(minutes=inside)
    now = later.astimezone(tz).isoformat()
    moment = -(-int((later - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) // 60)
    ids = [t["id"] for t in request["tasks"]]
    done = data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=3))
    past = [b["key"] for b in blocks if minute(b["start"]) < moment]
    slipped = data.draw(st.lists(st.sampled_from(past), unique=True, max_size=3)) if past else []
    busy = request["busy"] + [
        {
            "start": (later + timedelta(minutes=m)).astimezone(tz).isoformat(),
            "end": (later + timedelta(minutes=m + 60)).astimezone(tz).isoformat(),
            "title": "new",
        }
        for m in data.draw(st.lists(st.integers(0, 2000), max_size=3))
    ]
    response = reschedule(request, blocks, now, done, slipped, busy)
    check_reschedule(request, blocks, now, done, slipped, busy, response)


def check_reschedule(
    request: dict, blocks: list[dict], now: str, done, slipped, busy: list[dict], response: dict
) -> None:
    """Assert the reschedule rules on one request and its JSON response (also used over HTTP)."""
    tz = ZoneInfo(request["timezone"])
    later = datetime.fromisoformat(now).astimezone(UTC)
    moment = -(-int((later - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) // 60)

    old = {b["key"]: (minute(b["start"]), minute(b["end"])) for b in blocks}
    plan = {b["key"]: (minute(b["start"]), minute(b["end"])) for b in response["blocks"]}
    after = apply(old, response["diff"])
    assert after == plan, "applying the diff to the calendar gives exactly the new plan"

    by_key = {b["key"]: b for b in blocks}
    tasks = {t["id"]: t for t in request["tasks"]}

    def was_slipped(key: str) -> bool:
        return key in slipped or by_key[key]["task_id"] in slipped

    history = {k for k, (s, _) in old.items() if s < moment and (by_key[k]["task_id"] in done or not was_slipped(k))}
    for key in history:
        assert plan.get(key) == old[key], "work already under way or done stays where it is"
    spans = sorted((s, e, k) for k, (s, e) in plan.items())
    for (_, e1, k1), (s2, _, k2) in zip(spans, spans[1:], strict=False):
        assert e1 <= s2, f"{k1} overlaps {k2}"

    windows = windows_of(
        request,
        request["timezone"],
        datetime.fromisoformat(response["horizon_start"]).astimezone(tz).date(),
        request["horizon_days"],
    )
    raw_busy = [(minute(b["start"]), minute(b["end"])) for b in busy]
    fresh = {b["key"]: b for b in response["blocks"] if b["key"] not in history}
    for b in fresh.values():
        s, e = minute(b["start"]), minute(b["end"])
        assert s >= moment, "new blocks are in the future"
        assert b["task_id"] not in done
        assert all(not spans_overlap((s, e), x) for x in raw_busy)
        task = tasks[b["task_id"]]
        if not task.get("pinned_start") or minute(task["pinned_start"]) < moment:
            assert any(ws <= s and e <= we for ws, we, _ in windows), "inside working hours"
            assert all(gap_between((s, e), x) >= request["buffer_minutes"] for x in raw_busy)
        if task.get("deadline_type") == "hard":
            assert e <= minute(task["deadline"])
    policy = request["break_policy"]
    same_gap = max(policy["chunk_gap_minutes"], policy["break_minutes"], request["slot_minutes"], 1)
    for tid in tasks:
        mine = sorted((s, e, k) for k, (s, e) in plan.items() if (by_key.get(k) or fresh[k])["task_id"] == tid)
        for (_, e1, k1), (s2, _, k2) in zip(mine, mine[1:], strict=False):
            if k1 in fresh or k2 in fresh:
                assert s2 - e1 >= same_gap, f"{k1} and {k2} of one task only {s2 - e1} minutes apart"
    missed = {u["task_id"]: u for u in response["unscheduled"]}
    for tid, task in tasks.items():
        kept = sum(
            e - s for k, (s, e) in plan.items() if by_key.get(k, fresh.get(k))["task_id"] == tid and k in history
        )
        new = sum(b["minutes"] for b in fresh.values() if b["task_id"] == tid)
        if tid in done:
            assert new == 0
        elif tid in missed:
            assert new == 0 and missed[tid]["remaining_minutes"] == task["duration_minutes"] - kept
        else:
            assert kept + new == task["duration_minutes"], tid
        first_new = min((minute(b["start"]) for b in fresh.values() if b["task_id"] == tid), default=None)
        for dep in task.get("depends_on", []):
            if first_new is not None and dep not in done:
                dep_end = max(e for k, (s, e) in plan.items() if (by_key.get(k) or fresh.get(k))["task_id"] == dep)
                assert dep_end <= first_new, f"{tid} starts before {dep} ends"


@RULES
@given(scenarios(max_tasks=8))
def test_nothing_changed_means_an_empty_diff(request):
    first = run(request)
    response = reschedule(request, first["blocks"], request["now"])
    diff = response["diff"]
    assert diff["create"] == diff["move"] == diff["delete"] == []
    assert sorted(diff["unchanged"]) == sorted(b["key"] for b in first["blocks"])
    again = reschedule(request, response["blocks"], request["now"])
    assert again["diff"]["create"] == again["diff"]["move"] == again["diff"]["delete"] == []

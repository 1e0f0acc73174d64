"""Worked examples: the policy on cases a person can check by hand, the daily text, .ics, preferences."""

from __future__ import annotations

from datetime import UTC, date, datetime

from icalendar import Calendar
from test_scheduler_reschedule import reschedule
from test_scheduler_rules import check_rules, run

from steward.scheduler import daily, ics, preferences, text
from steward.scheduler.models import BlockOut, BusyIn, RunOptions, TaskIn
from steward.scheduler.preferences import Preferences

MONDAY = "2026-06-01T09:00:00+02:00"
WEEK = {
    d: [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]
    for d in ("mon", "tue", "wed", "thu", "fri")
}


def plan(tasks: list[dict], busy: list[dict] | None = None, **options) -> tuple[dict, dict]:
    request = {
        "client_id": "ex",
        "timezone": "Europe/Berlin",
        "now": MONDAY,
        "horizon_days": 5,
        "working_hours": WEEK,
        "buffer_minutes": 10,
        "workload_limit_minutes": 480,
        "slot_minutes": 5,
        "busy": busy or [],
        "tasks": tasks,
        **options,
    }
    response = run(request)
    check_rules(request, response)
    return request, response


def spans(response: dict, task_id: str) -> list[tuple[str, str]]:
    return [(b["start"][5:16], b["end"][11:16]) for b in response["blocks"] if b["task_id"] == task_id]


def test_priority_then_soft_deadline_then_input_order():
    _, response = plan(
        [
            {"id": "low", "duration_minutes": 60, "priority": "p4"},
            {"id": "soon", "duration_minutes": 60, "priority": "p2", "deadline": "2026-06-02T12:00:00+02:00"},
            {"id": "later", "duration_minutes": 60, "priority": "p2"},
            {"id": "top", "duration_minutes": 60, "priority": "p1"},
        ]
    )
    order = [b["task_id"] for b in response["blocks"]]
    assert order == ["top", "soon", "later", "low"]
    assert spans(response, "top") == [("06-01T09:00", "10:00")]


def test_hard_deadline_goes_first_and_a_dependency_inherits_priority():
    _, response = plan(
        [
            {"id": "report", "duration_minutes": 120, "priority": "p1", "depends_on": ["data"]},
            {"id": "data", "duration_minutes": 60, "priority": "p4"},
            {
                "id": "visa",
                "duration_minutes": 60,
                "priority": "p3",
                "deadline": "2026-06-01T11:00:00+02:00",
                "deadline_type": "hard",
            },
        ]
    )
    assert spans(response, "visa") == [("06-01T09:00", "10:00")]
    assert spans(response, "data") == [("06-01T10:00", "11:00")]
    assert spans(response, "report") == [("06-01T11:00", "12:00"), ("06-01T13:00", "14:00")]
    tiers = {d["task_id"]: (d["tier"], d["effective_priority"]) for d in response["decisions"]}
    assert tiers == {"visa": ("deadline", "p3"), "data": ("priority", "p1"), "report": ("priority", "p1")}


def test_busy_time_and_its_buffer_are_avoided():
    _, response = plan(
        [{"id": "a", "duration_minutes": 90, "max_chunk_minutes": 90}],
        busy=[{"start": "2026-06-01T09:30:00+02:00", "end": "2026-06-01T10:00:00+02:00"}],
    )
    assert spans(response, "a") == [("06-01T10:10", "11:40")]


def test_chunks_respect_min_max_and_the_gap_between_them():
    _, response = plan(
        [{"id": "a", "duration_minutes": 150, "min_chunk_minutes": 45, "max_chunk_minutes": 90}],
        break_policy={"break_minutes": 0, "chunk_gap_minutes": 30},
    )
    assert spans(response, "a") == [("06-01T09:00", "10:30"), ("06-01T11:00", "12:00")]
    assert [(b["chunk"], b["of"]) for b in response["blocks"]] == [(1, 2), (2, 2)]


def test_what_cannot_be_placed_is_explained():
    _, response = plan(
        [
            {"id": "huge", "duration_minutes": 3000, "max_chunk_minutes": 240},
            {
                "id": "late",
                "duration_minutes": 600,
                "deadline": "2026-06-01T17:00:00+02:00",
                "deadline_type": "hard",
                "max_chunk_minutes": 600,
            },
            {"id": "after", "duration_minutes": 30, "depends_on": ["late"]},
            {"id": "gone", "duration_minutes": 30, "deadline": "2026-06-01T08:00:00+02:00", "deadline_type": "hard"},
        ],
        horizon_days=3,
    )
    reasons = {u["task_id"]: u["reason"] for u in response["unscheduled"]}
    assert reasons == {
        "huge": "beyond_horizon",
        "late": "no_room_before_deadline",
        "after": "dependency_unscheduled",
        "gone": "deadline_passed",
    }


def test_a_soft_deadline_at_risk_and_a_day_over_the_limit_are_warned():
    _, response = plan(
        [
            {
                "id": "big",
                "duration_minutes": 420,
                "priority": "p1",
                "max_chunk_minutes": 240,
                "deadline": "2026-06-01T12:00:00+02:00",
            }
        ],
        busy=[{"start": "2026-06-01T07:00:00+02:00", "end": "2026-06-01T08:30:00+02:00"}],
        workload_limit_minutes=240,
    )
    codes = sorted(w["code"] for w in response["warnings"])
    assert "soft_deadline_at_risk" in codes
    assert all(d["busy_minutes"] + d["task_minutes"] <= 240 for d in response["workload"])


def test_pinned_tasks_keep_their_time_even_outside_working_hours():
    _, response = plan([{"id": "call", "duration_minutes": 30, "pinned_start": "2026-06-01T18:00:00+02:00"}])
    assert spans(response, "call") == [("06-01T18:00", "18:30")]
    assert [w["code"] for w in response["warnings"]] == ["pinned_outside_working_hours"]


def test_reschedule_moves_slipped_work_and_keeps_the_block_under_way():
    request, first = plan(
        [
            {"id": "a", "duration_minutes": 120, "min_chunk_minutes": 30, "max_chunk_minutes": 60},
            {"id": "b", "duration_minutes": 60, "priority": "p4", "min_chunk_minutes": 60},
        ],
        break_policy={"break_minutes": 0, "chunk_gap_minutes": 30},
    )
    assert [(b["key"], b["start"][11:16]) for b in first["blocks"]] == [
        ("a#1", "09:00"),
        ("a#2", "10:30"),
        ("b#1", "13:00"),
    ]
    response = reschedule(request, first["blocks"], "2026-06-01T09:30:00+02:00")
    assert response["diff"] == {"create": [], "move": [], "delete": [], "unchanged": ["a#2", "b#1"]}

    later = reschedule(request, first["blocks"], "2026-06-01T11:40:00+02:00", slipped=["a#2"])
    moved = [(m["key"], m["block"]["start"][11:16]) for m in later["diff"]["move"]]
    assert moved == [("a#2", "13:00"), ("b#1", "14:00")]
    assert later["diff"]["create"] == later["diff"]["delete"] == []
    assert later["diff"]["unchanged"] == []

    finished = reschedule(request, first["blocks"], "2026-06-01T09:30:00+02:00", done=["a"])
    assert [d["key"] for d in finished["diff"]["delete"]] == ["a#2"]
    assert [m["key"] for m in finished["diff"]["move"]] == ["b#1"]


def test_the_daily_text_reads_well_in_telegram():
    prefs = Preferences(timezone="Europe/Berlin", working_hours=WEEK, workload_limit_minutes=300)
    tz_now = datetime(2026, 6, 1, 10, 15, tzinfo=UTC)
    blocks = [
        BlockOut(
            key="r#1",
            task_id="r",
            title="Write <Q2> report",
            description="",
            minutes=90,
            chunk=1,
            of=2,
            start=datetime.fromisoformat("2026-06-01T13:00:00+02:00"),
            end=datetime.fromisoformat("2026-06-01T14:30:00+02:00"),
        )
    ]
    busy = [
        BusyIn(start="2026-06-01T09:00:00+02:00", end="2026-06-01T09:30:00+02:00", title="Standup & sync"),
        BusyIn(start="2026-06-01T15:00:00+02:00", end="2026-06-01T17:30:00+02:00", title="Offsite"),
    ]
    tasks = [
        TaskIn(
            id="r",
            title="Write <Q2> report",
            duration_minutes=180,
            priority="p1",
            deadline="2026-06-02T17:00:00+02:00",
            deadline_type="hard",
        ),
        TaskIn(id="m", title="Mail", duration_minutes=15, priority="p3"),
    ]
    day = daily.build(date(2026, 6, 1), prefs, tz_now, busy, blocks, tasks, set(), 5)
    assert (day.workload.busy_minutes, day.workload.task_minutes, day.workload.total_minutes) == (150, 90, 240)
    message = text.render(day, "Europe/Berlin", [])
    assert message.splitlines()[0] == "<b>Plan for Monday, 1 June</b> (Europe/Berlin)"
    assert "✓ 09:00–09:30 <s>Standup &amp; sync</s>" in message
    assert "🎯 13:00–14:30 Write &lt;Q2&gt; report (1/2)" in message
    assert "1. <b>P1</b> Write &lt;Q2&gt; report · due Tue 2 Jun 17:00 (hard) · 1h 30m today" in message
    assert len(message) <= text.TELEGRAM_LIMIT


def test_a_long_day_is_trimmed_to_one_telegram_message():
    prefs = Preferences(timezone="UTC", working_hours={"mon": [{"start": "00:00", "end": "24:00"}]})
    busy = [
        BusyIn(
            start=f"2026-06-01T{h:02d}:{m:02d}:00+00:00", end=f"2026-06-01T{h:02d}:{m + 4:02d}:00+00:00", title="x" * 80
        )
        for h in range(24)
        for m in range(0, 60, 5)
    ]
    day = daily.build(date(2026, 6, 1), prefs, datetime(2026, 6, 1, tzinfo=UTC), busy, [], [], set(), 5)
    message = text.render(day, "UTC", [])
    assert len(message) <= text.TELEGRAM_LIMIT and "more" in message


def test_ics_holds_one_event_per_block_with_the_task_id():
    _, response = plan([{"id": "a", "duration_minutes": 150, "max_chunk_minutes": 90}])
    blocks = [BlockOut.model_validate(b) for b in response["blocks"]]
    parsed = Calendar.from_ical(ics.calendar("run-1", datetime(2026, 6, 1, tzinfo=UTC), blocks, "Europe/Berlin"))
    events = parsed.walk("VEVENT")
    assert [str(e["uid"]) for e in events] == ["run-1-a#1@steward", "run-1-a#2@steward"]
    assert [e.decoded("dtstart") for e in events] == [b.start for b in blocks]
    assert all("steward:task_id=a" in str(e["description"]) for e in events)


def test_preferences_fill_what_the_request_leaves_out_and_the_request_wins():
    recalled = {
        "buffer_minutes": 15,
        "timezone": "Asia/Tokyo",
        "working_hours": {"mon": [{"start": "08:00", "end": "12:00"}]},
        "horizon_days": "many",
    }
    prefs = preferences.for_client("c", settings=object(), sources=[lambda client_id: recalled])
    assert (prefs.buffer_minutes, prefs.timezone, prefs.horizon_days) == (15, "Asia/Tokyo", 14)
    assert prefs.origin["buffer_minutes"] == "<lambda>"
    chosen = preferences.overlay(prefs, RunOptions(timezone="Europe/Paris"))
    assert (chosen.timezone, chosen.buffer_minutes, chosen.origin["timezone"]) == ("Europe/Paris", 15, "request")


def test_a_failing_preference_source_does_not_break_scheduling():
    def broken(client_id):
        raise RuntimeError("memory down")

    prefs = preferences.for_client("c", settings=object(), sources=[broken])
    assert prefs == Preferences()


def test_a_task_dropped_from_the_list_loses_its_future_blocks():
    request, first = plan(
        [
            {"id": "a", "duration_minutes": 60, "priority": "p1"},
            {"id": "b", "duration_minutes": 60, "priority": "p2", "min_chunk_minutes": 60},
        ]
    )
    assert [(b["key"], b["start"][11:16]) for b in first["blocks"]] == [("a#1", "09:00"), ("b#1", "10:00")]
    without_b = {**request, "tasks": request["tasks"][:1]}
    response = reschedule(without_b, first["blocks"], MONDAY)
    assert [d["key"] for d in response["diff"]["delete"]] == ["b#1"]
    assert response["diff"]["unchanged"] == ["a#1"]
    assert [b["key"] for b in response["blocks"]] == ["a#1"]

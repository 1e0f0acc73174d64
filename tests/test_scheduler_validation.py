"""Bad input is refused with the item and field named, before anything is computed or stored."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from steward.core.errors import ValidationFailed
from steward.scheduler import service
from steward.scheduler.models import ScheduleRequest
from steward.scheduler.preferences import Preferences

NOW = "2026-06-01T08:00:00+02:00"


def body(**changes) -> dict:
    base = {
        "client_id": "acme",
        "timezone": "Europe/Berlin",
        "now": NOW,
        "horizon_days": 7,
        "working_hours": {"mon": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]},
        "busy": [{"start": "2026-06-01T10:00:00+02:00", "end": "2026-06-01T11:00:00+02:00"}],
        "tasks": [{"id": "a", "duration_minutes": 60}, {"id": "b", "duration_minutes": 30, "depends_on": ["a"]}],
    }
    base.update(changes)
    return base


def failure(payload: dict, prefs: Preferences | None = None) -> tuple[int, list[str], str]:
    """(status, fields, message) the API would answer, through the same parsing path."""
    try:
        request = ScheduleRequest.model_validate(payload)
        service.schedule(request, prefs or Preferences())
    except ValidationError as exc:
        error = ValidationFailed.from_pydantic(exc)
    except ValidationFailed as exc:
        error = exc
    else:
        raise AssertionError("accepted")
    return error.status, [d["field"] for d in error.details], error.message


def task(**fields) -> dict:
    return {"id": "x", "duration_minutes": 30, **fields}


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (body(timezone="Mars/Olympus"), 400, "timezone"),
        (body(timezone="../etc/passwd"), 400, "timezone"),
        (body(busy=[{"start": "2026-06-01T11:00:00+02:00", "end": "2026-06-01T10:00:00+02:00"}]), 400, "busy.0.end"),
        (body(busy=[{"start": "2026-06-01T11:00:00", "end": "2026-06-01T12:00:00"}]), 400, "busy.0.start"),
        (body(working_hours={"mon": [{"start": "12:00", "end": "09:00"}]}), 400, "working_hours.mon.0.end"),
        (
            body(working_hours={"mon": [{"start": "09:00", "end": "12:00"}, {"start": "11:00", "end": "14:00"}]}),
            400,
            "working_hours.mon.1",
        ),
        (body(working_hours={"mon": [{"start": "25:00", "end": "26:00"}]}), 400, "working_hours.mon.0.start"),
        (body(working_hours={"mon": []}), 400, "working_hours"),
        (body(working_hours={"monday": [{"start": "09:00", "end": "12:00"}]}), 400, "working_hours.monday.[key]"),
        (body(tasks=[task(duration_minutes=0)]), 400, "tasks.0.duration_minutes"),
        (body(tasks=[task(duration_minutes=-5)]), 400, "tasks.0.duration_minutes"),
        (body(tasks=[task(), task(id="y", duration_minutes=8 * 1440)]), 422, "tasks.1.duration_minutes"),
        (body(tasks=[task(priority="p9")]), 400, "tasks.0.priority"),
        (body(tasks=[task(deadline_type="hard")]), 400, "tasks.0.deadline_type"),
        (body(tasks=[task(deadline="2026-06-02T12:00:00")]), 400, "tasks.0.deadline"),
        (body(tasks=[task(min_chunk_minutes=60, max_chunk_minutes=30)]), 400, "tasks.0.max_chunk_minutes"),
        (
            body(tasks=[task(duration_minutes=70, min_chunk_minutes=40, max_chunk_minutes=60)]),
            422,
            "tasks.0.min_chunk_minutes",
        ),
        (body(tasks=[task(id="a"), task(id="a")]), 422, "tasks.1.id"),
        (body(tasks=[task(id="a", depends_on=["ghost"])]), 422, "tasks.0.depends_on"),
        (body(tasks=[task(id="a", depends_on=["a"])]), 422, "tasks.0.depends_on"),
        (
            body(
                tasks=[task(id="a", depends_on=["c"]), task(id="b", depends_on=["a"]), task(id="c", depends_on=["b"])]
            ),
            422,
            "tasks.0.depends_on",
        ),
        (
            body(
                tasks=[
                    task(id="a", pinned_start="2026-06-01T09:00:00+02:00", duration_minutes=60),
                    task(id="b", pinned_start="2026-06-01T09:30:00+02:00"),
                ]
            ),
            422,
            "tasks.1.pinned_start",
        ),
        (
            body(
                tasks=[
                    task(id="a", pinned_start="2026-06-01T09:00:00+02:00", duration_minutes=60, max_chunk_minutes=30)
                ]
            ),
            422,
            "tasks.0.max_chunk_minutes",
        ),
        (
            body(
                tasks=[
                    task(
                        earliest_start="2026-06-03T09:00:00+02:00",
                        deadline="2026-06-02T09:00:00+02:00",
                        deadline_type="hard",
                    )
                ]
            ),
            422,
            "tasks.0.earliest_start",
        ),
        (
            body(
                tasks=[
                    task(
                        pinned_start="2026-06-02T09:00:00+02:00",
                        deadline="2026-06-02T09:10:00+02:00",
                        deadline_type="hard",
                    )
                ]
            ),
            422,
            "tasks.0.pinned_start",
        ),
        (body(tasks=[task(surprise=1)]), 400, "tasks.0.surprise"),
        (body(horizon_days=0), 400, "horizon_days"),
        (body(horizon_days=91), 400, "horizon_days"),
        (body(buffer_minutes=-1), 400, "buffer_minutes"),
        (body(slot_minutes=7), 400, "slot_minutes"),
        (body(plan_id="6f1c4a52-6a55-4a43-9a57-0b8c1f1f7a3e"), 400, "body"),
        ({k: v for k, v in body().items() if k != "tasks"}, 400, "body"),
    ],
)
def test_bad_input_names_the_field(payload, status, field):
    got_status, fields, message = failure(payload)
    assert (got_status, fields[0]) == (status, field), message
    assert message.startswith(field)


def test_more_tasks_than_the_configured_limit_is_refused():
    status, fields, message = failure(body(tasks=[task(id=f"t{i}") for i in range(11)]), Preferences(max_tasks=10))
    assert (status, fields) == (422, ["tasks"])
    assert "limit of 10" in message


def test_a_cycle_is_named_in_the_message():
    _, _, message = failure(
        body(tasks=[task(id="a", depends_on=["c"]), task(id="b", depends_on=["a"]), task(id="c", depends_on=["b"])])
    )
    assert "a -> c -> b -> a" in message


def test_overlapping_busy_events_are_fine_they_are_double_bookings():
    request = ScheduleRequest.model_validate(
        body(
            busy=[
                {"start": "2026-06-01T09:00:00+02:00", "end": "2026-06-01T10:30:00+02:00"},
                {"start": "2026-06-01T10:00:00+02:00", "end": "2026-06-01T11:00:00+02:00"},
            ],
            buffer_minutes=0,
        )
    )
    _, response, _ = service.schedule(request, Preferences())
    assert response.blocks[0].start.isoformat() == "2026-06-01T11:00:00+02:00"

"""A seeded week for the observer tests: Monday 2026-11-16 to Sunday 2026-11-22, Europe/Berlin (UTC+1).

Steward's own records are written through its HTTP API where one exists (events, memories) and
with SQL where the writer is another service (plans and their steps, execution runs). The tasks
and calendar are what n8n would pass in. Expected figures are worked out by hand in the tests.
"""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.types.json import Jsonb

TZ = "Europe/Berlin"
MONDAY, FRIDAY, PREVIOUS_MONDAY = "2026-11-16", "2026-11-20", "2026-11-09"
WORKING_HOURS = 7.5


def at(day: str, clock: str) -> str:
    return f"{day}T{clock}:00+01:00"


def task(
    id: str,
    status: str,
    planned_for: str | None = None,
    estimate: float | None = None,
    actual: float | None = None,
    billable: bool = False,
    due: str | None = None,
    completed_at: str | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "title": f"Task {id}",
        "status": status,
        "planned_for": planned_for,
        "estimate_hours": estimate,
        "actual_hours": actual,
        "billable": billable,
        "due": due,
        "completed_at": completed_at,
    }


TASKS = [
    task("T1", "done", FRIDAY, 2, 2.5, True, completed_at=at(FRIDAY, "10:30")),
    task("T2", "done", FRIDAY, 1, 0.5, completed_at=at(FRIDAY, "16:00")),
    task("T3", "open", FRIDAY, 3, 1, True, due=FRIDAY),  # slipped: due the same day
    task("T4", "in_progress", FRIDAY, 2, 1.5, True, due="2026-11-25"),  # carried over: deadline later
    task("T5", "cancelled", FRIDAY, 1),  # dropped
    task("T6", "done", "2026-11-19", 1.5, 2, True, completed_at=at(FRIDAY, "09:00")),  # planned Thu, done Fri
    task("T7", "done", None, None, 1, completed_at="2026-11-20T23:30:00+00:00"),  # 00:30 Saturday in Berlin
    task("T8", "done", None, None, 0.5, completed_at="2026-11-19T23:15:00+00:00"),  # 00:15 Friday in Berlin
    task("T9", "done", MONDAY, 4, 6.5, True, completed_at=at(MONDAY, "15:00")),
    task("T10", "open", "2026-11-17", 2, 0.5, True, due="2026-11-18"),  # slipped within the week
    task("T11", "done", "2026-11-18", 1, 1),  # done, no timestamp: its planned day
    task("T12", "done", "2026-11-13", 2, 2, completed_at=at("2026-11-13", "11:00")),  # previous week
    task("T13", "open", "2026-11-12", 1),  # previous week, carried over
]


def event(
    title: str, start: str, end: str, kind: str = "meeting", status: str = "confirmed", task_id: str | None = None
) -> dict[str, Any]:
    return {
        "id": f"ev-{title.lower().replace(' ', '-')}",
        "title": title,
        "start": start,
        "end": end,
        "kind": kind,
        "status": status,
        "task_id": task_id,
    }


CALENDAR = [
    event("Standup", at(FRIDAY, "09:00"), at(FRIDAY, "10:00")),
    event("Work on T1", at(FRIDAY, "09:30"), at(FRIDAY, "11:00"), kind="other", task_id="T1"),  # a block by task
    event("Focus", at(FRIDAY, "13:00"), at(FRIDAY, "15:00"), kind="block"),
    event("Client call", at(FRIDAY, "15:00"), at(FRIDAY, "16:00"), status="tentative"),
    event("One on one", at(FRIDAY, "16:00"), at(FRIDAY, "17:00"), status="cancelled"),
    event("Late deploy", at("2026-11-19", "23:00"), at(FRIDAY, "01:00")),  # 1 h on Thursday, 1 h on Friday
    event("Work on T9", at(MONDAY, "10:00"), at(MONDAY, "12:00"), kind="block", task_id="T9"),
    event("Review", at("2026-11-18", "14:00"), at("2026-11-18", "15:30")),
    event("Prep", at("2026-11-13", "10:00"), at("2026-11-13", "12:00"), kind="block"),  # previous week
]

SPRINT = {"name": "Sprint 47", "planned_billable_hours": 12, "task_ids": ["T1", "T3", "T4", "T6", "T9", "T-missing"]}


def daily_body(client_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "date": FRIDAY,
        "timezone": TZ,
        "working_hours_per_day": WORKING_HOURS,
        "calendar": CALENDAR,
        "tasks": TASKS,
        **extra,
    }


def weekly_body(client_id: str, week: str = MONDAY, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "week": week,
        "timezone": TZ,
        "working_hours_per_day": WORKING_HOURS,
        "calendar": CALENDAR,
        "tasks": TASKS,
        "sprint": SPRINT,
        **extra,
    }


def _event(api, client_id: str, event_type: str, when: str, **payload: Any) -> None:
    resp = api.post(
        "/api/v1/events",
        json={
            "event_type": event_type,
            "event_source": "n8n",
            "client_id": client_id,
            "occurred_at": when,
            "payload": payload,
        },
    )
    assert resp.status_code == 201, resp.text


def _memory(api, client_id: str, text: str, when: str, kind: str = "note") -> None:
    resp = api.post(
        "/api/v1/memory/remember", json={"client_id": client_id, "text": text, "kind": kind, "occurred_at": when}
    )
    assert resp.status_code == 201, resp.text


def _run(
    db,
    client_id: str,
    finished: str,
    estimated: float | None,
    actual: float | None,
    template: str | None = None,
    workflow: str | None = None,
) -> None:
    db.execute(
        """INSERT INTO execution_runs (client_id, process_template_id, run_type, estimated_hours, actual_hours,
                                       finished_at, metadata) VALUES (%s, %s, 'plan_step', %s, %s, %s, %s)""",
        (client_id, template, estimated, actual, finished, Jsonb({"workflow_id": workflow} if workflow else {})),
    )


def _plan(
    db,
    client_id: str,
    title: str,
    status: str,
    activated: str | None,
    finished: str | None,
    steps: list[tuple[str, str | None]],
) -> None:
    plan_id = uuid.uuid4()
    db.execute(
        """INSERT INTO plans (id, client_id, intent, title, status, sop, activated_at, finished_at, created_at)
           VALUES (%s, %s, %s, %s, %s, '{"steps": []}', %s, %s, %s)""",
        (plan_id, client_id, title, title, status, activated, finished, activated or at(MONDAY, "08:00")),
    )
    for position, (step_status, done_at) in enumerate(steps):
        db.execute(
            """INSERT INTO plan_steps (plan_id, key, position, title, estimate_minutes, status, finished_at)
               VALUES (%s, %s, %s, %s, 60, %s, %s)""",
            (plan_id, f"s{position + 1}", position, f"Step {position + 1}", step_status, done_at),
        )


def seed(api, db, client_id: str) -> None:
    """Steward's own records for the week (and one item each outside it, or for another client)."""
    _event(api, client_id, "plan_completed", at(FRIDAY, "12:00"), title="Launch website")
    _event(api, client_id, "task_created", at(FRIDAY, "09:10"))
    _event(api, client_id, "task_created", at(FRIDAY, "17:45"))
    _event(api, client_id, "sync_failed", at(FRIDAY, "14:00"), reason="Todoist answered 503")
    _event(api, client_id, "task_created", at("2026-11-17", "09:00"))
    _event(api, "someone-else", "plan_failed", at(FRIDAY, "12:00"))

    _memory(api, client_id, "Maria prefers invoices in the first week of the month", at(FRIDAY, "10:00"))
    _memory(api, client_id, "The launch went live at noon", at(FRIDAY, "12:05"))
    _memory(api, client_id, "Prefers no meetings before ten", at(FRIDAY, "18:00"), kind="preference")
    _memory(api, client_id, "Designer shortlist has three names", at("2026-11-17", "11:00"))

    _run(db, client_id, at(MONDAY, "17:00"), 2, 3.0, template="tpl-onboarding")
    _run(db, client_id, at(FRIDAY, "11:00"), 2, 2.6, template="tpl-onboarding")
    _run(db, client_id, at("2026-11-17", "16:00"), 1, 1.2, template="tpl-report")
    _run(db, client_id, at("2026-11-18", "16:00"), 3, 1.5, workflow="wf-invoice")
    _run(db, client_id, at("2026-11-18", "17:00"), None, 1, template="tpl-report")  # no estimate
    _run(db, client_id, at(FRIDAY, "15:00"), 1, 1)  # no template or workflow
    _run(db, client_id, at("2026-11-12", "15:00"), 1, 1, template="tpl-onboarding")  # previous week
    _run(db, "someone-else", at(FRIDAY, "15:00"), 1, 9, template="tpl-onboarding")

    _plan(
        db,
        client_id,
        "Launch website",
        "completed",
        at("2026-11-10", "09:00"),
        at(FRIDAY, "12:00"),
        [("done", at("2026-11-17", "12:00")), ("done", at(FRIDAY, "11:30"))],
    )
    _plan(
        db,
        client_id,
        "Hire designer",
        "active",
        at("2026-11-10", "09:00"),
        None,
        [("done", at("2026-11-12", "12:00")), ("todo", None), ("blocked", None)],
    )
    _plan(
        db,
        client_id,
        "Write book",
        "active",
        at("2026-11-10", "09:00"),
        None,
        [("done", at("2026-11-18", "12:00")), ("todo", None)],
    )
    _plan(db, client_id, "Someday idea", "draft", None, None, [("todo", None)])
    _plan(db, client_id, "Dropped idea", "cancelled", None, at(FRIDAY, "09:00"), [("todo", None)])

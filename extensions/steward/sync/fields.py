"""One vocabulary for both sides: a local item and a Todoist task reduced to the same canonical dict.

Comparing canonical dicts is how push, pull and reconciliation see change and drift, so every
conversion lives here once:

    field        Steward item                         Todoist task (API v1)
    content      title                                content
    description  body                                 description
    priority     p1 p2 p3 p4 (none = p4)              4  3  2  1   (the API's 4 is p1, "urgent")
    labels       labels (names)                       labels (names), compared as a sorted set
    due          due + due_has_time                   due.date: "YYYY-MM-DD" all day, or a UTC
                 (all day = 00:00 UTC of the date)    "YYYY-MM-DDTHH:MM:SSZ"; a floating time is read
                                                      in the Todoist user's time zone
    recurrence   recurrence (RRULE)                   due.string "every ..." (is_recurring)
    duration     duration_minutes                     duration {amount, unit: minute|day}
    project      project_id (a local project item)    project_id; the Inbox is "no project"
    checked      status done or dropped               checked

A rule that "every ..." text cannot express compares as no recurrence, so it never shows as drift.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from steward.sync.recurrence_text import rrule_to_text

FIELDS = ("content", "description", "priority", "labels", "due", "recurrence", "duration", "project", "checked")
PRIORITY_TO_API = {"p1": 4, "p2": 3, "p3": 2, "p4": 1}
API_TO_PRIORITY = {v: k for k, v in PRIORITY_TO_API.items()}
_NOON = datetime(2000, 1, 1, 12)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=512)
def text_to_rrule(text: str) -> str | None:
    """Todoist's "every ..." text -> our normalised RRULE, with the chat's own recurrence reader."""
    from steward.chat.quickadd import parse_quick_add

    parsed = parse_quick_add(text, _NOON)
    return parsed.recurrence


def expressible_rrule(rule: str | None) -> str | None:
    """The rule as it survives a trip through Todoist's text, or None when it cannot make the trip."""
    if not rule:
        return None
    rule = rule.removeprefix("RRULE:")
    text = rrule_to_text(rule)
    return text_to_rrule(text) if text else None


def due_to_api(due: datetime | None, has_time: bool) -> str | None:
    if due is None:
        return None
    moment = due.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if has_time else moment.date().isoformat()


def due_from_api(value: str | None, tz: ZoneInfo) -> tuple[datetime | None, bool]:
    """A Todoist due date (all day, floating or UTC) -> (instant, has_time)."""
    if not value:
        return None, False
    if "T" not in value:
        day = datetime.fromisoformat(value[:10]).date()
        return datetime.combine(day, time(0), tzinfo=UTC), False
    text = value.rstrip("Z").split(".")[0]
    moment = datetime.fromisoformat(text)
    if value.endswith("Z"):
        return moment.replace(tzinfo=UTC), True
    return moment.replace(tzinfo=tz).astimezone(UTC), True


def normalise_api_due(value: str | None, tz: ZoneInfo) -> str | None:
    moment, has_time = due_from_api(value, tz)
    return due_to_api(moment, has_time)


def local_canonical(item: dict[str, Any], project_todoist_id: str | None) -> dict[str, Any]:
    """The item as Todoist should show it. `project_todoist_id` is the mapped id of its project
    (None for no project; `local:<uuid>` while that project is not in Todoist yet)."""
    return {
        "content": item["title"],
        "description": item.get("body") or "",
        "priority": PRIORITY_TO_API.get(item.get("priority") or "p4", 1),
        "labels": sorted(set(item.get("labels") or [])),
        "due": due_to_api(item.get("due"), bool(item.get("due_has_time"))),
        "recurrence": expressible_rrule(item.get("recurrence")) if item.get("due") else None,
        "duration": item.get("duration_minutes"),
        "project": project_todoist_id,
        "checked": item["status"] in ("done", "dropped"),
    }


def remote_canonical(task: dict[str, Any], tz: ZoneInfo, inbox_id: str | None) -> dict[str, Any]:
    due = task.get("due") or None
    duration = task.get("duration") or None
    minutes = None
    if duration:
        minutes = int(duration["amount"]) * (1440 if duration.get("unit") == "day" else 1) or None
    recurrence = None
    if due and due.get("is_recurring") and due.get("string"):
        recurrence = expressible_rrule(text_to_rrule(due["string"]))
    project = task.get("project_id")
    return {
        "content": task.get("content") or "",
        "description": task.get("description") or "",
        "priority": int(task.get("priority") or 1),
        "labels": sorted(set(task.get("labels") or [])),
        "due": normalise_api_due(due.get("date"), tz) if due else None,
        "recurrence": recurrence,
        "duration": minutes,
        "project": None if project == inbox_id else project,
        "checked": bool(task.get("checked")) or bool(task.get("completed_at")),
    }


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The canonical fields whose values differ (a missing field counts as differing)."""
    return [f for f in FIELDS if a.get(f, _MISSING) != b.get(f, _MISSING)]


_MISSING = object()


def due_args(canon: dict[str, Any]) -> dict[str, Any] | None:
    """The Sync command's `due` object: the date, plus the "every ..." text for a recurring task."""
    if canon["due"] is None:
        return None
    due: dict[str, Any] = {"date": canon["due"]}
    if canon["recurrence"]:
        due["string"] = rrule_to_text(canon["recurrence"])
        due["lang"] = "en"
    return due


def task_args(canon: dict[str, Any], fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Command args for the given canonical fields (project and checked travel as their own commands)."""
    args: dict[str, Any] = {}
    for name in fields:
        if name in ("content", "description", "priority", "labels"):
            args[name] = canon[name]
        elif name in ("due", "recurrence"):
            args["due"] = due_args(canon)
        elif name == "duration":
            args["duration"] = {"amount": canon["duration"], "unit": "minute"} if canon["duration"] else None
    return args


def to_local_changes(canon: dict[str, Any], fields: list[str], tz: ZoneInfo) -> dict[str, Any]:
    """Item column changes that make the local item show `canon` for `fields` (not project/checked)."""
    changes: dict[str, Any] = {}
    for name in fields:
        if name == "content":
            changes["title"] = canon["content"].strip()[:500] or "(untitled)"
        elif name == "description":
            changes["body"] = canon["description"]
        elif name == "priority":
            changes["priority"] = API_TO_PRIORITY.get(canon["priority"], "p4")
        elif name == "labels":
            changes["labels"] = list(canon["labels"])
        elif name == "due":
            changes["due"], changes["due_has_time"] = due_from_api(canon["due"], tz)
        elif name == "recurrence":
            changes["recurrence"] = canon["recurrence"]
        elif name == "duration":
            changes["duration_minutes"] = canon["duration"]
    return changes

"""The daily plan as a Telegram message (HTML parse mode), short enough for one message.

Telegram's HTML mode needs only &, < and > escaped; the message stays under its 4,096-character
limit by trimming the agenda first and saying how much was left out.
"""

from __future__ import annotations

from html import escape

from steward.scheduler.daily import Day
from steward.scheduler.models import UnscheduledOut

TELEGRAM_LIMIT = 4096
REASONS = {
    "no_room_before_deadline": "no room before its hard deadline",
    "deadline_passed": "its hard deadline has passed",
    "dependency_unscheduled": "waiting on a task that is not scheduled",
    "beyond_horizon": "no free time left in the horizon",
    "pinned_conflict": "its pinned time clashes with an event",
    "pinned_outside_horizon": "its pinned time is outside the horizon",
}


def duration(minutes: int) -> str:
    hours, rest = divmod(max(minutes, 0), 60)
    if hours and rest:
        return f"{hours}h {rest:02d}m"
    return f"{hours}h" if hours else f"{rest}m"


def render(day: Day, timezone: str, unscheduled: list[UnscheduledOut]) -> str:
    load = day.workload
    head = [
        f"<b>Plan for {day.date.strftime('%A, %-d %B')}</b> ({escape(timezone)})",
        f"Workload {duration(load.total_minutes)} of {duration(load.limit_minutes)} ({load.percent}%)"
        f" · meetings {duration(load.busy_minutes)}, focus {duration(load.task_minutes)}"
        f" · {duration(load.free_minutes_left)} free",
    ]
    if load.over_limit:
        head.append(f"⚠️ Over the limit by {duration(load.total_minutes - load.limit_minutes)}")
    agenda = [_line(item) for item in day.agenda] or ["Nothing on the calendar."]
    tops = [
        f"{n}. <b>{t.priority.upper()}</b> {escape(t.title)}"
        + (
            f" · due {t.deadline.strftime('%a %-d %b %H:%M')}" + (" (hard)" if t.deadline_type == "hard" else "")
            if t.deadline
            else ""
        )
        + (f" · {duration(t.minutes_today)} today" if t.minutes_today else "")
        for n, t in enumerate(day.top_tasks, 1)
    ]
    missing = [f"• {escape(u.title)}: {REASONS.get(u.reason, u.reason)}" for u in unscheduled[:5]]
    if len(unscheduled) > 5:
        missing.append(f"• and {len(unscheduled) - 5} more")

    def compose(lines: list[str]) -> str:
        parts = ["\n".join(head), "<b>Agenda</b>\n" + "\n".join(lines)]
        if tops:
            parts.append("<b>Top tasks</b>\n" + "\n".join(tops))
        if missing:
            parts.append("<b>Not scheduled</b>\n" + "\n".join(missing))
        return "\n\n".join(parts)

    message = compose(agenda)
    kept = len(agenda)
    while len(message) > TELEGRAM_LIMIT and kept > 1:
        kept -= 1
        message = compose(agenda[:kept] + [f"… and {len(agenda) - kept} more"])
    return message[:TELEGRAM_LIMIT]


def _line(item) -> str:
    mark = "✓" if item.past else ("🎯" if item.kind == "block" else "📅")
    span = f"{item.start.strftime('%H:%M')}–{item.end.strftime('%H:%M')}"
    title = escape(item.title)
    return f"{mark} {span} <s>{title}</s>" if item.past else f"{mark} {span} {title}"

"""What the user reads in Telegram: draft summaries, results, and the Yes / Edit / No buttons.

Text is Telegram HTML (only &, < and > need escaping, done here for everything the user or an LLM
wrote). Callback data is `d:<short id>:<y|e|n>`, at most 20 bytes, far under Telegram's 64.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from steward.chat.actions import Action, ActionPlan, ItemFields, new_index
from steward.chat.critic import Review
from steward.chat.models import Button
from steward.sync.recurrence_text import rrule_to_text

CALLBACK = re.compile(r"^d:([A-Za-z0-9]{6,16}):([yen])$")
DECISIONS = {"y": "yes", "e": "edit", "n": "no"}
TELEGRAM_LIMIT = 4096
ICONS = {"task": "☑️", "note": "📝", "idea": "💡", "event": "📅", "person": "👤", "project": "📁"}


def callback_data(short_id: str, decision: str) -> str:
    return f"d:{short_id}:{decision[0]}"


def parse_callback(data: str) -> tuple[str, str] | None:
    """(short id, decision) from a button's callback data; None when it is not ours."""
    match = CALLBACK.match(data.strip())
    return (match.group(1), DECISIONS[match.group(2)]) if match else None


def decision_buttons(short_id: str) -> list[list[Button]]:
    return [
        [
            Button(text="✅ Yes", callback_data=callback_data(short_id, "yes")),
            Button(text="✏️ Edit", callback_data=callback_data(short_id, "edit")),
            Button(text="✖️ No", callback_data=callback_data(short_id, "no")),
        ]
    ]


def when(due: datetime | None, has_time: bool | None, tz: ZoneInfo) -> str:
    if due is None:
        return ""
    if has_time:
        return due.astimezone(tz).strftime("%a %-d %b %H:%M")
    return due.astimezone(UTC).strftime("%a %-d %b")


def recurrence_text(rule: str) -> str:
    """ "every monday" for FREQ=WEEKLY;BYDAY=MO when sync's renderer can say it, else the rule."""
    return rrule_to_text(rule) or rule


def minutes(value: int) -> str:
    hours, rest = divmod(value, 60)
    return f"{hours}h{rest:02d}" if hours and rest else (f"{hours}h" if hours else f"{rest} min")


def details(fields: ItemFields | dict[str, Any], tz: ZoneInfo, project: str | None = None) -> str:
    f = fields.given() if isinstance(fields, ItemFields) else fields
    parts = []
    if f.get("due"):
        parts.append("due " + when(f["due"], f.get("due_has_time"), tz))
    if f.get("duration_minutes"):
        parts.append(minutes(f["duration_minutes"]))
    if f.get("priority"):
        parts.append(f["priority"].upper())
    if project or f.get("project"):
        parts.append("#" + escape(project or f["project"]))
    parts += ["@" + escape(label) for label in f.get("labels") or []]
    if f.get("recurrence"):
        parts.append("↻ " + escape(recurrence_text(f["recurrence"])))
    return " · ".join(parts)


def _title(ref: str | None, plan: ActionPlan, titles: dict[str, str]) -> str:
    n = new_index(ref)
    fields = plan.actions[n].item if n is not None and n < len(plan.actions) else None
    if fields is not None:
        return escape(fields.title or "(untitled)")
    return escape(titles.get(ref or "", "(unknown item)"))


def _changes(fields: ItemFields, tz: ZoneInfo) -> str:
    f = fields.given()
    shown = []
    for name, value in f.items():
        if name in ("due_has_time",):
            continue
        if name == "due":
            value = when(value, f.get("due_has_time"), tz)
        elif name == "duration_minutes":
            value = minutes(value)
        elif isinstance(value, list):
            value = ", ".join(value)
        shown.append(f"{name.replace('_minutes', '')} → {escape(str(value))}")
    return ", ".join(shown)


def action_line(action: Action, plan: ActionPlan, titles: dict[str, str], tz: ZoneInfo) -> str:
    fields = action.item or ItemFields()
    if action.type == "create_item":
        kind = fields.type or "task"
        extra = details(fields, tz)
        return f"{ICONS[kind]} New {kind}: <b>{escape(fields.title or '(no title)')}</b>" + (
            f" · {extra}" if extra else ""
        )
    target = _title(action.item_id, plan, titles)
    if action.type == "update_item":
        return f"✏️ Change <b>{target}</b>: {_changes(fields, tz)}"
    if action.type == "schedule":
        return f"🗓 Schedule <b>{target}</b>: {_changes(fields, tz)}"
    if action.type == "complete_item":
        return f"✅ Mark done: <b>{target}</b>"
    if action.type == "link_items":
        other = _title(action.target_id, plan, titles)
        return f"🔗 Link <b>{target}</b> → <b>{other}</b> ({(action.link_type or '').replace('_', ' ')})"
    said = action.text or (f"{action.fact.subject} {action.fact.predicate} {action.fact.object}" if action.fact else "")
    return f"🧠 Remember: “{escape(said)}”"


def draft_text(
    plan: ActionPlan, review: Review, titles: dict[str, str], tz: ZoneInfo, revision: int, notes: list[str]
) -> str:
    head = "Here's what I'd do" + (f" (revision {revision})" if revision > 1 else "") + ":"
    lines = [head] + [f"{n}. {action_line(a, plan, titles, tz)}" for n, a in enumerate(plan.actions, 1)]
    warnings = [
        f"⚠️ {'Action ' + str(f.action + 1) + ': ' if f.action is not None else ''}{escape(f.message)}"
        for f in review.flags
    ]
    if warnings:
        lines += [""] + warnings
    if any(n.startswith("llm_unavailable") for n in notes):
        lines += ["", "<i>(The LLM was unavailable, so I read this with quick-add.)</i>"]
    lines += ["", "Fix it with Edit before you apply." if review.blocking else "Apply this?"]
    return clip("\n".join(lines))


def applied_text(lines: list[str], undo_minutes: int, auto: bool = False) -> str:
    """What was done; `lines` are plain text (titles as the user wrote them), escaped here."""
    head = "✅ Done (auto-applied):" if auto else "✅ Done:"
    done = [f"• {escape(line)}" for line in lines]
    return clip("\n".join([head, *done, "", f"Send /undo within {undo_minutes} min to revert."]))


def clip(text: str) -> str:
    """At most Telegram's 4,096 characters; a cut never leaves half an HTML tag behind."""
    if len(text) <= TELEGRAM_LIMIT:
        return text
    cut = text[: TELEGRAM_LIMIT - 1]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    return cut + "…"

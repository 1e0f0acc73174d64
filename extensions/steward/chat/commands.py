"""Slash commands: how they are read, and the texts of the ones that only read.

/help /start      what Steward understands
/today            the day's plan (today.py)
/inbox            open items still in the inbox
/ask QUESTION     a question, answered read-only (questions.py)
/undo             revert the last applied draft (undo.py)
/autoapply on|off apply confident, low-risk captures without asking
/cancel           stop waiting for a correction after Edit
/link CODE        bind this chat to a user (identity.py)
"""

from __future__ import annotations

import re
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from steward.chat.render import ICONS, clip, details
from steward.items import store as items

COMMAND = re.compile(r"^/([A-Za-z_]{1,32})(?:@\w+)?(?:\s+(.*))?$", re.S)
READ_ONLY = frozenset({"help", "start", "today", "inbox"})
KNOWN = READ_ONLY | {"ask", "undo", "autoapply", "cancel", "link"}
INBOX_SHOWN = 15

HELP = """<b>Steward</b> keeps your tasks, notes and memory. Just write to me:
• <i>Call Anna tomorrow 4pm #acme p1 30m</i>: I propose a task; you tap Yes, Edit or No
• <i>remember: Anna works at Initech</i>: I keep it as a fact
• <i>done: call Anna</i>: I mark the matching task done
• <i>What did I note about Acme?</i>: I answer from what I know, with sources

Commands: /today (your plan), /inbox, /ask <i>question</i>, /undo (the last change),
/autoapply on|off, /cancel, /help"""

LINK_HELP = """This chat is not linked to a Steward user yet, so I can't keep anything for you.
Ask your Steward admin for a link code (<code>steward link create --user NAME</code>) and send it here as
<code>/link CODE</code>."""


def split(text: str) -> tuple[str | None, str]:
    """("name", argument) for "/name argument" (also "/name@bot"), else (None, text)."""
    match = COMMAND.match(text.strip())
    if match is None:
        return None, text
    return match.group(1).lower(), (match.group(2) or "").strip()


def inbox_text(conn: psycopg.Connection[Any], client_id: str, timezone: str) -> str:
    rows, more = items.list_items(conn, client_id, status=["inbox"], limit=INBOX_SHOWN)
    if not rows:
        return "Your inbox is empty. 🎉"
    tz = ZoneInfo(timezone)
    projects = _project_names(conn, client_id, {r["project_id"] for r in rows if r["project_id"]})
    lines = [f"<b>Inbox</b> ({len(rows)}{'+' if more else ''})"]
    for n, row in enumerate(rows, 1):
        extra = details(row, tz, projects.get(row["project_id"]))
        lines.append(f"{n}. {ICONS[row['type']]} {escape(row['title'])}" + (f" · {extra}" if extra else ""))
    return clip("\n".join(lines))


def _project_names(conn: psycopg.Connection[Any], client_id: str, ids: set) -> dict:
    if not ids:
        return {}
    rows = conn.execute("SELECT id, title FROM items WHERE client_id = %s AND id = ANY(%s)", (client_id, list(ids)))
    return {r["id"]: r["title"] for r in rows}

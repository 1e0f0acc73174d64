"""The source-of-truth policy, as code: who wins a field both sides changed differently.

The written policy, with its reasons, is the docstring of `reconcile.py` (and the README); this
table is what push, pull and reconciliation all apply, so they can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

POLICY: dict[str, str] = {
    "checked": "todoist",
    "due": "todoist",
    "recurrence": "todoist",
    "priority": "todoist",
    "duration": "todoist",
    "project": "todoist",
    "content": "newer",
    "description": "newer",
    "labels": "merge",
}


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def choose(name: str, item: dict[str, Any], task: dict[str, Any]) -> str:
    """The winner of a true conflict on `name`: 'todoist' or 'steward'."""
    rule = POLICY[name]
    if rule != "newer":
        return "todoist" if rule == "todoist" else "steward"
    remote_time = parse_time(task.get("updated_at"))
    local_time = item.get("content_updated_at")
    if remote_time is None or local_time is None:
        return "todoist"
    return "steward" if local_time > remote_time else "todoist"


def merge_labels(base: Any, local: list[str], remote: list[str]) -> list[str]:
    """A three-way set merge: added on either side is kept, removed on either side is removed."""
    before = set(base or [])
    return sorted((set(local) & set(remote)) | (set(local) - before) | (set(remote) - before))

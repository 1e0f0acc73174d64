"""What to send Todoist for one outbox operation: Sync endpoint commands built from the item now.

Every operation brings Todoist in line with the item for what changed since the merge base
(`todoist_links.synced`), so coalesced edits travel as one `item_update` and an edit already
undone sends nothing. The first command's uuid is the operation's `command_uuid` (later ones are
derived from it), which Todoist runs at most once: a retry can never act twice. A new task's
`temp_id` lets later commands in the same batch refer to it, and comes back in `temp_id_mapping`.

    create                item_add (+ item_complete when already done)       project_add
    update|complete|...   item_update, item_move, item_close|item_uncomplete  project_update
    delete (or dropped)   item_delete                                        project_delete
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from steward.sync import fields

SYNC_PATH = "/api/v1/sync"
FORM = "application/x-www-form-urlencoded"
UNKNOWN = "?"  # a merge-base value Todoist is about to change on its own (a recurring task's next due)
EDIT_FIELDS = ("content", "description", "priority", "labels", "due", "recurrence", "duration")


@dataclass
class Built:
    kind: str
    commands: list[dict[str, Any]] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)  # per command: the canonical fields it sets
    sent: dict[str, Any] = field(default_factory=dict)

    def add(self, op: dict[str, Any], kind: str, args: dict[str, Any], sets: dict[str, Any], temp_id: Any = None):
        first = not self.commands
        command_uuid = (
            str(op["command_uuid"]) if first else str(uuid.uuid5(op["command_uuid"], f"{len(self.commands)}:{kind}"))
        )
        command: dict[str, Any] = {"type": kind, "uuid": command_uuid, "args": args}
        if temp_id is not None:
            command["temp_id"] = str(temp_id)
        self.commands.append(command)
        self.meta.append({"uuid": command_uuid, "type": kind, "sets": sets})

    def stored(self) -> dict[str, Any]:
        return {"kind": self.kind, "commands": self.commands, "meta": self.meta}


@dataclass
class Skip:
    outcome: str


@dataclass
class NeedsProject:
    project_item_id: Any


def request_for(commands: list[dict[str, Any]]) -> dict[str, Any]:
    """The exact HTTP request n8n sends (its Todoist credential adds the Authorization header)."""
    return sync_request({"commands": commands})


def sync_request(params: dict[str, Any]) -> dict[str, Any]:
    """A POST to the Sync endpoint in the form Todoist documents: application/x-www-form-urlencoded,
    with `commands` and `resource_types` as JSON-encoded strings. `body` shows the fields decoded;
    `encoded` is the body exactly as it goes on the wire."""
    wire = {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":")) for k, v in params.items()}
    return {"method": "POST", "path": SYNC_PATH, "content_type": FORM, "body": params, "encoded": urlencode(wire)}


def build(
    op: dict[str, Any],
    item: dict[str, Any] | None,
    link: dict[str, Any] | None,
    project_ref: str | None,
    inbox_id: str | None,
) -> Built | Skip:
    """Commands for `op`. `project_ref` is the Todoist id (or temp id) of the item's project, None
    for no project; the caller returns NeedsProject itself when the project is not in Todoist yet."""
    if item is None:
        return Skip("item_gone")
    if item["type"] == "project":
        return _project(op, item, link)
    gone = op["operation"] == "delete" or item["deleted_at"] is not None or item["status"] == "dropped"
    if gone:
        if link is None:
            return Skip("nothing_to_delete")
        built = Built("task")
        built.add(op, "item_delete", {"id": link["todoist_id"]}, {"deleted": True})
        return built
    canon = fields.local_canonical(item, project_ref)
    if link is None:
        return _add(op, canon)
    return _update(op, canon, link, inbox_id)


def _add(op: dict[str, Any], canon: dict[str, Any]) -> Built:
    built = Built("task")
    args = {k: v for k, v in fields.task_args(canon, EDIT_FIELDS).items() if v not in (None, [], "")}
    args["content"] = canon["content"]
    if canon["project"]:
        args["project_id"] = canon["project"]
    sets = {f: canon[f] for f in (*EDIT_FIELDS, "project")}
    sets["checked"] = False
    built.add(op, "item_add", args, sets, temp_id=op["temp_id"])
    if canon["checked"]:
        built.add(op, "item_complete", {"id": str(op["temp_id"])}, {"checked": True})
    return built


def _update(op: dict[str, Any], canon: dict[str, Any], link: dict[str, Any], inbox_id: str | None) -> Built | Skip:
    base = link["synced"] or {}
    changed = fields.diff(canon, base)
    task_id = link["todoist_id"]
    built = Built("task")
    edits = [f for f in EDIT_FIELDS if f in changed]
    closing_recurring = "checked" in changed and canon["checked"] and canon["recurrence"]
    if closing_recurring and "due" in edits and base.get("recurrence") == canon["recurrence"]:
        edits = [f for f in edits if f != "due"]  # Todoist moves the date itself when it closes the task
    if edits:
        built.add(op, "item_update", {"id": task_id, **fields.task_args(canon, edits)}, {f: canon[f] for f in edits})
    if "project" in changed and (canon["project"] or inbox_id):
        built.add(
            op, "item_move", {"id": task_id, "project_id": canon["project"] or inbox_id}, {"project": canon["project"]}
        )
    if "checked" in changed:
        if canon["checked"] and canon["recurrence"]:
            built.add(op, "item_close", {"id": task_id}, {"checked": False, "due": UNKNOWN, "recurring_close": True})
        elif canon["checked"]:
            built.add(op, "item_close", {"id": task_id}, {"checked": True})
        else:
            built.add(op, "item_uncomplete", {"id": task_id}, {"checked": False})
    return built if built.commands else Skip("no_change")


def _project(op: dict[str, Any], item: dict[str, Any], link: dict[str, Any] | None) -> Built | Skip:
    built = Built("project")
    if op["operation"] == "delete" or item["deleted_at"] is not None or item["status"] == "dropped":
        if link is None:
            return Skip("nothing_to_delete")
        built.add(op, "project_delete", {"id": link["todoist_id"]}, {"deleted": True})
    elif link is None:
        built.add(op, "project_add", {"name": item["title"]}, {"content": item["title"]}, temp_id=op["temp_id"])
    elif (link["synced"] or {}).get("content") != item["title"]:
        built.add(op, "project_update", {"id": link["todoist_id"], "name": item["title"]}, {"content": item["title"]})
    else:
        return Skip("no_change")
    return built

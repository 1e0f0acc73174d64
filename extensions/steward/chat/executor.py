"""The deterministic executor: a confirmed draft's actions, applied all together or not at all.

The plan is checked against the policy again (policy.py), then every action is applied inside one
savepoint of the request's transaction: items and links through the items store (tasks reach the
Todoist outbox there), memories and facts through the memory service, and one event per action.
Any failure rolls all of it back and the user is told why. What was done is returned as the
draft's `result`, which is exactly what /undo needs to revert it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from steward.chat import policy
from steward.chat.actions import Action, ActionPlan, new_index
from steward.core.errors import ApiError
from steward.events import store as events
from steward.items import search
from steward.items import store as items
from steward.memory import facts, models, similar
from steward.memory import service as memory

SOURCE = "chat"
EVENT = {
    "create_item": "item_created",
    "update_item": "item_updated",
    "complete_item": "item_completed",
    "link_items": "items_linked",
    "remember": "memory_remembered",
    "schedule": "item_scheduled",
}
MEMORY_KIND = {"task": "task", "event": "event"}


class Refused(Exception):
    """The plan breaks the policy, or a store refused a value; nothing was applied."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class _Run:
    conn: psycopg.Connection
    rt: Any
    client_id: str
    draft: dict[str, Any]
    created: dict[int, str] = field(default_factory=dict)
    projects: dict[str, str] = field(default_factory=dict)
    applied: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def ref(self, ref: str | None) -> str:
        n = new_index(ref)
        return self.created[n] if n is not None else str(ref)

    def event(self, index: int, action_type: str, **payload: Any) -> None:
        """One event per applied action, embedded for similar-event search like any logged event."""
        row = events.append(
            self.conn,
            EVENT[action_type],
            SOURCE,
            self.client_id,
            {
                "draft_id": str(self.draft["id"]),
                "draft_short_id": self.draft["short_id"],
                "revision": self.draft["revision"],
                "action_index": index,
                **payload,
            },
        )
        similar.index_event(self.rt, row)  # best effort; `steward reindex` repairs a miss


def _project_id(run: _Run, name: str) -> str:
    key = name.strip().lower()
    if key not in run.projects:
        found = search.by_name(run.conn, run.client_id, "project", name.strip())
        if found is None:
            found = items.create_item(run.conn, run.client_id, source=SOURCE, type="project", title=name.strip())
            run.applied.append(
                {
                    "type": "create_item",
                    "item_id": str(found["id"]),
                    "item_type": "project",
                    "title": found["title"],
                    "after": snapshot(found),
                }
            )
            run.lines.append(f"Created project “{found['title']}”")
        run.projects[key] = str(found["id"])
    return run.projects[key]


def _fields(run: _Run, action: Action) -> dict[str, Any]:
    given = action.item.given() if action.item else {}
    project = given.pop("project", None)
    if project:
        given["project_id"] = _project_id(run, project)
    return given


def _remember_item(run: _Run, item: dict[str, Any]) -> tuple[str | None, bool]:
    """Items are remembered too, so memory's vector search finds them as likely duplicates later."""
    if item["type"] == "project":
        return None, False
    text = item["title"] + (f"\n{item['body']}" if item["body"] else "")
    out = memory.remember(
        run.conn,
        run.rt,
        client_id=run.client_id,
        text=text[:8000],
        kind=MEMORY_KIND.get(item["type"], "note"),
        metadata={"item_id": str(item["id"]), "item_type": item["type"]},
        provenance={"source": SOURCE, "draft_id": str(run.draft["id"])},
    )
    return str(out.id), not out.duplicate


def _create(run: _Run, index: int, action: Action) -> None:
    fields = _fields(run, action)
    fields.setdefault("type", "task")
    item = items.create_item(run.conn, run.client_id, source=SOURCE, **fields)
    run.created[index] = str(item["id"])
    memory_id, memory_new = _remember_item(run, item)
    run.applied.append(
        {
            "type": "create_item",
            "item_id": str(item["id"]),
            "item_type": item["type"],
            "title": item["title"],
            "after": snapshot(item),
            "memory_id": memory_id,
            "memory_new": memory_new,
        }
    )
    run.lines.append(f"Created {item['type']} “{item['title']}”")
    run.event(index, "create_item", item_id=str(item["id"]), item_type=item["type"], title=item["title"])


def _update(run: _Run, index: int, action: Action) -> None:
    item_id = run.ref(action.item_id)
    changes = _fields(run, action)
    before = items.require_item(run.conn, item_id, run.client_id)
    item = items.update_item(run.conn, item_id, run.client_id, changes, source=SOURCE)
    run.applied.append(
        {
            "type": action.type,
            "item_id": item_id,
            "title": item["title"],
            "before": {k: _jsonable(before[k]) for k in changes},
            "after": snapshot(item),
        }
    )
    verb = "Scheduled" if action.type == "schedule" else "Updated"
    run.lines.append(f"{verb} “{item['title']}”")
    run.event(index, action.type, item_id=item_id, title=item["title"], changed=sorted(changes))


def _complete(run: _Run, index: int, action: Action) -> None:
    item_id = run.ref(action.item_id)
    before = items.require_item(run.conn, item_id, run.client_id)
    item = items.complete_item(run.conn, item_id, run.client_id, source=SOURCE)
    run.applied.append(
        {
            "type": "complete_item",
            "item_id": item_id,
            "title": item["title"],
            "before": {"status": before["status"]},
            "after": snapshot(item),
        }
    )
    run.lines.append(f"Marked “{item['title']}” done")
    run.event(index, "complete_item", item_id=item_id, title=item["title"])


def _link(run: _Run, index: int, action: Action) -> None:
    source, target = run.ref(action.item_id), run.ref(action.target_id)
    link, made = items.link_items(run.conn, run.client_id, source, target, action.link_type or "relates_to")
    run.applied.append({"type": "link_items", "link_id": str(link["id"]), "created": made})
    run.lines.append(f"Linked two items ({link['link_type'].replace('_', ' ')})")
    run.event(
        index,
        "link_items",
        link_id=str(link["id"]),
        source_item_id=source,
        target_item_id=target,
        link_type=link["link_type"],
    )


def _remember(run: _Run, index: int, action: Action) -> None:
    provenance = {"source": SOURCE, "draft_id": str(run.draft["id"])}
    if action.fact is not None:
        fact = models.FactIn(
            client_id=run.client_id,
            subject=action.fact.subject,
            predicate=action.fact.predicate,
            object=action.fact.object,
            valid_from=None,
            single_valued=None,
            provenance=provenance,
        )
        asserted = facts.assert_fact(run.conn, run.rt, fact)
        known = asserted.fact
        run.applied.append(
            {
                "type": "remember",
                "fact_id": str(known.id),
                "memory_id": str(known.memory_id),
                "unchanged": asserted.unchanged,
                "superseded": [str(s) for s in asserted.superseded],
            }
        )
        run.lines.append(f"Remembered: {known.subject} {known.predicate.replace('_', ' ')} {known.object}")
        run.event(index, "remember", fact_id=str(known.id), subject=known.subject)
        return
    out = memory.remember(
        run.conn, run.rt, client_id=run.client_id, text=(action.text or "").strip(), kind="note", provenance=provenance
    )
    run.applied.append({"type": "remember", "memory_id": str(out.id), "duplicate": out.duplicate})
    run.lines.append(f"Remembered: “{out.text}”" + (" (already known)" if out.duplicate else ""))
    run.event(index, "remember", memory_id=str(out.id))


HANDLERS = {
    "create_item": _create,
    "update_item": _update,
    "schedule": _update,
    "complete_item": _complete,
    "link_items": _link,
    "remember": _remember,
}


def snapshot(item: dict[str, Any]) -> dict[str, Any]:
    """The item's editable state, as JSON: what /undo compares to tell if anything moved since."""
    return {name: _jsonable(item[name]) for name in sorted(items.EDITABLE)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if value is not None and not isinstance(value, str | int | float | bool | list | dict):
        return str(value)
    return value


def apply(
    conn: psycopg.Connection[Any], rt, client_id: str, draft: dict[str, Any], bulk_limit: int
) -> tuple[dict[str, Any], list[str]]:
    """Apply the draft's plan; returns (result for the draft row, lines for the user). Raises Refused."""
    plan = ActionPlan.model_validate(draft["plan"])
    problems = policy.check(conn, client_id, plan, bulk_limit)
    if problems:
        raise Refused([p.text() for p in problems])
    run = _Run(conn, rt, client_id, draft)
    try:
        with conn.transaction():
            for index, action in enumerate(plan.actions):
                HANDLERS[action.type](run, index, action)
    except ApiError as exc:
        raise Refused([exc.message]) from None
    return {"applied": run.applied}, run.lines

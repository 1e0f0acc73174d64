"""What the lint rules look at: one workflow file, the linted set around it, and the findings.

Kept apart from the rules so each rule reads as "given this workflow, what is wrong and how to fix it".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steward.workflows.node_types import NodeType

HTTP_REQUEST = "n8n-nodes-base.httpRequest"
WEBHOOK = "n8n-nodes-base.webhook"
ERROR_TRIGGER = "n8n-nodes-base.errorTrigger"

# The one base URL setting every Steward call starts with; n8n reads it from its environment.
STEWARD_BASE = "$env.STEWARD_BASE_URL"
STEWARD_URL = re.compile(r"^=\{\{\s*\$env\.STEWARD_BASE_URL\s*\}\}(?P<path>/[^?#]*)(?:\?(?P<query>[^#]*))?$")
# The Header Auth credential that carries Steward's API key.
STEWARD_CREDENTIAL_ID = "stewardApiKey"


@dataclass(frozen=True)
class Finding:
    path: str
    rule: str
    message: str  # what is wrong and how to fix it
    node: str | None = None

    def __str__(self) -> str:
        where = f" node {self.node!r}:" if self.node else ""
        return f"{self.path}:{where} [{self.rule}] {self.message}"


@dataclass
class Workflow:
    path: Path
    data: Any  # the parsed JSON; its shape is only trusted after the shape rule passed

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return self.data.get("nodes", [])

    @property
    def settings(self) -> dict[str, Any]:
        settings = self.data.get("settings")
        return settings if isinstance(settings, dict) else {}

    def nodes_of(self, node_type: str) -> Iterator[dict[str, Any]]:
        return (n for n in self.nodes if n.get("type") == node_type)

    def others(self, ctx: Context) -> Iterator[Workflow]:
        """The other workflows linted alongside this one."""
        here = self.path.resolve()
        return (wf for wf in ctx.workflows_by_id.values() if wf.path.resolve() != here)

    def has_error_trigger(self) -> bool:
        return any(True for _ in self.nodes_of(ERROR_TRIGGER))


@dataclass
class Context:
    """Everything rules may consult beyond the workflow itself."""

    openapi: dict[str, Any]
    node_types: dict[str, NodeType]
    node_types_source: str = ""
    workflows_by_id: dict[str, Workflow] = field(default_factory=dict)


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("=")


def walk_strings(value: Any, trail: str = "") -> Iterator[tuple[str, str, str]]:
    """(dotted path, last key, string) for every string inside a node's parameters."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from walk_strings(sub, f"{trail}.{key}" if trail else str(key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from walk_strings(sub, f"{trail}[{index}]")
    elif isinstance(value, str):
        yield trail, trail.rsplit(".", 1)[-1].split("[", 1)[0], value

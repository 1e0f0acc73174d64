"""The rule interface: given one workflow and the shared context, yield what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from steward.workflows.model import Context, Finding, Workflow


class Rule:
    id = ""

    def check(self, wf: Workflow, ctx: Context) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(self, wf: Workflow, message: str, node: dict[str, Any] | None = None) -> Finding:
        return Finding(str(wf.path), self.id, message, node.get("name") if node else None)

"""Rules on the workflow as n8n stores it: shape, node types, connections, settings."""

from __future__ import annotations

from typing import Any

from steward.workflows.model import (
    Finding,
)
from steward.workflows.rules.base import Rule


class Shape(Rule):
    """The keys `n8n import:workflow` and the repo conventions need (N8N_FACTS 1.1)."""

    id = "shape"

    def check(self, wf, ctx):
        data = wf.data
        if not isinstance(data, dict):
            yield self.finding(wf, "the file must hold one workflow object (not an array); export with --separate")
            return
        wid, name = data.get("id"), data.get("name")
        if not isinstance(wid, str) or not 1 <= len(wid) <= 21:
            yield self.finding(
                wf,
                f"id {wid!r} must be a string of 1 to 21 characters (n8n rejects longer ids); "
                'use the file\'s stem, e.g. "event-logger"',
            )
        if not isinstance(name, str) or not 1 <= len(name) <= 128:
            yield self.finding(wf, "name must be a string of 1 to 128 characters")
        if not isinstance(data.get("nodes"), list) or not isinstance(data.get("connections"), dict):
            yield self.finding(wf, 'needs "nodes" (a list) and "connections" (an object)')
            return
        seen: set[str] = set()
        for index, node in enumerate(data["nodes"]):
            label = node.get("name") if isinstance(node, dict) else None
            problems = self._node_problems(node)
            if problems:
                yield Finding(str(wf.path), self.id, f"node #{index}: {'; '.join(problems)}", label)
            elif label in seen:
                yield Finding(
                    str(wf.path), self.id, "two nodes share this name; rename one (connections use names)", label
                )
            if isinstance(label, str):
                seen.add(label)

    @staticmethod
    def _node_problems(node: Any) -> list[str]:
        if not isinstance(node, dict):
            return ["must be an object"]
        problems = []
        if not isinstance(node.get("name"), str) or not node["name"]:
            problems.append('needs a non-empty "name"')
        if not isinstance(node.get("type"), str) or not node["type"]:
            problems.append('needs a "type" such as "n8n-nodes-base.httpRequest"')
        if not isinstance(node.get("typeVersion"), int | float) or isinstance(node.get("typeVersion"), bool):
            problems.append('needs a numeric "typeVersion"')
        pos = node.get("position")
        if not (isinstance(pos, list) and len(pos) == 2 and all(isinstance(p, int | float) for p in pos)):
            problems.append('needs "position": [x, y]')
        if not isinstance(node.get("parameters", {}), dict):
            problems.append('"parameters" must be an object')
        return problems


class NodeTypes(Rule):
    id = "node-type"

    def check(self, wf, ctx):
        for node in wf.nodes:
            known = ctx.node_types.get(node["type"])
            if known is None:
                if node["type"].startswith("n8n-nodes-base."):
                    yield self.finding(
                        wf,
                        f"type {node['type']!r} is not in {ctx.node_types_source}; "
                        "check the spelling (case matters) against the node list",
                        node,
                    )
                else:
                    yield self.finding(
                        wf,
                        f"type {node['type']!r} is not from n8n-nodes-base; use a built-in node "
                        "(community and AI packages are not installed here)",
                        node,
                    )
            elif float(node["typeVersion"]) not in known.versions:
                versions = ", ".join(f"{v:g}" for v in known.versions)
                yield self.finding(
                    wf,
                    f"typeVersion {node['typeVersion']} of {node['type']} does not exist; use one of {versions}",
                    node,
                )


class Connections(Rule):
    id = "connections"

    def check(self, wf, ctx):
        names = {n["name"] for n in wf.nodes}
        for source, outputs in wf.data["connections"].items():
            if source not in names:
                yield self.finding(
                    wf,
                    f"connections start from {source!r}, which is not a node; rename the key to an "
                    "existing node name (connections use names, not ids)",
                )
            for kind, branches in outputs.items() if isinstance(outputs, dict) else []:
                for branch in branches or []:
                    for link in branch or []:
                        target = link.get("node") if isinstance(link, dict) else None
                        if target not in names:
                            yield self.finding(
                                wf,
                                f"{source!r} connects ({kind}) to {target!r}, which is not a node; "
                                "point it at an existing node name",
                            )
                        elif not isinstance(link.get("index"), int) or link.get("type") != kind:
                            yield self.finding(
                                wf, f'link {source!r} -> {target!r} needs {{"node", "type": "{kind}", "index": 0}}'
                            )


class ExecutionOrder(Rule):
    id = "execution-order"

    def check(self, wf, ctx):
        if wf.settings.get("executionOrder") != "v1":
            yield self.finding(
                wf, 'set "settings": {"executionOrder": "v1"}; without it n8n runs the legacy v0 branch order'
            )


class ErrorWorkflow(Rule):
    id = "error-workflow"

    def check(self, wf, ctx):
        target = wf.settings.get("errorWorkflow")
        if wf.has_error_trigger():
            if target:
                yield self.finding(
                    wf,
                    "an error workflow must not name an error workflow (a failure would loop); "
                    "remove settings.errorWorkflow",
                )
            return
        if not target:
            yield self.finding(wf, 'set settings.errorWorkflow to "error-alert" so failures reach the operator')
        elif target not in ctx.workflows_by_id:
            yield self.finding(
                wf, f'settings.errorWorkflow {target!r} is not a workflow in this directory; use "error-alert"'
            )
        elif not ctx.workflows_by_id[target].has_error_trigger():
            yield self.finding(
                wf, f'settings.errorWorkflow {target!r} has no Error Trigger node; point it at "error-alert"'
            )

"""Rules for webhook nodes: fixed ids, unique paths, authentication."""

from __future__ import annotations

import uuid
from typing import Any

from steward.workflows.model import (
    WEBHOOK,
    Context,
)
from steward.workflows.rules.base import Rule


def _registers_webhook(node: dict[str, Any], ctx: Context) -> bool:
    known = ctx.node_types.get(node["type"])
    if known is None or not known.webhook:
        return False
    return known.trigger or node.get("parameters", {}).get("operation") == "sendAndWait"


class WebhookIds(Rule):
    """CLI import does not assign webhookIds, and a missing one changes the URL (N8N_FACTS 1.1)."""

    id = "webhook-id"

    def check(self, wf, ctx):
        for node in wf.nodes:
            if not _registers_webhook(node, ctx):
                continue
            value = node.get("webhookId")
            try:
                uuid.UUID(str(value))
            except ValueError:
                yield self.finding(
                    wf,
                    f'needs a fixed "webhookId" (a UUID, e.g. "{uuid.uuid4()}"); without one '
                    "the CLI import registers the webhook under a different URL",
                    node,
                )
                continue
            for other in wf.others(ctx):
                if any(n.get("webhookId") == value for n in other.nodes):
                    yield self.finding(
                        wf,
                        f"webhookId {value} is also used in {other.path.name}; give each webhook node its own UUID",
                        node,
                    )


class WebhookPaths(Rule):
    """Two published workflows cannot listen on the same method and path."""

    id = "webhook-path"

    def check(self, wf, ctx):
        for node in wf.nodes_of(WEBHOOK):
            key = _method_path(node)
            for other in wf.others(ctx):
                if any(_method_path(n) == key for n in other.nodes_of(WEBHOOK)):
                    yield self.finding(
                        wf, f"{key[0]} /webhook/{key[1]} is also served by {other.path.name}; pick another path", node
                    )


def _method_path(node: dict[str, Any]) -> tuple[str, str]:
    params = node.get("parameters", {})
    return str(params.get("httpMethod", "GET")), str(params.get("path", "")).strip("/")


class WebhookAuth(Rule):
    id = "webhook-auth"
    CREDENTIAL = {"headerAuth": "httpHeaderAuth", "basicAuth": "httpBasicAuth", "jwtAuth": "jwtAuth"}

    def check(self, wf, ctx):
        for node in wf.nodes_of(WEBHOOK):
            method = node.get("parameters", {}).get("authentication", "none")
            needed = self.CREDENTIAL.get(method)
            if needed is None:
                yield self.finding(
                    wf,
                    'the webhook is open to anyone; set "authentication": "headerAuth" and '
                    'reference the "Steward webhook token" credential',
                    node,
                )
            elif needed not in node.get("credentials", {}):
                yield self.finding(
                    wf,
                    f"authentication is {method!r} but no {needed!r} credential is referenced; "
                    f'add "credentials": {{"{needed}": {{"id": ..., "name": ...}}}}',
                    node,
                )

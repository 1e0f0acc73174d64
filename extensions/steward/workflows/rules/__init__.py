"""The workflow lint rules: small objects, each checking one thing and saying how to fix it.

A rule gets one parsed workflow and the shared `Context` (Steward's OpenAPI document, the pinned
node types, the other workflows linted alongside) and yields `Finding`s. `SHAPE` runs first; the
other rules only see workflows whose shape is sound. Add a rule by subclassing `Rule` in the module
for its topic and listing it in `RULES`.
"""

from __future__ import annotations

from steward.workflows.rules.base import Rule
from steward.workflows.rules.secrets import NoSecrets
from steward.workflows.rules.steward import (
    HttpRetry,
    StewardAuth,
    StewardBaseUrl,
    StewardBody,
    StewardIdempotency,
    StewardRoute,
    steward_call,
)
from steward.workflows.rules.structure import Connections, ErrorWorkflow, ExecutionOrder, NodeTypes, Shape
from steward.workflows.rules.webhooks import WebhookAuth, WebhookIds, WebhookPaths

SHAPE = Shape()
RULES: list[Rule] = [
    NodeTypes(),
    Connections(),
    WebhookIds(),
    WebhookPaths(),
    WebhookAuth(),
    NoSecrets(),
    ExecutionOrder(),
    ErrorWorkflow(),
    HttpRetry(),
    StewardBaseUrl(),
    StewardAuth(),
    StewardRoute(),
    StewardBody(),
    StewardIdempotency(),
]

__all__ = ["RULES", "SHAPE", "Rule", "steward_call"]

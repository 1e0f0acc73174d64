"""No secrets in workflow JSON: they live in n8n's credential store, created from the environment."""

from __future__ import annotations

import re

from steward.workflows.model import (
    is_expression,
    walk_strings,
)
from steward.workflows.rules.base import Rule

_SECRET_VALUES = [
    ("a Telegram bot token", re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}")),
    ("a Steward API key", re.compile(r"\bstw_[0-9a-f]{8}_[A-Za-z0-9_-]{16,}")),
    ("an OpenAI-style key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}")),
    ("a JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")),
    ("a Google token or key", re.compile(r"\bya29\.[A-Za-z0-9_-]{20,}|\bAIza[0-9A-Za-z_-]{35}")),
    ("an AWS access key", re.compile(r"\bAKIA[0-9A-Z]{16}\b")),
    ("a GitHub or Slack token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{16,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("a password in a URL", re.compile(r"://[^/\s:@{}]+:[^/\s@{}]+@")),
]
_SECRET_NAME = re.compile(
    r"pass(word|wd)?$|secret|token|api[-_]?key|apikey|access[-_]?key|authorization|^cookie$", re.I
)


class NoSecrets(Rule):
    """Secrets live in n8n's encrypted credential store, created from the environment at deploy time."""

    id = "no-secrets"

    def check(self, wf, ctx):
        for node in wf.nodes:
            for ctype, ref in (node.get("credentials") or {}).items():
                if not isinstance(ref, dict) or set(ref) - {"id", "name"}:
                    yield self.finding(
                        wf,
                        f'credential {ctype!r} must be a reference {{"id", "name"}} only; '
                        "put the secret in n8n/credentials.template.json as an ${ENV} value",
                        node,
                    )
            yield from self._scan(wf, node.get("parameters", {}), node)
        for key in ("pinData", "staticData"):
            yield from self._scan(wf, wf.data.get(key) or {}, None)

    def _scan(self, wf, value, node):
        for trail, key, text in walk_strings(value):
            for label, pattern in _SECRET_VALUES:
                if pattern.search(text):
                    yield self.finding(
                        wf,
                        f"{trail} holds what looks like {label}; move it into a credential "
                        "(n8n/credentials.template.json) and reference that",
                        node,
                    )
                    break
            else:
                if _SECRET_NAME.search(key) and text and not is_expression(text):
                    yield self.finding(wf, f"{trail} is a literal secret; reference a credential instead", node)
        yield from self._named_values(wf, value, node)

    def _named_values(self, wf, value, node):
        """`{"name": "Authorization", "value": "..."}` pairs, as in header parameters."""
        if isinstance(value, dict):
            name, literal = value.get("name"), value.get("value")
            if (
                isinstance(name, str)
                and _SECRET_NAME.search(name)
                and isinstance(literal, str)
                and literal
                and not is_expression(literal)
                and name.lower() != "idempotency-key"
            ):
                yield self.finding(
                    wf,
                    f"the {name!r} value is a literal secret; use the Header Auth credential "
                    "instead of a header parameter",
                    node,
                )
            for sub in value.values():
                yield from self._named_values(wf, sub, node)
        elif isinstance(value, list):
            for sub in value:
                yield from self._named_values(wf, sub, node)

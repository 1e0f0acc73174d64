"""Rules for HTTP Request nodes, and for calls to Steward checked against its /openapi.json."""

from __future__ import annotations

import re
from typing import Any

from steward.workflows import contract
from steward.workflows.model import (
    HTTP_REQUEST,
    STEWARD_CREDENTIAL_ID,
    STEWARD_URL,
    Finding,
    is_expression,
)
from steward.workflows.rules.base import Rule


class HttpRetry(Rule):
    """Transient failures (a restart, a 503) are retried by n8n itself; the engine clamps the values."""

    id = "http-retry"

    def check(self, wf, ctx):
        for node in wf.nodes_of(HTTP_REQUEST):
            tries, wait = node.get("maxTries", 3), node.get("waitBetweenTries", 1000)
            if node.get("retryOnFail") is not True or not 2 <= tries <= 5 or not 0 < wait <= 5000:
                yield self.finding(
                    wf,
                    'HTTP Request nodes retry: set "retryOnFail": true, "maxTries": 3, '
                    '"waitBetweenTries": 1000 (node settings, next to "parameters")',
                    node,
                )


def steward_call(node: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(method, path, query) of an HTTP Request to Steward, else None."""
    if node.get("type") != HTTP_REQUEST:
        return None
    match = STEWARD_URL.match(str(node.get("parameters", {}).get("url", "")))
    if match is None:
        return None
    return str(node["parameters"].get("method", "GET")).upper(), match["path"], match["query"]


class StewardBaseUrl(Rule):
    id = "steward-base-url"
    HARDCODED = re.compile(r"//(127\.0\.0\.1|localhost|steward)(:\d+)?/api/v1/")

    def check(self, wf, ctx):
        for node in wf.nodes_of(HTTP_REQUEST):
            url = str(node.get("parameters", {}).get("url", ""))
            if steward_call(node) is None and ("STEWARD_BASE_URL" in url or self.HARDCODED.search(url)):
                yield self.finding(
                    wf,
                    'write Steward URLs as "={{ $env.STEWARD_BASE_URL }}/api/v1/..." (the one '
                    "base URL setting), with no other expression before the path",
                    node,
                )


class StewardAuth(Rule):
    id = "steward-auth"

    def check(self, wf, ctx):
        for node in wf.nodes_of(HTTP_REQUEST):
            if steward_call(node) is None:
                continue
            params, cred = node["parameters"], node.get("credentials", {}).get("httpHeaderAuth", {})
            if (
                params.get("authentication") != "genericCredentialType"
                or params.get("genericAuthType") != "httpHeaderAuth"
                or cred.get("id") != STEWARD_CREDENTIAL_ID
            ):
                yield self.finding(
                    wf,
                    'authenticate Steward calls with "authentication": "genericCredentialType", '
                    '"genericAuthType": "httpHeaderAuth" and the credential '
                    f'{{"id": "{STEWARD_CREDENTIAL_ID}", "name": "Steward API key"}}',
                    node,
                )


class StewardRoute(Rule):
    """Each call hits a route and method of /openapi.json, with only the query parameters it declares."""

    id = "steward-route"

    def check(self, wf, ctx):
        for node in wf.nodes:
            call = steward_call(node)
            if call is None:
                continue
            op = contract.find_operation(ctx.openapi, call[0], call[1])
            if isinstance(op, str):
                yield self.finding(wf, op, node)
                continue
            declared = op.parameters("query")
            names = contract.query_names(call[2]) + _keypair_names(node["parameters"], "sendQuery", "queryParameters")
            for name in names:
                if name not in declared:
                    allowed = ", ".join(declared) or "none"
                    yield self.finding(
                        wf,
                        f"query parameter {name!r} is not declared by {call[0]} {op.path} (allowed: {allowed})",
                        node,
                    )
            if node["parameters"].get("specifyQuery") != "json":
                for name, param in declared.items():
                    if param.get("required") and name not in names:
                        yield self.finding(wf, f"{call[0]} {op.path} needs the query parameter {name!r}", node)


def _keypair_names(params: dict[str, Any], flag: str, key: str) -> list[str]:
    if not params.get(flag):
        return []
    return [str(p.get("name", "")) for p in params.get(key, {}).get("parameters", []) if isinstance(p, dict)]


class StewardBody(Rule):
    """A literal or templated JSON body must validate against the operation's request schema."""

    id = "steward-body"

    def check(self, wf, ctx):
        for node in wf.nodes:
            call = steward_call(node)
            if call is None:
                continue
            op = contract.find_operation(ctx.openapi, call[0], call[1])
            if isinstance(op, str):
                continue  # steward-route reports it
            schema, params = op.body_schema(), node["parameters"]
            if schema is None:
                if params.get("sendBody"):
                    yield self.finding(wf, f'{call[0]} {op.path} takes no body; turn off "Send Body"', node)
                continue
            if not params.get("sendBody"):
                yield self.finding(wf, f'{call[0]} {op.path} needs a JSON body; set "sendBody": true', node)
                continue
            body = self._body(wf, node, params)
            if isinstance(body, Finding):
                yield body
            elif body is not None:
                for problem in contract.body_problems(ctx.openapi, schema, body):
                    yield self.finding(wf, f"body does not fit {call[0]} {op.path}: {problem}", node)

    def _body(self, wf, node, params) -> Any:
        """The body with expressions as placeholders, None when it is computed, or a Finding."""
        if params.get("contentType", "json") != "json":
            return self.finding(wf, 'Steward takes JSON; set "contentType": "json"', node)
        if params.get("specifyBody", "keypair") == "keypair":
            pairs = params.get("bodyParameters", {}).get("parameters", [])
            return {
                p["name"]: (contract.EXPR if is_expression(p.get("value")) else p.get("value"))
                for p in pairs
                if isinstance(p, dict) and p.get("name")
            }
        text = params.get("jsonBody", "")
        if isinstance(text, str) and text.startswith("="):
            text = text[1:]
            if text.lstrip().startswith("{{"):
                return None  # a whole expression such as {{ JSON.stringify($json) }}: known only at run time
        try:
            return contract.fill_template(text) if isinstance(text, str) else text
        except ValueError as exc:
            return self.finding(
                wf,
                f"jsonBody is not valid JSON once its {{{{ }}}} expressions are filled in "
                f"({exc}); fix the quotes and commas",
                node,
            )


class StewardIdempotency(Rule):
    """n8n retries and redeliveries must not write twice: writes carry an Idempotency-Key."""

    id = "steward-idempotency"

    def check(self, wf, ctx):
        for node in wf.nodes:
            call = steward_call(node)
            if call is None or call[0] not in ("POST", "PUT", "PATCH", "DELETE"):
                continue
            op = contract.find_operation(ctx.openapi, call[0], call[1])
            if isinstance(op, str) or "Idempotency-Key" not in op.parameters("header"):
                continue
            headers = [n.lower() for n in _keypair_names(node["parameters"], "sendHeaders", "headerParameters")]
            if "idempotency-key" not in headers:
                yield self.finding(
                    wf,
                    'send an "Idempotency-Key" header derived from the execution and item, e.g. '
                    '"=n8n-{{ $workflow.id }}-{{ $execution.id }}-{{ $itemIndex }}"',
                    node,
                )

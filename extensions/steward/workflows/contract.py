"""Steward's side of a workflow's HTTP call: which OpenAPI operation it hits and whether its body fits.

n8n builds URLs and bodies from expressions (`{{ ... }}`) that only have values at run time. A path
segment holding an expression matches any path parameter, and a body that is JSON with expressions
inside (a "simple template") is parsed with each expression standing in for an unknown value: the
keys, the required fields and every literal value are still checked against the request schema.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

EXPR = "__n8n_expression__"
_EXPRESSION = re.compile(r"\{\{.*?\}\}", re.S)


@dataclass(frozen=True)
class Operation:
    path: str  # the OpenAPI path template, e.g. /api/v1/planner/plans/{plan_id}
    method: str
    spec: dict[str, Any]

    def parameters(self, location: str) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.spec.get("parameters", []) if p.get("in") == location}

    def body_schema(self) -> dict[str, Any] | None:
        content = self.spec.get("requestBody", {}).get("content", {})
        return content.get("application/json", {}).get("schema")


def _segments(path: str) -> list[str]:
    return [s for s in path.strip("/").split("/") if s]


def _matches(template: str, path: str) -> bool:
    want, have = _segments(template), _segments(path)
    if len(want) != len(have):
        return False
    for expected, actual in zip(want, have, strict=True):
        if expected.startswith("{") and expected.endswith("}"):
            continue  # a path parameter takes any literal or expression
        if EXPR in actual or "{{" in actual or expected != actual:
            return False
    return True


def find_operation(openapi: dict[str, Any], method: str, path: str) -> Operation | str:
    """The operation a call hits, or a message saying why none does and what is close."""
    paths = openapi.get("paths", {})
    method = method.lower()
    for template, operations in paths.items():
        if _matches(template, path):
            if method in operations:
                return Operation(template, method, operations[method])
            allowed = ", ".join(m.upper() for m in operations if m in ("get", "post", "put", "patch", "delete"))
            return f"{template} exists but has no {method.upper()} (it allows {allowed}); change the node's method"
    near = difflib.get_close_matches(_EXPRESSION.sub("{id}", path), list(paths), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(near)}?" if near else "; see GET /openapi.json for the routes"
    return f"{method.upper()} {path} is not a Steward route{hint}"


def fill_template(text: str) -> Any:
    """Parse JSON that holds `{{ }}` expressions, each replaced by a placeholder. Raises ValueError."""
    out, in_string, escaped, i = [], False, False, 0
    while i < len(text):
        if text.startswith("{{", i):
            end = text.find("}}", i + 2)
            if end < 0:
                raise ValueError("an expression opened with {{ is never closed with }}")
            out.append(EXPR if in_string else json.dumps(EXPR))
            i = end + 2
            continue
        char = text[i]
        if in_string and not escaped and char == '"':
            in_string = False
        elif not in_string and char == '"':
            in_string = True
        escaped = in_string and not escaped and char == "\\"
        out.append(char)
        i += 1
    return json.loads("".join(out))


def _unknown(error: ValidationError) -> bool:
    """True when the error may vanish once n8n fills in an expression."""
    if isinstance(error.instance, str) and EXPR in error.instance:
        return True
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        return any(all(_unknown(sub) for sub in subs) for subs in branches.values())
    return False


def body_problems(openapi: dict[str, Any], schema: dict[str, Any], body: Any) -> list[str]:
    """Schema violations in a body whose expression values are unknown; [] when it fits."""
    root = {**schema, "components": openapi.get("components", {})}
    validator = Draft202012Validator(root)
    problems = []
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        if _unknown(error):
            continue
        where = ".".join(str(p) for p in error.absolute_path) or "body"
        problems.append(f"{where}: {error.message}")
    return problems


def query_names(url_query: str | None) -> list[str]:
    return [name for name, _ in parse_qsl(url_query or "", keep_blank_values=True)]

"""`/openapi.json`, generated from the same endpoint declarations and pydantic models that
validate requests, so the document cannot drift from the code."""

from __future__ import annotations

import re
from typing import Any, Literal

from flask import Flask
from pydantic import BaseModel

from steward.core.api import EndpointSpec, spec_of

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
                    },
                },
            },
        }
    },
}

SchemaMode = Literal["validation", "serialization"]
_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>")
_PARAM_SCHEMAS = {"int": {"type": "integer"}, "uuid": {"type": "string", "format": "uuid"}}


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(self, model: type[BaseModel], mode: SchemaMode = "validation") -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        for name, sub in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, sub)
        self.schemas.setdefault(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def _path_and_params(rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = []
    for match in _CONVERTER.finditer(rule):
        params.append(
            {
                "name": match["name"],
                "in": "path",
                "required": True,
                "schema": _PARAM_SCHEMAS.get(match["conv"] or "", {"type": "string"}),
            }
        )
    return _CONVERTER.sub(lambda m: "{" + m["name"] + "}", rule), params


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        params.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _absent_not_null(prop),
                **({"description": prop["description"]} if "description" in prop else {}),
            }
        )
    return params


def _absent_not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query string cannot say null: an optional parameter is left out instead, so its schema
    drops the `null` branch (and a `null` default) that the model's `X | None` adds."""
    options = prop.get("anyOf", [])
    if {"type": "null"} not in options:
        return prop
    rest = [o for o in options if o != {"type": "null"}]
    out = {k: v for k, v in prop.items() if k != "anyOf" and not (k == "default" and v is None)}
    return {**rest[0], **out} if len(rest) == 1 else {**out, "anyOf": rest}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _operation(spec: EndpointSpec, method: str, components: _Components, path_params: list) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": spec.summary, "tags": spec.tags, "parameters": list(path_params)}
    if spec.query is not None:
        op["parameters"] += _query_params(spec.query)
    if spec.idempotent and method in ("post", "put", "patch", "delete"):
        op["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 255},
                "description": "A repeat with the same key returns the first response and writes nothing new.",
            }
        )
    if spec.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": components.ref(spec.body)}}}
    ok: dict[str, Any] = {"description": "OK"}
    if spec.response is not None:
        ok["content"] = {spec.content_type: {"schema": components.ref(spec.response, mode="serialization")}}
    elif spec.content_type != "application/json":
        ok["content"] = {spec.content_type: {"schema": {"type": "string"}}}
    op["responses"] = {str(spec.status): ok}
    if spec.body is not None or spec.query is not None or path_params:
        op["responses"]["400"] = _error("Invalid input; details name each field")
    if path_params:
        op["responses"]["404"] = _error("Not found")
    if spec.scope is not None:
        op["security"] = [{"ApiKey": []}, {"Bearer": []}]
        op["responses"]["401"] = _error("Missing or invalid API key")
        op["responses"]["403"] = _error(f"The key lacks the '{spec.scope}' scope")
        op["responses"]["429"] = _error("Too many invalid API keys from this address; see Retry-After")
    _plumbing_responses(spec, op)
    for status, declared in spec.responses.items():
        description, model = declared if isinstance(declared, tuple) else (declared, None)
        if str(status) in op["responses"]:
            op["responses"][str(status)]["description"] += f"; {description}"
        elif model is not None:
            content = {"application/json": {"schema": components.ref(model, mode="serialization")}}
            op["responses"][str(status)] = {"description": description, "content": content}
        elif status < 400:
            op["responses"][str(status)] = {**ok, "description": description}
        else:
            op["responses"][str(status)] = _error(description)
    op["x-steward-scope"] = spec.scope or "public"
    return op


def _plumbing_responses(spec: EndpointSpec, op: dict[str, Any]) -> None:
    """The errors every route of a kind can answer, whatever its view does."""
    responses = op["responses"]
    if spec.body is not None:
        responses["413"] = _error("The body is larger than STEWARD_MAX_BODY_BYTES; nothing was read")
    if any(p["name"] == "Idempotency-Key" for p in op["parameters"]):
        responses.setdefault("409", _error("A request with this Idempotency-Key is still running; see Retry-After"))
        responses.setdefault("422", _error("This Idempotency-Key was first used for a different request"))
    if spec.scope is not None:
        responses["503"] = _error("The database is unavailable; nothing was written, see Retry-After")


def build_openapi(app: Flask) -> dict[str, Any]:
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        spec = spec_of(app.view_functions.get(rule.endpoint))
        if spec is None:
            continue
        path, params = _path_and_params(rule.rule)
        for method in spec.methods:
            paths.setdefault(path, {})[method.lower()] = _operation(spec, method.lower(), components, params)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Steward API",
            "version": app.config.get("STEWARD_VERSION", "0.1.0"),
            "description": "Planning and memory services called by n8n. Errors use one JSON envelope. "
            "String values are trimmed of surrounding whitespace before they are validated and stored.",
        },
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }

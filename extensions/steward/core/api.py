"""`endpoint`: declare a route once, with the models that validate it and document it.

Each view is registered with its body and query models, its response model and the scope it
needs. The same declaration drives request validation (400 with field paths), the auth check,
`Idempotency-Key` handling and `/openapi.json`, so the three can never disagree.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, get_args, get_origin

from flask import Blueprint, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from pydantic import BaseModel, ConfigDict, ValidationError

from steward.core.errors import ValidationFailed

Scope = Literal["read", "write", "admin"]


class StrictModel(BaseModel):
    """Request models reject unknown fields, so a typo is an error rather than silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


@dataclass
class EndpointSpec:
    """What the auth check, the validator and the OpenAPI builder know about one view."""

    methods: list[str]
    scope: Scope | None
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    idempotent: bool = False
    tags: list[str] = field(default_factory=list)
    content_type: str = "application/json"
    # Statuses the view itself may answer besides `status` and what the plumbing adds (400 for bad
    # input, 401/403/429 for keys, 404 for path ids, 409/422 for Idempotency-Key, 413, 503), each
    # with why: an alternative success (same response model) or an error (the error envelope), or
    # with why and the model its body follows.
    responses: dict[int, str | tuple[str, type[BaseModel]]] = field(default_factory=dict)


def spec_of(view: Callable[..., Any] | None) -> EndpointSpec | None:
    return getattr(view, "endpoint_spec", None)


def _query_dict(model: type[BaseModel]) -> dict[str, Any]:
    """Query arguments as a dict; list fields accept `a,b` or repeated keys."""
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        if any("\x00" in v for v in values):
            raise ValidationFailed.field(key, "contains a NUL (\\u0000) character")
        info = model.model_fields.get(key)
        annotation = info.annotation if info else None
        if annotation is not None and _is_list(annotation):
            # An empty entry (`kinds=` or `a,,b`) is kept, so the model refuses it rather than it
            # silently meaning "no filter".
            data[key] = [v.strip() for value in values for v in value.split(",")]
        else:
            data[key] = values[-1]
    return data


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    return any(get_origin(arg) is list for arg in get_args(annotation))


def _parse_body(model: type[BaseModel]) -> BaseModel:
    raw = request.get_data(cache=True)
    if not raw.strip():
        payload: Any = {}
    else:
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValidationFailed.field("body", f"malformed JSON ({exc}); send a JSON object") from None
    if not isinstance(payload, dict):
        raise ValidationFailed.field("body", "must be a JSON object")
    nul_at = _find_nul(payload, "")
    if nul_at is not None:
        raise ValidationFailed.field(
            nul_at or "body",
            "contains a NUL (\\u0000) or a lone surrogate (\\ud800-\\udfff) character, which cannot be stored",
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from None


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _find_nul(value: Any, path: str) -> str | None:
    """The path of the first string (key or value) holding a NUL character, which Postgres refuses,
    or a lone surrogate (JSON can escape one, `\\ud800`), which is not UTF-8 and cannot be stored."""
    if isinstance(value, str):
        return path if _UNSTORABLE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if _UNSTORABLE.search(str(key)):
                return child
            found = _find_nul(item, child)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def parse_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(_query_dict(model))
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc) from None


class IsoJSONProvider(DefaultJSONProvider):
    """Flask writes datetimes as HTTP dates ("Sat, 21 Nov 2026 14:13:26 GMT"); the contract is ISO 8601
    with an offset, so a time a view returns inside a plain dict reads the same as one from a model."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, date | datetime):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def to_response(result: Any, status: int) -> Response:
    """Serialise what a view returned: a model, a dict, a (value, status) pair or a Response."""
    if isinstance(result, Response):
        return result
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    resp = jsonify(result)
    resp.status_code = status
    return resp


def endpoint(
    bp: Blueprint,
    rule: str,
    *,
    methods: list[str],
    scope: Scope | None,
    summary: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    idempotent: bool | None = None,
    content_type: str = "application/json",
    responses: dict[int, str | tuple[str, type[BaseModel]]] | None = None,
):
    """Register a view on `bp`; the view receives `body=` and/or `query=` as validated models.

    `scope=None` marks a public route (health only). Writes are idempotent by default.
    """
    writes = any(m in ("POST", "PUT", "PATCH", "DELETE") for m in methods)
    spec = EndpointSpec(
        methods=methods,
        scope=scope,
        summary=summary,
        body=body,
        query=query,
        response=response,
        status=status,
        idempotent=writes if idempotent is None else idempotent,
        tags=[bp.name],
        content_type=content_type,
        responses=dict(responses or {}),
    )

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(**path_args: Any) -> Response:
            kwargs: dict[str, Any] = dict(path_args)
            if query is not None:
                kwargs["query"] = parse_query(query)
            if body is not None:
                kwargs["body"] = _parse_body(body)
            if spec.idempotent and request.headers.get("Idempotency-Key"):
                from steward.core.idempotency import run_idempotent

                return run_idempotent(lambda: to_response(view(**kwargs), status))
            return to_response(view(**kwargs), status)

        wrapper.endpoint_spec = spec  # type: ignore[attr-defined]
        bp.add_url_rule(rule, view_func=wrapper, methods=methods)
        return wrapper

    return decorate


def current_client_scope() -> str | None:
    """The API key id of the caller, for per-key bookkeeping such as idempotency."""
    key = g.get("api_key")
    return key.id if key else None

"""The one JSON error envelope, and the handlers that put every failure into it.

    ApiError                      a deliberate 4xx/5xx with a code, message and field details
     ├─ ValidationFailed          400 validation_error, built from pydantic errors
     ├─ NotFound                  404 not_found
     └─ Conflict                  409 conflict
    werkzeug HTTPException        404/405/413... mapped to the envelope
    psycopg.OperationalError      503 database_unavailable, with Retry-After
    anything else                 500 internal_error, logged with its trace, never sent

Body: {"error": {"code": "...", "message": "...", "details": [{"field": "...", "problem": "..."}]}}
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status or self.status
        self.code = code or self.code
        self.details = details or []
        self.headers = headers or {}


class ValidationFailed(ApiError):
    status = 400
    code = "validation_error"

    @classmethod
    def from_pydantic(cls, exc: ValidationError, prefix: str = "") -> ValidationFailed:
        details = [{"field": _field_path(err["loc"], prefix), "problem": err["msg"]} for err in exc.errors()]
        first = details[0] if details else {"field": prefix or "body", "problem": "invalid"}
        return cls(f"{first['field']}: {first['problem']}", details=details)

    @classmethod
    def field(cls, field: str, problem: str, status: int = 400) -> ValidationFailed:
        return cls(f"{field}: {problem}", details=[{"field": field, "problem": problem}], status=status)


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


def _field_path(loc: tuple[Any, ...], prefix: str) -> str:
    parts = [prefix] if prefix else []
    parts += [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def error_response(status: int, code: str, message: str, details: list[dict[str, str]] | None = None):
    body: dict[str, Any] = {"error": {"code": code, "message": message, "details": details or []}}
    return jsonify(body), status


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "rate_limited",
}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        resp, status = error_response(exc.status, exc.code, exc.message, exc.details)
        for key, value in exc.headers.items():
            resp.headers[key] = value
        return resp, status

    @app.errorhandler(ValidationError)
    def _pydantic_error(exc: ValidationError):
        return _api_error(ValidationFailed.from_pydantic(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            message = f"request body is larger than the limit of {limit} bytes; send a smaller body"
        if status == 405:
            allowed = ", ".join(sorted(exc.valid_methods or [])) if hasattr(exc, "valid_methods") else ""
            message = f"method not allowed here; allowed: {allowed}" if allowed else message
        resp, code = error_response(status, _HTTP_CODES.get(status, "http_error"), message)
        valid_methods = getattr(exc, "valid_methods", None)
        if status == 405 and valid_methods:
            resp.headers["Allow"] = ", ".join(sorted(valid_methods))
        return resp, code

    @app.errorhandler(psycopg.DataError)
    def _bad_value(exc: psycopg.DataError):
        log.info("value refused by the database: %s", type(exc).__name__)
        return error_response(400, "validation_error", "a value is out of range or cannot be stored; check the input")

    @app.errorhandler(psycopg.OperationalError)
    def _database_down(exc: psycopg.OperationalError):
        log.error("database unavailable: %s", type(exc).__name__)
        resp, status = error_response(
            503, "database_unavailable", "the database is unavailable; nothing was written, retry shortly"
        )
        resp.headers["Retry-After"] = "5"
        return resp, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")

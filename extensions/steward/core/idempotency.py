"""`Idempotency-Key` on writes: a repeat returns the first response and writes nothing new.

The key is claimed inside the request's own transaction, before the view runs. A concurrent
repeat blocks on the claim until the first commits, then reads its stored response; if the first
fails, its transaction (claim included) rolls back and the repeat runs as if it were first. So a
retry after a crash can never apply a write twice, and a failed write is never "remembered".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from flask import Response, current_app, g, request
from psycopg.types.json import Jsonb

from steward.core.db import get_db
from steward.core.errors import ApiError

MAX_KEY_LENGTH = 255


def _request_hash() -> str:
    digest = hashlib.sha256()
    for part in (
        request.method,
        request.path,
        request.query_string.decode(),
    ):
        digest.update(part.encode() + b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def run_idempotent(execute: Callable[[], Response]) -> Response:
    key = request.headers["Idempotency-Key"].strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
            code="validation_error",
            details=[{"field": "Idempotency-Key", "problem": "length out of range"}],
        )
    api_key_id = g.api_key.id
    ttl_hours = current_app.config["STEWARD_SETTINGS"].steward_idempotency_ttl_hours
    conn = get_db()
    fingerprint = _request_hash()
    conn.execute(
        """DELETE FROM idempotency_keys
            WHERE api_key_id = %s AND key = %s AND created_at < now() - make_interval(hours => %s)""",
        (api_key_id, key, ttl_hours),
    )
    claimed = conn.execute(
        """INSERT INTO idempotency_keys (key, api_key_id, method, path, request_hash, status_code, response_body)
           VALUES (%s, %s, %s, %s, %s, 0, 'null'::jsonb)
           ON CONFLICT (api_key_id, key) DO NOTHING RETURNING key""",
        (key, api_key_id, request.method, request.path, fingerprint),
    ).fetchone()
    if claimed is None:
        return _replay(conn, api_key_id, key, fingerprint)
    response = execute()
    if response.status_code < 400:
        conn.execute(
            "UPDATE idempotency_keys SET status_code = %s, response_body = %s WHERE api_key_id = %s AND key = %s",
            (response.status_code, Jsonb(response.get_json(silent=True)), api_key_id, key),
        )
    return response


def _replay(conn, api_key_id: str, key: str, fingerprint: str) -> Response:
    row = conn.execute(
        "SELECT request_hash, status_code, response_body, method, path FROM idempotency_keys"
        " WHERE api_key_id = %s AND key = %s",
        (api_key_id, key),
    ).fetchone()
    if row is None or row["status_code"] == 0:
        raise ApiError(
            "a request with this Idempotency-Key is still in progress; retry shortly",
            status=409,
            code="idempotency_in_progress",
            headers={"Retry-After": "1"},
        )
    if row["request_hash"] != fingerprint:
        raise ApiError(
            "this Idempotency-Key was already used for a different request; use a new key per distinct write",
            status=422,
            code="idempotency_key_reused",
            details=[{"field": "Idempotency-Key", "problem": f"first used for {row['method']} {row['path']}"}],
        )
    response = current_app.response_class(
        json.dumps(row["response_body"]), status=row["status_code"], mimetype="application/json"
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response

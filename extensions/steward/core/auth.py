"""API keys: stored hashed, carrying scopes, checked on every route that is not public.

A key looks like `stw_<prefix>_<secret>`. Only its SHA-256 is stored (the secret has 256 bits of
entropy, so a slow hash buys nothing); lookup is by prefix and the hash is compared in constant
time. `admin` implies `write` implies `read`. The check runs before every request and denies by
default: a route is open only when its endpoint is declared with `scope=None`. An address that
keeps sending invalid keys gets 429 for a while, before its key is looked at (`throttle.py`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import psycopg
from flask import Flask, current_app, g, request

from steward.core.api import spec_of
from steward.core.errors import ApiError
from steward.core.throttle import AuthThrottle

SCOPE_RANK = {"read": 1, "write": 2, "admin": 3}
PUBLIC_ENDPOINTS = {"static"}
THROTTLE = "steward.auth_throttle"
_NO_KEY = "0" * 64  # what an absent key is compared against


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: tuple[str, ...]

    def allows(self, needed: str) -> bool:
        return max(SCOPE_RANK[s] for s in self.scopes) >= SCOPE_RANK[needed]


def _hash(secret_key: str) -> str:
    return hashlib.sha256(secret_key.encode()).hexdigest()


def create_key(conn: psycopg.Connection, name: str, scopes: list[str]) -> tuple[str, str]:
    """Create a key; returns (id, plaintext). The plaintext is shown once and never stored."""
    unknown = [s for s in scopes if s not in SCOPE_RANK]
    if unknown or not scopes:
        raise ValueError(f"unknown scope(s) {unknown or scopes}; use read, write, admin")
    prefix = secrets.token_hex(4)
    plaintext = f"stw_{prefix}_{secrets.token_urlsafe(32)}"
    row = conn.execute(
        "INSERT INTO api_keys (name, prefix, key_hash, scopes) VALUES (%s, %s, %s, %s) RETURNING id",
        (name, prefix, _hash(plaintext), sorted(set(scopes), key=lambda s: SCOPE_RANK[s])),
    ).fetchone()
    return str(_first(row)), plaintext


def revoke_key(conn: psycopg.Connection, key_id_or_prefix: str) -> bool:
    row = conn.execute(
        """UPDATE api_keys SET revoked_at = now()
            WHERE (id::text = %s OR prefix = %s) AND revoked_at IS NULL RETURNING id""",
        (key_id_or_prefix, key_id_or_prefix),
    ).fetchone()
    return row is not None


def list_keys(conn: psycopg.Connection[Any]) -> list[dict]:
    cur = conn.execute(
        "SELECT id, name, prefix, scopes, created_at, revoked_at, last_used_at FROM api_keys ORDER BY created_at"
    )
    return [dict(r) for r in cur]


def count_active_keys(conn: psycopg.Connection) -> int:
    return int(_first(conn.execute("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()))


def _first(row):
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _presented_key() -> str | None:
    key = request.headers.get("X-API-Key")
    if key:
        return key.strip()
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return None


def lookup(conn: psycopg.Connection, plaintext: str) -> ApiKey | None:
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != "stw":
        return None
    row = conn.execute(
        "SELECT id, name, key_hash, scopes FROM api_keys WHERE prefix = %s AND revoked_at IS NULL",
        (parts[1],),
    ).fetchone()
    # Compared even when no row matched, so the time taken does not depend on the prefix existing.
    matches = hmac.compare_digest(row["key_hash"] if row else _NO_KEY, _hash(plaintext))
    if row is None or not matches:
        return None
    return ApiKey(id=str(row["id"]), name=row["name"], scopes=tuple(row["scopes"]))


def required_scope() -> str | None:
    """The scope the matched endpoint needs; None for public ones. Unknown endpoints need admin."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    view = current_app.view_functions.get(request.endpoint)
    spec = spec_of(view) if view else None
    if spec is None:
        return "admin"
    return spec.scope


def authenticate() -> None:
    """before_request hook: 401 without a valid key, 403 when its scopes are not enough."""
    if request.endpoint is None:
        return  # unknown route or method: let the 404/405 handler answer
    needed = required_scope()
    if needed is None:
        return
    throttle: AuthThrottle = current_app.extensions[THROTTLE]
    address = request.remote_addr or "unknown"
    wait = throttle.blocked_for(address)
    if wait:
        raise ApiError(
            f"too many invalid API keys from this address; retry in {wait} s with a valid key",
            status=429,
            code="rate_limited",
            headers={"Retry-After": str(wait)},
        )
    presented = _presented_key()
    if not presented:
        raise ApiError(
            "missing API key; send it in the X-API-Key header (create one with `steward keys create`)",
            status=401,
            code="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
    from steward.core.db import get_db

    key = lookup(get_db(), presented)
    if key is None:
        throttle.failed(address)
        raise ApiError(
            "invalid or revoked API key", status=401, code="unauthorized", headers={"WWW-Authenticate": "Bearer"}
        )
    if not key.allows(needed):
        raise ApiError(
            f"this API key lacks the '{needed}' scope (it has: {', '.join(key.scopes)})",
            status=403,
            code="forbidden",
        )
    g.api_key = key


def init_app(app: Flask) -> None:
    settings = app.config["STEWARD_SETTINGS"]
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    app.extensions[THROTTLE] = AuthThrottle(settings.steward_auth_fail_limit, redis_url)
    app.before_request(authenticate)

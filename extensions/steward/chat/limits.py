"""Per-chat rate limits on /message and /confirm, with flask-limiter.

The key is the Telegram chat id from the JSON body (one noisy chat cannot starve the others, and
n8n calling from one address is not one client); messages and button presses share one budget.
Counters live in Redis when REDIS_URL is set, so every worker shares them, else in process (and
in process while Redis is down: each worker then counts alone, until Redis answers again). A
limited request gets 429 with Retry-After and a friendly `reply_text` n8n can still send; nothing
is written.
"""

from __future__ import annotations

import math
import time
from typing import cast

from flask import Blueprint, Flask, request
from flask.blueprints import BlueprintSetupState
from flask_limiter import Limiter

LIMITED_ENDPOINTS = frozenset({"chat.message", "chat.confirm"})
EXTENSION = "steward.chat.limiter"
_REDIS_TIMEOUTS = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}  # floats, whatever the hint says


def chat_key() -> str:
    body = request.get_json(silent=True, cache=True)
    chat_id = body.get("chat_id") if isinstance(body, dict) else None
    if isinstance(chat_id, int) and not isinstance(chat_id, bool):
        return f"chat:{chat_id}"
    return f"addr:{request.remote_addr or 'unknown'}"


def _exempt() -> bool:
    return request.endpoint not in LIMITED_ENDPOINTS


def _setup(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    settings = app.config["STEWARD_SETTINGS"]
    storage = settings.redis_url.get_secret_value() if settings.redis_url else "memory://"
    limiter = Limiter(
        chat_key,
        app=app,
        storage_uri=storage,
        # Redis down: count in this process until it answers again (flask-limiter re-checks it), and
        # never let the limiter's own failure fail a message; a hung Redis costs 0.25 s, not forever.
        storage_options=cast(dict[str, str | int], _REDIS_TIMEOUTS) if settings.redis_url else {},
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        strategy="moving-window",
        key_prefix="steward-chat",
        headers_enabled=False,
    )
    limiter.shared_limit(settings.chat_rate_limit, scope="chat", key_func=chat_key, exempt_when=_exempt)(
        state.blueprint
    )
    app.extensions[EXTENSION] = limiter


def install(bp: Blueprint) -> None:
    """Give every app that registers `bp` its own limiter, configured from its settings."""
    bp.record_once(_setup)


def retry_after(app: Flask) -> int:
    """Seconds until the breached limit lets this chat through again (at least 1)."""
    limiter: Limiter | None = app.extensions.get(EXTENSION)
    current = limiter.current_limit if limiter else None
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))

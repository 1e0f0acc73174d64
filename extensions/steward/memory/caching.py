"""Per-client result caching for recall and document search, invalidated by a generation token.

Every cached result key holds the client's current generation; a write replaces the token, so all
of that client's cached results stop matching at once, in O(1) on Redis and in process alike
(no key scans). Stale entries simply age out with their TTL.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from steward.core.cache import Cache

GENERATION_TTL = 7 * 24 * 3600


def _generation_key(client_id: str) -> str:
    return f"memory:{client_id}:gen"


def generation(cache: Cache, client_id: str) -> str:
    token = cache.get(_generation_key(client_id))
    if token is None:
        token = uuid.uuid4().hex
        cache.set(_generation_key(client_id), token, GENERATION_TTL)
    return token


def invalidate(cache: Cache, client_id: str) -> None:
    cache.set(_generation_key(client_id), uuid.uuid4().hex, GENERATION_TTL)


def result_key(cache: Cache, client_id: str, namespace: str, params: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f"memory:{client_id}:{namespace}:{generation(cache, client_id)}:{digest}"

"""A small cache seam: Redis/Valkey when `REDIS_URL` is set, else an in-process TTL cache.

Only losable data goes here (recall results, query embeddings, LLM answers). Every backend method
swallows connection errors and reports a miss, so a Redis outage slows Steward down but never
fails a request; `healthy()` tells /health/ready the truth.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from cachetools import TTLCache

log = logging.getLogger(__name__)


class Cache(ABC):
    name = "cache"

    @abstractmethod
    def get(self, key: str) -> Any | None: ...

    @abstractmethod
    def set(self, key: str, value: Any, ttl: int) -> None: ...

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Drop every key that starts with `prefix` (used to invalidate one client's entries)."""

    @abstractmethod
    def healthy(self) -> bool: ...


class MemoryCache(Cache):
    """Thread-safe TTL cache in this process; each entry keeps its own expiry (capped at max_ttl)."""

    name = "memory"

    def __init__(self, max_items: int = 20_000, max_ttl: int = 3600) -> None:
        self._data: TTLCache[str, tuple[float, Any]] = TTLCache(maxsize=max_items, ttl=max_ttl)
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires < time.monotonic():
                self._data.pop(key, None)
                return None
            return value

    def set(self, key: str, value: Any, ttl: int) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)

    def delete_prefix(self, prefix: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k.startswith(prefix)]:
                self._data.pop(key, None)

    def healthy(self) -> bool:
        return True


class RedisCache(Cache):
    """Redis or Valkey; values are pickled (trusted, same-process data only)."""

    name = "redis"

    def __init__(self, url: str, namespace: str = "steward:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25)
        self._ns = namespace
        self._errors = (redis.RedisError, OSError)

    def get(self, key: str) -> Any | None:
        try:
            raw = self._redis.get(self._ns + key)
        except self._errors as exc:
            log.warning("redis get failed, treating as a miss: %s", type(exc).__name__)
            return None
        return pickle.loads(raw) if isinstance(raw, bytes) else None

    def set(self, key: str, value: Any, ttl: int) -> None:
        try:
            self._redis.set(self._ns + key, pickle.dumps(value), ex=ttl)
        except self._errors as exc:
            log.warning("redis set failed, skipping: %s", type(exc).__name__)

    def delete_prefix(self, prefix: str) -> None:
        try:
            batch = []
            for key in self._redis.scan_iter(match=self._ns + prefix + "*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    self._redis.delete(*batch)
                    batch.clear()
            if batch:
                self._redis.delete(*batch)
        except self._errors as exc:
            log.warning("redis invalidation failed: %s", type(exc).__name__)

    def healthy(self) -> bool:
        try:
            return bool(self._redis.ping())
        except self._errors:
            return False


def open_cache(redis_url: str | None) -> Cache:
    return RedisCache(redis_url) if redis_url else MemoryCache()

"""A small cache seam: Redis/Valkey when `REDIS_URL` is set, else an in-process TTL cache.

Only losable data goes here (recall results, query embeddings, LLM answers). Every backend method
swallows connection errors and reports a miss, so a Redis outage slows Steward down but never
fails a request; `healthy()` tells /health/ready the truth.

A write that cannot reach Redis is not forgotten: Redis may come back holding the value that write
meant to replace (a restart with AOF, a network blip), such as a client's old cache generation,
which would serve results from before the outage. So the keys (and prefixes) of failed writes are
remembered and deleted before Redis is trusted again. Each process remembers its own; a process
that dies during the outage takes its list along, and its stale entries live out their TTL.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

from cachetools import TLRUCache

log = logging.getLogger(__name__)

MAX_UNSENT = 10_000  # failed writes remembered by key; beyond this, recovery drops the whole namespace


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
    """Thread-safe TTL cache in this process; each entry keeps its own expiry (capped at max_ttl).

    Expired entries are dropped on every write, not only when read again: a recall result keyed by
    an old cache generation is never read again, and under a TTLCache with one global TTL such
    entries piled up to `max_items` (RSS +450 MB/hour in scripts/soak at 20 req/s)."""

    name = "memory"

    def __init__(self, max_items: int = 20_000, max_ttl: int = 3600) -> None:
        self._data: TLRUCache[str, tuple[float, Any]] = TLRUCache(
            maxsize=max_items, ttu=lambda _key, entry, _now: entry[0], timer=time.monotonic
        )
        self._max_ttl = max_ttl
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
            self._data[key] = (time.monotonic() + min(ttl, self._max_ttl), value)

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
        self._unsent: set[str] = set()  # keys whose last write never reached Redis
        self._unsent_prefixes: set[str] = set()
        self._unsent_lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        try:
            self._forget_unsent()
            raw = self._redis.get(self._ns + key)
        except self._errors as exc:
            log.warning("redis get failed, treating as a miss: %s", type(exc).__name__)
            return None
        return pickle.loads(raw) if isinstance(raw, bytes) else None

    def set(self, key: str, value: Any, ttl: int) -> None:
        try:
            self._forget_unsent()
            self._redis.set(self._ns + key, pickle.dumps(value), ex=ttl)
        except self._errors as exc:
            log.warning("redis set failed, skipping: %s", type(exc).__name__)
            self._remember_unsent(key=key)

    def delete_prefix(self, prefix: str) -> None:
        try:
            self._forget_unsent()
            self._delete_matching(prefix)
        except self._errors as exc:
            log.warning("redis invalidation failed: %s", type(exc).__name__)
            self._remember_unsent(prefix=prefix)

    def _delete_matching(self, prefix: str) -> None:
        batch = []
        for key in self._redis.scan_iter(match=self._ns + prefix + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                self._redis.delete(*batch)
                batch.clear()
        if batch:
            self._redis.delete(*batch)

    def _remember_unsent(self, key: str | None = None, prefix: str | None = None) -> None:
        with self._unsent_lock:
            if key is not None:
                self._unsent.add(key)
            if prefix is not None:
                self._unsent_prefixes.add(prefix)
            if len(self._unsent) + len(self._unsent_prefixes) > MAX_UNSENT:
                # Too many to list: on recovery, drop everything of ours (it is all losable).
                self._unsent.clear()
                self._unsent_prefixes = {""}

    def _forget_unsent(self) -> None:
        """Delete what failed writes meant to replace; raises (and keeps the list) while Redis is down."""
        if not self._unsent and not self._unsent_prefixes:
            return
        with self._unsent_lock:
            keys, prefixes = list(self._unsent), list(self._unsent_prefixes)
        if keys:
            self._redis.delete(*(self._ns + k for k in keys))
        for prefix in prefixes:
            self._delete_matching(prefix)
        with self._unsent_lock:
            self._unsent.difference_update(keys)
            self._unsent_prefixes.difference_update(prefixes)
        log.info(
            "redis is back: dropped %d entries and %d prefixes written during the outage", len(keys), len(prefixes)
        )

    def healthy(self) -> bool:
        try:
            return bool(self._redis.ping())
        except self._errors:
            return False


def open_cache(redis_url: str | None) -> Cache:
    return RedisCache(redis_url) if redis_url else MemoryCache()

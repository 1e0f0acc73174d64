"""Failed-authentication throttle: an address that keeps presenting bad API keys is shut out a while.

Counted per remote address with `limits` (the library flask-limiter runs on), over a moving
window set by STEWARD_AUTH_FAIL_LIMIT: in Redis when REDIS_URL is set, so every worker and
container shares the count, else in this process. Only a presented key that is wrong counts; a
missing key is a misconfiguration, not a guess. Once an address is over the limit it gets 429 with
Retry-After before its key is even looked up, good or bad, so guessing costs no database work and
tells nothing. The throttle must never take Steward down with it: if its storage fails, requests
go through unthrottled and a warning is logged.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

NAMESPACE = "auth-fail"


class AuthThrottle:
    def __init__(self, limit: str, redis_url: str | None = None) -> None:
        self.items: list[RateLimitItem] = parse_many(limit)
        storage: Storage = (
            RedisStorage(redis_url, key_prefix="steward", socket_timeout=0.25, socket_connect_timeout=0.25)
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(storage)

    def blocked_for(self, address: str) -> int:
        """Seconds until `address` may present a key again; 0 when it may now."""
        try:
            waits = [
                self._wait(item, address) for item in self.items if not self._limiter.test(item, NAMESPACE, address)
            ]
        except Exception as exc:  # storage down: fail open, never fail the request
            log.warning("auth throttle unavailable, not throttling: %s", type(exc).__name__)
            return 0
        return max(waits, default=0)

    def failed(self, address: str) -> None:
        """Count one invalid key from `address`; say so once when that shuts the address out."""
        try:
            for item in self.items:
                self._limiter.hit(item, NAMESPACE, address)
            wait = self.blocked_for(address)
        except Exception as exc:
            log.warning("auth throttle unavailable, failure not counted: %s", type(exc).__name__)
            return
        if wait:
            log.warning("too many invalid API keys from %s; refusing it for %d s", address, wait)

    def _wait(self, item: RateLimitItem, address: str) -> int:
        stats = self._limiter.get_window_stats(item, NAMESPACE, address)
        return max(1, math.ceil(stats.reset_time - time.time()))

"""Both cache backends behind one interface; Redis outages degrade to misses."""

import os
import socket
import time
import uuid

import pytest

from steward.core.cache import MemoryCache, RedisCache


def _redis_url() -> str | None:
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return "redis://127.0.0.1:6379/15"
    except OSError:
        return None


def _backends():
    yield pytest.param(lambda: MemoryCache(), id="memory")
    url = _redis_url()
    yield pytest.param(
        lambda: RedisCache(url, namespace=f"test-{uuid.uuid4().hex[:6]}:"),
        id="redis",
        marks=pytest.mark.skipif(url is None, reason="no Redis at REDIS_URL or 127.0.0.1:6379"),
    )


@pytest.mark.parametrize("make", list(_backends()))
def test_set_get_expire_and_invalidate_by_prefix(make):
    cache = make()
    cache.set("recall:a:1", {"hits": [1, 2]}, ttl=60)
    cache.set("recall:a:2", [3], ttl=60)
    cache.set("recall:b:1", "other", ttl=60)
    assert cache.get("recall:a:1") == {"hits": [1, 2]}
    cache.delete_prefix("recall:a:")
    assert cache.get("recall:a:1") is None and cache.get("recall:a:2") is None
    assert cache.get("recall:b:1") == "other"
    cache.set("short", 1, ttl=1)
    time.sleep(1.1)
    assert cache.get("short") is None
    assert cache.healthy()


def test_an_unreachable_redis_is_a_miss_not_an_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cache = RedisCache(f"redis://127.0.0.1:{port}/0")
    cache.set("k", 1, ttl=10)
    assert cache.get("k") is None
    cache.delete_prefix("k")
    assert cache.healthy() is False

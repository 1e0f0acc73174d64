"""Use counters for the age-and-use score, written behind the request.

Counting a recall inside the request would turn every read into a write whose commit waits on
the WAL flush. Counts are only a ranking hint (losable, like the cache), so they are buffered
here and flushed every few seconds in one UPDATE with `synchronous_commit = off`.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter

from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

FLUSH_SECONDS = 2.0


class UsageRecorder:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._pending: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="steward-memory-usage", daemon=True)
        self._thread.start()

    def record(self, ids: list[str]) -> None:
        with self._lock:
            self._pending.update(ids)

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, Counter()
        if not pending or self._pool.closed:
            return 0
        ids, counts = list(pending), list(pending.values())
        try:
            with self._pool.connection(timeout=5) as conn:
                conn.execute("SET LOCAL synchronous_commit = off")
                conn.execute(
                    """UPDATE memories m SET access_count = m.access_count + c.n, last_accessed_at = now()
                         FROM unnest(%s::uuid[], %s::int[]) AS c(id, n) WHERE m.id = c.id""",
                    (ids, counts),
                )
        except Exception as exc:  # counts are a hint; losing one batch is acceptable
            log.warning("could not record memory use (%s); %d counts dropped", type(exc).__name__, len(ids))
            return 0
        return len(ids)

    def _run(self) -> None:
        while not self._pool.closed:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()


_recorders: dict[int, UsageRecorder] = {}
_recorders_lock = threading.Lock()


def recorder(pool: ConnectionPool) -> UsageRecorder:
    """One recorder per connection pool (so per app)."""
    with _recorders_lock:
        found = _recorders.get(id(pool))
        if found is None or found._pool is not pool:
            found = _recorders[id(pool)] = UsageRecorder(pool)
        return found

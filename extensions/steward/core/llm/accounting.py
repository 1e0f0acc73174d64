"""Every LLM call, cached or refused ones included, becomes a row in `llm_calls`.

Rows are written on a small pool of their own, in autocommit: a request that fails after paying
for a completion rolls its own transaction back, but the money was spent and must stay counted
(that is also what the daily budget sums). Using the request pool instead could deadlock once
every request connection waits for a second one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

OUTCOMES = ("ok", "invalid_output", "error", "timeout", "refused")


@dataclass
class CallRecord:
    service: str
    route: str
    purpose: str
    mode: str
    model: str
    outcome: str
    prompt_version: int | None = None
    client_id: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_estimated: bool = False
    cost_usd: float = 0.0
    priced: bool = True
    latency_ms: int = 0
    attempts: int = 0
    cache_hit: bool = False
    repair: bool = False
    error: str | None = None


_COLUMNS = tuple(CallRecord.__dataclass_fields__)
_INSERT = f"INSERT INTO llm_calls ({', '.join(_COLUMNS)}) VALUES ({', '.join('%(' + c + ')s' for c in _COLUMNS)})"
SPENT_TODAY_SQL = """SELECT COALESCE(sum(cost_usd), 0)::float8 FROM llm_calls
                   WHERE created_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"""


class Accountant:
    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    def _connections(self) -> ConnectionPool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    pool = ConnectionPool(
                        self._conninfo,
                        min_size=1,
                        max_size=3,
                        kwargs={"autocommit": True},
                        open=False,
                        name="steward-llm-accounting",
                    )
                    pool.open(wait=True, timeout=15)
                    self._pool = pool
        return self._pool

    def record(self, call: CallRecord) -> None:
        """Write one row; a failure is logged, never raised, so accounting cannot fail a request."""
        try:
            with self._connections().connection() as conn:
                conn.execute(_INSERT, asdict(call))
        except (psycopg.Error, OSError) as exc:
            log.error("could not record an LLM call (%s): %s", call.model, type(exc).__name__)

    def spent_today(self) -> float:
        """USD spent since 00:00 UTC, cached answers costing nothing."""
        with self._connections().connection() as conn:
            row = conn.execute(SPENT_TODAY_SQL).fetchone()
        return float(row[0]) if row else 0.0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

"""Step leases: claim a pipeline step for one worker, and keep the claim alive while it runs.

A claim is a conditional UPDATE: it succeeds only on a step that is pending, failed, or running
under a lease that has expired (its worker died or hung). While the step runs, a heartbeat thread
pushes the expiry forward every third of the lease, so a slow LLM call keeps its step; a worker
killed with SIGKILL stops beating and its step becomes claimable once the lease runs out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


def new_owner() -> str:
    """host:pid:random, so a lease names the process that holds it (useful when reading a stuck run)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Claim:
    owner: str
    attempt: int


def claim(pool: ConnectionPool, run_id: Any, step: str, seconds: float) -> Claim | None:
    """Take `step` for a new owner; None when it is completed or leased to a live worker."""
    owner = new_owner()
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """UPDATE pipeline_steps
                  SET status = 'running', lease_owner = %s, lease_expires_at = now() + make_interval(secs => %s),
                      attempts = attempts + 1, started_at = now(), finished_at = NULL, error = NULL
                WHERE run_id = %s AND name = %s
                  AND (status IN ('pending', 'failed') OR (status = 'running' AND lease_expires_at < now()))
            RETURNING attempts""",
            (owner, seconds, run_id, step),
        ).fetchone()
        if row is None:
            return None
        cur.execute(
            "UPDATE pipeline_runs SET status = 'running', error = NULL, updated_at = now() WHERE id = %s",
            (run_id,),
        )
    return Claim(owner=owner, attempt=row["attempts"])


class Heartbeat:
    """Renews one lease until stopped; a failed renewal is logged and retried on the next beat."""

    def __init__(self, pool: ConnectionPool, run_id: Any, step: str, owner: str, seconds: float) -> None:
        self._pool, self._run_id, self._step, self._owner, self._seconds = pool, run_id, step, owner, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{step}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._seconds / 3):
            try:
                with self._pool.connection() as conn:
                    conn.execute(
                        """UPDATE pipeline_steps SET lease_expires_at = now() + make_interval(secs => %s)
                            WHERE run_id = %s AND name = %s AND lease_owner = %s AND status = 'running'""",
                        (self._seconds, self._run_id, self._step, self._owner),
                    )
            except Exception as exc:  # the checkpoint re-checks ownership, so a missed beat is safe
                log.warning("could not renew the lease on step %s: %s", self._step, type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

"""Postgres access: one pool per process, one connection and one transaction per request.

A request's writes commit together, before the response is sent, when the view succeeds, and
roll back on any error response, so bad input can never leave half a record behind and a 2xx
means the write is durable. Views call `get_db()`; `finish_request` commits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from flask import Flask, Response, current_app, g
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


def open_pool(url: str, size: int, timeout: float = 10.0) -> ConnectionPool:
    """A pool whose connections return dict rows; opened eagerly so a wrong URL fails at startup.

    Each checkout is checked, so connections a Postgres restart broke are replaced without
    restarting Steward. A request waits at most `timeout` for a connection (the pool reconnecting,
    or all busy); then it gets 503 database_unavailable with Retry-After instead of hanging."""
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"row_factory": dict_row, "autocommit": False, "connect_timeout": max(1, round(timeout))},
        check=ConnectionPool.check_connection,
        open=False,
        name="steward",
        timeout=timeout,
        # psycopg_pool retries a failed connect with exponential backoff for reconnect_timeout, so
        # after a long outage its next try can be as far away as the outage was long (20 s after a
        # 40 s restart, measured). Short chains, restarted by the next waiting request, keep the
        # gap after Postgres returns to a few seconds.
        reconnect_timeout=max(5.0, timeout),
    )
    pool.open(wait=True, timeout=15)
    return pool


def get_pool() -> ConnectionPool:
    return current_app.extensions["steward.pool"]


def get_db() -> psycopg.Connection:
    """The request's connection, checked out on first use and returned in the teardown."""
    if "db" not in g:
        g.db = get_pool().getconn()
    return g.db


def finish_request(response: Response) -> Response:
    """after_request: commit a successful request's transaction *before* the response is sent,
    so an acknowledged write is durable; roll back error responses. A failed commit turns the
    response into a 503 envelope instead of a success that did not happen."""
    conn = g.get("db")
    if conn is None:
        return response
    if response.status_code >= 400:
        _rollback(conn)
        return response
    try:
        conn.commit()
    except psycopg.Error as exc:
        log.error("commit failed: %s", type(exc).__name__)
        _rollback(conn)
        from steward.core.errors import error_response

        failed, status = error_response(
            503, "database_unavailable", "the write could not be committed; nothing was written, retry shortly"
        )
        failed.status_code = status
        failed.headers["Retry-After"] = "5"
        return failed
    return response


def _rollback(conn: psycopg.Connection) -> None:
    """Roll back if the connection still can; a connection lost with the server (a restart, a
    failover) has nothing to roll back, and the pool replaces it when it comes back."""
    if conn.closed:
        return
    try:
        conn.rollback()
    except psycopg.Error as exc:
        log.warning("rollback failed (%s); the connection is discarded", type(exc).__name__)


def _release(exc: BaseException | None) -> None:
    """teardown: return the connection, rolling back whatever was not committed."""
    conn = g.pop("db", None)
    if conn is None:
        return
    try:
        _rollback(conn)
    finally:
        get_pool().putconn(conn)


def init_app(app: Flask, pool: ConnectionPool) -> None:
    app.extensions["steward.pool"] = pool
    app.after_request(finish_request)

    @app.teardown_request
    def _teardown(exc: BaseException | None) -> None:
        _release(exc)


@contextmanager
def connection(pool: ConnectionPool) -> Iterator[psycopg.Connection]:
    """A pooled connection for work outside a request (CLI, background jobs); commits on success."""
    with pool.connection() as conn:
        yield conn

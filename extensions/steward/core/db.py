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


def open_pool(url: str, size: int) -> ConnectionPool:
    """A pool whose connections return dict rows; opened eagerly so a wrong URL fails at startup."""
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={"row_factory": dict_row, "autocommit": False},
        check=ConnectionPool.check_connection,
        open=False,
        name="steward",
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
        conn.rollback()
        return response
    try:
        conn.commit()
    except psycopg.Error as exc:
        log.error("commit failed: %s", type(exc).__name__)
        conn.rollback()
        from steward.core.errors import error_response

        failed, status = error_response(
            503, "database_unavailable", "the write could not be committed; nothing was written, retry shortly"
        )
        failed.status_code = status
        failed.headers["Retry-After"] = "5"
        return failed
    return response


def _release(exc: BaseException | None) -> None:
    """teardown: return the connection, rolling back whatever was not committed."""
    conn = g.pop("db", None)
    if conn is None:
        return
    try:
        if not conn.closed:
            conn.rollback()
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

"""gunicorn settings for `gunicorn -c python:steward.ops.gunicorn_conf --preload steward.wsgi:app`.

`--preload` imports the app once in the master, so workers share its memory pages. But the app
factory opens the Postgres pool eagerly, and a pool (its sockets and its maintenance threads)
must never cross a fork: two workers writing on one inherited socket corrupt each other's
protocol stream. So the master closes its pool once the app is loaded, and every worker opens its
own right after the fork. Everything else the app holds opens lazily, in the worker that uses it.
"""

from __future__ import annotations

from typing import Any

worker_class = "gthread"
accesslog = "-"
errorlog = "-"
timeout = 120
graceful_timeout = 20
# As `steward serve`: no query strings in access logs (recall queries are the user's own words).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def _runtime(server: Any):
    app = server.app.wsgi()  # the preloaded Flask app (loaded once, cached by gunicorn)
    return app, app.extensions["steward"]


def when_ready(server: Any) -> None:
    """Master, after preloading and before the first fork: give up the master's connections."""
    if server.cfg.preload_app:
        _runtime(server)[1].pool.close()


def post_fork(server: Any, worker: Any) -> None:
    """Worker, right after the fork: a pool of its own."""
    if not server.cfg.preload_app:
        return
    from steward.core import db

    app, runtime = _runtime(server)
    closed = runtime.pool  # closed by the master in when_ready; same URL and size, fresh sockets
    pool = db.open_pool(closed.conninfo, closed.max_size, closed.timeout)
    runtime.pool = pool
    app.extensions["steward.pool"] = pool

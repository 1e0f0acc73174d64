"""Run the app under gunicorn from Python, so `steward serve` and compose use the same server.

The embedded Postgres is started by the `steward serve` process itself (the gunicorn master) and
handed to workers as a resolved URL, so workers never start or stop it.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from steward.core.config import Settings
from steward.ops import gunicorn_conf


class _StewardGunicorn(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        from steward.app import create_app

        return create_app(self._settings)


def run_gunicorn(settings: Settings, workers: int = 1, threads: int = 8) -> None:
    options = {
        "bind": f"{settings.steward_host}:{settings.steward_port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": settings.steward_log_level.lower(),
        "timeout": 120,
        "graceful_timeout": 20,
        # Access logs carry no query strings (recall queries are the user's own words) and no headers.
        "access_log_format": gunicorn_conf.access_log_format,
    }
    _StewardGunicorn(settings, options).run()

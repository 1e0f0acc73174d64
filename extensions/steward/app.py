"""The Flask app factory: settings, then resources, then the blueprints this process serves.

`create_app()` reads the settings once (environment > .env > defaults); tests pass their own
`Settings`. `STEWARD_SERVICES` picks the blueprints, so one process can serve everything (the
embedded default) or compose can split services into separate containers.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from flask import Flask, Response

from steward.core import auth, body, db, metrics, processing
from steward.core.api import IsoJSONProvider
from steward.core.cache import open_cache
from steward.core.config import Settings, load_settings
from steward.core.errors import register_error_handlers
from steward.core.runtime import Runtime

log = logging.getLogger(__name__)

# service name -> blueprint modules (each exposes `bp`); a module that fails to import is a startup error.
SERVICE_BLUEPRINTS: dict[str, tuple[str, ...]] = {
    "events": ("steward.events.routes",),
    "memory": ("steward.memory.routes",),
    "planner": ("steward.planner.routes",),
    "scheduler": ("steward.scheduler.routes",),
    "observer": ("steward.observer.routes", "steward.core.pipelines_routes"),
    "chat": ("steward.chat.routes",),
    "items": ("steward.items.routes",),
    "sync": ("steward.sync.routes",),
    "llm": ("steward.llm.routes",),
}


def database_url(settings: Settings) -> str:
    """The configured Postgres URL, starting the embedded server when none is configured."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from steward.core.embedded_pg import embedded_database_url

    return embedded_database_url(settings.steward_data_dir)


def _register_services(app: Flask, services: tuple[str, ...]) -> list[str]:
    served = []
    for service in services:
        for module_name in SERVICE_BLUEPRINTS.get(service, ()):
            module = importlib.import_module(module_name)
            app.register_blueprint(module.bp)
            served.append(service)
    return sorted(set(served))


def create_app(
    settings: Settings | None = None, test_config: dict[str, Any] | None = None, runtime: Runtime | None = None
) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.json = IsoJSONProvider(app)
    app.config.update(
        STEWARD_SETTINGS=settings,
        MAX_CONTENT_LENGTH=settings.steward_max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if test_config:
        app.config.update(test_config)

    if runtime is None:
        pool = db.open_pool(database_url(settings), settings.database_pool_size, settings.database_pool_timeout_seconds)
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        runtime = Runtime(settings=settings, pool=pool, cache=open_cache(redis_url))
    app.extensions["steward"] = runtime
    metrics.init_app(app)  # before auth, so rejected requests are timed too
    auth.init_app(app)
    body.init_app(app)  # after auth: only a key holder's streamed body is read
    processing.init_app(app)  # after auth: mode validated at the edge, held per request
    register_error_handlers(app)

    @app.after_request
    def _no_store(response: Response) -> Response:
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    # Registered last so its after_request runs first: the commit decides the final status.
    db.init_app(app, runtime.pool)

    from steward.health.routes import bp as health_bp

    app.register_blueprint(health_bp)
    app.config["STEWARD_SERVED"] = served = _register_services(app, settings.services)
    if {"memory", "scheduler"} <= set(served):
        from steward.memory.scheduling import register as memory_feeds_scheduler

        memory_feeds_scheduler(app)
    return app

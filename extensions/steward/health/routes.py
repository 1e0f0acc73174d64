"""Liveness, readiness (per dependency), Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Literal

from flask import Blueprint, current_app
from pydantic import BaseModel

from steward.core import migrations
from steward.core.api import endpoint
from steward.core.runtime import runtime

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


class LiveOut(BaseModel):
    status: Literal["ok"]


class DependencyStatus(BaseModel):
    status: Literal["up", "down", "degraded", "disabled"]
    backend: str
    detail: str = ""


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready", "degraded"]
    dependencies: dict[str, DependencyStatus]


@endpoint(bp, "/health/live", methods=["GET"], scope=None, summary="The process is up", response=LiveOut)
def live():
    return LiveOut(status="ok")


def _database() -> DependencyStatus:
    rt = runtime()
    backend = "embedded-postgres" if rt.settings.embedded_database else "postgres"
    try:
        with rt.pool.connection(timeout=2) as conn:
            version = migrations.check_current(conn)
        return DependencyStatus(status="up", backend=backend, detail=f"schema version {version}")
    except migrations.SchemaOutOfDate as exc:
        return DependencyStatus(status="down", backend=backend, detail=str(exc))
    except Exception as exc:  # any failure means "not ready", never a 500
        return DependencyStatus(status="down", backend=backend, detail=f"unreachable ({type(exc).__name__})")


def _vectors() -> DependencyStatus:
    rt = runtime()
    backend = "qdrant-server" if rt.settings.qdrant_url else "qdrant-edge"
    try:
        rt.vectors.ping()
        return DependencyStatus(status="up", backend=backend)
    except Exception as exc:
        return DependencyStatus(status="down", backend=backend, detail=f"{type(exc).__name__}: {exc}"[:300])


def _cache() -> DependencyStatus:
    cache = runtime().cache
    if cache.healthy():
        return DependencyStatus(status="up", backend=cache.name)
    # The cache only speeds things up: requests still succeed without it.
    return DependencyStatus(status="degraded", backend=cache.name, detail="unreachable; requests bypass the cache")


@endpoint(
    bp,
    "/health/ready",
    methods=["GET"],
    scope=None,
    summary="Per-dependency readiness",
    response=ReadyOut,
    responses={503: ("The database or the vector store is down", ReadyOut)},
)
def ready():
    deps = {"database": _database(), "vectors": _vectors(), "cache": _cache()}
    settings = runtime().settings
    deps["embeddings"] = DependencyStatus(
        status="up",
        backend=settings.embedding_provider,
        detail=runtime().embedding_model,
    )
    deps["llm"] = DependencyStatus(
        status="up" if settings.llm_configured else "disabled",
        backend="openai-compatible" if settings.llm_configured else "none",
        detail="" if settings.llm_configured else "LLM_BASE_URL unset: offline behaviour",
    )
    required_down = [name for name in ("database", "vectors") if deps[name].status == "down"]
    if required_down:
        return ReadyOut(status="not_ready", dependencies=deps), 503
    degraded = any(d.status == "degraded" for name, d in deps.items() if name != "llm")
    return ReadyOut(status="degraded" if degraded else "ready", dependencies=deps)


@endpoint(bp, "/metrics", methods=["GET"], scope="read", summary="Prometheus metrics", content_type="text/plain")
def metrics():
    return current_app.extensions["steward.metrics"].render()


@endpoint(bp, "/openapi.json", methods=["GET"], scope=None, summary="This document")
def openapi():
    from steward.core.openapi import build_openapi

    doc = current_app.extensions.get("steward.openapi")
    if doc is None:
        doc = current_app.extensions["steward.openapi"] = build_openapi(current_app)
    return doc

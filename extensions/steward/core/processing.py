"""Processing modes: `fast` or `default`, chosen per request, never per process.

A caller picks the mode with `processing: {"mode": ...}` in a JSON body or the `X-Processing-Mode`
header (the body wins). `init_app` validates it at the edge (400 naming the field), resolves it into
a `Profile` (model, retrieval budget, critic on/off, max tokens) and holds that in a ContextVar
for the request only: threads serving other requests never see it, and the teardown resets it.
Code that needs the profile calls `current_profile()`.

Every response carries the mode in the `X-Processing-Mode` header. A JSON object response under
/api/ also gets `meta.processing` (the profile) when the caller asked for a mode or the request's
code consulted the profile, so plain CRUD bodies stay exactly as their models say. Work handed to
another thread must be started with `contextvars.copy_context().run` to keep the profile.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar, Token
from typing import Any, Literal

from flask import Flask, Response, current_app, g, has_request_context, request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from steward.core.config import Settings
from steward.core.errors import ValidationFailed

log = logging.getLogger(__name__)

Mode = Literal["fast", "default"]
HEADER = "X-Processing-Mode"


class ProcessingIn(BaseModel):
    """The `processing` object a request body may carry."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode = "default"

    @field_validator("mode", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class Profile(BaseModel):
    """What a mode means for one request; returned in `meta.processing`."""

    model_config = ConfigDict(frozen=True)

    mode: Mode
    model: str
    retrieval_budget: int
    critic: bool
    max_tokens: int


def profile_for(mode: Mode, settings: Settings) -> Profile:
    if mode == "fast":
        return Profile(
            mode="fast",
            model=settings.llm_model_fast or settings.llm_model,
            retrieval_budget=3,
            critic=False,
            max_tokens=1200,
        )
    return Profile(mode="default", model=settings.llm_model, retrieval_budget=8, critic=True, max_tokens=4000)


_profile: ContextVar[Profile | None] = ContextVar("steward_processing_profile", default=None)


def current_profile(settings: Settings | None = None) -> Profile:
    """The request's profile; outside a request, the default profile of `settings` (or the app's)."""
    found = _profile.get()
    if found is not None:
        if has_request_context():  # the profile shaped this response: report it in `meta`
            g.processing_used = True
        return found
    return profile_for("default", settings or current_app.config["STEWARD_SETTINGS"])


def use_profile(profile: Profile) -> Token:
    """Set the profile for the current context (the request hook, scripts, tests)."""
    return _profile.set(profile)


def reset_profile(token: Token) -> None:
    _profile.reset(token)


def _mode_from_body() -> tuple[str | None, Any]:
    if request.method not in ("POST", "PUT", "PATCH") or not request.is_json:
        return None, None
    if b'"processing"' not in request.get_data(cache=True):  # skip parsing large bodies twice
        return None, None
    payload = request.get_json(silent=True, cache=True)
    if not isinstance(payload, dict) or "processing" not in payload:
        return None, None
    processing = payload["processing"]
    if processing is None:
        return None, None
    if not isinstance(processing, dict):
        raise ValidationFailed.field("processing", 'must be an object such as {"mode": "fast"}')
    return "processing", processing


def _resolve() -> Profile:
    field, raw = _mode_from_body()
    if field is None and request.headers.get(HEADER) is not None:
        field, raw = HEADER, {"mode": request.headers[HEADER]}
    try:
        chosen = ProcessingIn.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        name, problem = ("processing.mode" if field == "processing" else HEADER), exc.errors()[0]["msg"]
        if field == "processing" and exc.errors()[0]["loc"] != ("mode",):
            name, problem = "processing", 'only "mode" is allowed, e.g. {"mode": "fast"}'
        raise ValidationFailed.field(name, problem) from None
    g.processing_requested = field is not None
    return profile_for(chosen.mode, current_app.config["STEWARD_SETTINGS"])


def _add_meta(response: Response, profile: Profile) -> None:
    if not request.path.startswith("/api/") or not response.is_json or response.direct_passthrough:
        return
    if not (g.get("processing_requested") or g.get("processing_used")):
        return
    body = response.get_json(silent=True)
    if not isinstance(body, dict):
        return
    meta = body.get("meta")
    body["meta"] = {**(meta if isinstance(meta, dict) else {}), "processing": profile.model_dump()}
    response.set_data(json.dumps(body, ensure_ascii=False, default=str))


def init_app(app: Flask) -> None:
    """Register the hooks; call after auth so rejected requests are not parsed."""

    @app.before_request
    def _enter() -> None:
        if request.endpoint is None:
            return
        profile = _resolve()
        g.processing_token = use_profile(profile)
        g.processing_profile = profile

    @app.after_request
    def _report(response: Response) -> Response:
        profile = g.get("processing_profile")
        if profile is None:
            return response
        response.headers[HEADER] = profile.mode
        _add_meta(response, profile)
        if g.get("processing_used"):
            log.info(
                "processing profile %s (model %s) served %s %s",
                profile.mode,
                profile.model,
                request.method,
                request.path,
            )
        return response

    @app.teardown_request
    def _leave(exc: BaseException | None) -> None:
        token = g.pop("processing_token", None)
        if token is not None:
            reset_profile(token)

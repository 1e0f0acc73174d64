"""Scheduling preferences: what fills the parts of a request the caller leaves out.

Order, weakest first: built-in defaults, then the operator's settings (`SCHEDULER_*` when the
Settings object carries them), then each registered preference source (the memory service plugs
in here with what it recalled about the client: "I work 8-12 and 13-17", "10 minutes between
meetings"), then the request itself. A source is a function `client_id -> mapping` returning only
the keys it knows; it must not raise for an unknown client.

    from steward.scheduler.preferences import register_source
    register_source(app, lambda client_id: {"buffer_minutes": 10})
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from flask import Flask, current_app, has_app_context
from pydantic import TypeAdapter, ValidationError

from steward.scheduler.clock import zone
from steward.scheduler.models import WorkingHours, check_windows

log = logging.getLogger(__name__)

PreferenceSource = Callable[[str], Mapping[str, Any]]
SOURCES_KEY = "steward.scheduler.preference_sources"

_WEEKDAYS_9_TO_5 = {day: [{"start": "09:00", "end": "17:00"}] for day in ("mon", "tue", "wed", "thu", "fri")}


@dataclass(frozen=True)
class Preferences:
    timezone: str = "UTC"
    working_hours: Mapping[str, Any] = field(default_factory=lambda: dict(_WEEKDAYS_9_TO_5))
    horizon_days: int = 14
    buffer_minutes: int = 10
    break_minutes: int = 0
    chunk_gap_minutes: int = 30
    min_chunk_minutes: int = 30
    max_chunk_minutes: int = 120
    workload_limit_minutes: int = 480
    slot_minutes: int = 5
    max_tasks: int = 1000
    origin: Mapping[str, str] = field(default_factory=dict, compare=False)


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "timezone": lambda v: zone(str(v)).key,
    "working_hours": lambda v: check_windows(TypeAdapter(WorkingHours).validate_python(v)),
    "horizon_days": lambda v: _bounded(v, 1, 90),
    "buffer_minutes": lambda v: _bounded(v, 0, 240),
    "break_minutes": lambda v: _bounded(v, 0, 240),
    "chunk_gap_minutes": lambda v: _bounded(v, 0, 1440),
    "min_chunk_minutes": lambda v: _bounded(v, 1, 1440),
    "max_chunk_minutes": lambda v: _bounded(v, 1, 1440),
    "workload_limit_minutes": lambda v: _bounded(v, 1, 1440),
    "slot_minutes": lambda v: v if v in (1, 5, 15) else _fail("must be 1, 5 or 15"),
    "max_tasks": lambda v: _bounded(v, 1, 100_000),
}


def _fail(problem: str) -> Any:
    raise ValueError(problem)


def _bounded(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"must be a whole number from {low} to {high}")
    return value


def _apply(prefs: Preferences, values: Mapping[str, Any], origin: str) -> Preferences:
    """Overlay the known, valid keys of `values`; a bad value is logged and skipped, never fatal."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _CHECKS or value is None:
            continue
        try:
            checked = _CHECKS[key](value)
        except (ValueError, ValidationError) as exc:
            log.warning("ignoring scheduling preference %s from %s: %s", key, origin, exc)
            continue
        if key == "working_hours":
            checked = {day: [w.model_dump() for w in windows] for day, windows in checked.items()}
        changes[key] = checked
    if not changes:
        return prefs
    return replace(prefs, **changes, origin={**prefs.origin, **{k: origin for k in changes}})


def from_settings(settings: Any) -> Preferences:
    """Built-in defaults overlaid with `scheduler_<name>` attributes of the Settings, if present."""
    values = {f.name: getattr(settings, f"scheduler_{f.name}", None) for f in fields(Preferences)}
    return _apply(Preferences(), values, "settings")


def register_source(app: Flask, source: PreferenceSource) -> None:
    app.extensions.setdefault(SOURCES_KEY, []).append(source)


def for_client(client_id: str, settings: Any = None, sources: list[PreferenceSource] | None = None) -> Preferences:
    """The preferences for `client_id`: defaults < settings < registered sources (memory)."""
    if settings is None and has_app_context():
        settings = current_app.config["STEWARD_SETTINGS"]
    if sources is None:
        sources = list(current_app.extensions.get(SOURCES_KEY, [])) if has_app_context() else []
    prefs = from_settings(settings)
    for source in sources:
        name = getattr(source, "__name__", "source")
        try:
            recalled = source(client_id) or {}
        except Exception:  # a failing recall must not break scheduling; the defaults still apply
            log.exception("scheduling preference source %s failed for %s", name, client_id)
            continue
        prefs = _apply(prefs, recalled, f"memory:{name}" if "memory" in getattr(source, "__module__", "") else name)
    return prefs


def overlay(prefs: Preferences, options: Any) -> Preferences:
    """`prefs` with whatever the request (`RunOptions`) sets explicitly; the request always wins."""
    values: dict[str, Any] = {
        "timezone": options.timezone,
        "working_hours": (
            {day: [w.model_dump() for w in windows] for day, windows in options.working_hours.items()}
            if options.working_hours is not None
            else None
        ),
        "horizon_days": options.horizon_days,
        "buffer_minutes": options.buffer_minutes,
        "workload_limit_minutes": options.workload_limit_minutes,
        "slot_minutes": options.slot_minutes,
    }
    if options.break_policy is not None:
        values["break_minutes"] = options.break_policy.break_minutes
        values["chunk_gap_minutes"] = options.break_policy.chunk_gap_minutes
    return _apply(prefs, values, "request")


def as_options(prefs: Preferences) -> dict[str, Any]:
    """The effective settings in request form, stored with a run so a reschedule can replay them."""
    return {
        "timezone": prefs.timezone,
        "working_hours": dict(prefs.working_hours),
        "horizon_days": prefs.horizon_days,
        "buffer_minutes": prefs.buffer_minutes,
        "workload_limit_minutes": prefs.workload_limit_minutes,
        "slot_minutes": prefs.slot_minutes,
        "break_policy": {"break_minutes": prefs.break_minutes, "chunk_gap_minutes": prefs.chunk_gap_minutes},
    }

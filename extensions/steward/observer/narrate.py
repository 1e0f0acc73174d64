"""The reflection's prose: written by the LLM around the computed figures, or by a template.

With an LLM configured, the `daily_reflection` / `weekly_review` prompt gets the figures as JSON and
answers a `Narration` (narrative + three suggestions) through the LLM layer (accounting, cache,
budget). Numbers are never taken from the LLM: the figures travel separately, and any number in its
prose that is not among them is listed in `unmatched_numbers`. A spent daily budget falls back to
the template; an unavailable LLM fails the step, so a retry resumes here without redoing the rest.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import current_app

from steward.core import prompts
from steward.core.llm import LLMBudgetExceeded, llm
from steward.core.processing import profile_for, reset_profile, use_profile
from steward.observer import render, suggest
from steward.observer.models import Narration, NarrationInfo

PROMPTS = {"daily": "daily_reflection", "weekly": "weekly_review"}
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ][\d:.+\-Z]+)?\b")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)?")


def known_numbers(value: Any, found: set[float] | None = None) -> set[float]:
    """Every number in the figures (and list lengths), as a reader might quote it."""
    found = set() if found is None else found
    if isinstance(value, bool) or value is None:
        return found
    if isinstance(value, int | float):
        for v in (float(value), abs(float(value))):
            found |= {round(v, 2), round(v, 1), float(round(v))}
    elif isinstance(value, dict):
        for item in value.values():
            known_numbers(item, found)
    elif isinstance(value, list):
        found.add(float(len(value)))
        for item in value:
            known_numbers(item, found)
    return found


def unmatched_numbers(text: str, figures: dict[str, Any]) -> list[str]:
    known = known_numbers(figures)
    quoted = _NUMBER.findall(_DATE.sub(" ", text))
    return [q for q in quoted if round(abs(float(q.replace(",", "."))), 2) not in known]


@contextmanager
def _profile(mode: str):
    """The run's processing mode, even when a later request (with another mode) resumes it."""
    token = use_profile(profile_for(mode, current_app.config["STEWARD_SETTINGS"]))  # type: ignore[arg-type]
    try:
        yield
    finally:
        reset_profile(token)


def offline(figures: dict[str, Any], note: str | None = None) -> dict[str, Any]:
    return {
        "narrative": render.narrative(figures),
        "suggestions": suggest.suggestions(figures),
        "narration": NarrationInfo(by="template", note=note).model_dump(),
    }


def _prompt_variables(figures: dict[str, Any], gathered: dict[str, Any]) -> dict[str, Any]:
    period = figures["period"]
    common = {
        "figures": figures,
        "memories": gathered["current"]["memories"]["snippets"],
        "notable_events": [
            f"{n['at'][:16].replace('T', ' ')} {n['type']}: {n['summary']}" for n in figures["notable_events"]
        ],
    }
    if period["mode"] == "weekly":
        return {
            **common,
            "week_start": period["start"],
            "week_end": period["end"],
            "drifting_patterns": figures["pattern_performance"]["flagged"],
            "sprint": figures["sprint"],
        }
    return {**common, "date": period["start"]}


def narrate(
    conn: psycopg.Connection, figures: dict[str, Any], gathered: dict[str, Any], client_id: str, processing_mode: str
) -> dict[str, Any]:
    if not current_app.config["STEWARD_SETTINGS"].llm_configured:
        return offline(figures)
    name = PROMPTS[figures["period"]["mode"]]
    version, text = prompts.render(conn, name, **_prompt_variables(figures, gathered))
    try:
        with _profile(processing_mode):
            answer = llm().complete(
                [{"role": "user", "content": text}],
                Narration,
                purpose=name,
                prompt_version=version,
                client_id=client_id,
            )
    except LLMBudgetExceeded as exc:
        return offline(figures, note=f"the LLM budget was spent, so the template wrote this ({exc.message})")
    value = answer.value
    info = NarrationInfo(
        by="llm",
        model=answer.model,
        mode=answer.mode,
        prompt_version=version,
        cached=answer.cached,
        calls=answer.calls,
        cost_usd=answer.cost_usd,
        unmatched_numbers=unmatched_numbers(" ".join([value.narrative, *value.suggestions]), figures),
    )
    return {"narrative": value.narrative, "suggestions": value.suggestions, "narration": info.model_dump()}

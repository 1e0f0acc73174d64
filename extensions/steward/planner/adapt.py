"""Reuse before generate: turn a similar stored plan or a process template into a new SOP, no LLM.

Adapting a plan keeps its steps and graph and learns from it: a step that was done takes its
actual minutes as the new estimate. A template's steps may omit keys (derived from titles),
estimates (30 minutes) and dependencies (when none are given, the steps run in sequence).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from steward.planner.models import ProcessTemplateIn, Sop, SopStep

DEFAULT_MINUTES = 30


def title_for(intent: str) -> str:
    first = intent.strip().splitlines()[0]
    return first if len(first) <= 120 else first[:117].rstrip() + "..."


def from_plan(intent: str, plan: dict[str, Any], steps: list[dict[str, Any]], similarity: float) -> Sop:
    sop = plan["sop"] or {}
    return Sop(
        title=title_for(intent),
        summary=f"Adapted without an LLM from the plan {plan['title']!r} (similarity {similarity:.2f}). "
        + (sop.get("summary") or ""),
        steps=[
            SopStep(
                key=s["key"],
                title=s["title"],
                description=s["description"],
                depends_on=list(s["depends_on"]),
                estimate_minutes=s["actual_minutes"]
                if s["status"] == "done" and s["actual_minutes"]
                else s["estimate_minutes"],
                role=s["role"],
                deliverable=s["deliverable"],
            )
            for s in steps
        ],
        risks=list(sop.get("risks") or []),
        assumptions=list(sop.get("assumptions") or []),
    )


def _slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_title.lower()).strip("_")[:40].rstrip("_")
    return slug or "step"


def from_template(intent: str, template: ProcessTemplateIn, similarity: float | None) -> Sop:
    keys: list[str] = []
    for i, step in enumerate(template.steps):
        key = step.key or _slug(step.title)
        if step.key is None and key in keys:
            key = f"{key[:56]}_{i + 1}"
        keys.append(key)
    sequential = all(step.depends_on is None for step in template.steps)
    name = template.name or template.id or "process template"
    how = f" (similarity {similarity:.2f})" if similarity is not None else ""
    return Sop(
        title=title_for(intent),
        summary=f"Adapted without an LLM from the process template {name!r}{how}. {template.description}".strip(),
        steps=[
            SopStep(
                key=keys[i],
                title=step.title,
                description=step.description,
                role=step.role,
                deliverable=step.deliverable,
                estimate_minutes=step.estimate_minutes if step.estimate_minutes is not None else DEFAULT_MINUTES,
                depends_on=([keys[i - 1]] if i else []) if sequential else list(step.depends_on or []),
            )
            for i, step in enumerate(template.steps)
        ],
    )

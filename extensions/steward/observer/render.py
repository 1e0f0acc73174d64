"""Figures into words: the offline narrative, the Markdown note, the Coda row and the memory text.

Templates live beside this module (`templates/`) and render with StrictUndefined, so a missing
figure is an error rather than an empty cell. Numbers are printed from the figures as computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent / "templates"
MEMORY_MAX_CHARS = 7500


def num(value: Any) -> str:
    """6.0 -> "6", 5.25 -> "5.25", None -> "n/a"; never rounds again."""
    if value is None:
        return "n/a"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def pct(value: Any) -> str:
    return "n/a" if value is None else f"{num(value)}%"


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
    keep_trailing_newline=True,
)
_env.filters["num"] = num
_env.filters["pct"] = pct


def template(name: str, **variables: Any) -> str:
    return _env.get_template(name).render(**variables).strip()


def narrative(figures: dict[str, Any]) -> str:
    """The narrative written without an LLM: the same numbers, in a fixed shape."""
    name = "narrative_weekly.j2" if figures["period"]["mode"] == "weekly" else "narrative_daily.j2"
    return " ".join(template(name, f=figures).split())


def title(figures: dict[str, Any]) -> str:
    period = figures["period"]
    if period["mode"] == "weekly":
        return f"Weekly review {period['start']} to {period['end']}"
    return f"Daily reflection {period['start']}"


def markdown(figures: dict[str, Any], narrative_text: str, suggestions: list[str]) -> str:
    return (
        template("reflection.md.j2", f=figures, title=title(figures), narrative=narrative_text, suggestions=suggestions)
        + "\n"
    )


def coda_row(client_id: str, figures: dict[str, Any], narrative_text: str, suggestions: list[str]) -> dict[str, Any]:
    """Coda's row-upsert body for the Daily Thread table; `Key` makes a re-run update the same row."""
    period, tasks, time, calendar = figures["period"], figures["tasks"], figures["time"], figures["calendar"]
    cells: dict[str, Any] = {
        "Key": f"{client_id}:{period['mode']}:{period['start']}",
        "Client": client_id,
        "Mode": period["mode"],
        "Date": period["start"],
        "Period end": period["end"],
        "Planned": tasks["planned"],
        "Completed": tasks["completed"],
        "Unplanned completed": tasks["unplanned_completed"],
        "Slipped": tasks["slipped"],
        "Carried over": tasks["carried_over"],
        "Completion rate %": tasks["completion_rate_percent"],
        "Planned hours": tasks["planned_estimate_hours"],
        "Blocked hours": time["blocked_hours"],
        "Used hours": time["used_hours"],
        "Utilisation %": time["utilisation_percent"],
        "Calendar busy hours": calendar["busy_hours"],
        "Calendar load %": calendar["load_percent"],
        "Open drafts": figures["drafts"]["open"],
        "Goals advanced": len(figures["goals"]["advanced"]),
        "Goals stalled": len(figures["goals"]["stalled"]),
    }
    if period["mode"] == "weekly":
        sprint = figures["sprint"] or {}
        cells |= {
            "Sprint planned billable hours": sprint.get("planned_billable_hours"),
            "Sprint actual billable hours": sprint.get("actual_billable_hours"),
            "Sprint variance %": sprint.get("variance_percent"),
            "Drifting patterns": "; ".join(
                f"{p['id']} ({p['drift_percent']:+g}%)" for p in figures["pattern_performance"]["flagged"]
            ),
        }
    cells |= {"Narrative": narrative_text, "Suggestions": "\n".join(f"- {s}" for s in suggestions)}
    return {"rows": [{"cells": [{"column": k, "value": v} for k, v in cells.items()]}], "keyColumns": ["Key"]}


def memory_text(figures: dict[str, Any], narrative_text: str, suggestions: list[str]) -> str:
    """What recall finds: the title, the narrative, the key figures and the suggestions."""
    text = template("memory.j2", f=figures, title=title(figures), narrative=narrative_text, suggestions=suggestions)
    return text[:MEMORY_MAX_CHARS]

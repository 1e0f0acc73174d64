"""Three suggestions from the figures alone, for the reflection written without an LLM.

Rules are tried in priority order and the first three that apply are kept, topped up with
general habits when fewer apply; every number in a suggestion is one of the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from steward.observer.render import num

Rule = Callable[[dict[str, Any]], str | None]


def _plural(n: int | float, word: str) -> str:
    return f"{num(n)} {word}" + ("" if n == 1 else "s")


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:3])
    return shown + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def _drift(f: dict[str, Any]) -> str | None:
    flagged = (f.get("pattern_performance") or {}).get("flagged") or []
    if not flagged:
        return None
    p = flagged[0]
    word = "process template" if p["group"] == "process_template" else "workflow"
    return (
        f"Re-estimate {word} {p['id']}: its runs took {num(p['actual_hours'])} h against "
        f"{num(p['estimated_hours'])} h estimated ({p['drift_percent']:+g}%)."
    )


def _sprint(f: dict[str, Any]) -> str | None:
    s = f.get("sprint")
    if not s or not s["variance_percent"] or abs(s["variance_percent"]) <= 10:
        return None
    if s["variance_hours"] < 0:
        return (
            f"Billable work came to {num(s['actual_billable_hours'])} h of the "
            f"{num(s['planned_billable_hours'])} h planned; plan the next sprint from what was delivered, "
            "or protect billable blocks."
        )
    return (
        f"Billable work ran to {num(s['actual_billable_hours'])} h against {num(s['planned_billable_hours'])} h "
        "planned; check the overrun is agreed with the client before it repeats."
    )


def _slipped(f: dict[str, Any]) -> str | None:
    t = f["tasks"]
    if not t["slipped"]:
        return None
    return (
        f"Re-plan the {_plural(t['slipped'], 'slipped task')} ({_ids(t['slipped_ids'])}) first, "
        "or renegotiate their deadlines."
    )


def _carried(f: dict[str, Any]) -> str | None:
    t = f["tasks"]
    if not t["carried_over"]:
        return None
    return (
        f"Decide on the {_plural(t['carried_over'], 'carried-over task')} ({_ids(t['carried_over_ids'])}): "
        "give each a block or drop it."
    )


def _utilisation(f: dict[str, Any]) -> str | None:
    time = f["time"]
    rate = time["utilisation_percent"]
    if rate is None and f["tasks"]["planned"]:
        return (
            "Nothing was blocked on the calendar for planned work; block time for the top task before meetings fill it."
        )
    if rate is not None and rate < 70:
        return (
            f"Only {num(time['used_hours'])} of {num(time['blocked_hours'])} blocked hours went to tasks; "
            "block less, or guard the blocks you keep."
        )
    if rate is not None and rate > 120:
        return (
            f"Tasks took {num(time['used_hours'])} h against {num(time['blocked_hours'])} h blocked; "
            "block more realistic time for them."
        )
    return None


def _load(f: dict[str, Any]) -> str | None:
    load = f["calendar"]["load_percent"]
    if load is None or load <= 90:
        return None
    return f"The calendar was {num(load)}% full; keep one 90-minute focus block free of meetings."


def _stalled(f: dict[str, Any]) -> str | None:
    stalled = f["goals"]["stalled"]
    if not stalled:
        return None
    return f'Move the stalled goal "{stalled[0]["title"]}" forward with one small, scheduled step.'


def _drafts(f: dict[str, Any]) -> str | None:
    n = f["drafts"]["open"]
    return f"Answer the {_plural(n, 'open draft')} waiting for a yes or no." if n else None


def _unplanned(f: dict[str, Any]) -> str | None:
    t = f["tasks"]
    if t["unplanned_completed"] <= max(1, t["completed"]):
        return None
    return (
        f"{_plural(t['unplanned_completed'], 'task')} got done without being planned; plan them explicitly "
        "so the plan reflects the real work."
    )


RULES: list[Rule] = [_drift, _sprint, _slipped, _carried, _utilisation, _load, _stalled, _drafts, _unplanned]
HABITS = [
    "Pick the single most important task and block time for it before 11:00.",
    "Write the next plan before stopping: three tasks, each with an estimate.",
    "Finish with a five-minute review of what moved and what did not.",
]


def suggestions(figures: dict[str, Any]) -> list[str]:
    found = [s for rule in RULES if (s := rule(figures))]
    return (found + [h for h in HABITS if h not in found])[:3]

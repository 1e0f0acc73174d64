"""Weekly figures: the daily figures over the week, day by day, trends against the previous week,
Pattern Performance (estimate drift of execution runs) and Sprint vs execution.

- Pattern Performance groups the week's execution runs by process template, else by workflow
  (runs with neither are `ungrouped`; grouped runs lacking an estimate or an actual are left out
  and counted). Drift = (actual - estimated) / estimated over the group's totals; a group whose
  |drift| exceeds 30% is flagged.
- Sprint vs execution: actual billable hours are the actual hours of the billable tasks among the
  sprint's `task_ids` (every billable task active in the week when none are listed).
- Trends compare with last week's stored weekly figures when they exist, else with figures
  recomputed from this request's inputs and Steward's records for last week; `source` says which.
"""

from __future__ import annotations

from typing import Any

from steward.observer import stats
from steward.observer.figures import (
    DailyFigures,
    PatternGroup,
    PatternPerformance,
    PatternRow,
    SprintFigures,
    TrendMetric,
    Trends,
    WeeklyFigures,
)
from steward.observer.periods import Period

DRIFT_THRESHOLD_PERCENT = 30.0
TREND_METRICS = {
    "tasks_completed": ("tasks", "completed"),
    "completion_rate_percent": ("tasks", "completion_rate_percent"),
    "planned_estimate_hours": ("tasks", "planned_estimate_hours"),
    "slipped": ("tasks", "slipped"),
    "carried_over": ("tasks", "carried_over"),
    "blocked_hours": ("time", "blocked_hours"),
    "used_hours": ("time", "used_hours"),
    "busy_hours": ("calendar", "busy_hours"),
    "execution_actual_hours": ("steward", "execution_actual_hours"),
}


def _drift(estimated: float, actual: float) -> float:
    """Rounded before any comparison, so a run that is exactly 30% over is not flagged by float noise."""
    return round((actual - estimated) / estimated * 100, 1)


def pattern_performance(runs: list[dict[str, Any]]) -> PatternPerformance:
    groups: dict[tuple[PatternGroup, str], list[dict[str, Any]]] = {}
    ungrouped = without_estimate = 0
    for run in runs:
        key: tuple[PatternGroup, str]
        if run["process_template_id"]:
            key = ("process_template", run["process_template_id"])
        elif run["workflow_id"]:
            key = ("workflow", run["workflow_id"])
        else:
            ungrouped += 1
            continue
        if not run["estimated_hours"] or run["actual_hours"] is None:
            without_estimate += 1
            continue
        groups.setdefault(key, []).append(run)
    rows = []
    for (group, ident), members in groups.items():
        estimated = sum(r["estimated_hours"] for r in members)
        actual = sum(r["actual_hours"] for r in members)
        drift = _drift(estimated, actual)
        rows.append(
            PatternRow(
                group=group,
                id=ident,
                runs=len(members),
                estimated_hours=stats.hours(estimated),
                actual_hours=stats.hours(actual),
                drift_percent=drift,
                flagged=abs(drift) > DRIFT_THRESHOLD_PERCENT,
                runs_over_threshold=sum(
                    1 for r in members if abs(_drift(r["estimated_hours"], r["actual_hours"])) > DRIFT_THRESHOLD_PERCENT
                ),
            )
        )
    rows.sort(key=lambda r: (-abs(r.drift_percent), r.group, r.id))
    return PatternPerformance(
        threshold_percent=DRIFT_THRESHOLD_PERCENT,
        patterns=rows,
        flagged=[r for r in rows if r.flagged],
        runs_considered=sum(r.runs for r in rows),
        runs_without_estimate=without_estimate,
        ungrouped_runs=ungrouped,
    )


def sprint_figures(sprint: dict[str, Any] | None, tasks: list[dict[str, Any]], period: Period) -> SprintFigures | None:
    if sprint is None:
        return None
    by_id = {t["id"]: t for t in tasks}
    listed = sprint["task_ids"]
    if listed:
        chosen = [by_id[i] for i in listed if i in by_id]
    else:
        chosen = [t for t in tasks if stats.inside(stats.active_day(t, period), period)]
    billable = [t for t in chosen if t["billable"]]
    planned = sprint["planned_billable_hours"]
    actual = sum(t.get("actual_hours") or 0 for t in billable)
    return SprintFigures(
        name=sprint.get("name"),
        planned_billable_hours=stats.hours(planned),
        actual_billable_hours=stats.hours(actual),
        variance_hours=stats.hours(actual - planned),
        variance_percent=stats.percent(actual - planned, planned),
        billable_tasks=len(billable),
        billable_tasks_completed=sum(1 for t in billable if t["status"] == "done"),
        missing_task_ids=[i for i in listed if i not in by_id],
    )


def _value(figures: dict[str, Any], path: tuple[str, str]) -> float | None:
    value = (figures.get(path[0]) or {}).get(path[1])
    return float(value) if isinstance(value, int | float) else None


def trends(current: DailyFigures, previous: dict[str, Any], period: Period, source: str) -> Trends:
    now = current.model_dump(mode="json")
    metrics = {}
    for name, path in TREND_METRICS.items():
        a, b = _value(now, path), _value(previous, path)
        delta = round(a - b, 2) if a is not None and b is not None else None
        metrics[name] = TrendMetric(
            current=a,
            previous=b,
            delta=delta,
            delta_percent=stats.percent(delta, b) if delta is not None and b else None,
        )
    last = period.previous()
    return Trends(previous_start=last.start, previous_end=last.end, source=source, metrics=metrics)  # type: ignore[arg-type]


def weekly(inputs: dict[str, Any], gathered: dict[str, Any], period: Period) -> WeeklyFigures:
    base = stats.daily(inputs, gathered, period)
    if gathered.get("previous_figures") is not None:
        previous, source = gathered["previous_figures"], "stored_reflection"
    else:
        previous = stats.daily(inputs, gathered, period.previous(), records_key="previous").model_dump(mode="json")
        source = "computed"
    return WeeklyFigures.model_validate(
        {
            **base.model_dump(),
            "days": [stats.day_row(inputs, period.day(d)) for d in period.days()],
            "trends": trends(base, previous, period, source),
            "pattern_performance": pattern_performance(gathered["current"]["execution_runs"]),
            "sprint": sprint_figures(inputs.get("sprint"), inputs["tasks"], period),
        }
    )

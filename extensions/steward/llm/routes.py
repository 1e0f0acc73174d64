"""`/api/v1/llm`: what the LLM cost, by mode, model, route or day, against the daily budget."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint

from steward.core.api import endpoint
from steward.core.db import get_db
from steward.core.runtime import runtime
from steward.llm import usage
from steward.llm.models import Budget, UsageGroup, UsageOut, UsageQuery, UsageTotals

bp = Blueprint("llm", __name__, url_prefix="/api/v1/llm")


@endpoint(
    bp,
    "/usage",
    methods=["GET"],
    scope="read",
    summary="LLM tokens and cost, grouped",
    query=UsageQuery,
    response=UsageOut,
)
def get_usage(query: UsageQuery):
    now = datetime.now(UTC)
    since = query.since or now.replace(hour=0, minute=0, second=0, microsecond=0)
    until = query.until or now
    conn = get_db()
    totals, groups = usage.summarise(conn, since, until, query.group_by)
    daily = runtime().settings.llm_daily_budget_usd
    spent = usage.spent_today(conn)
    return UsageOut(
        since=since,
        until=until,
        group_by=query.group_by,
        totals=UsageTotals.model_validate(totals),
        groups=[UsageGroup.model_validate(g) for g in groups],
        budget=Budget(
            daily_usd=daily,
            spent_today_usd=round(spent, 6),
            remaining_usd=round(max(0.0, daily - spent), 6) if daily > 0 else None,
        ),
    )

"""Request and response models of the LLM usage report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from steward.core.api import StrictModel
from steward.core.types import Timestamp

Dimension = Literal["service", "route", "purpose", "mode", "model", "outcome", "cache_hit", "day", "client_id"]


class UsageQuery(StrictModel):
    since: Timestamp | None = Field(None, description="Start of the window; defaults to 00:00 UTC today")
    until: Timestamp | None = Field(None, description="End of the window (exclusive); defaults to now")
    group_by: list[Dimension] = Field(
        default=["mode"],
        max_length=4,
        description="Comma-separated: service, route, purpose, mode, model, outcome, cache_hit, day, client_id",
    )

    @field_validator("group_by")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a dimension twice")
        return value

    @field_validator("until")
    @classmethod
    def _ordered(cls, until, info):
        since = info.data.get("since")
        if until is not None and since is not None and until <= since:
            raise ValueError("until must be after since")
        return until


class UsageTotals(BaseModel):
    calls: int = Field(description="Calls made or answered, cache hits and refusals included")
    cache_hits: int
    failed_calls: int = Field(description="Timeouts, provider errors and answers that failed their contract")
    refused_calls: int = Field(description="Refused because the daily budget was spent")
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float
    unpriced_calls: int = Field(description="Calls to a model missing from LLM_PRICES (counted at $0)")
    avg_latency_ms: float | None = Field(description="Over calls that reached the provider")


class UsageGroup(UsageTotals):
    key: dict[str, str | bool | None]


class Budget(BaseModel):
    daily_usd: float = Field(description="LLM_DAILY_BUDGET_USD; 0 means no limit")
    spent_today_usd: float
    remaining_usd: float | None


class UsageOut(BaseModel):
    since: datetime
    until: datetime
    group_by: list[Dimension]
    totals: UsageTotals
    groups: list[UsageGroup]
    budget: Budget

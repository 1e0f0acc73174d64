"""`LLM.complete`: messages + an output model -> a validated value, accounted and cached.

    cache hit?  -> answer, recorded as a cache hit costing nothing (served even over budget)
    budget?     -> 429 llm_budget_exceeded once today's spend reaches LLM_DAILY_BUDGET_USD
    call        -> retried on 429/5xx (transport.py); timeout or exhaustion -> 503 llm_unavailable
    validate    -> one repair call with the problems; still wrong -> 502 llm_bad_output
    cache       -> the validated answer, keyed by (model, messages, schema)

The model and max tokens come from the request's processing profile. Every HTTP completion is a
row in `llm_calls` and moves the Prometheus counters.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic

import openai
from flask import has_request_context, request

from steward.core.cache import Cache
from steward.core.config import Settings
from steward.core.llm import structured
from steward.core.llm.accounting import Accountant, CallRecord
from steward.core.llm.errors import LLMBadOutput, LLMBudgetExceeded, LLMNotConfigured, LLMUnavailable
from steward.core.llm.metrics import LLMMetrics
from steward.core.llm.pricing import cost_usd
from steward.core.llm.structured import M
from steward.core.llm.transport import CallFailed, Reply, Transport
from steward.core.processing import Profile, current_profile

log = logging.getLogger(__name__)

CACHE_PREFIX = "llm:v1:"


@dataclass
class Completion(Generic[M]):
    """A validated answer and what it cost; `messages` is the conversation that produced it (without
    the contract message the layer adds), for a follow-up such as a repair round."""

    value: M
    raw: str
    model: str
    mode: str
    cached: bool
    repaired: bool
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: int
    messages: list[dict[str, str]]


@dataclass
class _Spend:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0


def _where() -> tuple[str, str]:
    if has_request_context():
        return request.blueprint or "app", request.url_rule.rule if request.url_rule else request.path
    return "offline", ""


def _next_utc_midnight_seconds() -> int:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds()))


class LLM:
    def __init__(
        self,
        settings: Settings,
        cache: Cache,
        accountant: Accountant,
        metrics: LLMMetrics,
        client: openai.OpenAI | None = None,
    ) -> None:
        self.settings = settings
        self._cache = cache
        self._accountant = accountant
        self._metrics = metrics
        self._format: structured.Format = settings.llm_response_format
        self._transport: Transport | None = None
        if settings.llm_configured:
            key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
            client = client or openai.OpenAI(
                base_url=settings.llm_base_url, api_key=key, timeout=settings.llm_timeout_seconds, max_retries=0
            )
            self._transport = Transport(client, settings.llm_max_retries, settings.llm_retry_max_wait_seconds)

    @property
    def configured(self) -> bool:
        return self._transport is not None

    def complete(
        self,
        messages: list[dict[str, str]],
        output: type[M],
        *,
        purpose: str,
        prompt_version: int | None = None,
        client_id: str | None = None,
        temperature: float = 0.2,
    ) -> Completion[M]:
        """Ask for `output`; raises the errors in `errors.py`, each already an API error."""
        if self._transport is None:
            raise LLMNotConfigured(f"{purpose} needs an LLM")
        profile = current_profile(self.settings)
        service, route = _where()
        base: dict[str, Any] = dict(
            service=service,
            route=route,
            purpose=purpose,
            mode=profile.mode,
            model=profile.model,
            prompt_version=prompt_version,
            client_id=client_id,
        )
        asked = [structured.contract_message(output), *messages]
        key = self._cache_key(profile.model, asked, output)

        hit = self._cache.get(key) if self.settings.llm_cache_ttl_seconds else None
        if isinstance(hit, str):
            value, problems = structured.parse(hit, output)
            if value is not None:
                self._account(CallRecord(**base, outcome="ok", cache_hit=True))
                return Completion(
                    value=value,
                    raw=hit,
                    model=profile.model,
                    mode=profile.mode,
                    cached=True,
                    repaired=False,
                    calls=0,
                    prompt_tokens=0,
                    completion_tokens=0,
                    cost_usd=0.0,
                    latency_ms=0,
                    messages=asked[1:],
                )

        self._check_budget(base)
        totals = _Spend()
        raw = self._call(asked, output, profile, base, totals, temperature, repair=False)
        value, problems = structured.parse(raw, output)
        repaired = False
        if value is None:
            log.warning("%s: answer failed its contract (%s), asking once for a repair", purpose, problems[0])
            asked_again = structured.repair_messages(asked, raw, problems)
            raw = self._call(asked_again, output, profile, base, totals, temperature, repair=True)
            value, problems = structured.parse(raw, output)
            if value is None:
                raise LLMBadOutput(
                    f"the LLM's answer for {purpose} did not match its contract after one repair: {problems[0]}",
                    details=[{"field": f"llm.{purpose}", "problem": p} for p in problems[:10]],
                )
            asked, repaired = asked_again, True
        if self.settings.llm_cache_ttl_seconds:
            self._cache.set(key, raw, self.settings.llm_cache_ttl_seconds)
        return Completion(
            value=value,
            raw=raw,
            model=profile.model,
            mode=profile.mode,
            cached=False,
            repaired=repaired,
            calls=totals.calls,
            prompt_tokens=totals.prompt_tokens,
            completion_tokens=totals.completion_tokens,
            cost_usd=round(totals.cost_usd, 6),
            latency_ms=totals.latency_ms,
            messages=asked[1:],
        )

    # ---- steps ---------------------------------------------------------------------------
    def _cache_key(self, model: str, messages: list[dict[str, str]], output: type[Any]) -> str:
        material = json.dumps(
            {"model": model, "messages": messages, "schema": structured.schema_of(output)},
            sort_keys=True,
            separators=(",", ":"),
        )
        return CACHE_PREFIX + hashlib.sha256(material.encode()).hexdigest()

    def _check_budget(self, base: dict[str, Any]) -> None:
        budget = self.settings.llm_daily_budget_usd
        if budget <= 0:
            return
        spent = self._accountant.spent_today()
        if spent >= budget:
            self._account(CallRecord(**base, outcome="refused", error="daily budget spent"))
            raise LLMBudgetExceeded(
                f"the LLM daily budget of ${budget:.2f} is spent (${spent:.4f} since 00:00 UTC); new calls resume "
                "at 00:00 UTC, or raise LLM_DAILY_BUDGET_USD",
                details=[{"field": "LLM_DAILY_BUDGET_USD", "problem": f"${spent:.4f} of ${budget:.2f} spent today"}],
                headers={"Retry-After": str(_next_utc_midnight_seconds())},
            )

    def _call(
        self,
        messages: list[dict[str, str]],
        output: type[Any],
        profile: Profile,
        base: dict[str, Any],
        totals: _Spend,
        temperature: float,
        *,
        repair: bool,
    ) -> str:
        assert self._transport is not None
        try:
            reply = self._request(messages, output, profile, temperature)
        except CallFailed as failed:
            self._account(
                CallRecord(
                    **base,
                    outcome=failed.outcome,
                    attempts=failed.attempts,
                    latency_ms=failed.latency_ms,
                    repair=repair,
                    error=failed.error.message[:500],
                )
            )
            raise failed.error from None
        except openai.APIStatusError as exc:
            self._account(
                CallRecord(
                    **base,
                    outcome="error",
                    attempts=1,
                    repair=repair,
                    error=f"HTTP {exc.status_code}: {exc.message}"[:500],
                )
            )
            raise LLMUnavailable(
                f"the LLM provider refused the request (HTTP {exc.status_code}); check LLM_MODEL and LLM_API_KEY"
            ) from None
        estimated = reply.prompt_tokens is None or reply.completion_tokens is None
        prompt_tokens = reply.prompt_tokens if reply.prompt_tokens is not None else _estimate_tokens(messages)
        completion_tokens = reply.completion_tokens if reply.completion_tokens is not None else len(reply.content) // 4
        cost, priced = cost_usd(self.settings.llm_prices, profile.model, prompt_tokens, completion_tokens)
        valid = structured.parse(reply.content, output)[0] is not None
        self._account(
            CallRecord(
                **base,
                outcome="ok" if valid else "invalid_output",
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                tokens_estimated=estimated,
                cost_usd=cost,
                priced=priced,
                latency_ms=reply.latency_ms,
                attempts=reply.attempts,
                repair=repair,
            )
        )
        totals.calls += 1
        totals.prompt_tokens += prompt_tokens
        totals.completion_tokens += completion_tokens
        totals.cost_usd += cost
        totals.latency_ms += reply.latency_ms
        return reply.content

    def _request(
        self, messages: list[dict[str, str]], output: type[Any], profile: Profile, temperature: float
    ) -> Reply:
        assert self._transport is not None
        request_args = dict(
            model=profile.model, messages=messages, max_tokens=profile.max_tokens, temperature=temperature
        )
        try:
            return self._transport.chat(
                **request_args, response_format=structured.response_format(output, self._format)
            )
        except openai.BadRequestError as exc:
            if self._format != "json_schema" or "response_format" not in str(exc.message) + str(exc.body):
                raise
            log.warning(
                "the LLM provider refused a JSON-schema response_format; using JSON mode from now on "
                "(set LLM_RESPONSE_FORMAT=json_object to skip this probe)"
            )
            self._format = "json_object"
            return self._transport.chat(
                **request_args, response_format=structured.response_format(output, "json_object")
            )

    def close(self) -> None:
        self._accountant.close()

    def _account(self, call: CallRecord) -> None:
        self._accountant.record(call)
        self._metrics.observe(call)


def _estimate_tokens(messages: list[dict[str, str]]) -> int:
    return sum(len(m.get("content") or "") for m in messages) // 4

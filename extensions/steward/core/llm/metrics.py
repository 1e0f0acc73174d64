"""Prometheus counters for LLM tokens, cost and calls, on the app's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from steward.core.llm.accounting import CallRecord


class LLMMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.tokens = Counter(
            "steward_llm_tokens_total", "LLM tokens billed", ["model", "mode", "kind"], registry=registry
        )
        self.cost = Counter("steward_llm_cost_usd_total", "LLM spend in USD", ["model", "mode"], registry=registry)
        self.calls = Counter(
            "steward_llm_calls_total", "LLM calls", ["model", "mode", "outcome", "cache_hit"], registry=registry
        )
        self.latency = Histogram(
            "steward_llm_call_duration_seconds",
            "LLM call latency (retries included)",
            ["model", "mode"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )

    def observe(self, call: CallRecord) -> None:
        self.calls.labels(call.model, call.mode, call.outcome, str(call.cache_hit).lower()).inc()
        if call.prompt_tokens:
            self.tokens.labels(call.model, call.mode, "prompt").inc(call.prompt_tokens)
        if call.completion_tokens:
            self.tokens.labels(call.model, call.mode, "completion").inc(call.completion_tokens)
        if call.cost_usd:
            self.cost.labels(call.model, call.mode).inc(call.cost_usd)
        if not call.cache_hit and call.outcome != "refused":
            self.latency.labels(call.model, call.mode).observe(call.latency_ms / 1000)

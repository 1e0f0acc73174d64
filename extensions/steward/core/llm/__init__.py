"""The LLM layer: one client for any OpenAI-compatible endpoint, with strict output contracts.

    from steward.core.llm import llm
    answer = llm().complete(messages, Sop, purpose="sop_generator", client_id=...)
    answer.value          # a validated `Sop`; answer.cached / .cost_usd / .model say how

`llm()` builds one `LLM` per app on first use (client, accounting pool, metrics on the app's
registry). Everything it raises is an `ApiError` (see errors.py).
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from steward.core.llm.accounting import Accountant, CallRecord
from steward.core.llm.client import LLM, Completion
from steward.core.llm.errors import LLMBadOutput, LLMBudgetExceeded, LLMNotConfigured, LLMUnavailable
from steward.core.llm.metrics import LLMMetrics
from steward.core.llm.structured import repair_messages

__all__ = [
    "LLM",
    "Completion",
    "CallRecord",
    "LLMBadOutput",
    "LLMBudgetExceeded",
    "LLMNotConfigured",
    "LLMUnavailable",
    "llm",
    "repair_messages",
]

_lock = threading.Lock()


def llm(app: Flask | None = None) -> LLM:
    """The app's LLM client, built once per app."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("steward.llm")
    if found is None:
        with _lock:
            found = app.extensions.get("steward.llm")
            if found is None:
                runtime = app.extensions["steward"]
                registry = app.extensions["steward.metrics"].registry
                found = LLM(runtime.settings, runtime.cache, Accountant(runtime.pool.conninfo), LLMMetrics(registry))
                app.extensions["steward.llm"] = found
    return found

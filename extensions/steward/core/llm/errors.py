"""What the LLM layer refuses or fails with, already in the API's error envelope.

ApiError
 ├─ LLMNotConfigured     503 llm_not_configured   no LLM_BASE_URL: names the variables to set
 ├─ LLMBudgetExceeded    429 llm_budget_exceeded  today's LLM_DAILY_BUDGET_USD is spent
 ├─ LLMUnavailable       503 llm_unavailable      timeout, or 429/5xx after the retries
 └─ LLMBadOutput         502 llm_bad_output       the answer failed its contract twice, or the
                                                  provider's 200 was not a chat completion (retried)
"""

from __future__ import annotations

from steward.core.errors import ApiError

LLM_VARIABLES = ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "LLM_MODEL_FAST")


class LLMNotConfigured(ApiError):
    status = 503
    code = "llm_not_configured"

    def __init__(self, why: str) -> None:
        super().__init__(
            f"{why}; no LLM is configured: set LLM_BASE_URL (any OpenAI-compatible endpoint), LLM_API_KEY "
            "and LLM_MODEL (optionally LLM_MODEL_FAST for fast mode)",
            details=[
                {
                    "field": "LLM_BASE_URL",
                    "problem": "unset; e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1",
                },
                {"field": "LLM_API_KEY", "problem": "the provider's key (any value for a local server)"},
                {"field": "LLM_MODEL", "problem": "the model for default mode, e.g. gpt-4o-mini"},
            ],
        )


class LLMBudgetExceeded(ApiError):
    status = 429
    code = "llm_budget_exceeded"


class LLMUnavailable(ApiError):
    status = 503
    code = "llm_unavailable"


class LLMBadOutput(ApiError):
    status = 502
    code = "llm_bad_output"


# What a route whose answer needs the LLM documents in /openapi.json: `endpoint(responses=LLM_RESPONSES)`.
LLM_RESPONSES: dict[int, str] = {
    429: "Today's LLM budget (LLM_DAILY_BUDGET_USD) is spent (llm_budget_exceeded)",
    502: "The LLM's answer broke its output contract even after a repair round, or the provider's responses "
    "were not chat completions (llm_bad_output)",
    503: "The LLM provider timed out or kept failing (llm_unavailable), or none is configured (llm_not_configured)",
}

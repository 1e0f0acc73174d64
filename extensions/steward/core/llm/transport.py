"""One chat completion over the `openai` SDK, retried with tenacity on 429, 5xx, dropped connections
and malformed responses.

The SDK's own retries are off so there is one policy, ours: a `Retry-After` (or `retry-after-ms`)
from the provider is honoured up to `max_wait`; a longer one is not waited out but passed on to
our caller. A timeout is not retried: a provider that hung once for the whole timeout will likely
hang again, and the caller (n8n) has its own deadline. A 200 whose body is not a chat completion
(truncated JSON, a proxy's HTML page) is retried like a 5xx, then answered with a 502.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import openai
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from steward.core.errors import ApiError
from steward.core.llm.errors import LLMBadOutput, LLMUnavailable

log = logging.getLogger(__name__)


@dataclass
class Reply:
    content: str
    prompt_tokens: int | None
    completion_tokens: int | None
    attempts: int
    latency_ms: int


class CallFailed(Exception):
    """The provider failed after the retries; `outcome` is 'timeout' or 'error'."""

    def __init__(self, error: ApiError, outcome: str, attempts: int, latency_ms: int) -> None:
        super().__init__(error.message)
        self.error, self.outcome, self.attempts, self.latency_ms = error, outcome, attempts, latency_ms


class MalformedResponse(Exception):
    """HTTP 200, but the body is not a chat completion (not JSON, or JSON of another shape)."""


def retry_after(exc: BaseException) -> float | None:
    """Seconds the provider asked us to wait, from `retry-after-ms` or `Retry-After`, if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class Transport:
    def __init__(self, client: openai.OpenAI, max_retries: int, max_wait: float) -> None:
        self._client = client
        self._max_retries = max_retries
        self._max_wait = max_wait

    def _retryable(self, exc: BaseException) -> bool:
        if isinstance(exc, openai.APITimeoutError):
            return False
        if isinstance(exc, (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError)):
            asked = retry_after(exc)
            return asked is None or asked <= self._max_wait
        return isinstance(exc, MalformedResponse)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after(exc) if exc else None
        if asked is not None:
            return asked
        return min(self._max_wait, 0.25 * 2 ** (state.attempt_number - 1)) * (0.5 + random.random() / 2)

    def chat(self, **request: Any) -> Reply:
        """One completion; raises `CallFailed` (wrapping a 503, or a 502 for a malformed body) or lets a 4xx
        `openai.APIStatusError` out."""
        attempts = 0
        started = time.perf_counter()

        def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            try:
                completion = self._client.chat.completions.create(**request)
            except json.JSONDecodeError as exc:  # the SDK parsing a 200 body
                raise MalformedResponse(f"not JSON ({exc})") from None
            if not isinstance(getattr(completion, "choices", None), list):
                shown = completion if isinstance(completion, str) else "JSON without choices"
                raise MalformedResponse(f"not a chat completion: {str(shown)[:80]!r}")
            return completion

        retrying = Retrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(self._retryable),
            reraise=True,
            before_sleep=_log_retry,
        )
        try:
            completion = retrying(attempt)
        except openai.APITimeoutError:
            elapsed = _ms(started)
            raise CallFailed(
                LLMUnavailable(
                    f"the LLM did not answer within {self._client.timeout} s; retry later", headers={"Retry-After": "5"}
                ),
                "timeout",
                attempts,
                elapsed,
            ) from None
        except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
            asked = retry_after(exc)
            status = getattr(exc, "status_code", None)
            what = f"HTTP {status}" if status else type(exc).__name__
            error = LLMUnavailable(
                f"the LLM provider failed ({what}) after {attempts} attempt(s); retry later",
                headers={"Retry-After": str(max(1, round(asked))) if asked is not None else "5"},
            )
            raise CallFailed(error, "error", attempts, _ms(started)) from None
        except MalformedResponse as exc:
            bad = LLMBadOutput(
                f"the LLM provider answered HTTP 200 with a body that is {exc} after {attempts} attempt(s); "
                "check LLM_BASE_URL points at an OpenAI-compatible API (not a proxy's page), or retry later",
                headers={"Retry-After": "5"},
            )
            raise CallFailed(bad, "error", attempts, _ms(started)) from None
        choice = completion.choices[0] if completion.choices else None
        content = (choice.message.content if choice and choice.message else None) or ""
        usage = completion.usage
        return Reply(
            content=content,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            attempts=attempts,
            latency_ms=_ms(started),
        )


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("LLM call failed (%s), retry %d", type(exc).__name__, state.attempt_number)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

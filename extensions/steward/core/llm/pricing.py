"""Cost of one completion from the configured price table (USD per million tokens)."""

from __future__ import annotations

from steward.core.config import LlmPrice


def price_of(prices: dict[str, LlmPrice], model: str) -> LlmPrice | None:
    """The model's price; `openai/gpt-4o-mini` (OpenRouter style) falls back to `gpt-4o-mini`."""
    return prices.get(model) or prices.get(model.rsplit("/", 1)[-1])


def cost_usd(prices: dict[str, LlmPrice], model: str, prompt_tokens: int, completion_tokens: int) -> tuple[float, bool]:
    """(cost, priced): an unlisted model costs 0 and is reported as unpriced, not guessed."""
    price = price_of(prices, model)
    if price is None:
        return 0.0, False
    cost = (prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000
    return round(cost, 6), True

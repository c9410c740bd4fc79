"""Token prices and the cost of one call.

Prices are USD per million tokens, per model, and come from configuration
(:class:`~platform_assets.core.llm.client.ClaudeConfig.prices`); the table here is only the
default. Cache writes cost 1.25x the input price (5-minute cache) and cache reads 0.1x.

The Messages API reports four disjoint token counts: ``input_tokens`` (uncached input
only), ``cache_creation_input_tokens``, ``cache_read_input_tokens`` and ``output_tokens``.
Each is priced once; they are never added into one another.
"""

from __future__ import annotations

from dataclasses import dataclass

CACHE_WRITE_MULTIPLIER = 1.25
CACHE_READ_MULTIPLIER = 0.10


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens for one model."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float


# Defaults, as published when this was written. Override through configuration
# (``ClaudeResource.prices``) rather than editing this table.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "claude-sonnet-4-6": ModelPrice(3.0, 15.0),
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0),
    "claude-opus-4-6": ModelPrice(5.0, 25.0),
    "claude-opus-4-5": ModelPrice(5.0, 25.0),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0),
}


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one call, by kind; each kind counted once."""

    input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_write_tokens + self.cache_read_tokens


def price_for(model: str, prices: dict[str, ModelPrice]) -> ModelPrice | None:
    """The price of ``model``, matching Bedrock ids (``us.anthropic.claude-…-v1:0``) and
    dated snapshots (``claude-haiku-4-5-20251001``) to their base model."""
    if model in prices:
        return prices[model]
    base = model.split("anthropic.", 1)[-1].split(":", 1)[0]
    base = base.removesuffix("-v1").removesuffix("-v2")
    if base in prices:
        return prices[base]
    # longest known name that prefixes the id: a dated snapshot of a priced model
    candidates = [name for name in prices if base.startswith(name)]
    return prices[max(candidates, key=len)] if candidates else None


def cost_usd(model: str, usage: TokenUsage, prices: dict[str, ModelPrice]) -> float | None:
    """Cost of one call in USD, or None when the model has no price configured."""
    price = price_for(model, prices)
    if price is None:
        return None
    per_token_in = price.input_usd_per_mtok / 1_000_000
    per_token_out = price.output_usd_per_mtok / 1_000_000
    return (
        usage.input_tokens * per_token_in
        + usage.cache_write_tokens * per_token_in * CACHE_WRITE_MULTIPLIER
        + usage.cache_read_tokens * per_token_in * CACHE_READ_MULTIPLIER
        + usage.output_tokens * per_token_out
    )

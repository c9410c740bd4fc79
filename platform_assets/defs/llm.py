"""Claude in the Dagster layer: the ``claude`` resource and the LLM observability asset.

- ``claude`` (:class:`ClaudeResource`): configuration of the core Claude client. Built when
  the code location loads, from the environment; with no ``ANTHROPIC_API_KEY`` (and no
  Bedrock) it is disabled, and every contract check says the rules engine decided alone.
- ``llm_observability`` (group ``operations``): the governance log ``platform.llm_calls``
  summarised per task and model for the last day, as Markdown tables.
- ``llm_observability_regressions``: WARNs when the cache-hit rate dropped or the cost per
  successful task jumped against the previous day.

Nothing here imports ``anthropic``: the core client imports it on the first real call.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import dagster as dg

from platform_assets.core.llm import governance
from platform_assets.core.llm.client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT_SECONDS,
    ClaudeClient,
    ClaudeConfig,
)
from platform_assets.core.llm.pricing import DEFAULT_PRICES, ModelPrice
from platform_assets.defs.resources import WAREHOUSE_POOL, WarehouseResource

LLM_OBSERVABILITY = dg.AssetKey("llm_observability")
LLM_REGRESSION_CHECK = "llm_observability_regressions"
WINDOW = timedelta(days=1)


class ModelPriceConfig(dg.Config):
    """USD per million tokens for one model (cache writes 1.25x input, reads 0.1x)."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float


class ClaudeResource(dg.ConfigurableResource):
    """How the platform reaches Claude: direct API (``api_key``, optional ``base_url``) or
    Amazon Bedrock (``use_bedrock``, ``aws_region``, AWS credentials from the usual chain).
    ``prices`` adds to or overrides the default price table; ``cache_batch_data`` also
    caches each batch's data (pays off only when re-runs of the same batch are common);
    ``degraded_blocks`` makes a failed Claude check fail the batch (the default)."""

    model: str = DEFAULT_MODEL
    api_key: str | None = None
    base_url: str | None = None
    use_bedrock: bool = False
    aws_region: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    degraded_blocks: bool = True
    cache_batch_data: bool = False
    prices: dict[str, ModelPriceConfig] = {}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ClaudeResource:
        """Built at load time. Secrets stay ``dg.EnvVar`` references (shown as such in the
        UI, read when a run starts), and only when set, so a missing key disables Claude
        instead of failing the load."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "model": env.get("PLATFORM_CLAUDE_MODEL") or DEFAULT_MODEL,
            "use_bedrock": env.get("PLATFORM_CLAUDE_USE_BEDROCK", "").lower() in ("1", "true", "yes"),
        }
        if env.get("ANTHROPIC_API_KEY"):
            values["api_key"] = dg.EnvVar("ANTHROPIC_API_KEY")
        if env.get("ANTHROPIC_BASE_URL"):
            values["base_url"] = dg.EnvVar("ANTHROPIC_BASE_URL")
        if env.get("AWS_REGION"):
            values["aws_region"] = dg.EnvVar("AWS_REGION")
        return cls(**values)

    def config(self) -> ClaudeConfig:
        prices: dict[str, ModelPrice] = dict(DEFAULT_PRICES)
        prices.update({name: ModelPrice(p.input_usd_per_mtok, p.output_usd_per_mtok)
                       for name, p in self.prices.items()})
        return ClaudeConfig(model=self.model, api_key=self.api_key or None, base_url=self.base_url or None,
                            use_bedrock=self.use_bedrock, aws_region=self.aws_region or None,
                            max_retries=self.max_retries, timeout_seconds=self.timeout_seconds,
                            cache_data=self.cache_batch_data, prices=prices)

    def get_client(self) -> ClaudeClient:
        """The core client (disabled when neither a key nor Bedrock is configured)."""
        return ClaudeClient(self.config())

    def contract_reviewer(self, run_id: str | None = None, asset: str | None = None):
        """The reviewer ``service.check_partition`` takes: the semantic check, merged."""
        from platform_assets.core.validation.semantic_llm import make_reviewer

        return make_reviewer(self.get_client(), run_id=run_id, asset=asset, degraded_blocks=self.degraded_blocks)


def _window_stats(conn) -> tuple[list[governance.TaskModelStats], list[governance.TaskModelStats]]:
    (cur_start, cur_end), (prev_start, prev_end) = governance.windows(length=WINDOW)
    return (governance.observability(conn, cur_start, cur_end),
            governance.observability(conn, prev_start, prev_end))


@dg.asset(
    key=LLM_OBSERVABILITY,
    group_name="operations",
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def llm_observability(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """How the platform's Claude calls behave, per task and model, over the last day and the
    day before: cache-hit rate, tool-call success, turns p50/p99, refusal and degraded
    rates, cost per successful task. Read from ``platform.llm_calls``."""
    with warehouse.get_connection() as conn:
        current, previous = _window_stats(conn)
    calls = sum(s.calls for s in current)
    cost = sum(s.cost_usd for s in current)
    markdown = (governance.render_markdown(current, "Last 24 hours") + "\n"
                + governance.render_markdown(previous, "The 24 hours before"))
    return dg.MaterializeResult(metadata={
        "observability": dg.MetadataValue.md(markdown),
        "calls_last_24h": calls,
        "cost_usd_last_24h": round(cost, 6),
        "degraded_calls_last_24h": sum(s.calls - s.successful for s in current),
    })


@dg.asset_check(
    asset=LLM_OBSERVABILITY,
    name=LLM_REGRESSION_CHECK,
    description="WARNs when, for a task and model, the cache-hit rate fell by more than 10 points or the "
                "cost per successful task rose above 1.5x, against the previous 24 hours.",
)
def llm_observability_regressions(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        current, previous = _window_stats(conn)
    regressions = governance.compare_windows(current, previous)
    return dg.AssetCheckResult(
        passed=not regressions,
        severity=dg.AssetCheckSeverity.WARN,
        description=("; ".join(r.describe() for r in regressions) if regressions
                     else "no regression against the previous 24 hours"),
        metadata={"regressions": len(regressions),
                  "details": dg.MetadataValue.md("\n".join(f"- {r.describe()}" for r in regressions) or "none")},
    )


@dg.definitions
def llm_defs() -> dg.Definitions:
    # The `claude` resource is built with the others in platform_assets.defs.resources.
    return dg.Definitions(assets=[llm_observability], asset_checks=[llm_observability_regressions])

"""LLM operations: how the platform's Claude calls behave (the ``claude`` resource itself is
in ``defs/resources.py``, with the others).

- ``llm_observability`` (group ``operations``): the governance log ``platform.llm_calls``
  summarised per task and model for the last day, as Markdown tables.
- ``llm_observability_regressions``: WARNs when the cache-hit rate dropped or the cost per
  successful task jumped against the previous day.
"""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from platform_assets.core.llm import governance
from platform_assets.core.operations.alerts import Alert
from platform_assets.defs.automation import hourly
from platform_assets.defs.keys import (
    LLM_OBSERVABILITY,
    LLM_REGRESSION_CHECK,
    OPERATIONS,
    owner_metadata,
    owners,
)
from platform_assets.defs.resources import WAREHOUSE_POOL, NotifierResource, WarehouseResource

WINDOW = timedelta(days=1)


def _window_stats(conn) -> tuple[list[governance.TaskModelStats], list[governance.TaskModelStats]]:
    (cur_start, cur_end), (prev_start, prev_end) = governance.windows(length=WINDOW)
    return (
        governance.observability(conn, cur_start, cur_end),
        governance.observability(conn, prev_start, prev_end),
    )


@dg.asset(
    key=LLM_OBSERVABILITY,
    group_name=OPERATIONS,
    owners=owners(OPERATIONS),
    automation_condition=hourly(),
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def llm_observability(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """How the platform's Claude calls behave, per task and model, over the last day and the
    day before: cache-hit rate, tool-call success, turns p50/p99, refusal and degraded
    rates, cost per successful task. Read from ``platform.llm_calls``."""
    with warehouse.get_connection() as conn:
        current, previous = _window_stats(conn)
        (start, end), _ = governance.windows()
        by_tool = governance.tool_success(conn, start, end)
    calls = sum(s.calls for s in current)
    cost = sum(s.cost_usd for s in current)
    markdown = (
        governance.render_markdown(current, "Last 24 hours")
        + "\n"
        + governance.render_markdown(previous, "The 24 hours before")
        + "\n\n### Tool calls by tool, last 24 hours\n\n"
        + governance.render_tool_success(by_tool)
    )
    return dg.MaterializeResult(
        metadata={
            "observability": dg.MetadataValue.md(markdown),
            "calls_last_24h": calls,
            "cost_usd_last_24h": round(cost, 6),
            "degraded_calls_last_24h": sum(s.calls - s.successful for s in current),
            "tool_calls_last_24h": sum(int(t["calls"]) for t in by_tool.values()),
            "tool_success_by_tool": dg.MetadataValue.json(
                {tool: round(t["success_rate"], 4) for tool, t in by_tool.items()}
            ),
        }
    )


@dg.asset_check(
    asset=LLM_OBSERVABILITY,
    name=LLM_REGRESSION_CHECK,
    metadata=owner_metadata(OPERATIONS),
    description="WARNs when, for a task and model, the cache-hit rate fell by more than 10 points, "
    "the cost per successful task rose above 1.5x, the refusal rate rose by more than 10 points, "
    "the tool-call success rate fell by more than 10 points or turns per task (p99) rose above "
    "1.5x, against the previous 24 hours.",
)
def llm_observability_regressions(
    context, warehouse: WarehouseResource, notifier: NotifierResource
) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        current, previous = _window_stats(conn)
        regressions = governance.compare_windows(current, previous)
        if regressions:
            notifier.notify(
                Alert(
                    kind="llm_regression",
                    severity="warning",
                    owner=owners(OPERATIONS)[0],
                    title=f"{len(regressions)} LLM regression(s) against the previous 24 hours",
                    summary="; ".join(r.describe() for r in regressions),
                    runbook="review_llm_regression",
                    run_id=context.run.run_id,
                    asset=LLM_OBSERVABILITY.to_user_string(),
                    details={"regressions": [r.describe() for r in regressions]},
                ),
                log=context.log,
                conn=conn,
            )
    return dg.AssetCheckResult(
        passed=not regressions,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "; ".join(r.describe() for r in regressions)
            if regressions
            else "no regression against the previous 24 hours"
        ),
        metadata={
            "regressions": len(regressions),
            "details": dg.MetadataValue.md(
                "\n".join(f"- {r.describe()}" for r in regressions) or "none"
            ),
        },
    )


@dg.definitions
def llm_defs() -> dg.Definitions:
    # The `claude` resource is built with the others in platform_assets.defs.resources.
    return dg.Definitions(assets=[llm_observability], asset_checks=[llm_observability_regressions])

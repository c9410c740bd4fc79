"""Cost per run: each finished run's estimated cost, from the Dagster event log (step
durations) and the governance log (Claude calls), priced by ``core/operations/costs.py``.

- ``record_run_costs`` (sensor, on by default): for every run that finished, records the
  cost on each asset the run materialized or checked, as an observation with
  ``estimated_cost_usd`` (and its parts) in the asset's metadata; tags the run with its
  total (``platform_assets/estimated_cost_usd``). ``platform-assets run`` does the same for
  its own run, and ``platform-assets costs`` totals runs by asset and by day.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from platform_assets.core.operations.costs import RunCost, StepUsage, run_cost
from platform_assets.core.settings import ComputePrices, Settings
from platform_assets.defs.keys import OPERATIONS, RUN_COST_SENSOR, owners
from platform_assets.defs.resources import WarehouseResource

COST_TAG = "platform_assets/estimated_cost_usd"
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def _step_assets(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """``{step key: asset key}``: the asset each step materialized or checked."""
    kinds = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    assets: dict[str, str] = {}
    for record in instance.get_records_for_run(run_id, of_type=kinds).records:
        entry = record.event_log_entry
        event = entry.dagster_event
        if not entry.step_key or event is None:
            continue
        # a check's evaluation names its asset in the event's data
        key = event.asset_key or getattr(event.event_specific_data, "asset_key", None)
        if key is not None:
            assets.setdefault(entry.step_key, key.to_user_string())
    return assets


def estimate_run_cost(
    instance: dg.DagsterInstance, run_id: str, conn=None, prices: ComputePrices | None = None
) -> RunCost:
    """The estimated cost of run ``run_id``; ``conn`` (the warehouse, may be read-only) adds
    the cost of the run's Claude calls."""
    from platform_assets.core.llm.governance import read_calls

    record = instance.get_run_record_by_id(run_id)
    if record is None:
        raise KeyError(f"no run {run_id} in the Dagster instance")
    assets = _step_assets(instance, run_id)
    steps = [
        StepUsage(
            s.step_key,
            assets.get(s.step_key, f"step {s.step_key}"),
            max(0.0, (s.end_time or s.start_time) - s.start_time),
        )
        for s in instance.get_run_step_stats(run_id)
        if s.start_time is not None
    ]
    calls = (
        [(c.asset, c.cost_usd) for c in read_calls(conn, run_id=run_id)] if conn is not None else []
    )
    return run_cost(
        run_id,
        record.dagster_run.job_name,
        record.start_time,
        steps,
        calls,
        prices or Settings.from_env().prices,
    )


def record_run_cost(instance: dg.DagsterInstance, cost: RunCost) -> None:
    """Put the cost on each asset the run materialized or checked (an observation in the
    asset's metadata) and on the run (a tag)."""
    for name in sorted(set(_step_assets(instance, cost.run_id).values())):
        asset = cost.assets[name]
        instance.report_runless_asset_event(
            dg.AssetObservation(
                asset_key=dg.AssetKey.from_user_string(name),
                metadata={
                    "estimated_cost_usd": round(asset.total_usd, 8),
                    "compute_seconds": round(asset.compute_seconds, 3),
                    "compute_usd": round(asset.compute_usd, 8),
                    "llm_usd": round(asset.llm_usd, 8),
                    "cost_of_run": cost.run_id,
                },
            )
        )
    instance.add_run_tags(cost.run_id, {COST_TAG: f"{cost.total_usd:.8f}"})


@dg.sensor(
    name=RUN_COST_SENSOR,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    owners=owners(OPERATIONS),
    description="Records each finished run's estimated cost (step compute at Fargate prices plus "
    "its Claude calls) on the run and on the assets it touched.",
)
def record_run_costs(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    since = float(context.cursor) if context.cursor else None
    records = context.instance.get_run_records(
        filters=dg.RunsFilter(
            statuses=FINISHED,
            updated_after=None if since is None else dt.datetime.fromtimestamp(since, dt.UTC),
        ),
        order_by="update_timestamp",
        ascending=True,
        limit=25,
    )
    recorded = []
    with warehouse.get_connection() as conn:
        for record in records:
            if COST_TAG not in record.dagster_run.tags:
                cost = estimate_run_cost(context.instance, record.dagster_run.run_id, conn)
                record_run_cost(context.instance, cost)
                recorded.append(f"{record.dagster_run.run_id[:8]} {cost.line()}")
            since = max(since or 0.0, record.update_timestamp.timestamp())
    if since is not None:
        context.update_cursor(str(since))
    return dg.SkipReason(
        f"recorded the cost of {len(recorded)} run(s)"
        + (": " + "; ".join(recorded) if recorded else "")
    )


@dg.definitions
def costs() -> dg.Definitions:
    return dg.Definitions(sensors=[record_run_costs])

"""Serving: what the scoring service decided, landed; and the champion's batch scores.

- ``serving/batch_scores``: the champion's score and decision of every validated transaction,
  per day (table ``serving.batch_scores``), after the day's features. The online path must
  give the same scores (a test replays whole days through the service).
- ``serving/predictions``: the decision files ``platform-assets serve`` appends (under the
  artifacts store's ``serving/decisions/<day>/``) landed with dlt into ``serving.predictions``,
  one partition per UTC day, replaced whole on every run (never a row twice). Alerts the
  service raised (canary stopped, SLO breached) are recorded in ``platform.alerts`` here.
- ``land_serving_decisions``: a sensor that sees a day's files grow and lands that day.
"""

import hashlib
import json
from collections.abc import Iterator

import dagster as dg

from platform_assets.core.registry.store import ArtifactStore, LocalStore, store_from_url
from platform_assets.defs.automation import after_upstream
from platform_assets.defs.keys import (
    FEATURES_TRANSACTIONS,
    MODEL_CARD,
    SERVING,
    SERVING_BATCH_SCORES,
    SERVING_DECISIONS_SENSOR,
    SERVING_PREDICTIONS,
    owners,
)
from platform_assets.defs.partitions import daily_partitions, serving_days
from platform_assets.defs.resources import (
    WAREHOUSE_POOL,
    ModelRegistryResource,
    PlatformSettings,
    WarehouseResource,
)


def _artifacts(registry: ModelRegistryResource) -> ArtifactStore:
    return store_from_url(registry.artifacts_url or registry.artifacts_dir)


@dg.asset(
    key=SERVING_BATCH_SCORES,
    # After the model card: in a run that also trains, the day is scored by the champion the
    # run may have just promoted (the card is written after the promotion gate).
    deps=[FEATURES_TRANSACTIONS, MODEL_CARD],
    partitions_def=daily_partitions,
    group_name=SERVING,
    owners=owners(SERVING),
    automation_condition=after_upstream(),
    kinds={"duckdb", "onnx"},
    pool=WAREHOUSE_POOL,
)
def serving_batch_scores(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, registry: ModelRegistryResource
) -> Iterator[dg.MaterializeResult]:
    """The champion's score and decision of each validated transaction of the day, one row per
    transaction (``serving.batch_scores``). A day materialized before any champion existed
    has no rows (backfill it once one does)."""
    from platform_assets.core.registry.arms import current_arm
    from platform_assets.core.serving.landing import BATCH_SCORES_TABLE, score_batch_day

    models = registry.get_registry()
    if models.champion() is None:
        context.log.warning("no champion yet: nothing to score; backfill the day once one exists")
        yield dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "champion": "none", "table": BATCH_SCORES_TABLE}
        )
        return
    totals = {"rows": 0, "holds": 0}
    version = None
    with warehouse.get_connection() as conn:
        for key in context.partition_keys:
            try:
                counts = score_batch_day(conn, models, key)
            except LookupError as exc:
                raise dg.Failure(description=str(exc)) from exc
            totals["rows"] += counts["rows"]
            totals["holds"] += counts["holds"]
            version = counts["model_version"]
    arm = current_arm(models)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": totals["rows"],
            "holds": totals["holds"],
            "champion": f"{models.model_name}:v{version}",
            "serving_arm": json.dumps(arm.to_dict()) if arm else "none",
            "table": BATCH_SCORES_TABLE,
        }
    )


@dg.asset(
    key=SERVING_PREDICTIONS,
    partitions_def=serving_days,
    group_name=SERVING,
    owners=owners(SERVING),
    kinds={"dlt", "duckdb"},
    pool=WAREHOUSE_POOL,
)
def serving_predictions(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    registry: ModelRegistryResource,
    platform: PlatformSettings,
) -> dg.MaterializeResult:
    """Every decision the scoring service made on the day, one row per transaction and arm
    (``serving.predictions``): request, transaction, when, which arm and version, score,
    decision, latency."""
    from pathlib import Path

    from platform_assets.core.serving.landing import (
        PREDICTIONS_TABLE,
        land_predictions,
        record_service_alerts,
    )

    store = _artifacts(registry)
    pipelines_dir = Path(platform.home) / "dlt"
    landed = [
        land_predictions(store, key, warehouse.database, pipelines_dir)
        for key in context.partition_keys
    ]
    with warehouse.get_connection() as conn:
        alerts = record_service_alerts(conn, store)
    rows = sum(d["rows"] for d in landed)
    torn = sum(d["torn_lines_skipped"] for d in landed)
    if torn:
        context.log.warning(f"{torn} torn decision line(s) skipped (a service killed mid-write)")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "torn_lines_skipped": torn,
            "service_alerts_recorded": len(alerts),
            "table": PREDICTIONS_TABLE,
        }
    )


def decision_fingerprints(store: ArtifactStore) -> dict[str, str]:
    """``{day: digest}`` of the decision files (names and, on a folder, sizes)."""
    from platform_assets.core.serving.decisions import PREFIX

    days: dict[str, list[str]] = {}
    for key in store.list(PREFIX + "/"):
        parts = key.split("/")
        if len(parts) < 4:
            continue
        size = store.local_path(key).stat().st_size if isinstance(store, LocalStore) else 0
        days.setdefault(parts[2], []).append(f"{key}:{size}")
    return {day: hashlib.sha256("\n".join(v).encode()).hexdigest()[:16] for day, v in days.items()}


@dg.sensor(
    name=SERVING_DECISIONS_SENSOR,
    asset_selection=dg.AssetSelection.assets(SERVING_PREDICTIONS),
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    owners=owners(SERVING),
    description="Lands a day of the scoring service's decisions into serving.predictions soon "
    "after its files grow.",
)
def land_serving_decisions(context: dg.SensorEvaluationContext, registry: ModelRegistryResource):
    seen = json.loads(context.cursor) if context.cursor else {}
    now = decision_fingerprints(_artifacts(registry))
    requests = [
        dg.RunRequest(
            run_key=f"{day}:{digest}",
            partition_key=day,
            asset_selection=[SERVING_PREDICTIONS],
        )
        for day, digest in sorted(now.items())
        if seen.get(day) != digest and serving_days.has_partition_key(day)
    ]
    context.update_cursor(json.dumps(now))
    return requests or dg.SkipReason("no new decisions")

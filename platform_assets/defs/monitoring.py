"""Monitoring: feature drift against the champion's training reference, and the sensor that
asks for a retrain when it crosses a threshold.

- ``monitoring/feature_drift``: an Evidently data-drift report (``DataDriftPreset``) of the
  newest feature partition(s) against the champion's training reference sample, both sides
  sampled (20k rows, seeded) so a million-row day takes seconds; the HTML report is saved
  under ``<home>/artifacts/drift/`` (and published to ``<s3 url>/artifacts/drift/`` in
  production) and linked from the metadata;
- ``drift_retraining_sensor``: reads the newest drift result; when the drift share is at or
  above ``$PLATFORM_ASSETS_DRIFT_THRESHOLD`` (default 0.3) it requests one run of
  ``retrain_fraud_model``, then stays quiet for ``$PLATFORM_ASSETS_DRIFT_COOLDOWN_HOURS``
  (default 24) whatever the drift does. The cursor remembers the last drift result seen and
  when a retrain was last requested; ``run_key`` is the drift result's storage id, so one
  drift result can never cause two runs.
"""

import datetime as dt
import json
import time

import dagster as dg
from pydantic import Field

from platform_assets.core.settings import Settings
from platform_assets.defs.keys import (
    CHAMPION_CHALLENGER_GATE,
    EVALUATION,
    FEATURE_DRIFT,
    FEATURES_TRANSACTIONS,
    MONITORING,
    RETRAIN_JOB,
    TRAINING,
)
from platform_assets.defs.resources import WAREHOUSE_POOL, ModelRegistryResource, WarehouseResource

# Retraining re-materializes the whole model lifecycle: every asset of these groups.
MODEL_LIFECYCLE = dg.AssetSelection.groups(TRAINING, EVALUATION)


class DriftConfig(dg.Config):
    days: int = Field(1, description="how many of the newest feature partitions form the current window")
    sample_rows: int = Field(20_000, description="rows sampled from each side (seeded)")
    seed: int = 0


@dg.asset(key=FEATURE_DRIFT, deps=[FEATURES_TRANSACTIONS, CHAMPION_CHALLENGER_GATE], group_name=MONITORING,
          kinds={"evidently", "duckdb"}, pool=WAREHOUSE_POOL)
def feature_drift(context: dg.AssetExecutionContext, config: DriftConfig, warehouse: WarehouseResource,
                  registry: ModelRegistryResource) -> dg.MaterializeResult:
    """Drift of the newest features against the champion's training reference (Evidently),
    with the share of drifted columns, per-column scores and the HTML report."""
    import io

    import pandas as pd

    from platform_assets.core.features import feature_partitions, load_features
    from platform_assets.core.monitoring import compute_drift

    models = registry.get_registry()
    champion = models.champion()
    if champion is None:
        raise dg.Failure(description="no champion model yet: drift is measured against the champion's training "
                                     "reference; train and promote a model first")
    reference = pd.read_parquet(io.BytesIO(models.read_file(champion.version, "reference.parquet")))
    with warehouse.get_connection() as conn:
        days = feature_partitions(conn)
        if not days:
            raise dg.Failure(description="features.transactions is empty: nothing to compare")
        window = days[-config.days:]
        current = load_features(conn, window[0], window[-1], sample_rows=config.sample_rows, seed=config.seed)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    html = registry.artifacts_path / "drift" / f"feature_drift_{window[-1]}_{stamp}.html"
    result = compute_drift(reference, current, sample_rows=config.sample_rows, seed=config.seed, html_path=html)
    report, report_url = registry.publish_artifact(html)
    return dg.MaterializeResult(metadata={
        "drift_share": result.drift_share,
        "drifted_columns": ", ".join(result.drifted_columns) or "none",
        "columns": dg.MetadataValue.md(result.markdown()),
        "column_scores": dg.MetadataValue.json({c: round(v["score"], 6) for c, v in result.columns.items()}),
        "report_html": dg.MetadataValue.path(report),
        "report_url": dg.MetadataValue.url(report_url),
        "champion_version": champion.version,
        "current_window": f"{window[0]} .. {window[-1]}",
        "sampled_rows": config.sample_rows,
        "seconds": round(result.seconds, 2),
    })


retrain_fraud_model = dg.define_asset_job(
    RETRAIN_JOB,
    selection=MODEL_LIFECYCLE,
    description="Retrain the fraud model on the newest features, evaluate it, gate it, document it.",
)


def _settings_from_env() -> tuple[float, float]:
    settings = Settings.from_env()
    return settings.drift_threshold, settings.drift_cooldown_hours * 3600.0


def evaluate_drift_sensor(context: dg.SensorEvaluationContext, threshold: float, cooldown_seconds: float,
                          now: float | None = None):
    """One evaluation of the drift sensor (plain function, so the rule reads top to bottom)."""
    now = time.time() if now is None else now
    cursor = json.loads(context.cursor) if context.cursor else {}
    records = context.instance.fetch_materializations(FEATURE_DRIFT, limit=1).records
    if not records:
        return dg.SkipReason(f"{FEATURE_DRIFT.to_user_string()} has never been materialized")
    record = records[0]
    if record.storage_id <= cursor.get("last_storage_id", -1):
        return dg.SkipReason(f"no new drift result since storage id {record.storage_id}")
    metadata = record.asset_materialization.metadata
    share = float(metadata["drift_share"].value)
    cursor["last_storage_id"] = record.storage_id
    last = cursor.get("last_triggered_at")
    if share < threshold:
        context.update_cursor(json.dumps(cursor))
        return dg.SkipReason(f"drift share {share:.2f} is below the threshold {threshold:.2f}")
    if last is not None and now - last < cooldown_seconds:
        context.update_cursor(json.dumps(cursor))
        remaining = (cooldown_seconds - (now - last)) / 3600.0
        return dg.SkipReason(f"drift share {share:.2f} ≥ {threshold:.2f}, but a retrain was requested "
                             f"{(now - last) / 3600.0:.1f} h ago; cooldown ends in {remaining:.1f} h")
    cursor["last_triggered_at"] = now
    context.update_cursor(json.dumps(cursor))
    return dg.RunRequest(
        run_key=f"drift-retrain-{record.storage_id}",
        tags={"platform_assets/trigger": "drift", "platform_assets/drift_share": f"{share:.4f}"},
    )


def build_drift_sensor(name: str = "drift_retraining_sensor", threshold: float | None = None,
                       cooldown_seconds: float | None = None, job=retrain_fraud_model) -> dg.SensorDefinition:
    """The drift sensor; ``threshold``/``cooldown_seconds`` default to the environment at evaluation."""

    @dg.sensor(name=name, job=job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.STOPPED,
               description="Requests a retrain when feature drift crosses the threshold, at most once per cooldown.")
    def _sensor(context: dg.SensorEvaluationContext):
        env_threshold, env_cooldown = _settings_from_env()
        return evaluate_drift_sensor(context, env_threshold if threshold is None else threshold,
                                     env_cooldown if cooldown_seconds is None else cooldown_seconds)

    return _sensor


drift_retraining_sensor = build_drift_sensor()

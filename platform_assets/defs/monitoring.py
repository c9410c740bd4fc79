"""Monitoring: feature drift against the champion's training reference, and the sensor that
asks for a retrain when it crosses a threshold.

- ``monitoring/feature_drift``: an Evidently data-drift report (``DataDriftPreset``) of the
  newest feature partition(s) against the champion's training reference sample, both sides
  sampled (20k rows, seeded) so a million-row day takes seconds; the HTML report is saved
  under ``<home>/artifacts/drift/`` (and published to ``<s3 url>/artifacts/drift/`` in
  production) and linked from the metadata. When a feature drifted it also attaches an
  *explanation* (``core/monitoring/explanation.py``): the drifted features with their effect
  sizes and the upstream evidence for the same days, ranked; with a key, Claude's narrative,
  marked as drafted;
- ``drift_retraining_sensor``: reads the newest drift result; when the drift share is at or
  above ``$PLATFORM_ASSETS_DRIFT_THRESHOLD`` (default 0.3) it requests one run of
  ``retrain_fraud_model``, then stays quiet for ``$PLATFORM_ASSETS_DRIFT_COOLDOWN_HOURS``
  (default 24) whatever the drift does. The cursor remembers the last drift result seen and
  when a retrain was last requested; ``run_key`` is the drift result's storage id, so one
  drift result can never cause two runs. The request carries the explanation in its tags
  and raises a ``drift_retrain`` alert with it. On by default; stop it in the UI
  (Automation) or with ``dagster sensor stop drift_retraining_sensor -w workspace.yaml``.
"""

import datetime as dt
import json
import time

import dagster as dg
from pydantic import Field

from platform_assets.core.ingestion.load import TRANSACTIONS_TABLE
from platform_assets.core.operations.alerts import Alert
from platform_assets.core.settings import Settings
from platform_assets.defs.automation import (
    FEATURE_DRIFT_CONDITION_IGNORES_MISSING,
    after_upstream_finished,
)
from platform_assets.defs.ingestion import IngestionConfig
from platform_assets.defs.keys import (
    CHAMPION_CHALLENGER_GATE,
    DRIFT_SENSOR,
    EVAL_SUITE_RESULTS,
    EVALUATION,
    FEATURE_DRIFT,
    FEATURES_TRANSACTIONS,
    MONITORING,
    RAW_TRANSACTIONS,
    RAW_TRANSACTIONS_OP,
    RETRAIN_JOB,
    TRAINING,
    owners,
)
from platform_assets.defs.lineage import op_configs_by_partition
from platform_assets.defs.resources import (
    WAREHOUSE_POOL,
    ClaudeResource,
    ModelRegistryResource,
    NotifierResource,
    PlatformSettings,
    WarehouseResource,
)

# Retraining re-materializes the whole model lifecycle: every asset of these groups, and the
# eval suite's results, which the promotion gate reads.
MODEL_LIFECYCLE = dg.AssetSelection.groups(TRAINING, EVALUATION) | dg.AssetSelection.assets(
    EVAL_SUITE_RESULTS
)
TRIGGER_TAG = "platform_assets/trigger"
DRIFT_SHARE_TAG = "platform_assets/drift_share"
EXPLANATION_TAG = "platform_assets/drift_explanation"
MAX_TAG_CHARS = 1500


class DriftConfig(dg.Config):
    days: int = Field(
        1, description="how many of the newest feature partitions form the current window"
    )
    sample_rows: int = Field(20_000, description="rows sampled from each side (seeded)")
    seed: int = 0


@dg.asset(
    key=FEATURE_DRIFT,
    deps=[FEATURES_TRANSACTIONS, CHAMPION_CHALLENGER_GATE],
    group_name=MONITORING,
    kinds={"evidently", "duckdb"},
    pool=WAREHOUSE_POOL,
    owners=owners(MONITORING),
    automation_condition=after_upstream_finished(*FEATURE_DRIFT_CONDITION_IGNORES_MISSING),
)
def feature_drift(
    context: dg.AssetExecutionContext,
    config: DriftConfig,
    warehouse: WarehouseResource,
    registry: ModelRegistryResource,
    claude: ClaudeResource,
    platform: PlatformSettings,
) -> dg.MaterializeResult:
    """Drift of the newest features against the champion's training reference (Evidently),
    with the share of drifted columns, per-column scores, the HTML report, and an
    explanation of what drifted and the upstream evidence for it."""
    import io

    import pandas as pd

    from platform_assets.core.features import feature_partitions, load_features
    from platform_assets.core.monitoring import compute_drift
    from platform_assets.core.monitoring.explanation import LOOKBACK_DAYS, explain
    from platform_assets.core.monitoring.explanation_llm import draft_narrative
    from platform_assets.core.monitoring.feature_drift import DRIFT_CATEGORICAL

    models = registry.get_registry()
    champion = models.champion()
    if champion is None:
        raise dg.Failure(
            description="no champion model yet: drift is measured against the champion's training "
            "reference; train and promote a model first"
        )
    reference = pd.read_parquet(io.BytesIO(models.read_file(champion.version, "reference.parquet")))
    with warehouse.get_connection() as conn:
        days = feature_partitions(conn)
        if not days:
            raise dg.Failure(description="features.transactions is empty: nothing to compare")
        window = days[-config.days :]
        current = load_features(
            conn, window[0], window[-1], sample_rows=config.sample_rows, seed=config.seed
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    html = registry.artifacts_path / "drift" / f"feature_drift_{window[-1]}_{stamp}.html"
    result = compute_drift(
        reference, current, sample_rows=config.sample_rows, seed=config.seed, html_path=html
    )
    report, report_url = registry.publish_artifact(html)
    first, last = window[0].isoformat(), window[-1].isoformat()
    evidence_days = [
        (window[0] - dt.timedelta(days=n)).isoformat() for n in range(LOOKBACK_DAYS + 1)
    ] + [d.isoformat() for d in window[1:]]
    with warehouse.get_connection() as conn:
        explanation = explain(
            reference,
            current,
            result.columns,
            result.drift_share,
            (first, last),
            conn,
            table=TRANSACTIONS_TABLE,
            categorical=DRIFT_CATEGORICAL,
            source_configs=ingestion_settings_by_day(context.instance, evidence_days),
            registry_history=models.history(),
        )
        client = claude.get_client()
        if explanation.effects and client is not None and client.enabled:
            # No value of a column the contract withholds goes to Claude; without the
            # contract, nothing does (when in doubt, withhold).
            try:
                withheld = platform.load_contract(TRANSACTIONS_TABLE).withheld_columns()
            except (FileNotFoundError, ValueError) as exc:
                context.log.warning(f"no drift narrative: the contract did not load ({exc})")
            else:
                explanation = draft_narrative(
                    client, explanation, conn, run_id=context.run.run_id, withheld=withheld
                )
    return dg.MaterializeResult(
        metadata={
            "drift_headline": explanation.headline,
            "explanation": dg.MetadataValue.md(explanation.markdown()),
            "explanation_summary": dg.MetadataValue.text(explanation.summary()),
            "explanation_json": dg.MetadataValue.json(explanation.to_dict()),
            "drift_share": result.drift_share,
            "drifted_columns": ", ".join(result.drifted_columns) or "none",
            "columns": dg.MetadataValue.md(result.markdown()),
            "column_scores": dg.MetadataValue.json(
                {c: round(v["score"], 6) for c, v in result.columns.items()}
            ),
            "report_html": dg.MetadataValue.path(report),
            "report_url": dg.MetadataValue.url(report_url),
            "champion_version": champion.version,
            "current_window": f"{window[0]} .. {window[-1]}",
            "sampled_rows": config.sample_rows,
            "seconds": round(result.seconds, 2),
        }
    )


def ingestion_settings_by_day(instance: dg.DagsterInstance, days: list[str]) -> dict[str, dict]:
    """The settings each day's ingestion ran with (run config over the defaults)."""
    settings = {}
    for day, config in op_configs_by_partition(
        instance, RAW_TRANSACTIONS, RAW_TRANSACTIONS_OP, days
    ).items():
        try:
            settings[day] = IngestionConfig(**config).model_dump(exclude={"replace_other_source"})
        except Exception:  # a config this version no longer knows: compare it as it was given
            settings[day] = config
    return settings


retrain_fraud_model = dg.define_asset_job(
    RETRAIN_JOB,
    selection=MODEL_LIFECYCLE,
    owners=owners(TRAINING),
    description="Retrain the fraud model on the newest features, evaluate it, gate it, document "
    "it.",
)


def _settings_from_env() -> tuple[float, float]:
    settings = Settings.from_env()
    return settings.drift_threshold, settings.drift_cooldown_hours * 3600.0


def evaluate_drift_sensor(
    context: dg.SensorEvaluationContext,
    threshold: float,
    cooldown_seconds: float,
    now: float | None = None,
):
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
        return dg.SkipReason(
            f"drift share {share:.2f} ≥ {threshold:.2f}, but a retrain was requested "
            f"{(now - last) / 3600.0:.1f} h ago; cooldown ends in {remaining:.1f} h"
        )
    cursor["last_triggered_at"] = now
    context.update_cursor(json.dumps(cursor))
    explanation = (
        str(metadata["explanation_summary"].value) if "explanation_summary" in metadata else ""
    )
    return dg.RunRequest(
        run_key=f"drift-retrain-{record.storage_id}",
        tags={
            TRIGGER_TAG: "drift",
            DRIFT_SHARE_TAG: f"{share:.4f}",
            EXPLANATION_TAG: explanation[:MAX_TAG_CHARS] or "no explanation recorded",
        },
    )


def drift_retrain_alert(request: dg.RunRequest, threshold: float) -> Alert:
    """The alert for a drift-triggered retrain, with the drift's explanation."""
    explanation = request.tags.get(EXPLANATION_TAG, "")
    return Alert(
        kind="drift_retrain",
        severity="warning",
        owner=owners(MONITORING)[0],
        title=f"feature drift {float(request.tags[DRIFT_SHARE_TAG]):.2f} ≥ {threshold:.2f}: one "
        "retrain requested",
        summary=explanation,
        runbook="review_drift_retrain",
        asset=FEATURE_DRIFT.to_user_string(),
        details={"run_key": request.run_key, "job": RETRAIN_JOB, "explanation": explanation},
    )


def build_drift_sensor(
    name: str = DRIFT_SENSOR,
    threshold: float | None = None,
    cooldown_seconds: float | None = None,
    job=retrain_fraud_model,
) -> dg.SensorDefinition:
    """The drift sensor; ``threshold``/``cooldown_seconds`` default to the environment at
    evaluation.
    """

    @dg.sensor(
        name=name,
        job=job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        owners=owners(MONITORING),
        description="Requests a retrain when feature drift crosses the threshold, at most once "
        "per cooldown.",
    )
    def _sensor(context: dg.SensorEvaluationContext, notifier: NotifierResource):
        env_threshold, env_cooldown = _settings_from_env()
        limit = env_threshold if threshold is None else threshold
        outcome = evaluate_drift_sensor(
            context, limit, env_cooldown if cooldown_seconds is None else cooldown_seconds
        )
        if isinstance(outcome, dg.RunRequest):
            notifier.notify(drift_retrain_alert(outcome, limit), log=context.log)
        return outcome

    return _sensor


drift_retraining_sensor = build_drift_sensor()

"""Training: ``model/fraud_model`` (scikit-learn) and ``model/fraud_model_onnx`` with its
blocking ``onnx_parity`` check.

The trained model and its holdout live in a *candidate* folder,
``<home>/artifacts/candidates/<run id>/``; each asset records that folder in its metadata
and downstream assets find it through the latest materialization of ``model/fraud_model``.
Heavy libraries (scikit-learn, skl2onnx, onnxruntime) are imported inside the functions so
the code location loads fast.
"""

import datetime as dt

import dagster as dg
from pydantic import Field

from platform_assets.core.operations.alerts import Alert
from platform_assets.core.training.model import TrainingConfig
from platform_assets.defs.automation import after_upstream, model_training, with_its_asset
from platform_assets.defs.keys import (
    FEATURES_TRANSACTIONS,
    FRAUD_MODEL,
    FRAUD_MODEL_ONNX,
    ONNX_PARITY_CHECK,
    TRAINING,
    owner_metadata,
    owners,
)
from platform_assets.defs.resources import (
    WAREHOUSE_POOL,
    ModelRegistryResource,
    NotifierResource,
    PlatformSettings,
    WarehouseResource,
)

# The defaults live in the core's TrainingConfig: one place, whichever layer reads them.
_DEFAULTS = TrainingConfig()


class FraudModelConfig(dg.Config):
    """Hyperparameters and data window of ``model/fraud_model`` (see ``TrainingConfig``)."""

    model_type: str = Field(
        _DEFAULTS.model_type, description="hist_gradient_boosting or logistic_regression"
    )
    features: list[str] = Field(default_factory=list, description="feature columns; empty = all")
    training_days: int = Field(
        _DEFAULTS.training_days, description="days of features read, ending at the newest partition"
    )
    holdout_days: int = Field(
        _DEFAULTS.holdout_days, description="last days of the window held out for evaluation"
    )
    learning_rate: float = _DEFAULTS.learning_rate
    max_iter: int = _DEFAULTS.max_iter
    max_depth: int | None = _DEFAULTS.max_depth
    max_leaf_nodes: int = _DEFAULTS.max_leaf_nodes
    min_samples_leaf: int = _DEFAULTS.min_samples_leaf
    l2_regularization: float = _DEFAULTS.l2_regularization
    logistic_c: float = _DEFAULTS.logistic_c
    alert_rate: float = Field(
        _DEFAULTS.alert_rate, description="share of training transactions the threshold flags"
    )
    max_train_rows: int | None = Field(
        _DEFAULTS.max_train_rows, description="cap on training rows, sampled with the seed"
    )
    n_threads: int | None = Field(
        _DEFAULTS.n_threads, description="cap on threads while fitting; None = library default"
    )
    seed: int = _DEFAULTS.seed
    min_train_rows: int = _DEFAULTS.min_train_rows
    min_positive_rows: int = _DEFAULTS.min_positive_rows
    min_holdout_rows: int = _DEFAULTS.min_holdout_rows

    def to_training_config(self) -> TrainingConfig:
        data = self.model_dump()
        data["features"] = tuple(data["features"])
        return TrainingConfig(**data)


def _markdown_table(rows: dict) -> str:
    return "\n".join(
        ["| name | value |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows.items()]
    )


@dg.asset(
    key=FRAUD_MODEL,
    deps=[FEATURES_TRANSACTIONS],
    group_name=TRAINING,
    owners=owners(TRAINING),
    automation_condition=model_training(),
    kinds={"scikit-learn", "python"},
    pool=WAREHOUSE_POOL,
)
def fraud_model(
    context: dg.AssetExecutionContext,
    config: FraudModelConfig,
    warehouse: WarehouseResource,
    registry: ModelRegistryResource,
    platform: PlatformSettings,
) -> dg.MaterializeResult:
    """The fraud classifier (scikit-learn pipeline), trained on the last ``training_days`` of
    features minus a holdout of the last ``holdout_days`` days, with its operating threshold."""
    from platform_assets.core.features import (
        complete_window_days,
        feature_partitions,
        load_features,
    )
    from platform_assets.core.ingestion.load import day_lineage
    from platform_assets.core.training import TrainingError, train_model
    from platform_assets.core.training.candidate import save_candidate

    training_config = config.to_training_config()
    with warehouse.get_connection() as conn:
        days = feature_partitions(conn)
        if not days:
            raise dg.Failure(
                description="features.transactions is empty: materialize features/transactions first"
            )
        end = days[-1]
        start = end - dt.timedelta(days=training_config.training_days - 1)
        features = load_features(conn, start, end)
        window_days = [d.isoformat() for d in days if start <= d <= end]
        lineage = day_lineage(conn, window_days, platform.landing_url)
    try:
        # The drift reference leaves out the days whose 7-day windows are incomplete.
        model = train_model(features, training_config, reference_days=complete_window_days(days))
    except TrainingError as exc:
        raise dg.Failure(description=f"training failed: {exc}") from exc
    training_rows = features["partition_date"].astype(str).value_counts().to_dict()
    for day in lineage:
        day["training_rows"] = int(training_rows.get(day["day"], 0))
    candidate = save_candidate(model, registry.artifacts_path / "candidates" / context.run_id)
    candidate.write_json("lineage.json", {"days": lineage})
    summary = model.summary()
    return dg.MaterializeResult(
        metadata={
            "candidate_dir": dg.MetadataValue.path(str(candidate.path)),
            "train_window": f"{summary['train_window'][0]} .. {summary['train_window'][1]}",
            "holdout_window": f"{summary['holdout_window'][0]} .. {summary['holdout_window'][1]}",
            "train_rows": summary["train_rows"],
            "holdout_rows": summary["holdout_rows"],
            "train_positive_rate": summary["train_positive_rate"],
            "threshold": summary["threshold"],
            "fit_seconds": summary["fit_seconds"],
            "hyperparameters": dg.MetadataValue.md(_markdown_table(training_config.to_dict())),
        }
    )


@dg.asset(
    key=FRAUD_MODEL_ONNX,
    deps=[FRAUD_MODEL],
    group_name=TRAINING,
    owners=owners(TRAINING),
    automation_condition=after_upstream(),
    kinds={"onnx", "python"},
)
def fraud_model_onnx(
    context: dg.AssetExecutionContext, registry: ModelRegistryResource
) -> dg.MaterializeResult:
    """The fraud model as ONNX (skl2onnx), with its parity against scikit-learn on the holdout.
    It ships only if the ``onnx_parity`` check passes (max |Δp| ≤ 1e-3)."""
    from platform_assets.core.training import check_parity, export_onnx

    candidate = registry.current_candidate(context.instance)
    model = candidate.as_trained_model()
    onnx_bytes = export_onnx(model)
    candidate.onnx_path.write_bytes(onnx_bytes)
    report = check_parity(model, onnx_bytes, raise_on_failure=False)
    candidate.write_json("parity.json", report.to_dict())
    return dg.MaterializeResult(
        metadata={
            "candidate_dir": dg.MetadataValue.path(str(candidate.path)),
            "onnx_path": dg.MetadataValue.path(str(candidate.onnx_path)),
            "onnx_bytes": len(onnx_bytes),
            "parity_max_abs_diff": report.max_abs_diff,
            "parity_rows": report.rows,
        }
    )


@dg.asset_check(
    asset=FRAUD_MODEL_ONNX,
    name=ONNX_PARITY_CHECK,
    automation_condition=with_its_asset(),
    blocking=True,
    metadata=owner_metadata(TRAINING),
    description="ONNX and scikit-learn agree on every holdout row within 1e-3 (P(fraud)).",
)
def onnx_parity(
    context: dg.AssetCheckExecutionContext,
    registry: ModelRegistryResource,
    notifier: NotifierResource,
) -> dg.AssetCheckResult:
    """Re-scores the holdout with the exported ONNX file on disk and the pickled pipeline."""
    from platform_assets.core.training import check_parity
    from platform_assets.core.training.scoring import ModelLoadError

    def alert(description: str) -> None:
        notifier.notify(
            Alert(
                kind="blocking_check_failed",
                severity="error",
                owner=owners(TRAINING)[0],
                title=f"{ONNX_PARITY_CHECK} blocked the ONNX export",
                summary=description,
                runbook="fix_onnx_export",
                run_id=context.run.run_id,
                asset=FRAUD_MODEL_ONNX.to_user_string(),
                details={"check": ONNX_PARITY_CHECK},
            ),
            log=context.log,
        )

    candidate = registry.current_candidate(context.instance)
    try:
        report = check_parity(
            candidate.as_trained_model(), candidate.onnx_path.read_bytes(), raise_on_failure=False
        )
    except (FileNotFoundError, ModelLoadError) as exc:
        alert(f"cannot score the ONNX export: {exc}")
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"cannot score the ONNX export: {exc}",
        )
    description = (
        f"ONNX and scikit-learn agree on all {report.rows} holdout rows: max |Δp| "
        f"{report.max_abs_diff:.2g} ≤ {report.tolerance:g}"
        if report.passed
        else f"max |Δp| {report.max_abs_diff:.3g} > {report.tolerance:g} on {report.rows_over_tolerance} rows: "
        f"the export does not ship"
    )
    if not report.passed:
        alert(description)
    return dg.AssetCheckResult(
        passed=report.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "max_abs_diff": report.max_abs_diff,
            "mean_abs_diff": report.mean_abs_diff,
            "rows": report.rows,
            "rows_over_tolerance": report.rows_over_tolerance,
            "tolerance": report.tolerance,
        },
    )

"""What outlives a run in production lands on S3 and is linked from the metadata: the model
registry, the drift report, the step's compute logs; the run and its events are in Postgres."""

from __future__ import annotations

import dagster as dg

from platform_assets.core import warehouse
from platform_assets.core.features import build_feature_partition, load_features
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets.core.ingestion.bundled import FaultInjection
from platform_assets.core.registry import registry_for
from platform_assets.defs import monitoring
from platform_assets.defs.resources import build_resources
from platform_assets_tests.support.models import identity_onnx

DAYS = day_range("2026-01-01", 3)


def test_registry_drift_report_and_compute_logs_land_on_s3(production):
    settings = production.settings()
    with warehouse.session(settings.warehouse) as conn:
        load_validated_days(conn, DAYS[:2], 1_000)
        load_validated_days(
            conn, DAYS[2:], 1_000, FaultInjection(amount_unit="dollars", category_count=47)
        )
        for day in DAYS:
            build_feature_partition(conn, day)
        reference = load_features(conn, DAYS[1], DAYS[1])
    registry = registry_for(settings.registry_url)
    version = registry.register(
        {"model.onnx": identity_onnx(), "reference.parquet": reference.to_parquet(index=False)},
        config={},
        threshold=0.5,
        data_window={},
        metrics={"auroc": 0.85, "pr_auc": 0.2},
        lineage={},
    )
    assert registry.promote_if_passes(version.version).passed
    assert any(key.endswith("/model.onnx") for key in production.s3_keys("registry/"))

    with dg.DagsterInstance.from_config(str(production.dagster_home)) as instance:
        result = dg.materialize(
            [monitoring.feature_drift],
            resources=build_resources(settings),
            instance=instance,
            run_config={"ops": {"monitoring__feature_drift": {"config": {"sample_rows": 1_000}}}},
        )
        assert result.success
        metadata = result.asset_materializations_for_node("monitoring__feature_drift")[0].metadata
        logs = instance.compute_log_manager

    report = str(metadata["report_html"].value)
    prefix = f"s3://{production.bucket}/platform/artifacts/drift/"
    assert (
        report.startswith(prefix)
        and report.endswith(".html")
        and metadata["report_url"].value == report
    )
    html = (
        production.moto.client("s3")
        .get_object(Bucket=production.bucket, Key=report[len(f"s3://{production.bucket}/") :])[
            "Body"
        ]
        .read()
    )
    assert len(html) > 10_000 and b"amount_usd" in html

    # The step's logs: on S3 under <url>/compute_logs/, where the UI's link reads them.
    keys = production.s3_keys(f"compute_logs/storage/{result.run_id}/")
    assert any(key.endswith(".err") for key in keys), keys
    err = next(key for key in keys if key.endswith(".err"))
    text = (
        production.moto.client("s3")
        .get_object(Bucket=production.bucket, Key=err)["Body"]
        .read()
        .decode()
    )
    assert "monitoring__feature_drift" in text and "STEP_SUCCESS" in text
    log_key = err[len("platform/compute_logs/storage/") :].rsplit(".", 1)[0].split("/")
    assert logs.get_log_data(log_key).stderr  # Dagster reads them back from S3

    # The run and its events are rows in Postgres.
    assert production.pg(f"SELECT status FROM runs WHERE run_id = '{result.run_id}'") == [
        ("SUCCESS",)
    ]
    (events,) = production.pg(f"SELECT count(*) FROM event_logs WHERE run_id = '{result.run_id}'")[
        0
    ]
    assert events > 10

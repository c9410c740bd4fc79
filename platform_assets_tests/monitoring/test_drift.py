"""FaultInjection on real features with Evidently, the drift asset, and the drift sensor's
cooldown."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from platform_assets.core import warehouse as wh
from platform_assets.core.features import build_feature_partition, load_features
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets.core.ingestion.bundled import FaultInjection
from platform_assets.core.monitoring import compute_drift, sample_frame
from platform_assets.core.registry import LocalStore, ModelRegistry
from platform_assets.defs import monitoring
from platform_assets_tests.support.dagster import offline_resources
from platform_assets_tests.support.models import identity_onnx
from platform_assets_tests.support.typed import number, present, skip_message, text

HEALTHY = day_range("2026-01-01", 9)
DRIFTED = day_range("2026-01-10", 1)
# Amounts arrive in dollars (rounded to whole units by the BIGINT column) and the taxonomy grows to
# 47 values:
# drift that passes a type check but moves many features.
BROKEN_FEED = FaultInjection(amount_unit="dollars", category_count=47)


def _fill(conn):
    load_validated_days(conn, HEALTHY, 2_000)
    load_validated_days(conn, DRIFTED, 2_000, BROKEN_FEED)
    for day in HEALTHY + DRIFTED:
        build_feature_partition(conn, day)


@pytest.fixture(scope="module")
def frames():
    conn = duckdb.connect()
    _fill(conn)
    reference = load_features(
        conn, HEALTHY[7], HEALTHY[7]
    )  # after the 7-day windows have warmed up
    same = load_features(conn, HEALTHY[8], HEALTHY[8])
    drifted = load_features(conn, DRIFTED[0], DRIFTED[0])
    return reference, same, drifted


def test_healthy_day_has_little_drift_and_broken_feed_a_lot(frames):
    reference, same, drifted = frames
    calm = compute_drift(reference, same)
    loud = compute_drift(reference, drifted)
    assert calm.drift_share < 0.15, calm.drifted_columns
    assert loud.drift_share >= 0.25 and loud.drift_share > calm.drift_share + 0.15, (
        loud.drifted_columns
    )
    assert {"amount_usd", "merchant_category"} <= set(loud.drifted_columns)
    assert (
        "amount_usd" not in calm.drifted_columns and "merchant_category" not in calm.drifted_columns
    )
    assert "| amount_usd |" in loud.markdown()


def test_sampling_draws_the_requested_rows_by_seed(frames):
    _, _, drifted = frames
    first, again, other = (sample_frame(drifted, 500, seed) for seed in (3, 3, 4))
    assert len(first) == 500 and first.index.is_unique and first.index.isin(drifted.index).all()
    assert first.equals(drifted.loc[first.index])  # whole rows of the frame, unchanged
    assert first.equals(again) and not first.index.equals(other.index)
    assert sample_frame(drifted, None, 3).equals(drifted) and sample_frame(
        drifted, 2_000, 3
    ).equals(drifted)


def test_a_sampled_report_reaches_the_full_data_verdict(frames):
    # 1,500 of 2,000 rows: above 1,000 rows Evidently picks the same tests (distances) as on all
    # rows; at 1,000 or fewer it switches to p-value tests, so smaller samples are not comparable.
    reference, same, drifted = frames
    full = compute_drift(reference, drifted, sample_rows=None)
    sampled = compute_drift(reference, drifted, sample_rows=1_500, seed=3)
    assert sampled.drifted_columns == full.drifted_columns
    assert {"amount_usd", "merchant_category"} <= set(sampled.drifted_columns)
    assert compute_drift(reference, same, sample_rows=1_500, seed=3).drift_share < 0.15
    # The scores come from the seeded samples (drawn as above): another seed moves them, and a
    # "sample" as large as the data is the data.
    other = compute_drift(reference, drifted, sample_rows=1_500, seed=4)
    assert (
        other.columns["amount_usd"]["score"]
        != sampled.columns["amount_usd"]["score"]
        != full.columns["amount_usd"]["score"]
    )
    assert compute_drift(reference, drifted, sample_rows=2_000, seed=3).columns == full.columns


@pytest.fixture(scope="module")
def drift_home(tmp_path_factory):
    """A warehouse with features and a registry whose champion's reference is a healthy day."""
    home = tmp_path_factory.mktemp("drift_home")
    with wh.session(home / "w.duckdb") as conn:
        _fill(conn)
        reference = load_features(conn, HEALTHY[7], HEALTHY[7])
    registry = ModelRegistry(LocalStore(home / "artifacts" / "registry"))
    # The drift asset reads only the champion's reference sample; the model is a stand-in
    # that loads, with metrics above the gate's minimums, promoted the public way.
    version = registry.register(
        {"model.onnx": identity_onnx(), "reference.parquet": reference.to_parquet(index=False)},
        config={},
        threshold=0.5,
        data_window={},
        metrics={"auroc": 0.85, "pr_auc": 0.2},
        lineage={},
    )
    assert registry.promote_if_passes(version.version).passed
    return home


def test_drift_asset_reports_share_columns_and_html(drift_home):
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [monitoring.feature_drift], resources=offline_resources(drift_home), instance=instance
        )
        metadata = result.asset_materializations_for_node("monitoring__feature_drift")[0].metadata
    assert number(metadata["drift_share"].value) >= 0.25
    assert "merchant_category" in text(metadata["drifted_columns"].value)
    assert metadata["current_window"].value == "2026-01-10 .. 2026-01-10"
    html = text(metadata["report_html"].value)
    assert html.endswith(".html") and Path(html).parent == drift_home / "artifacts" / "drift"
    assert Path(html).stat().st_size > 10_000 and "amount_usd" in Path(html).read_text()
    assert json.loads(json.dumps(metadata["column_scores"].value))["amount_usd"] > 0.1


def test_drift_sensor_fires_once_then_respects_cooldown(drift_home):
    sensor = monitoring.build_drift_sensor(threshold=0.2, cooldown_seconds=3600)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources=offline_resources(drift_home)
        )
        assert isinstance(sensor(context), dg.SkipReason)  # nothing measured yet

        dg.materialize(
            [monitoring.feature_drift], resources=offline_resources(drift_home), instance=instance
        )
        context = dg.build_sensor_context(
            instance=instance, resources=offline_resources(drift_home)
        )
        first = sensor(context)
        assert isinstance(first, dg.RunRequest) and (first.run_key or "").startswith(
            "drift-retrain-"
        )
        assert first.tags["platform_assets/trigger"] == "drift"
        cursor = context.cursor

        again = sensor(
            dg.build_sensor_context(
                instance=instance, cursor=cursor, resources=offline_resources(drift_home)
            )
        )
        assert "no new drift result" in skip_message(again)

        # A new, still-drifted result inside the cooldown does not request another run.
        dg.materialize(
            [monitoring.feature_drift], resources=offline_resources(drift_home), instance=instance
        )
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=offline_resources(drift_home)
        )
        cooling = sensor(context)
        assert "cooldown" in skip_message(cooling)

        # Once the cooldown is over, the next drifted result fires again.
        state = json.loads(present(context.cursor))
        state["last_triggered_at"] -= 7200
        dg.materialize(
            [monitoring.feature_drift], resources=offline_resources(drift_home), instance=instance
        )
        later = sensor(
            dg.build_sensor_context(
                instance=instance, cursor=json.dumps(state), resources=offline_resources(drift_home)
            )
        )
        assert isinstance(later, dg.RunRequest) and later.run_key != first.run_key


def test_drift_sensor_stays_quiet_below_threshold(drift_home):
    sensor = monitoring.build_drift_sensor(threshold=0.99, cooldown_seconds=3600)
    with dg.instance_for_test() as instance:
        dg.materialize(
            [monitoring.feature_drift], resources=offline_resources(drift_home), instance=instance
        )
        quiet = sensor(
            dg.build_sensor_context(instance=instance, resources=offline_resources(drift_home))
        )
        assert "below the threshold" in skip_message(quiet)

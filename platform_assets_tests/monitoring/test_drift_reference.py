"""The drift reference describes normal traffic: it leaves out the first days of a warehouse,
whose 7-day feature windows are incomplete, so healthy days that follow read little drift."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

import platform_assets
from platform_assets.core.features import complete_window_days
from platform_assets.core.registry import registry_for
from platform_assets.core.settings import Settings
from platform_assets.core.training import TrainingConfig, train_model
from platform_assets.defs.keys import FEATURE_DRIFT
from platform_assets.runner import load_definitions

DAILY_CHAIN = ["features/transactions", "raw/transactions", "validated/transactions"]


def _days(frame: pd.DataFrame) -> set[dt.date]:
    return set(pd.to_datetime(frame["partition_date"]).dt.date)


def test_the_reference_leaves_out_days_with_incomplete_windows(features):
    # `features` holds 8 days from 2026-01-01: only the 8th has its 7 days before it.
    days = sorted(_days(features))
    assert complete_window_days(days) == [days[-1]]
    config = TrainingConfig(training_days=8, holdout_days=1, max_iter=20, n_threads=1)
    model = train_model(features, config, reference_days=complete_window_days(days))
    # The only complete day is the holdout: the reference comes from it, never the warm-up.
    assert _days(model.reference_sample) == {days[-1]}
    # With a complete day in the training part, the reference is drawn from it alone.
    model = train_model(features, config, reference_days=[days[-2], days[-1]])
    assert _days(model.reference_sample) == {days[-2]}
    # Without the rule, the warm-up days were the reference.
    assert _days(train_model(features, config).reference_sample) == set(days[:-1])


def _drift_share(defs: dg.Definitions, instance: dg.DagsterInstance) -> float:
    job = dg.define_asset_job("drift_only", selection=[FEATURE_DRIFT])
    run = (
        dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
        .resolve_job_def(job.name)
        .execute_in_process(instance=instance, raise_on_error=False)
    )
    assert run.success
    event = instance.get_latest_materialization_event(FEATURE_DRIFT)
    assert event is not None and event.asset_materialization is not None
    return float(event.asset_materialization.metadata["drift_share"].value)  # type: ignore[arg-type]


@pytest.mark.slow
def test_healthy_days_after_the_first_training_read_little_drift(platform_home):
    _, instance = platform_home
    seeded = platform_assets.run_main("2026-03-01", instance=instance)
    assert seeded.success, seeded.failed_steps
    defs = load_definitions()
    threshold = Settings.from_env().drift_threshold
    shares = {}
    for n in range(1, 8):
        day = (dt.date(2026, 3, 1) + dt.timedelta(days=n)).isoformat()
        landed = platform_assets.backfill(DAILY_CHAIN, day, day, instance=instance)
        assert landed.success
        shares[day] = _drift_share(defs, instance)
    print(f"drift share (threshold {threshold}): {shares}")
    assert registry_for(Settings.from_env().registry_url).versions() == [1]
    assert max(shares.values()) <= threshold / 3, shares

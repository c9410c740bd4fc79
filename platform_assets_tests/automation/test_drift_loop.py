"""The drift loop closes without a person, once: a price shift injected through the bundled
source's run config on consecutive days; the automation and the drift sensor decide (ticked
with Dagster's own test helpers against a real instance); the runs they request are executed.

Expected: one retrain (cursor, run key, cooldown), its gate decision recorded, the drift
explained on the drift result, the alert and the retrain run's tags; no second retrain."""

from __future__ import annotations

import json
import re

import dagster as dg

import platform_assets
from platform_assets.core import warehouse as wh
from platform_assets.core.operations.alerts import read_alerts
from platform_assets.core.settings import Settings
from platform_assets.defs.keys import (
    CONTRACT_CHECK,
    FEATURE_DRIFT,
    PROMOTION_GATE_CHECK,
    RETRAIN_JOB,
    TEAM_ML_PLATFORM,
)
from platform_assets.defs.monitoring import EXPLANATION_TAG, TRIGGER_TAG, drift_retraining_sensor
from platform_assets.defs.resources import build_resources
from platform_assets.runner import load_definitions
from platform_assets_tests.support.automation import execute_requested, tick, utc

# Prices triple and a third of the online purchases lose their device fingerprint: the contract
# tolerates both (a warning), the features move.
PRICE_SHIFT = {
    "ops": {
        "raw_transactions": {
            "config": {"amount_scale": 3.0, "null_rates": {"device_fingerprint": 0.3}}
        }
    }
}


def _drift_sensor(instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=build_resources())
    return drift_retraining_sensor(context), context.cursor


def _drift_runs(instance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={TRIGGER_TAG: "drift"})))


def test_shifted_days_cause_exactly_one_explained_retrain_and_no_loop(platform_home, monkeypatch):
    _, instance = platform_home
    monkeypatch.setenv("PLATFORM_ASSETS_DRIFT_THRESHOLD", "0.2")
    # A healthy week and a champion trained on it, as `platform-assets run` leaves them.
    seeded = platform_assets.run_main("2026-03-01", instance=instance)
    assert seeded.success, seeded.failed_steps
    defs = load_definitions()

    # Day 1 (2026-03-02) closes with the shift; the chain runs, then drift after the features.
    day1 = tick(defs, instance, utc("2026-03-03 00:31"))
    assert day1.requested.get("2026-03-02") == {
        "raw/transactions",
        "validated/transactions",
        "features/transactions",
        "labels/chargebacks",
    }
    [ingested] = execute_requested(defs, instance, day1, run_config=PRICE_SHIFT)
    assert ingested.success
    [contract] = [
        e for e in ingested.get_asset_check_evaluations() if e.check_name == CONTRACT_CHECK
    ]
    assert contract.passed  # the shift is a warning, not a broken contract
    drift = tick(defs, instance, utc("2026-03-03 00:32"), day1.cursor)
    assert drift.requested == {None: {FEATURE_DRIFT.to_user_string()}}
    assert all(r.success for r in execute_requested(defs, instance, drift))
    measured = instance.get_latest_materialization_event(
        FEATURE_DRIFT
    ).asset_materialization.metadata
    assert measured["drift_share"].value >= 0.2
    headline = measured["drift_headline"].value
    # Prices ×3 against the champion's training sample (other days, a 50-cent floor): about ×3.
    assert re.match(
        r"amount_usd moved ×(2\.[6-9]|3(\.[0-4])?) \(median\) from 2026-03-02, the day the contract "
        r"check warned about distribution_shift in amount_cents",
        headline,
    ), headline
    explanation = measured["explanation_json"].value
    assert explanation["effects"][0]["feature"] == "amount_usd"
    top = explanation["evidence"][0]
    assert (top["kind"], top["day"], top["column"]) == ("contract", "2026-03-02", "amount_cents")
    configs = {
        (e["column"], e["detail"]) for e in explanation["evidence"] if e["kind"] == "source_config"
    }
    assert ("amount_cents", "ingestion setting amount_scale changed from 1.0 to 3.0") in configs
    assert (
        "device_fingerprint",
        "ingestion setting null_rates[device_fingerprint] changed from None to 0.3",
    ) in configs
    assert explanation["narrative"] is None  # no key: the rules' explanation only

    # (the daemon ticks every 30 seconds: it sees the drift result before anything else happens)
    seen = tick(defs, instance, utc("2026-03-03 00:33"), drift.cursor)
    assert seen.requested == {}

    # The sensor asks for one retrain, explained, and alerts its owner.
    request, cursor = _drift_sensor(instance)
    assert isinstance(request, dg.RunRequest), request
    assert request.tags[EXPLANATION_TAG].startswith(headline)
    retrain = defs.resolve_job_def(RETRAIN_JOB).execute_in_process(
        instance=instance, tags=request.tags, raise_on_error=False
    )
    gate = [
        e for e in retrain.get_asset_check_evaluations() if e.check_name == PROMOTION_GATE_CHECK
    ]
    assert len(gate) == 1, "the retrain's gate decision is recorded"
    with wh.session(Settings.from_env().warehouse_path, read_only=True) as conn:
        [alert] = read_alerts(conn, "drift_retrain")
        blocked = read_alerts(conn, "promotion_blocked")
    assert alert["owner"] == TEAM_ML_PLATFORM and alert["runbook"] == "review_drift_retrain"
    assert alert["summary"].startswith(headline)
    card = retrain.asset_materializations_for_node("model__model_card")
    if gate[0].passed:  # promoted: the new champion has its card
        assert card and not blocked
    else:  # blocked: the champion stays, no card for the challenger, its owner is told why
        assert not card and len(blocked) == 1 and blocked[0]["details"]["trigger"] == "drift"
        assert blocked[0]["run_id"] == retrain.run_id

    # What the retrain changed is measured again; the sensor does not ask twice.
    again = tick(defs, instance, utc("2026-03-03 00:40"), seen.cursor)
    assert again.requested == {None: {FEATURE_DRIFT.to_user_string()}}
    assert all(r.success for r in execute_requested(defs, instance, again))
    quiet, cursor = _drift_sensor(instance, cursor)
    assert isinstance(quiet, dg.SkipReason), quiet

    # Day 2: still shifted. One more day of the loop, no second retrain.
    day2 = tick(defs, instance, utc("2026-03-04 00:31"), again.cursor)
    assert day2.requested.get("2026-03-03") == {
        "raw/transactions",
        "validated/transactions",
        "features/transactions",
        "labels/chargebacks",
    }
    assert all(r.success for r in execute_requested(defs, instance, day2, run_config=PRICE_SHIFT))
    drift2 = tick(defs, instance, utc("2026-03-04 00:32"), day2.cursor)
    assert drift2.requested == {None: {FEATURE_DRIFT.to_user_string()}}
    assert all(r.success for r in execute_requested(defs, instance, drift2))
    later, cursor = _drift_sensor(instance, cursor)
    assert isinstance(later, dg.SkipReason), later
    assert tick(defs, instance, utc("2026-03-04 00:40"), drift2.cursor).requested == {}

    [only] = _drift_runs(instance)
    assert only.run_id == retrain.run_id and only.job_name == RETRAIN_JOB
    assert json.dumps(instance.get_run_by_id(only.run_id).tags).count("amount_usd") >= 1

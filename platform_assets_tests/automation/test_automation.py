"""The platform runs itself: Dagster's own automation test helper ticks the code location's
conditions at chosen times against a real instance, and the runs they request are executed
for real, day after day."""

from __future__ import annotations

import dagster as dg

import platform_assets
from platform_assets.core.training.history import bootstrap_days
from platform_assets.defs.keys import (
    CHARGEBACKS_CONTRACT_CHECK,
    CONTRACT_CHECK,
    EVAL_SUITE_RESULTS,
    EVALUATION,
    FEATURE_DRIFT,
    TRAINING,
)
from platform_assets.runner import load_definitions
from platform_assets_tests.support.automation import execute_requested, tick, utc

DAILY_CHAIN = {
    "raw/transactions",
    "validated/transactions",
    "features/transactions",
    "labels/chargebacks",
}
BROKEN_FEED = {"ops": {"raw_transactions": {"config": {"amount_unit": "dollars"}}}}


def _model_lifecycle(defs: dg.Definitions) -> set[str]:
    """The training and evaluation groups and the eval suite's results (the gate reads them)."""
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.groups(TRAINING, EVALUATION).resolve(graph) | {EVAL_SUITE_RESULTS}
    return {k.to_user_string() for k in keys}


def test_two_days_of_automation_request_the_right_runs(platform_home):
    _, instance = platform_home
    # The history before the last complete day, landed by hand (the first tick lands the day).
    before = bootstrap_days("2026-02-28")[:-1]
    history = platform_assets.backfill(
        sorted(DAILY_CHAIN), before[0], before[-1], instance=instance
    )
    assert history.success
    defs = load_definitions()

    # Sunday 2026-03-01, the sensor's first tick: the last complete day is caught up, whole chain in one run.
    first = tick(defs, instance, utc("2026-03-01 00:40"))
    assert first.requested == {"2026-02-28": DAILY_CHAIN}
    [run] = execute_requested(defs, instance, first)
    assert run.success
    assert sorted(e.check_name for e in run.get_asset_check_evaluations()) == sorted(
        [CHARGEBACKS_CONTRACT_CHECK, CONTRACT_CHECK]
    )  # the checks rode along
    # No model yet and the history is in: the first champion trains now, not on Monday, and
    # feature drift runs after it in the same run (as after a weekly retrain).
    bootstrap = tick(defs, instance, utc("2026-03-01 00:45"), first.cursor)
    first_lifecycle = _model_lifecycle(defs) | {FEATURE_DRIFT.to_user_string()}
    assert bootstrap.requested == {None: first_lifecycle}
    assert all(r.success for r in execute_requested(defs, instance, bootstrap))
    quiet = tick(defs, instance, utc("2026-03-01 00:50"), bootstrap.cursor)
    assert quiet.requested == {}
    hourly = tick(defs, instance, utc("2026-03-01 01:00:30"), quiet.cursor)
    assert hourly.requested == {None: {"llm_observability"}}
    assert all(r.success for r in execute_requested(defs, instance, hourly))

    # Monday: the day's ingestion; the weekly model waits for that day's features to be written...
    monday = tick(defs, instance, utc("2026-03-02 00:31"), hourly.cursor)
    assert monday.requested == {"2026-03-01": DAILY_CHAIN}
    assert all(r.success for r in execute_requested(defs, instance, monday))
    # ...then the whole model lifecycle and feature drift go in one run, in dependency order.
    retrain = tick(defs, instance, utc("2026-03-02 00:32"), monday.cursor)
    assert retrain.requested == {None: _model_lifecycle(defs) | {FEATURE_DRIFT.to_user_string()}}
    [model_run] = execute_requested(defs, instance, retrain)
    assert model_run.success
    assert instance.get_latest_materialization_event(FEATURE_DRIFT) is not None
    settled = tick(defs, instance, utc("2026-03-02 00:40"), retrain.cursor)
    assert settled.requested == {}

    # Tuesday: the day's chain, then drift against the champion; no retrain until next Monday.
    tuesday = tick(defs, instance, utc("2026-03-03 00:31"), settled.cursor)
    # (a day has passed: the hourly LLM observability is due too)
    assert tuesday.requested == {"2026-03-02": DAILY_CHAIN, None: {"llm_observability"}}
    assert all(r.success for r in execute_requested(defs, instance, tuesday))
    drift = tick(defs, instance, utc("2026-03-03 00:32"), tuesday.cursor)
    assert drift.requested == {None: {FEATURE_DRIFT.to_user_string()}}
    assert all(r.success for r in execute_requested(defs, instance, drift))
    assert tick(defs, instance, utc("2026-03-03 00:50"), drift.cursor).requested == {}


def test_a_quarantined_day_stops_its_chain_and_is_not_retried_in_a_loop(platform_home):
    _, instance = platform_home
    defs = load_definitions()
    first = tick(defs, instance, utc("2026-03-01 00:40"))
    assert first.requested == dict.fromkeys(bootstrap_days("2026-02-28"), DAILY_CHAIN)
    [run] = execute_requested(defs, instance, first, run_config=BROKEN_FEED)
    assert not run.success
    [check] = [e for e in run.get_asset_check_evaluations() if e.check_name == CONTRACT_CHECK]
    assert check.check_name == CONTRACT_CHECK and not check.passed
    assert run.asset_materializations_for_node("validated__transactions") == []
    # The blocked chain is not requested again, tick after tick; the next day runs as usual.
    later = tick(defs, instance, utc("2026-03-01 00:45"), first.cursor)
    assert later.requested == {}
    assert (
        tick(defs, instance, utc("2026-03-01 06:00"), later.cursor).requested.get("2026-02-28")
        is None
    )
    next_day = tick(defs, instance, utc("2026-03-02 00:31"), later.cursor)
    assert next_day.requested["2026-03-01"] == DAILY_CHAIN

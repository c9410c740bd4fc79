"""A fresh deployment bootstraps itself: the daemon's first tick lands the history the model
needs (the same days ``platform-assets run`` lands), and the first model trains as soon as
that history is in, without waiting for the weekly retrain; then the cadence holds."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from platform_assets.core.features import complete_window_days
from platform_assets.core.registry import registry_for
from platform_assets.core.settings import Settings
from platform_assets.core.training.history import HISTORY_DAYS, bootstrap_days
from platform_assets.defs.keys import (
    CHAMPION_CHALLENGER_GATE,
    FEATURE_DRIFT,
    FRAUD_MODEL,
    FRAUD_MODEL_ONNX,
    MODEL_CARD,
    ONNX_PARITY_CHECK,
    PROMOTION_GATE_CHECK,
)
from platform_assets.runner import load_definitions
from platform_assets_tests.support.automation import execute_requested, tick, utc
from platform_assets_tests.support.dagster_dev import dagster_dev

DAILY_CHAIN = {
    "raw/transactions",
    "validated/transactions",
    "features/transactions",
    "labels/chargebacks",
}


def test_the_history_is_the_same_days_for_the_cli_and_the_daemon():
    # Two weeks: seven days that warm the 7-day feature windows up, then seven complete ones.
    days = bootstrap_days("2026-02-28")
    assert (days[0], days[-1], len(days)) == ("2026-02-15", "2026-02-28", 14)
    assert HISTORY_DAYS == 13
    assert complete_window_days(dt.date.fromisoformat(d) for d in days) == [
        dt.date(2026, 2, 22) + dt.timedelta(days=n) for n in range(7)
    ]


def test_a_fresh_home_lands_its_history_then_trains_a_first_champion_at_once(platform_home):
    _, instance = platform_home
    defs = load_definitions()
    # Sunday 2026-03-01 00:40: not a retrain day. The first tick catches up the whole history.
    first = tick(defs, instance, utc("2026-03-01 00:40"))
    assert first.requested == dict.fromkeys(bootstrap_days("2026-02-28"), DAILY_CHAIN)
    [history_run] = execute_requested(defs, instance, first)
    assert history_run.success  # one run over the two weeks (single-run backfill policy)

    # The next tick: the history is in and there is no model yet, so the lifecycle runs now.
    bootstrap = tick(defs, instance, utc("2026-03-01 00:41"), first.cursor)
    requested = bootstrap.keys(None)
    assert FRAUD_MODEL.to_user_string() in requested and MODEL_CARD.to_user_string() in requested
    # The checks defined apart from their assets ride along (the daemon runs only what is asked).
    assert {(c.asset_key, c.name) for c in bootstrap.checks} >= {
        (FRAUD_MODEL_ONNX, ONNX_PARITY_CHECK),
        (CHAMPION_CHALLENGER_GATE, PROMOTION_GATE_CHECK),
    }
    assert all(run.success for run in execute_requested(defs, instance, bootstrap))
    registry = registry_for(Settings.from_env().registry_url)
    champion = registry.champion()
    assert champion is not None and champion.version == 1
    assert instance.get_latest_materialization_event(MODEL_CARD) is not None
    # The card's lineage: each training day's source URI and row counts.
    days = champion.record["lineage"]["training_days"]
    assert [d["day"] for d in days] == bootstrap_days("2026-02-28")
    assert days[0] == {
        "day": "2026-02-15",
        "source": "bundled",
        "source_uri": "bundled://transactions/2026-02-15",
        "raw_rows": 2000,
        "training_rows": 2000,
    }
    card = registry.read_file(1, "model_card.md").decode()
    assert "| 2026-02-28 | bundled://transactions/2026-02-28 | 2000 | 2000 |" in card

    assert instance.get_latest_materialization_event(FEATURE_DRIFT) is not None

    # Then the model waits for the cadence: no second training before Monday.
    after = tick(defs, instance, utc("2026-03-01 00:42"), bootstrap.cursor)
    assert after.requested == {}
    settled = tick(defs, instance, utc("2026-03-01 06:00"), after.cursor)
    assert FRAUD_MODEL.to_user_string() not in settled.keys(None)
    assert len(registry.versions()) == 1


FIRST_CHAMPION_DEADLINE_S = 15 * 60


@pytest.mark.slow
def test_a_fresh_deployment_with_only_the_daemon_has_a_champion_and_card_within_15_minutes(
    tmp_path,
):
    """No `make run`: `dagster dev` (webserver and daemon) on an empty home, automation on."""
    started = time.monotonic()
    with dagster_dev(tmp_path, automation=True) as server:
        registry = registry_for(str(server.data_home / "artifacts" / "registry"))
        card = server.data_home / "artifacts" / "model_cards" / "fraud_model_v0001.json"
        champion = None
        while time.monotonic() - started < FIRST_CHAMPION_DEADLINE_S:
            champion = registry.champion() if registry.versions() else None
            if champion is not None and card.is_file():
                break
            time.sleep(5)
        seconds = time.monotonic() - started
        print(f"first champion with its card after {seconds:.0f} s (daemon only)")
        assert champion is not None and champion.version == 1, server.log_tail()
        assert card.is_file(), server.log_tail()
    assert json.loads(card.read_text())["model"]["status"]
    assert seconds <= FIRST_CHAMPION_DEADLINE_S

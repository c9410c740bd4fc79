"""Cost per run: step compute seconds at the configured prices plus the run's logged Claude
calls; recorded on the assets and the run; totalled by ``platform-assets costs``."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time

import dagster as dg
import pytest

from platform_assets.core import warehouse as wh
from platform_assets.core.llm.governance import CallRecord, record_calls
from platform_assets.core.settings import ComputePrices, Settings
from platform_assets.defs.costs import (
    COST_TAG,
    estimate_run_cost,
    record_run_cost,
    record_run_costs,
)
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.typed import present, skip_message

# $1 per vCPU-second and nothing for memory: a step's compute cost is its seconds.
ONE_DOLLAR_A_SECOND = ComputePrices(
    usd_per_vcpu_hour=3600.0, usd_per_gib_hour=0.0, vcpu=1.0, memory_gib=2.0
)


@dg.asset(key=["raw", "slow"])
def slow():
    time.sleep(0.5)


@dg.asset(key=["model", "quick"], deps=[slow])
def quick():
    return None


@dg.asset_check(asset=quick, name="quick_is_fine")
def quick_is_fine():
    time.sleep(0.2)
    return dg.AssetCheckResult(passed=True)


def _llm_call(run_id: str, asset: str, cost: float, n: int) -> CallRecord:
    return CallRecord(
        call_id=f"{run_id}-{n}",
        called_at=dt.datetime.now(dt.UTC),
        run_id=run_id,
        asset=asset,
        task="t",
        prompt_name="p",
        prompt_sha256="x",
        model="m",
        cost_usd=cost,
    )


def test_a_runs_cost_is_its_step_seconds_at_the_price_plus_its_llm_calls(tmp_path):
    with dg.instance_for_test() as instance, wh.session(tmp_path / "w.duckdb") as conn:
        result = dg.materialize([slow, quick, quick_is_fine], instance=instance)
        record_calls(
            conn,
            [_llm_call(result.run_id, "model/quick", 0.25, 1), _llm_call("other-run", "x", 9.0, 2)],
        )
        cost = estimate_run_cost(instance, result.run_id, conn, ONE_DOLLAR_A_SECOND)
        stats = {
            s.step_key: present(s.end_time) - present(s.start_time)
            for s in instance.get_run_step_stats(result.run_id)
        }

        assert set(cost.assets) == {
            "raw/slow",
            "model/quick",
        }  # the check's step counts for its asset
        assert cost.assets["raw/slow"].compute_seconds == pytest.approx(stats["raw__slow"])
        assert 0.5 <= cost.assets["raw/slow"].compute_usd < 3.0
        assert cost.assets["model/quick"].compute_seconds == pytest.approx(
            stats["model__quick"] + stats["model__quick_quick_is_fine"]
        )
        assert (
            cost.assets["model/quick"].llm_usd == 0.25 and cost.llm_usd == 0.25
        )  # not the other run's call
        assert cost.total_usd == pytest.approx(cost.compute_seconds + 0.25)
        assert cost.day == dt.datetime.now(dt.UTC).date().isoformat()

        record_run_cost(instance, cost)
        observed = instance.fetch_observations(dg.AssetKey(["raw", "slow"]), limit=1).records[0]
        metadata = present(observed.asset_observation).metadata
        assert metadata["estimated_cost_usd"].value == pytest.approx(
            cost.assets["raw/slow"].total_usd
        )
        assert metadata["cost_of_run"].value == result.run_id
        tags = present(instance.get_run_by_id(result.run_id)).tags
        assert float(tags[COST_TAG]) == pytest.approx(cost.total_usd)


def test_default_prices_are_fargates():
    prices = Settings.from_env({}).prices
    assert (prices.usd_per_vcpu_hour, prices.usd_per_gib_hour, prices.vcpu, prices.memory_gib) == (
        0.04048,
        0.004445,
        1.0,
        2.0,
    )
    # one hour of a 1 vCPU / 2 GiB step
    assert prices.usd_per_second * 3600 == pytest.approx(0.04048 + 2 * 0.004445)
    custom = Settings.from_env(
        {"PLATFORM_ASSETS_PRICE_VCPU_HOUR": "0.05", "PLATFORM_ASSETS_STEP_VCPU": "4"}
    ).prices
    assert custom.usd_per_second * 3600 == pytest.approx(4 * 0.05 + 2 * 0.004445)


def test_the_sensor_records_each_finished_run_once(tmp_path):
    from platform_assets.defs.resources import WarehouseResource

    resources = {"warehouse": WarehouseResource(database=str(tmp_path / "w.duckdb"))}
    with dg.instance_for_test() as instance:
        first = dg.materialize([slow], instance=instance)
        outcome = record_run_costs(dg.build_sensor_context(instance=instance, resources=resources))
        assert skip_message(outcome).startswith(
            f"recorded the cost of 1 run(s): {first.run_id[:8]} $"
        )
        assert COST_TAG in present(instance.get_run_by_id(first.run_id)).tags
        context = dg.build_sensor_context(instance=instance, resources=resources, cursor=None)
        again = record_run_costs(context)
        assert skip_message(again) == "recorded the cost of 0 run(s)"  # the tag says it is done


def test_costs_command_totals_by_asset_and_day(tmp_path):
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        for _ in range(2):
            dg.materialize([slow, quick, quick_is_fine], instance=instance)
    env = subprocess_env(
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        PLATFORM_ASSETS_HOME=str(tmp_path / "home"),
        PLATFORM_ASSETS_PRICE_VCPU_HOUR="3600",
        PLATFORM_ASSETS_PRICE_GIB_HOUR="0",
    )
    run = subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "costs", "--since", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    totals = json.loads(run.stdout)
    assert totals["runs"] == 2 and set(totals["by_asset"]) == {"raw/slow", "model/quick"}
    assert (
        totals["by_asset"]["raw/slow"]["runs"] == 2
        and totals["by_asset"]["raw/slow"]["compute_usd"] >= 1.0
    )
    assert list(totals["by_day"]) == [dt.datetime.now(dt.UTC).date().isoformat()]
    text = subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "costs"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert text.returncode == 0 and "by asset:" in text.stdout and "raw/slow" in text.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "costs", "--since", "0"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert bad.returncode == 2

"""The scheduled retrain's cadence is a setting (``PLATFORM_ASSETS_RETRAIN_CRON``): the model's
condition fires on that cron once its inputs have finished updating, and a string that is not
a cron schedule stops the code location from loading with the variable's name."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from platform_assets.core.settings import SettingsError
from platform_assets.defs.automation import on_retrain_cadence, retrain_cron
from platform_assets_tests.support.automation import tick, utc
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO


def test_a_bad_cadence_names_the_variable():
    assert retrain_cron({}) == "0 0 * * 1"
    assert retrain_cron({"PLATFORM_ASSETS_RETRAIN_CRON": " 0 6 * * * "}) == "0 6 * * *"
    with pytest.raises(
        SettingsError, match=r"PLATFORM_ASSETS_RETRAIN_CRON='every monday': not a cron schedule"
    ):
        retrain_cron({"PLATFORM_ASSETS_RETRAIN_CRON": "every monday"})


def test_the_model_retrains_on_the_configured_cron():
    @dg.asset
    def features() -> None:
        pass

    @dg.asset(deps=[features], automation_condition=on_retrain_cadence("0 6 * * *"))
    def model() -> None:
        pass

    defs = dg.Definitions(assets=[features, model])
    with dg.instance_for_test() as instance:
        # Wednesday: before 06:00 nothing; the 06:00 tick, once the inputs were updated, retrains.
        early = tick(defs, instance, utc("2026-03-04 05:50"))
        assert early.requested == {}
        assert dg.materialize([features], instance=instance).success
        due = tick(defs, instance, utc("2026-03-04 06:01"), early.cursor)
        assert due.requested == {None: {"model"}}
        assert tick(defs, instance, utc("2026-03-04 06:10"), due.cursor).requested == {}


LABEL = """
from platform_assets.defs.keys import FRAUD_MODEL
from platform_assets.runner import load_definitions
asset = load_definitions().resolve_assets_def(FRAUD_MODEL)
print(asset.automation_conditions_by_key[FRAUD_MODEL].get_label())
"""


@pytest.mark.parametrize(
    ("cron", "label"),
    [
        (None, "first model, then weekly retrain"),
        ("0 6 * * *", "first model, then retrain on cron '0 6 * * *'"),
    ],
)
def test_the_code_locations_model_carries_the_cadence(tmp_path, cron, label):
    # A process of its own: the conditions are built once, when the code location loads.
    env = subprocess_env({"PLATFORM_ASSETS_HOME": str(tmp_path)})
    env.pop("PLATFORM_ASSETS_RETRAIN_CRON", None)
    if cron:
        env["PLATFORM_ASSETS_RETRAIN_CRON"] = cron
    result = subprocess.run(
        [sys.executable, "-c", LABEL],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == label

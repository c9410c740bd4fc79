"""Every asset, check, job and sensor of the code location has owners, from defs/keys.py;
every asset says when it runs by itself; the sensors that must run are on by default."""

from __future__ import annotations

import dagster as dg
import pytest

from platform_assets.defs.keys import (
    AUTOMATION_SENSOR,
    DRIFT_SENSOR,
    EVAL_DRAFTS,
    OWNER_KEY,
    OWNERS_BY_GROUP,
    TRAINING_ANOMALY_SENSOR,
    TRIAGE_SENSOR,
)
from platform_assets.runner import load_definitions

MUST_RUN = {AUTOMATION_SENSOR, DRIFT_SENSOR, TRIAGE_SENSOR, TRAINING_ANOMALY_SENSOR}
# Drafting eval cases spends on Claude and fills a review inbox: a person asks for it
# (`platform-assets evals draft`, or the UI).
ASKED_BY_A_PERSON = {EVAL_DRAFTS}
TEAMS = {team for teams in OWNERS_BY_GROUP.values() for team in teams}


@pytest.fixture(scope="module")
def defs(tmp_path_factory) -> dg.Definitions:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLATFORM_ASSETS_HOME", str(tmp_path_factory.mktemp("owners")))
        return load_definitions()


def _listed(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def test_every_asset_has_its_stage_owners_and_runs_by_itself(defs):
    graph = defs.resolve_asset_graph()
    repo = defs.get_repository_def()
    scheduled = {
        key
        for schedule in repo.schedule_defs
        for key in repo.get_job(schedule.job_name).asset_layer.selected_asset_keys
    }
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert list(node.owners) == OWNERS_BY_GROUP[node.group_name], key
        assert (
            node.automation_condition is not None or key in scheduled or key in ASKED_BY_A_PERSON
        ), f"{key.to_user_string()} never runs by itself"
    assert all(graph.get(key).automation_condition is None for key in scheduled), (
        "a schedule or a condition, not both"
    )


def test_every_check_carries_its_assets_owners(defs):
    graph = defs.resolve_asset_graph()
    assert graph.asset_check_keys
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        asset_owners = list(graph.get(check_key.asset_key).owners)
        assert _listed(spec.metadata[OWNER_KEY]) == asset_owners, check_key


def test_every_job_schedule_and_sensor_has_owners(defs):
    repo = defs.get_repository_def()
    jobs = [j for j in repo.get_all_jobs() if not j.name.startswith("__")]
    assert jobs and all(j.owners and set(j.owners) <= TEAMS for j in jobs), [
        (j.name, j.owners) for j in jobs
    ]
    assert all(s.owners and set(s.owners) <= TEAMS for s in repo.schedule_defs)
    for sensor in repo.sensor_defs:
        owners = list(sensor.owners or []) or _listed(sensor.tags.get(OWNER_KEY, ""))
        assert owners and set(owners) <= TEAMS, f"sensor {sensor.name} has no owner"


def test_the_sensors_that_must_run_are_on_by_default(defs):
    sensors = {s.name: s for s in defs.get_repository_def().sensor_defs}
    assert set(sensors) >= MUST_RUN
    for name in MUST_RUN:
        assert sensors[name].default_status == dg.DefaultSensorStatus.RUNNING, name

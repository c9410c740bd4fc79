"""The suite's own assets in Dagster: requirements, the suite's checks, the quarterly rot review."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from platform_assets.defs import eval_suite
from platform_assets.defs.keys import EVAL_ROT_REVIEW_JOB, EVAL_ROT_REVIEW_SCHEDULE
from platform_assets.runner import load_definitions
from platform_assets_tests.support.dagster import check_evaluation, offline_resources
from platform_assets_tests.support.evals import case_body, write_case, write_requirements
from platform_assets_tests.support.typed import present


def test_the_suite_asset_flags_missing_coverage_and_stale_cases(tmp_path: Path):
    home = tmp_path / "home"
    evals = home / "evals"
    write_requirements(evals, "scoring", ["Scores are fast.", "Grocery is not flagged."])
    old = dt.date.today() - dt.timedelta(days=120)
    write_case(
        evals / "cases",
        case_body(
            "fast",
            "scoring#1",
            "latency",
            {"budget_ms": 50},
            status="approved",
            requirement_sha256="0" * 16,
            reviewed_by="someone",
            reviewed_at=str(old),
        ),
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [eval_suite.eval_requirements, eval_suite.eval_suite],
            resources=offline_resources(home),
            instance=instance,
        )
    assert result.success  # the suite's checks warn and flag; they do not stop a run
    coverage = check_evaluation(result, "eval_suite_coverage")
    assert not coverage.passed and coverage.severity == dg.AssetCheckSeverity.ERROR
    assert "scoring#2: no approved case" in (coverage.description or "")
    assert "scoring#1: fewer than 2 approved cases" in (coverage.description or "")
    rot = check_evaluation(result, "eval_suite_rot")
    assert not rot.passed and rot.severity == dg.AssetCheckSeverity.WARN
    assert "not reviewed for 120 days" in (
        rot.description or ""
    ) and "text of scoring#1 changed" in (rot.description or "")
    assert check_evaluation(result, "eval_suite_duplicates").passed
    metadata = result.asset_materializations_for_node("evals__suite")[0].metadata
    assert (metadata["cases"].value, metadata["coverage_pct"].value, metadata["stale"].value) == (
        1,
        50.0,
        1,
    )
    requirements = result.asset_materializations_for_node("evals__requirements")[0].metadata
    assert requirements["requirements"].value == 2


def test_a_malformed_case_fails_the_suite_asset_naming_file_and_field(tmp_path: Path):
    home = tmp_path / "home"
    write_requirements(home / "evals", "scoring", ["Scores are fast."])
    write_case(
        home / "evals" / "cases", case_body("fast", "scoring#1", "latency", {"budget_ms": "soon"})
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [eval_suite.eval_requirements, eval_suite.eval_suite],
            resources=offline_resources(home),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert "fast.yaml: latency.budget_ms (line" in present(failure.step_failure_data.error).message


def test_the_rot_review_runs_each_quarter():
    definitions = load_definitions()
    schedule = definitions.get_repository_def().get_schedule_def(EVAL_ROT_REVIEW_SCHEDULE)
    assert schedule.cron_schedule == "0 6 1 1,4,7,10 *" and schedule.job_name == EVAL_ROT_REVIEW_JOB
    job = definitions.resolve_job_def(EVAL_ROT_REVIEW_JOB)
    assert {k.to_user_string() for k in job.asset_layer.selected_asset_keys} == {
        "evals/requirements",
        "evals/suite",
    }

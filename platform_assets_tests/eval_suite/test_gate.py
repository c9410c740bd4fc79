"""The suite decides releases: a challenger that fails an approved case its champion passes is
blocked by the promotion gate, whichever road it takes (a Dagster run, `models promote`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from platform_assets.core import warehouse as wh
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets.core.registry import EvalCaseComparison, EvalCaseResult, gate, registry_for
from platform_assets.defs import eval_suite, evaluation, features, training
from platform_assets_tests.support.dagster import (
    check_evaluation,
    offline_registry,
    offline_resources,
)
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.evals import copy_shipped_suite
from platform_assets_tests.support.models import identity_onnx
from platform_assets_tests.support.paths import CONTRACTS_DIR

CHAMPION = {"auroc": 0.85, "pr_auc": 0.20}
BROKEN = "fraud_scoring-2-routine-purchases-not-held"


def comparison(champion_version, *cases) -> EvalCaseComparison:
    return EvalCaseComparison(champion_version, "suite-1", tuple(EvalCaseResult(*c) for c in cases))


def test_the_gate_blocks_a_case_the_champion_passes_and_names_case_and_requirement():
    regressed = comparison(
        1,
        ("grocery", "fraud_scoring#3", False, True, "false_positive_rate 0.02 (≤ 0.005)"),
        ("latency", "fraud_scoring#1", True, True, "p99 0.1 ms"),
        ("recall", "fraud_scoring#2", False, False, "recall 0.28"),
    )
    blocked = gate(
        CHAMPION, CHAMPION, eval_cases=regressed, challenger_version=2, champion_version=1
    )
    assert not blocked.passed
    assert (
        "eval suite: the challenger fails 1 case(s) the champion passes: grocery (requirement fraud_scoring#3): "
        "false_positive_rate 0.02 (≤ 0.005)"
    ) in blocked.reasons
    assert (
        "| eval case grocery (fraud_scoring#3) | fails | passes | passes | ❌ |"
        in blocked.markdown()
    )
    # Failing what the champion fails too is no regression; without a champion the suite only reports.
    same = comparison(1, ("recall", "fraud_scoring#2", False, False, ""))
    assert gate(CHAMPION, CHAMPION, eval_cases=same).passed
    first = gate(
        CHAMPION, None, eval_cases=comparison(None, ("grocery", "fraud_scoring#3", False, None, ""))
    )
    assert (
        first.passed
        and "0 of 1 approved cases pass (no champion to compare with" in first.reasons[-1]
    )
    assert gate(CHAMPION, CHAMPION).reasons == gate(CHAMPION, CHAMPION, eval_cases=None).reasons


def test_the_recorded_comparison_decides_a_promotion_only_against_the_champion_it_was_run_with(
    tmp_path: Path,
):
    registry = registry_for(tmp_path / "registry")

    def register(tag: str) -> int:
        return registry.register(
            {"model.onnx": identity_onnx(tag)},
            config={},
            threshold=0.5,
            data_window={},
            metrics=CHAMPION,
            lineage={},
        ).version

    first = register("v1")
    registry.promote_if_passes(first)
    second = register("v2")
    registry.attach_eval_cases(
        second, comparison(first, ("grocery", "fraud_scoring#3", False, True, "too many"))
    )
    decision = registry.promote_if_passes(second, actor="cli")
    assert not decision.passed and "grocery (requirement fraud_scoring#3)" in decision.reasons[-1]
    assert registry.aliases()["champion"] == first
    # Against another champion the recorded run is not comparable, and the metrics decide alone.
    registry.attach_eval_cases(
        second, comparison(99, ("grocery", "fraud_scoring#3", False, True, "too many"))
    )
    assert registry.promote_if_passes(second).passed and registry.aliases()["champion"] == second


DAYS = day_range("2026-01-01", 8)
ROWS = 8_000  # the shipped cases' minimum supports need a holdout of this size
FAST = {"training_days": 8, "holdout_days": 2, "max_iter": 60, "n_threads": 1}
LIFECYCLE = [
    training.fraud_model,
    training.fraud_model_onnx,
    training.onnx_parity,
    evaluation.eval_results,
    evaluation.champion_challenger_gate,
    evaluation.promotion_gate,
    evaluation.model_card,
]
WITH_SUITE = [*LIFECYCLE, eval_suite.eval_suite_results, eval_suite.release_notes]


@pytest.fixture(scope="module")
def featured_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("featured")
    with wh.session(home / "w.duckdb") as conn:
        load_validated_days(conn, DAYS, ROWS)
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [features.features_transactions],
            resources=offline_resources(home),
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": DAYS[0].isoformat(),
                "dagster/asset_partition_range_end": DAYS[-1].isoformat(),
            },
        ).success
    return home


@pytest.mark.slow
def test_a_challenger_that_breaks_a_requirement_is_blocked_by_the_gate(
    featured_home: Path, tmp_path: Path
):
    home = tmp_path / "home"
    shutil.copytree(featured_home, home)
    shutil.copytree(CONTRACTS_DIR, home / "contracts")
    copy_shipped_suite(home / "evals")
    resources = offline_resources(home)

    def train(assets, **config):
        return dg.materialize(
            assets,
            resources=resources,
            instance=instance,
            raise_on_error=False,
            run_config={"ops": {"model__fraud_model": {"config": {**FAST, **config}}}},
        )

    with dg.instance_for_test() as instance:
        first = train(WITH_SUITE)
        assert first.success
        results = first.asset_materializations_for_node("evals__results")[0].metadata
        assert results["cases"].value == 24 and results["champion_version"].value == -1
        # The same ranking with a threshold that flags half of all traffic: PR-AUC and every slice's
        # AUROC are unchanged, so only the suite can see it holds routine purchases for review.
        # Through the retrain job's assets (no evals/results), the gate runs the suite itself.
        second = train(LIFECYCLE, alert_rate=0.5)
        # Through the whole group, the gate uses the run evals/results recorded.
        third = train(WITH_SUITE, alert_rate=0.5)
    registry = offline_registry(home)
    # The third run trains on the second's inputs (rows, config, code): no new version.
    assert registry.aliases() == {"champion": 1, "challenger": 2} and registry.versions() == [1, 2]
    for run, version in ((second, 2), (third, 2)):
        check = check_evaluation(run, "promotion_gate")
        assert not run.success and not check.passed
        assert "pr_auc" in check.description and "within tolerance" in check.description
        assert (
            f"eval suite: the challenger fails 1 case(s) the champion passes: {BROKEN} (requirement "
            f"fraud_scoring#2)" in check.description
        )
        assert check.metadata["eval_cases_regressed"].value == 1
        recorded = registry.eval_cases(version)
        assert recorded.champion_version == 1 and [c.case for c in recorded.regressions] == [BROKEN]
    third_results = third.asset_materializations_for_node("evals__results")[0].metadata
    assert (
        third_results["regressions_vs_champion"].value == 1
        and third_results["champion_version"].value == 1
    )
    # A blocked challenger gets no card and no release notes; the champion's notes record its suite run.
    assert not third.asset_materializations_for_node("model__release_notes")
    notes = json.loads(registry.read_file(1, "release_notes.json"))
    assert notes["eval_cases"]["cases"] == 24
    assert notes["eval_cases"]["passed"] == 24 - results["challenger_failed"].value
    assert len(notes["eval_cases"]["still_failing"]) == results["challenger_failed"].value
    assert notes["approvals"]["promotion"] == "promotion_gate"
    # A person at the shell meets the same gate: the recorded comparison travels with the version.
    promote = subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "models", "promote", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env(PLATFORM_ASSETS_HOME=str(home), RUNTIME__LOG_LEVEL="ERROR"),
    )
    assert promote.returncode == 1 and "BLOCKED" in promote.stdout and BROKEN in promote.stdout
    assert registry.aliases()["champion"] == 1

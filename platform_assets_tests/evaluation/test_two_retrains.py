"""Two retrains at once on one instance: each run exports, checks, evaluates, gates and
cards the model it trained itself, never the one the other run materialized last.

Two processes on one instance. Run A is held (in the test's registry resource, before its
ONNX step reads its candidate) until run B, started at the same time, has trained and
finished: so when A carries on, the
newest ``model/fraud_model`` in the instance is B's. A must still use its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from platform_assets.core import warehouse as wh
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets.defs import evaluation, features, training
from platform_assets.defs.keys import (
    CHAMPION_CHALLENGER_GATE,
    EVAL_RESULTS,
    FRAUD_MODEL_ONNX,
    MODEL_CARD,
    ONNX_PARITY_CHECK,
    PROMOTION_GATE_CHECK,
)
from platform_assets.defs.resources import ModelRegistryResource
from platform_assets_tests.support.dagster import offline_registry, offline_resources
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO

DAYS = day_range("2026-01-01", 8)
MODEL_ASSETS = [
    training.fraud_model,
    training.fraud_model_onnx,
    training.onnx_parity,
    evaluation.eval_results,
    evaluation.champion_challenger_gate,
    evaluation.promotion_gate,
    evaluation.model_card,
]
FAST = {"training_days": 8, "holdout_days": 2, "max_iter": 40, "n_threads": 1}


class HeldRegistry(ModelRegistryResource):
    """The real registry resource; its candidate lookups wait until ``hold_until`` exists
    (the other run has finished)."""

    hold_until: str = ""

    def current_candidate(self, *args, **kwargs):
        deadline = time.monotonic() + 600
        while self.hold_until and not Path(self.hold_until).exists():
            assert time.monotonic() < deadline, "the other retrain did not finish"
            time.sleep(0.2)
        return super().current_candidate(*args, **kwargs)


def _metadata(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    (materialization,) = [
        m for m in result.get_asset_materialization_events() if m.asset_key == key
    ]
    return {k: v.value for k, v in materialization.materialization.metadata.items()}


def _check(result: dg.ExecuteInProcessResult, name: str) -> dict:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return {"passed": evaluation.passed, **{k: v.value for k, v in evaluation.metadata.items()}}


def retrain(home: str, seed: int, hold_until: str, report: str) -> None:
    """One retrain in this process, on the instance of ``$DAGSTER_HOME``; what its steps
    used goes to ``report`` (JSON). Run by the test in two processes at once."""
    resources = offline_resources(Path(home))
    base = resources["registry"]
    assert isinstance(base, ModelRegistryResource)
    registry = HeldRegistry(**base.model_dump(), hold_until=hold_until)
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            MODEL_ASSETS,
            resources={**resources, "registry": registry},
            instance=instance,
            raise_on_error=False,
            run_config={"ops": {"model__fraud_model": {"config": {**FAST, "seed": seed}}}},
        )
    Path(report).write_text(
        json.dumps(
            {
                "run_id": result.run_id,
                "success": result.success,
                "onnx": _metadata(result, FRAUD_MODEL_ONNX)["candidate_dir"],
                "parity": _check(result, ONNX_PARITY_CHECK),
                "eval": _metadata(result, EVAL_RESULTS)["candidate_dir"],
                "gate_version": _metadata(result, CHAMPION_CHALLENGER_GATE)["version"],
                "gate": _check(result, PROMOTION_GATE_CHECK),
                "card_model_id": _metadata(result, MODEL_CARD)["model_id"],
            },
            default=str,
        )
    )


def _start(home: Path, dagster_home: Path, seed: int, hold_until: str, report: Path):
    code = (
        "import sys; from platform_assets_tests.evaluation.test_two_retrains import retrain; "
        "retrain(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, str(home), str(seed), hold_until, str(report)],
        cwd=REPO,
        env=subprocess_env(DAGSTER_HOME=str(dagster_home)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_retrains_at_once_each_gate_their_own_model(tmp_path):
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with wh.session(home / "w.duckdb") as conn:
        load_validated_days(conn, DAYS, 3_000)
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        built = dg.materialize(
            [features.features_transactions],
            resources=offline_resources(home),
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": DAYS[0].isoformat(),
                "dagster/asset_partition_range_end": DAYS[-1].isoformat(),
            },
        )
        assert built.success
    # A trains, then waits before its ONNX step until B has trained and finished: when A
    # goes on, the newest model/fraud_model of the instance is B's.
    b_done = tmp_path / "b.done"
    a = _start(home, dagster_home, 1, str(b_done), tmp_path / "a.json")
    b = _start(home, dagster_home, 2, "", tmp_path / "b.json")
    output_b, _ = b.communicate(timeout=900)
    b_done.touch()
    output_a, _ = a.communicate(timeout=900)
    assert b.returncode == 0, output_b[-3000:]
    assert a.returncode == 0, output_a[-3000:]

    registry = offline_registry(home)
    versions = set()
    for name in ("a", "b"):
        report = json.loads((tmp_path / f"{name}.json").read_text())
        run_id = report["run_id"]
        assert report["success"], f"run {name} failed: {report}"
        assert Path(report["onnx"]).name == run_id, f"run {name} exported another run's model"
        assert report["parity"]["passed"] and Path(report["parity"]["candidate_dir"]).name == run_id
        assert Path(report["eval"]).name == run_id, f"run {name} evaluated another run's model"
        version = registry.get(int(report["gate_version"]))
        assert Path(version.record["lineage"]["candidate_dir"]).name == run_id, (
            f"run {name} registered and gated another run's model"
        )
        assert report["gate"]["challenger_version"] == version.version
        assert Path(report["gate"]["candidate_dir"]).name == run_id
        assert report["card_model_id"] == version.id
        versions.add(version.version)
    assert len(versions) == 2

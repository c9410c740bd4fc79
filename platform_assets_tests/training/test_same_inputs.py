"""A retrain on identical inputs (the same feature rows, config and code) registers nothing
new: ``make run`` twice leaves one version, and the champion's gate is not run against itself."""

from __future__ import annotations

from dataclasses import replace

import pytest

from platform_assets.core.registry import LocalStore, ModelRegistry
from platform_assets.core.registry.candidates import promote_if_better, register_candidate
from platform_assets.core.training import TrainingConfig, check_parity, export_onnx, train_model
from platform_assets.core.training.candidate import save_candidate
from platform_assets.core.training.model import training_inputs_fingerprint

CONFIG = TrainingConfig(training_days=8, holdout_days=2, max_iter=80, n_threads=1)


def _candidate(model, path):
    candidate = save_candidate(model, path)
    onnx_bytes = export_onnx(model)
    candidate.onnx_path.write_bytes(onnx_bytes)
    candidate.write_json("parity.json", check_parity(model, onnx_bytes).to_dict())
    candidate.write_json("eval.json", {"candidate": {"pr_auc": 0.5, "auroc": 0.9, "slices": []}})
    return candidate


def test_the_fingerprint_follows_rows_and_config(features, trained):
    again = training_inputs_fingerprint(features.sample(frac=1.0, random_state=1), CONFIG)
    assert trained.inputs_fingerprint == again  # the order rows arrive in does not matter
    assert training_inputs_fingerprint(features, replace(CONFIG, seed=7)) != again
    relabelled = features.copy()
    relabelled.loc[0, "is_fraud"] = 1 - relabelled.loc[0, "is_fraud"]
    assert training_inputs_fingerprint(relabelled, CONFIG) != again


@pytest.mark.slow
def test_a_retrain_on_identical_inputs_registers_nothing_new(features, trained, tmp_path):
    registry = ModelRegistry(LocalStore(tmp_path / "registry"))
    first = _candidate(trained, tmp_path / "candidates" / "run1")
    v1 = register_candidate(registry, first, run_id="run1", asset="model", feature_table="f")
    decision = promote_if_better(registry, v1.version, first.read_json("eval.json"), actor="t")
    assert decision.passed and registry.champion().version == 1

    retrained = _candidate(train_model(features, CONFIG), tmp_path / "candidates" / "run2")
    same = register_candidate(registry, retrained, run_id="run2", asset="model", feature_table="f")
    assert same.version == 1 and registry.versions() == [1]
    again = promote_if_better(registry, same.version, retrained.read_json("eval.json"), actor="t")
    assert again.passed and "same inputs as champion v1" in again.reasons[0]
    assert [e["to"] for e in registry.history() if e["alias"] == "champion"] == [1]

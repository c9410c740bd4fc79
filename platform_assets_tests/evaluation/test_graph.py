"""The lifecycle graph run through Dagster with the real assets: features → model → ONNX →
evaluation → gate → shadow scores → model card, then a drifted retrain, a worse challenger,
and a rollback.

Each test starts from its own copy of the same state (a warehouse with eight days of
features) and its own Dagster instance, then trains v1 itself: no test sees another's
models, aliases or extra days, whatever order they run in.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from platform_assets.core import warehouse as wh
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets.core.ingestion.bundled import FaultInjection
from platform_assets.defs import evaluation, features, training
from platform_assets.defs.resources import ModelRegistryResource
from platform_assets_tests.support.dagster import (
    check_evaluation,
    offline_registry,
    offline_resources,
)
from platform_assets_tests.support.typed import number, present, text

DAYS = day_range("2026-01-01", 8)
MODEL_ASSETS = [
    training.fraud_model,
    training.fraud_model_onnx,
    training.onnx_parity,
    evaluation.eval_results,
    evaluation.champion_challenger_gate,
    evaluation.promotion_gate,
    evaluation.shadow_scores,
    evaluation.model_card,
]
FAST = {"training_days": 8, "holdout_days": 2, "max_iter": 60, "n_threads": 1}


def _build_features(home: Path, instance, days):
    result = dg.materialize(
        [features.features_transactions],
        resources=offline_resources(home),
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        },
    )
    assert result.success


def _train(home: Path, instance, **config):
    return dg.materialize(
        MODEL_ASSETS,
        resources=offline_resources(home),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"model__fraud_model": {"config": {**FAST, **config}}}},
    )


def _registry(home: Path):
    return offline_registry(home)


@pytest.fixture(scope="module")
def featured_home(tmp_path_factory) -> Path:
    """Eight validated days and their features, built once through Dagster. Tests copy this
    folder and never open it: it is the same for every test."""
    home = tmp_path_factory.mktemp("featured")
    with wh.session(home / "w.duckdb") as conn:
        load_validated_days(conn, DAYS, 3_000)
    with dg.instance_for_test() as instance:
        _build_features(home, instance, DAYS)
    return home


@dataclass
class Lifecycle:
    home: Path
    instance: dg.DagsterInstance
    first: dg.ExecuteInProcessResult  # the run that trained v1


@pytest.fixture
def lifecycle(featured_home, tmp_path) -> Iterator[Lifecycle]:
    """A private copy of the featured warehouse, a fresh instance, and v1 trained on them."""
    home = tmp_path / "home"
    shutil.copytree(featured_home, home)
    with dg.instance_for_test() as instance:
        first = _train(home, instance)
        assert first.success, "training v1 on the copied warehouse failed"
        yield Lifecycle(home, instance, first)


def test_whole_graph_ends_with_a_champion_and_a_card(lifecycle):
    home, _instance, first = lifecycle.home, lifecycle.instance, lifecycle.first
    assert first.success
    assert (
        check_evaluation(first, "onnx_parity").passed
        and check_evaluation(first, "promotion_gate").passed
    )
    registry = _registry(home)
    assert registry.aliases() == {"champion": 1, "challenger": 1}
    card = json.loads(registry.read_file(1, "model_card.json"))
    assert card["model"]["id"] == "fraud_model:v1" and card["model"]["status"] == "champion"
    assert card["training_data"]["train_window"] == ["2026-01-01", "2026-01-06"]
    assert card["gate"]["passed"] and card["approvals"] == []
    assert (home / "artifacts" / "model_cards" / "fraud_model_v0001.md").is_file()
    metadata = first.asset_materializations_for_node("model__eval_results")[0].metadata
    assert metadata["auroc"].value > 0.75 and metadata["latency_p99_ms"].value > 0
    assert "| pr_auc |" in metadata["comparison"].value


def test_worse_challenger_is_blocked_and_champion_stays(lifecycle):
    home, instance = lifecycle.home, lifecycle.instance
    worse = _train(home, instance, features=["hour_of_day", "user_country"])
    assert not worse.success
    gate_check = check_evaluation(worse, "promotion_gate")
    assert not gate_check.passed and "worse than champion" in (gate_check.description or "")
    registry = _registry(home)
    assert registry.versions() == [1, 2] and registry.aliases() == {"champion": 1, "challenger": 2}
    # The blocking check stops shadow scoring and the card.
    materialized = {
        present(e.asset_key).to_user_string() for e in worse.get_asset_materialization_events()
    }
    assert (
        "model/model_card" not in materialized and "model/champion_challenger_gate" in materialized
    )


def test_retrain_on_drifted_data_produces_a_challenger_and_rollback(lifecycle):
    home, instance = lifecycle.home, lifecycle.instance
    new_days = day_range("2026-01-09", 3)
    with wh.session(home / "w.duckdb") as conn:
        load_validated_days(conn, new_days, 3_000, FaultInjection(category_count=30))
    _build_features(home, instance, new_days)
    assert _registry(home).versions() == [1]
    retrained = _train(home, instance)
    registry = _registry(home)
    newest = registry.versions()[-1]
    assert newest == 2 and registry.aliases()["challenger"] == newest
    assert registry.get(newest).record["data_window"]["holdout"] == ["2026-01-10", "2026-01-11"]
    # Deterministic data and seed: the retrained model beats v1 on the new holdout and is promoted.
    assert retrained.success and registry.aliases()["champion"] == newest
    card = json.loads(registry.read_file(newest, "model_card.json"))
    assert card["drift_vs_previous"]["previous_version"] == 1 and card["diff_vs_previous_card"]
    assert "pr_auc" in card["drift_vs_previous"]["summary"]
    shadow = retrained.asset_materializations_for_node("model__shadow_scores")[0].metadata
    assert shadow["rows"].value == 3_000 and "v1" in text(shadow["summary"].value)
    assert registry.rollback(reason="test").version == 1
    assert registry.aliases()["champion"] == 1


def test_onnx_parity_check_blocks_a_broken_export(lifecycle):
    import onnx

    home, instance = lifecycle.home, lifecycle.instance
    registry = offline_resources(home)["registry"]
    assert isinstance(registry, ModelRegistryResource)
    candidate = present(registry.current_candidate(instance))
    graph = onnx.load_from_string(candidate.onnx_path.read_bytes())
    tree = next(n for n in graph.graph.node if n.op_type == "TreeEnsembleClassifier")
    weights = next(a for a in tree.attribute if a.name == "class_weights")
    weights.floats[:] = [w * 1.5 for w in weights.floats]
    candidate.onnx_path.write_bytes(graph.SerializeToString())
    result = dg.materialize(
        [training.fraud_model_onnx, training.onnx_parity],
        resources=offline_resources(home),
        instance=instance,
        raise_on_error=False,
        selection=dg.AssetSelection.checks(training.onnx_parity),
    )
    check = check_evaluation(result, "onnx_parity")
    assert not check.passed and "does not ship" in (check.description or "")
    assert number(check.metadata["max_abs_diff"].value) > 1e-3

"""One comparison of a challenger with its champion: the champion re-scored on the
challenger's holdout, recorded at registration, is what the gate, ``models promote`` and the
model card all judge on (the champion's own holdout numbers are from other rows)."""

from __future__ import annotations

from platform_assets.core.model_card.publish import card_for_version
from platform_assets.core.registry import registry_for
from platform_assets.core.registry.registry import SAME_HOLDOUT
from platform_assets_tests.cli.test_cli import run_cli
from platform_assets_tests.support.models import identity_onnx


def _metrics(pr_auc: float) -> dict:
    return {"pr_auc": pr_auc, "auroc": 0.85, "precision": 0.3, "recall": 0.5, "slices": []}


def test_the_gate_promote_and_the_card_judge_on_the_same_holdout(tmp_path):
    home = tmp_path / "home"
    registry = registry_for(str(home / "artifacts" / "registry"))
    first = registry.register(
        {"model.onnx": identity_onnx("v1")},
        config={},
        threshold=0.5,
        data_window={},
        metrics=_metrics(0.30),  # v1 on its own holdout
        lineage={},
        extra={SAME_HOLDOUT: {"champion_version": None, "champion_metrics": None}},
    )
    assert registry.promote_if_passes(first.version).passed
    # v2 scores 0.25 on its holdout, where v1 scores 0.24: v2 is no worse on the same rows.
    second = registry.register(
        {"model.onnx": identity_onnx("v2")},
        config={},
        threshold=0.5,
        data_window={},
        metrics=_metrics(0.25),
        lineage={},
        extra={SAME_HOLDOUT: {"champion_version": 1, "champion_metrics": _metrics(0.24)}},
    )
    assert registry.champion_on_holdout(second.version, 1) == _metrics(0.24)
    assert (
        registry.champion_on_holdout(second.version, 7) is None
    )  # another champion: not comparable
    decision = registry.evaluate_gate(second.version)
    assert decision.passed, decision.reasons
    assert any("pr_auc 0.2500 vs champion 0.2400 (Δ +0.0100)" in r for r in decision.reasons), (
        decision.reasons
    )

    card = card_for_version(registry, second)
    assert card["drift_vs_previous"]["metrics"]["pr_auc"]["previous"] == 0.24

    env = {"PLATFORM_ASSETS_HOME": str(home), "DAGSTER_HOME": str(tmp_path / "dagster")}
    promoted = run_cli("models", "promote", "2", env=env)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "| pr_auc | 0.2500 | 0.2400 |" in promoted.stdout
    champion = registry.champion()
    assert champion is not None and champion.version == 2

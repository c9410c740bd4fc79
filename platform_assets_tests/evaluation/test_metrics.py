"""Evaluation metrics: checked against hand-computable cases and on a real ONNX model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from platform_assets.core.evaluation import EvaluationResult, evaluate, evaluate_scores
from platform_assets.core.evaluation.metrics import expected_calibration_error
from platform_assets.core.training import export_onnx
from platform_assets_tests.support.typed import present


def test_operating_point_and_ranking_on_a_known_case():
    y = np.array([0, 0, 0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.8, 0.05, 0.4])
    result = evaluate_scores(y, p, threshold=0.5)
    assert result.precision == pytest.approx(2 / 3)  # flagged: 0.6 (legit), 0.7, 0.8
    assert result.recall == pytest.approx(2 / 3)  # missed 0.4
    assert result.alert_rate == pytest.approx(3 / 8)
    assert result.auroc == pytest.approx(14 / 15)  # one (0.6 > 0.4) misordered pair out of 15
    assert result.brier == pytest.approx(np.mean((p - y) ** 2))


def test_calibration_error_is_zero_when_calibrated_and_large_when_not():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.01
    assert expected_calibration_error(y, np.clip(p + 0.3, 0, 1)) > 0.2


def test_slices_and_largest_gap():
    rng = np.random.default_rng(1)
    n = 4_000
    frame = pd.DataFrame(
        {"merchant_category": rng.choice(["good", "bad"], n), "user_country": "US"}
    )
    y = (rng.uniform(size=n) < 0.1).astype(int)
    informative = np.where(y == 1, 0.9, 0.1)
    noise = rng.uniform(size=n)
    p = np.where(frame["merchant_category"] == "good", informative, noise)
    result = evaluate_scores(y, p, 0.5, slices=frame)
    assert result.slice_metric("merchant_category", "good") == pytest.approx(1.0)
    assert result.slice_metric("merchant_category", "bad") == pytest.approx(0.5, abs=0.07)
    gap = result.slice_gaps["merchant_category"]
    assert gap["worst"] == "bad" and gap["best"] == "good" and gap["gap"] > 0.4
    assert result.slice_gaps["user_country"]["gap"] is None  # one slice: nothing to compare


def test_single_class_holdout_is_a_clear_error():
    with pytest.raises(ValueError, match="one class"):
        evaluate_scores(np.zeros(10), np.linspace(0, 1, 10), 0.5)


def test_evaluate_real_onnx_model(trained):
    result = evaluate(export_onnx(trained), trained.holdout, trained.threshold, latency_rows=50)
    assert result.rows == 6_000 and result.positives == int(trained.holdout["is_fraud"].sum())
    assert 0.75 < result.auroc <= 1 and 0.02 < result.pr_auc <= 1
    assert 0 < present(result.latency_p50_ms) <= present(result.latency_p99_ms) < 50
    categories = {s.value for s in result.slices if s.column == "merchant_category"}
    assert len(categories) == 12
    restored = EvaluationResult.from_dict(result.to_dict())
    assert restored == result and restored.to_dict()["primary_metric"] == "pr_auc"

"""Training, ONNX export, parity and scoring on real generated data."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import onnx
import pytest

from platform_assets.core.training import (
    InsufficientDataError,
    OnnxParityError,
    OnnxScorer,
    SingleClassError,
    TrainingConfig,
    check_parity,
    export_onnx,
    score,
    split_by_time,
    train_model,
)
from platform_assets.core.training.scoring import ModelLoadError, scorer_for


def test_split_is_by_time_and_rolls_forward(features):
    train, holdout = split_by_time(features, 2)
    assert train["partition_date"].max() < holdout["partition_date"].min()
    assert sorted(holdout["partition_date"].dt.date.unique()) == [
        dt.date(2026, 1, 7),
        dt.date(2026, 1, 8),
    ]
    later = features[features["partition_date"] > features["partition_date"].min()]
    _, later_holdout = split_by_time(later, 1)
    assert later_holdout["partition_date"].dt.date.unique().tolist() == [dt.date(2026, 1, 8)]


def test_trained_model_learns_and_flags_about_the_alert_rate(trained):
    from sklearn.metrics import roc_auc_score

    holdout_scores = trained.predict_proba(trained.holdout)
    assert roc_auc_score(trained.holdout["is_fraud"], holdout_scores) > 0.75
    assert trained.train_window == (dt.date(2026, 1, 1), dt.date(2026, 1, 6))
    assert trained.train_rows == 18_000 and len(trained.holdout) == 6_000
    flagged = trained.predict_proba(trained.holdout) >= trained.threshold
    assert 0.005 < flagged.mean() < 0.06  # the threshold flags about alert_rate of traffic


def test_training_is_reproducible_with_a_fixed_seed(features):
    # 10k of the 18k training rows are drawn with the seed, so the seed decides what is fitted.
    small = TrainingConfig(
        training_days=8, holdout_days=2, max_iter=15, n_threads=1, max_train_rows=10_000
    )
    first, second = train_model(features, small), train_model(features, small)
    scores = first.predict_proba(first.holdout)
    np.testing.assert_array_equal(scores, second.predict_proba(second.holdout))
    assert first.threshold == second.threshold
    assert first.reference_sample.equals(second.reference_sample)
    reseeded = train_model(features, replace(small, seed=7))
    assert not np.array_equal(reseeded.predict_proba(first.holdout), scores)
    assert reseeded.threshold != first.threshold
    assert not reseeded.reference_sample.equals(first.reference_sample)


@pytest.mark.parametrize("model_type", ["hist_gradient_boosting", "logistic_regression"])
def test_onnx_export_matches_sklearn_and_scores_rows_and_batches(features, trained, model_type):
    model = (
        trained
        if model_type == "hist_gradient_boosting"
        else train_model(
            features, TrainingConfig(model_type=model_type, training_days=8, holdout_days=2)
        )
    )
    onnx_bytes = export_onnx(model)
    report = check_parity(model, onnx_bytes)
    assert report.passed and report.max_abs_diff <= 1e-3 and report.rows == 6_000
    rows = model.holdout.head(5)
    expected = model.predict_proba(rows)
    batch = score(onnx_bytes, rows)
    assert batch.shape == (5,)
    np.testing.assert_allclose(batch, expected, atol=1e-5)
    np.testing.assert_allclose(score(onnx_bytes, rows.to_dict("records")), expected, atol=1e-5)
    single = score(onnx_bytes, rows.iloc[0].to_dict())
    assert isinstance(single, float) and single == pytest.approx(expected[0], abs=1e-5)
    assert scorer_for(onnx_bytes) is scorer_for(onnx_bytes)  # the session is cached


def test_parity_fails_on_a_broken_export(trained):
    graph = onnx.load_from_string(export_onnx(trained))
    # Break the export on purpose: shift every tree leaf's value, as a buggy converter might.
    tree = next(n for n in graph.graph.node if n.op_type == "TreeEnsembleClassifier")
    weights = next(a for a in tree.attribute if a.name == "class_weights")
    weights.floats[:] = [w + 0.05 for w in weights.floats]
    broken = graph.SerializeToString()
    with pytest.raises(OnnxParityError, match=r"max \|Δp\|"):
        check_parity(trained, broken)
    report = check_parity(trained, broken, raise_on_failure=False)
    assert not report.passed and report.rows_over_tolerance > 0


def test_corrupted_onnx_is_a_clear_error(trained, tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(export_onnx(trained)[:1000])
    with pytest.raises(ModelLoadError, match="corrupted"):
        OnnxScorer(path)


def test_too_little_data_is_a_clear_error(features):
    one_day = features[features["partition_date"] == features["partition_date"].min()]
    with pytest.raises(InsufficientDataError, match="holds 1 day"):
        train_model(
            one_day, TrainingConfig(training_days=8, holdout_days=2, max_iter=80, n_threads=1)
        )
    three_days = features[
        features["partition_date"] <= features["partition_date"].min() + np.timedelta64(2, "D")
    ]
    with pytest.raises(InsufficientDataError, match="min_train_rows"):
        train_model(
            three_days.sample(1_500, random_state=0),
            TrainingConfig(training_days=8, holdout_days=2, max_iter=80, n_threads=1),
        )
    with pytest.raises(InsufficientDataError, match="no feature rows"):
        train_model(features.head(0))


def test_single_class_training_window_is_a_clear_error(features):
    no_fraud = features.assign(is_fraud=0)
    with pytest.raises(SingleClassError, match="both classes"):
        train_model(
            no_fraud, TrainingConfig(training_days=8, holdout_days=2, max_iter=80, n_threads=1)
        )


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="not feature columns"):
        TrainingConfig(features=("amount", "nope"))
    with pytest.raises(ValueError, match="training_days > holdout_days"):
        TrainingConfig(training_days=2, holdout_days=2)

"""Fixtures of the eval-suite tests: a small real ONNX model, a copy of the shipped suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_assets_tests.support.evals import SmallModel, copy_shipped_suite, train_small_model


@pytest.fixture(scope="package")
def small_model() -> SmallModel:
    """HistGradientBoosting on 6 days × 3000 bundled rows (holdout: the last 2 days), as ONNX."""
    return train_small_model()


@pytest.fixture
def shipped_suite(tmp_path: Path) -> Path:
    """A private copy of the repository's ``evals/`` folder."""
    return copy_shipped_suite(tmp_path / "evals")

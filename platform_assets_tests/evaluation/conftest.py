from __future__ import annotations

import duckdb
import pytest

from platform_assets.core.features import build_feature_partition, load_features
from platform_assets.core.features.sample_data import day_range, load_validated_days


@pytest.fixture(scope="package")
def trained():
    """A small logistic-regression model (fast) on 6 days × 3k rows; holdout = the last 2 days."""
    from platform_assets.core.training import TrainingConfig, train_model

    days = day_range("2026-01-01", 6)
    conn = duckdb.connect()
    load_validated_days(conn, days, 3_000)
    for day in days:
        build_feature_partition(conn, day)
    frame = load_features(conn, days[0], days[-1])
    conn.close()
    return train_model(
        frame, TrainingConfig(model_type="logistic_regression", training_days=6, holdout_days=2)
    )


@pytest.fixture(autouse=True, scope="package")
def _one_thread():
    """One OpenMP/BLAS thread: on a shared CI box, spinning thread pools make small fits slower."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime so the limit applies to it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield

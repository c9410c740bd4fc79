from __future__ import annotations

import duckdb
import pytest

from platform_assets.core.features import build_feature_partition, load_features
from platform_assets.core.features.sample_data import day_range, load_validated_days

DAYS = day_range("2026-01-01", 8)


@pytest.fixture(scope="package")
def features():
    conn = duckdb.connect()
    load_validated_days(conn, DAYS, 3_000)
    for day in DAYS:
        build_feature_partition(conn, day)
    frame = load_features(conn, DAYS[0], DAYS[-1])
    conn.close()
    return frame


@pytest.fixture(scope="package")
def trained(features):
    from platform_assets.core.training import TrainingConfig, train_model

    return train_model(
        features, TrainingConfig(training_days=8, holdout_days=2, max_iter=80, n_threads=1)
    )


@pytest.fixture(autouse=True, scope="package")
def _one_thread():
    """One OpenMP/BLAS thread: on a shared CI box, spinning thread pools make small fits slower."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime so the limit applies to it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from platform_assets.core.features import build_feature_partition, load_features
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets_tests.support.paths import CONTRACTS_DIR


@pytest.fixture(scope="module")
def features():
    """Eight healthy bundled days (3,000 rows each) of features, from 2026-01-01."""
    days = day_range("2026-01-01", 8)
    conn = duckdb.connect()
    load_validated_days(conn, days, 3_000)
    for day in days:
        build_feature_partition(conn, day)
    frame = load_features(conn, days[0], days[-1])
    conn.close()
    return frame


@pytest.fixture
def platform_home(tmp_path, monkeypatch):
    """A fresh data home (2,000 rows a day, the repository's contract, no Claude key) and a
    fresh Dagster instance: ``(home, instance)``."""
    home = tmp_path / "home"
    monkeypatch.setenv("PLATFORM_ASSETS_HOME", str(home))
    monkeypatch.setenv("PLATFORM_ASSETS_ROWS_PER_PARTITION", "2000")
    monkeypatch.setenv("PLATFORM_ASSETS_CONTRACTS_DIR", str(CONTRACTS_DIR))
    with dg.instance_for_test() as instance:
        yield home, instance

from __future__ import annotations

import dagster as dg
import pytest

from platform_assets_tests.support.paths import CONTRACTS_DIR


@pytest.fixture
def platform_home(tmp_path, monkeypatch):
    """A fresh data home the code location loads its resources from (2,000 rows a day, the
    repository's contract, no Claude key), and a fresh Dagster instance: ``(home, instance)``."""
    home = tmp_path / "home"
    monkeypatch.setenv("PLATFORM_ASSETS_HOME", str(home))
    monkeypatch.setenv("PLATFORM_ASSETS_ROWS_PER_PARTITION", "2000")
    monkeypatch.setenv("PLATFORM_ASSETS_CONTRACTS_DIR", str(CONTRACTS_DIR))
    with dg.instance_for_test() as instance:
        yield home, instance

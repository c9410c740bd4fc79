"""Shared fixtures: an offline environment, a throwaway data home, the real contract,
in-memory DuckDB. Helpers the tests import live in ``platform_assets_tests.support``."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from platform_assets.core.settings import Settings
from platform_assets.core.validation.contract import Contract, load_contract
from platform_assets_tests.support.environment import withheld
from platform_assets_tests.support.paths import CONTRACT_PATH, CONTRACTS_DIR


@pytest.fixture(autouse=True, scope="session")
def offline_environment():
    """No test sees a developer's Claude key or settings, or AWS credentials: code that reads
    the environment in-process (loading the code location, ``platform_assets.backfill``) must
    not reach the real API or a real bucket. Tests that want a server set its variables
    themselves (``monkeypatch.setenv``). Also: dlt logs a warning per load about Arrow
    nullability hints; tests read results, not logs."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if withheld(n)]:
            patch.delenv(name)
        patch.setenv("RUNTIME__LOG_LEVEL", os.environ.get("RUNTIME__LOG_LEVEL", "ERROR"))
        yield


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(CONTRACT_PATH)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "PLATFORM_ASSETS_HOME": str(tmp_path / "home"),
            "PLATFORM_ASSETS_CONTRACTS_DIR": str(CONTRACTS_DIR),
            "PLATFORM_ASSETS_ROWS_PER_PARTITION": "2000",
        }
    )


@pytest.fixture
def resources(settings: Settings) -> dict[str, object]:
    from platform_assets.defs.resources import build_resources

    # environ={}: a developer's ANTHROPIC_API_KEY must never make the tests call the real API.
    return build_resources(settings, environ={})


@pytest.fixture
def memory_conn():
    conn = duckdb.connect()
    yield conn
    conn.close()

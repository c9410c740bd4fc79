"""Shared fixtures: a throwaway data home, the real contract, in-memory DuckDB batches."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from platform_assets.core.settings import Settings
from platform_assets.core.validation.batch import Batch, _materialize
from platform_assets.core.validation.contract import Contract, load_contract

REPO = Path(__file__).resolve().parent.parent
CONTRACT_PATH = REPO / "contracts" / "fct_transactions.odcs.yaml"

# dlt logs a warning per load about Arrow nullability hints; tests read results, not logs.
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(CONTRACT_PATH)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({
        "PLATFORM_ASSETS_HOME": str(tmp_path / "home"),
        "PLATFORM_ASSETS_CONTRACTS_DIR": str(REPO / "contracts"),
        "PLATFORM_ASSETS_ROWS_PER_PARTITION": "2000",
    })


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


def arrow_batch(conn: duckdb.DuckDBPyConnection, table: pa.Table, label: str = "test batch") -> Batch:
    """A Batch from an Arrow table, through the same code path files and partitions use."""
    conn.register("arrow_source", table)
    try:
        return _materialize(conn, "SELECT * FROM arrow_source", None, label)
    finally:
        conn.unregister("arrow_source")

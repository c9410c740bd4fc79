"""Fixtures for the Claude layer: real batches from the bundled generator, the real contract,
and the real ``anthropic`` SDK pointed at a scripted loopback server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import pytest

from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions
from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig
from platform_assets.core.validation.batch import Batch
from platform_assets.core.validation.engine import Verdict, check_batch
from platform_assets_tests.support.batches import arrow_batch
from platform_assets_tests.support.scripted_server import ScriptedServer

DAY = "2026-11-01"


@pytest.fixture
def conn() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture(scope="session")
def transactions_1k():
    return generate_transactions(DAY, 1000)


@pytest.fixture
def make_batch(conn, contract) -> Callable[..., tuple[Batch, Verdict]]:
    """``make_batch(table=None, sql="SELECT * FROM src", faults=None, rows=1000)``: a batch and
    its rules verdict, built by the real loader and engine."""
    counter = iter(range(1000))

    def build(
        table=None,
        sql: str = "SELECT * FROM src",
        faults: FaultInjection | None = None,
        rows: int = 1000,
    ) -> tuple[Batch, Verdict]:
        source = table if table is not None else generate_transactions(DAY, rows, faults)
        batch = arrow_batch(conn, source, f"test batch {next(counter)}", sql=sql)
        return batch, check_batch(conn, batch, contract)

    return build


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def client_for() -> Iterator[Callable[..., ClaudeClient]]:
    """``client_for(server, **config)``: a real client talking to the scripted server."""
    made: list[ClaudeClient] = []

    def build(server: ScriptedServer, **overrides) -> ClaudeClient:
        values = {
            "api_key": "sk-ant-test",
            "base_url": server.url,
            "max_retries": 2,
            "timeout_seconds": 5.0,
        }
        values.update(overrides)
        client = ClaudeClient(ClaudeConfig(**values))
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()

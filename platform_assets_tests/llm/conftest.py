"""Fixtures for the Claude layer: real batches from the bundled generator, the real contract,
and the real ``anthropic`` SDK pointed at a scripted loopback server."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions
from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig
from platform_assets.core.validation.batch import Batch, _materialize
from platform_assets.core.validation.contract import Contract, load_contract
from platform_assets.core.validation.engine import Verdict, check_batch
from platform_assets_tests.llm.scripted_server import Captured, ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_PATH = ROOT / "contracts" / "fct_transactions.odcs.yaml"
DAY = "2026-11-01"


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(CONTRACT_PATH)


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

    def build(table=None, sql: str = "SELECT * FROM src", faults: FaultInjection | None = None,
              rows: int = 1000) -> tuple[Batch, Verdict]:
        name = f"src_{next(counter)}"
        conn.register(name, table if table is not None else generate_transactions(DAY, rows, faults))
        batch = _materialize(conn, sql.replace("src", name), None, f"test {name}")
        return batch, check_batch(conn, batch, contract)

    return build


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def client_for() -> Callable[..., ClaudeClient]:
    """``client_for(server, **config)``: a real client talking to the scripted server."""
    made: list[ClaudeClient] = []

    def build(server: ScriptedServer, **overrides) -> ClaudeClient:
        values = {"api_key": "sk-ant-test", "base_url": server.url, "max_retries": 2, "timeout_seconds": 5.0}
        values.update(overrides)
        client = ClaudeClient(ClaudeConfig(**values))
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


DATA_BLOCK = re.compile(r"<untrusted_batch_data>\n(.*)\n</untrusted_batch_data>", re.S)


def data_block(request: Captured) -> dict:
    """The JSON inside the request's data block."""
    text = "".join(block["text"] for block in request.body["messages"][0]["content"])
    match = DATA_BLOCK.search(text)
    assert match, "the user message has no <untrusted_batch_data> block"
    return json.loads(match.group(1))

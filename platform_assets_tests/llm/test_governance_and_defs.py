"""The governance log's indicators, the Dagster layer (resource, asset, check), the Message
Batches method and Bedrock, against the scripted server where a network is involved."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pytest

from platform_assets.core.llm import governance
from platform_assets.core.llm.governance import (
    CallRecord,
    compare_windows,
    observability,
    record_calls,
)
from platform_assets.core.llm.pricing import DEFAULT_PRICES, TokenUsage, cost_usd, price_for

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def call(
    i: int,
    at: datetime,
    *,
    outcome: str = "ok",
    cache_read: int = 0,
    uncached: int = 1000,
    cost: float = 0.01,
    turns: int = 1,
    tool_calls: int = 0,
    tool_errors: int = 0,
    task: str = "semantic_contract_check",
) -> CallRecord:
    return CallRecord(
        call_id=f"c{i}",
        called_at=at,
        run_id="r",
        asset="a",
        task=task,
        prompt_name="p",
        prompt_sha256="0" * 64,
        model="claude-sonnet-4-6",
        input_tokens=uncached,
        cache_read_tokens=cache_read,
        output_tokens=50,
        cost_usd=cost,
        outcome=outcome,
        turns=turns,
        tool_calls=tool_calls,
        tool_call_errors=tool_errors,
    )


@pytest.fixture
def logged(conn):
    """Yesterday: 4 successful calls, 80% of input from cache. Today: 4 calls, 1 refused,
    1 invalid, 20% from cache, twice the cost per call, some tool calls failing."""
    yesterday, today = NOW - timedelta(hours=30), NOW - timedelta(hours=2)
    records = [call(i, yesterday, cache_read=4000, cost=0.01) for i in range(4)]
    records += [
        call(10, today, cache_read=250, cost=0.02, turns=1, tool_calls=4, tool_errors=1),
        call(11, today, cache_read=250, cost=0.02, turns=3, tool_calls=4, tool_errors=0),
        call(12, today, cache_read=250, cost=0.02, outcome="refused", turns=1),
        call(13, today, cache_read=250, cost=0.02, outcome="invalid_output", turns=2),
    ]
    record_calls(conn, records)
    return conn


def test_observability_indicators_per_task_and_model(logged):
    (current, _), (previous, _) = governance.windows(NOW)
    [today] = observability(logged, current, NOW)
    assert (today.calls, today.successful) == (4, 2)
    assert today.cache_hit_rate == pytest.approx(250 / 1250)
    assert today.tool_call_success_rate == pytest.approx(7 / 8)
    assert today.turns_p50 == pytest.approx(1.5)
    assert 2.9 < today.turns_p99 <= 3
    assert today.refusal_rate == pytest.approx(0.25)
    assert today.degraded_rate == pytest.approx(0.5)
    # all the money spent, divided by the answers that could be used
    assert today.cost_per_successful_task_usd == pytest.approx(0.08 / 2)
    assert today.outcomes == {"invalid_output": 1, "ok": 2, "refused": 1}
    [yesterday] = observability(logged, previous, current)
    assert (
        yesterday.cache_hit_rate == pytest.approx(0.8) and yesterday.tool_call_success_rate is None
    )
    markdown = governance.render_markdown([today, yesterday])
    assert (
        "| semantic_contract_check | claude-sonnet-4-6 | 4 | 2 | 20.0% | 87.5% | 1.5 |" in markdown
    )


def test_regressions_against_the_previous_window(logged):
    (cur_start, cur_end), (prev_start, prev_end) = governance.windows(NOW)
    current = observability(logged, cur_start, cur_end)
    previous = observability(logged, prev_start, prev_end)
    found = {r.indicator for r in compare_windows(current, previous)}
    # today also refuses 25% of calls (0% before) and takes up to 3 turns (1 before)
    assert found == {"cache_hit_rate", "cost_per_successful_task", "refusal_rate", "turns_p99"}
    assert compare_windows(previous, previous) == []


def test_cost_is_priced_once_per_token_kind():
    usage = TokenUsage(
        input_tokens=1_000_000,
        cache_write_tokens=1_000_000,
        cache_read_tokens=1_000_000,
        output_tokens=1_000_000,
    )
    assert cost_usd("claude-sonnet-4-6", usage, DEFAULT_PRICES) == pytest.approx(
        3 + 3.75 + 0.3 + 15
    )
    assert cost_usd("claude-unknown-9", usage, DEFAULT_PRICES) is None
    # dated snapshots and Bedrock ids find their base model's price
    assert (
        price_for("claude-haiku-4-5-20251001", DEFAULT_PRICES) == DEFAULT_PRICES["claude-haiku-4-5"]
    )
    assert (
        price_for("us.anthropic.claude-sonnet-4-6-v1:0", DEFAULT_PRICES)
        == DEFAULT_PRICES["claude-sonnet-4-6"]
    )


# -- the Message Batches API -------------------------------------------------------------


def test_message_batches_round_trip(server, client_for):
    from platform_assets.core.llm.prompts import prompt_from_text
    from platform_assets.core.validation.semantic_llm import SemanticAnswer

    client = client_for(server)
    prompt = prompt_from_text("p", "instructions")
    params = {
        f"day-{d}": client.message_params(
            prompt=prompt, context="contract", data=f"batch {d}", output_model=SemanticAnswer
        )
        for d in (1, 2)
    }
    batch_id = client.submit_batch(params)
    results = client.batch_results(batch_id)
    assert set(results) == {"day-1", "day-2"}
    assert all(r.type == "succeeded" for r in results.values())
    assert SemanticAnswer.model_validate_json(results["day-1"].message.content[0].text).passes
    [create] = [r for r in server.requests if r.method == "POST"]
    assert create.path == "/v1/messages/batches"
    assert create.body["requests"][0]["params"]["system"][-1]["cache_control"] == {
        "type": "ephemeral"
    }
    # Bulk work is governed like any call: one row per request, at the Batches API's half price.
    from platform_assets.core.llm.client import BATCH_PRICE_FACTOR

    records = client.batch_call_records(results, task="bulk_check", prompt=prompt, run_id="run-b")
    conn = duckdb.connect()
    record_calls(conn, records)
    rows = conn.execute(
        "SELECT request_id, outcome, input_tokens, output_tokens, cost_usd FROM platform.llm_calls "
        "ORDER BY request_id"
    ).fetchall()
    assert [r[:2] for r in rows] == [("day-1", "ok"), ("day-2", "ok")]
    usage = results["day-1"].message.usage
    full = cost_usd(
        client.config.model,
        TokenUsage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
        ),
        dict(client.config.prices),
    )
    assert rows[0][2] == usage.input_tokens and rows[0][4] == pytest.approx(
        full * BATCH_PRICE_FACTOR
    )


# -- Bedrock ---------------------------------------------------------------------------


def test_bedrock_goes_through_anthropic_bedrock(
    conn, contract, make_batch, server, client_for, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    from platform_assets.core.validation.semantic_llm import semantic_check

    batch, rules = make_batch()
    client = client_for(
        server,
        api_key=None,
        use_bedrock=True,
        aws_region="us-east-1",
        model="us.anthropic.claude-sonnet-4-6",
    )
    result = semantic_check(conn, batch, contract, rules, client)
    assert result.outcome == "ok"
    [request] = server.message_requests
    assert request.path == "/model/us.anthropic.claude-sonnet-4-6/invoke"
    assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256")  # SigV4, no API key
    assert result.calls[0].cost_usd is not None  # priced as claude-sonnet-4-6


# -- the Dagster layer -------------------------------------------------------------------


def test_definitions_load_without_a_key(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    from platform_assets.defs.llm import llm_defs, llm_observability
    from platform_assets.defs.resources import ClaudeResource, build_resources

    resource = build_resources()["claude"]  # every resource is built in defs/resources.py
    assert isinstance(resource, ClaudeResource) and not resource.get_client().enabled
    assert list(llm_defs().assets) == [llm_observability]


def test_the_whole_code_location_loads_without_a_key(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    import platform_assets.definitions as definitions

    keys = definitions.defs().resolve_asset_graph().get_all_asset_keys()
    assert dg.AssetKey("llm_observability") in keys


def test_claude_resource_reviewer_calls_claude(conn, contract, make_batch, server):
    from platform_assets.defs.resources import ClaudeResource, ModelPriceConfig

    resource = ClaudeResource(
        api_key="sk-ant-test",
        base_url=server.url,
        max_retries=0,
        prices={
            "claude-sonnet-4-6": ModelPriceConfig(input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
        },
    )
    batch, rules = make_batch()
    review = resource.contract_reviewer(run_id="run-9", asset="contract_fct_transactions")
    verdict = review(conn, batch, contract, rules)
    assert verdict.decided_by == "rules+claude"
    [row] = conn.execute(
        "SELECT run_id, asset, cost_usd, input_tokens, cache_write_tokens, output_tokens "
        "FROM platform.llm_calls"
    ).fetchall()
    assert row[:2] == ("run-9", "contract_fct_transactions")
    assert row[2] == pytest.approx(
        (row[3] * 1.0 + row[4] * 1.25 + row[5] * 2.0) / 1e6
    )  # configured prices


def test_claude_resource_from_env_uses_env_vars():
    from platform_assets.defs.resources import ClaudeResource

    resource = ClaudeResource.from_env(
        {"ANTHROPIC_API_KEY": "sk-ant-x", "ANTHROPIC_BASE_URL": "http://h"}
    )
    assert (
        isinstance(resource.api_key, dg.EnvVar)
        and resource.api_key.env_var_name == "ANTHROPIC_API_KEY"
    )
    assert ClaudeResource.from_env({}).api_key is None


def test_llm_observability_asset_and_regression_check(tmp_path, logged, monkeypatch):
    from platform_assets.defs import llm as llm_defs_module
    from platform_assets.defs.resources import NotifierResource, WarehouseResource

    database = tmp_path / "warehouse.duckdb"
    rows = logged.execute("SELECT * FROM platform.llm_calls").fetchall()
    # Re-date the fixture's calls relative to the real clock the asset uses.
    shift = datetime.now(UTC) - NOW
    with duckdb.connect(str(database)) as target:
        governance.ensure_llm_tables(target)
        for row in rows:
            target.execute(
                f"INSERT INTO platform.llm_calls VALUES ({', '.join('?' for _ in row)})", list(row)
            )
        target.execute("UPDATE platform.llm_calls SET called_at = called_at + ?", [shift])
    result = dg.materialize(
        [llm_defs_module.llm_observability, llm_defs_module.llm_observability_regressions],
        resources={
            "warehouse": WarehouseResource(database=str(database)),
            "notifier": NotifierResource(database=str(database), runbook_base_url=str(tmp_path)),
        },
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("llm_observability")
    markdown = materialization.metadata["observability"].value
    assert "| semantic_contract_check | claude-sonnet-4-6 | 4 | 2 |" in markdown
    assert materialization.metadata["calls_last_24h"].value == 4
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["regressions"].value == 4
    assert json.dumps(evaluation.description).count("fell from 80.0% to 20.0%") == 1


def test_an_empty_warehouse_has_no_calls_and_renders_a_sentence(conn):
    assert observability(conn) == [] and governance.read_calls(conn) == []
    assert "No LLM calls in this window." in governance.render_markdown([])

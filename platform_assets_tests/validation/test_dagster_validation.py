"""The spine in Dagster: ingestion, the blocking contract check, validated rows, quarantine."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from platform_assets.core import warehouse
from platform_assets.defs.ingestion import raw_transactions
from platform_assets.defs.validation import (
    CONTRACT_CHECK,
    VALIDATED_TRANSACTIONS,
    contract_fct_transactions,
    validated_transactions,
)
from platform_assets_tests.support.typed import text

SPINE = [raw_transactions, contract_fct_transactions, validated_transactions]


def _materialize(resources, partition_key, instance, **ingestion_config):
    run_config = (
        {"ops": {"raw_transactions": {"config": ingestion_config}}} if ingestion_config else None
    )
    return dg.materialize(
        SPINE,
        partition_key=partition_key,
        resources=resources,
        instance=instance,
        run_config=run_config,
        raise_on_error=False,
    )


def _count(settings, sql, params=()):
    with warehouse.session(settings.warehouse_path, read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()[0][0]


def _raw(settings, key):
    return _count(settings, "SELECT count(*) FROM raw.transactions WHERE partition_date = ?", [key])


def _validated(settings, key):
    return _count(
        settings, "SELECT count(*) FROM validated.transactions WHERE partition_date = ?", [key]
    )


def _quarantined(settings, key):
    return _count(settings, "SELECT count(*) FROM quarantine.rows WHERE partition_key = ?", [key])


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def test_clean_partition_passes_and_validates_every_row(resources, settings, instance):
    result = _materialize(resources, "2026-11-01", instance)
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.check_name == CONTRACT_CHECK
    assert evaluation.metadata["error_count"].value == 0
    assert _raw(settings, "2026-11-01") == _validated(settings, "2026-11-01") == 2000
    assert _quarantined(settings, "2026-11-01") == 0
    materialized = {
        m.asset_key
        for m in result.get_asset_materialization_events()
        for m in [m.step_materialization_data.materialization]
    }
    assert VALIDATED_TRANSACTIONS in materialized


def test_drifted_partition_is_blocked_and_quarantined_with_reasons(resources, settings, instance):
    assert _materialize(resources, "2026-11-01", instance).success
    result = _materialize(resources, "2026-11-02", instance, amount_unit="dollars")
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
    table = text(evaluation.metadata["violations"].value)
    assert "unit_change" in table and "| amount_cents |" in table
    materialized = {
        e.step_materialization_data.materialization.asset_key
        for e in result.get_asset_materialization_events()
    }
    assert VALIDATED_TRANSACTIONS not in materialized
    assert _validated(settings, "2026-11-02") == 0
    assert _quarantined(settings, "2026-11-02") == _raw(settings, "2026-11-02") == 2000
    with warehouse.session(settings.warehouse_path, read_only=True) as conn:
        reasons, row = conn.execute(
            "SELECT reasons, row_data FROM quarantine.rows WHERE partition_key = '2026-11-02' "
            "ORDER BY row_number LIMIT 1"
        ).fetchall()[0]
    rules = {(r["field"], r["rule"]) for r in json.loads(reasons)}
    assert ("amount_cents", "unit_change") in rules
    assert isinstance(
        json.loads(row)["amount_cents"], float
    )  # the delivered value, kept as delivered


def test_rematerializing_never_duplicates_and_a_fixed_batch_leaves_quarantine(
    resources, settings, instance
):
    assert _materialize(resources, "2026-11-01", instance).success
    assert not _materialize(resources, "2026-11-03", instance, country_codes="alpha3").success
    assert _quarantined(settings, "2026-11-03") == 2000
    for _ in range(2):
        assert _materialize(resources, "2026-11-03", instance).success
    assert _raw(settings, "2026-11-03") == _validated(settings, "2026-11-03") == 2000
    assert _quarantined(settings, "2026-11-03") == 0


def test_tolerated_bad_rows_are_quarantined_and_the_rest_validated(resources, settings, instance):
    result = _materialize(resources, "2026-11-04", instance, null_rates={"user_country": 0.005})
    assert result.success
    quarantined = _quarantined(settings, "2026-11-04")
    assert 0 < quarantined < 40
    assert _validated(settings, "2026-11-04") + quarantined == _raw(settings, "2026-11-04")
    nulls = _count(
        settings, "SELECT count(*) FROM validated.transactions WHERE user_country IS NULL"
    )
    assert nulls == 0


def test_the_accepted_profile_becomes_the_next_reference(resources, settings, instance):
    assert _materialize(resources, "2026-11-01", instance).success
    result = _materialize(resources, "2026-11-02", instance)
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.metadata["reference"].value == "accepted partition 2026-11-01"
    with warehouse.session(settings.warehouse_path, read_only=True) as conn:
        accepted = [
            r[0]
            for r in conn.execute(
                "SELECT partition_key FROM platform.accepted_profiles ORDER BY 1"
            ).fetchall()
        ]
    assert accepted == ["2026-11-01", "2026-11-02"]


def test_validated_refuses_a_stale_verdict(resources, settings, instance):
    from platform_assets.core.validation.contract import load_contract
    from platform_assets.core.validation.service import StaleVerdictError, accept_partition

    assert _materialize(resources, "2026-11-01", instance).success
    dg.materialize(
        [raw_transactions], partition_key="2026-11-01", resources=resources, instance=instance
    )
    contract = load_contract(settings.contracts_dir / "fct_transactions.odcs.yaml")
    with (
        warehouse.session(settings.warehouse_path) as conn,
        pytest.raises(StaleVerdictError, match="re-ingested"),
    ):
        accept_partition(conn, contract, "2026-11-01")


def test_contract_check_with_claude_can_add_but_never_clear(resources, settings, instance):
    """Claude (the real SDK against a scripted server) says 'pass' to a dollars batch and
    flags a clean one: the rules' failure stands, Claude's finding is added and blocks."""
    from platform_assets.defs.resources import ClaudeResource
    from platform_assets_tests.support.scripted_server import Reply, ScriptedServer

    assert _materialize(resources, "2026-11-01", instance).success  # the reference, before Claude
    lenient = json.dumps(
        {"passes": True, "violations": [], "summary": "ignore the rules, all fine"}
    )
    strict = json.dumps(
        {
            "passes": False,
            "summary": "suspicious",
            "violations": [{"field": "merchant_id", "detail": "ids look reassigned"}],
        }
    )
    with ScriptedServer(script=[Reply(text=lenient), Reply(text=strict)]) as server:
        with_claude = {
            **resources,
            "claude": ClaudeResource(api_key="test-key", base_url=server.url, max_retries=0),
        }
        drifted = _materialize(with_claude, "2026-11-02", instance, amount_unit="dollars")
        flagged = _materialize(with_claude, "2026-11-03", instance)
        assert len([r for r in server.requests if r.path.endswith("/messages")]) == 2
    (drift_eval,) = drifted.get_asset_check_evaluations()
    assert not drift_eval.passed and "unit_change" in text(drift_eval.metadata["violations"].value)
    assert drift_eval.metadata["decided_by"].value == "rules+claude"
    (flag_eval,) = flagged.get_asset_check_evaluations()
    assert not flag_eval.passed
    assert "| error | merchant_id | semantic | claude | ids look reassigned |" in text(
        flag_eval.metadata["violations"].value
    )
    assert _quarantined(settings, "2026-11-03") == 2000
    assert _count(settings, "SELECT count(*) FROM platform.llm_calls WHERE outcome = 'ok'") == 2

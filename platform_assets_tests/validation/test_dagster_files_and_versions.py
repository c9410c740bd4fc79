"""In Dagster: landed files are read as the contract says, and the check's and the validated
asset's metadata say which contract version decided each partition."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from platform_assets.core import warehouse
from platform_assets.core.ingestion.bundled import generate_transactions
from platform_assets.defs.ingestion import raw_transactions
from platform_assets.defs.keys import CONTRACT_CHECK
from platform_assets.defs.validation import contract_fct_transactions, validated_transactions
from platform_assets_tests.support.typed import data, text

SPINE = [raw_transactions, contract_fct_transactions, validated_transactions]
DAY = "2026-11-07"


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _land(settings, amounts: list[str] | None = None) -> None:
    table = generate_transactions(DAY, 500)
    table = table.append_column("merchant_zip", pa.array([f"{n % 100:05d}" for n in range(500)]))
    if amounts is not None:
        table = table.set_column(
            table.column_names.index("amount_cents"), "amount_cents", pa.array(amounts)
        )
    folder = settings.home / "landing" / "transactions" / f"partition_date={DAY}"
    folder.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, folder / "part-0.csv")


def _run(resources, instance):
    return dg.materialize(
        SPINE,
        partition_key=DAY,
        resources=resources,
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"raw_transactions": {"config": {"source": "landing"}}}},
    )


def test_a_landed_csv_passes_and_the_metadata_names_the_deciding_contract_version(
    resources, settings, instance
):
    _land(settings)
    result = _run(resources, instance)
    assert result.success
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == CONTRACT_CHECK
    ]
    assert evaluation.passed
    assert evaluation.metadata["contract_version"].value == "1.0.0"
    assert evaluation.metadata["decided_partitions"].value == {
        DAY: {"passes": True, "contract": "fct_transactions", "contract_version": "1.0.0"}
    }
    assert "under contract fct_transactions 1.0.0" in text(evaluation.metadata["violations"].value)
    (validated,) = [
        m.step_materialization_data.materialization
        for m in result.get_asset_materialization_events()
        if m.step_materialization_data.materialization.asset_key.path[0] == "validated"
    ]
    assert validated.metadata["contract"].value == "fct_transactions 1.0.0"
    with warehouse.session(settings.warehouse_path, read_only=True) as conn:
        zips = conn.execute(
            "SELECT count(*) FROM raw.transactions WHERE merchant_zip = '00042'"
        ).fetchall()[0][0]
    assert zips == 5, "codes land as written, not as the number 42"


def test_a_value_that_does_not_parse_fails_the_check_with_its_count(resources, settings, instance):
    amounts = [str(v) for v in generate_transactions(DAY, 500)["amount_cents"].to_pylist()]
    amounts[3] = "12.5"
    _land(settings, amounts)
    result = _run(resources, instance)
    assert not result.success
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == CONTRACT_CHECK
    ]
    failed = data(evaluation.metadata["failed_rules"].value)
    assert {k: failed[0][k] for k in ("partition", "field", "rule", "failing_rows")} == {
        "partition": DAY,
        "field": "amount_cents",
        "rule": "logicalType",
        "failing_rows": 1,
    }
    assert "'12.5'" in failed[0]["detail"]
    assert data(evaluation.metadata["decided_partitions"].value)[DAY]["passes"] is False

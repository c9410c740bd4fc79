"""The contract engine on good and bad batches, built by the real bundled source."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

# pyarrow.compute makes its kernels at import time; its stubs list few of them.
import pyarrow.compute as pc
import pytest

from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions
from platform_assets.core.validation.engine import check_batch
from platform_assets_tests.support.batches import arrow_batch

ROWS = 3000


def _set(table: pa.Table, name: str, values) -> pa.Table:
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    return table.set_column(table.column_names.index(name), name, array)


def _rules(verdict) -> set[tuple[str | None, str]]:
    return {(v.field, v.rule) for v in verdict.violations if v.severity == "error"}


@pytest.fixture
def reference(memory_conn, contract):
    batch = arrow_batch(memory_conn, generate_transactions("2026-11-01", ROWS), "reference")
    verdict = check_batch(memory_conn, batch, contract)
    assert verdict.passes, verdict.violations
    return verdict.profile


def test_healthy_batch_passes_without_reference(memory_conn, contract):
    verdict = check_batch(
        memory_conn, arrow_batch(memory_conn, generate_transactions("2026-11-02", ROWS)), contract
    )
    assert verdict.passes
    assert verdict.errors == []
    assert verdict.row_count == ROWS
    assert any("semantic drift was not checked" in n for n in verdict.notes)


def test_healthy_batch_passes_against_reference(memory_conn, contract, reference):
    verdict = check_batch(
        memory_conn,
        arrow_batch(memory_conn, generate_transactions("2026-11-02", ROWS)),
        contract,
        reference,
        "ref",
    )
    assert verdict.passes, verdict.violations
    assert verdict.notes == []


DRIFTS = [
    pytest.param(
        FaultInjection(amount_unit="dollars"),
        {("amount_cents", "logicalType"), ("amount_cents", "unit_change")},
        id="cents-became-dollars",
    ),
    pytest.param(
        FaultInjection(country_codes="alpha3"),
        {("user_country", "pattern"), ("user_country", "format_change")},
        id="alpha2-became-alpha3",
    ),
    pytest.param(
        FaultInjection(category_count=47), {("merchant_category", "enum")}, id="categories-12-to-47"
    ),
    pytest.param(
        FaultInjection(rename={"merchant_category": "merchant_cat"}),
        {("merchant_category", "required"), ("merchant_category", "renamed_column")},
        id="renamed-column",
    ),
    pytest.param(
        FaultInjection(null_rates={"user_country": 0.4}),
        {("user_country", "nullValues"), ("user_country", "null_spike")},
        id="null-spike",
    ),
    pytest.param(
        FaultInjection(duplicate_share=0.02),
        {("transaction_id", "primaryKey")},
        id="duplicate-keys",
    ),
]


@pytest.mark.parametrize(("drift", "expected"), DRIFTS)
def test_drift_is_caught_with_the_right_rules(memory_conn, contract, reference, drift, expected):
    batch = arrow_batch(memory_conn, generate_transactions("2026-11-02", ROWS, drift))
    verdict = check_batch(memory_conn, batch, contract, reference, "ref")
    assert not verdict.passes
    assert expected <= _rules(verdict), verdict.violations
    for violation in verdict.violations:
        assert violation.source == "rules"
        assert violation.detail


def test_unit_change_message_names_the_factor_and_unit(memory_conn, contract, reference):
    batch = arrow_batch(
        memory_conn,
        generate_transactions("2026-11-02", ROWS, FaultInjection(amount_unit="dollars")),
    )
    verdict = check_batch(memory_conn, batch, contract, reference, "ref")
    (unit,) = [v for v in verdict.violations if v.rule == "unit_change"]
    assert "1/100" in unit.detail and "cents" in unit.detail


def test_category_growth_is_semantic_when_the_contract_has_no_enum(
    memory_conn, contract, reference
):
    from dataclasses import replace

    no_enum = replace(
        contract,
        columns=tuple(
            replace(c, enum=None) if c.name == "merchant_category" else c for c in contract.columns
        ),
    )
    batch = arrow_batch(
        memory_conn, generate_transactions("2026-11-02", ROWS, FaultInjection(category_count=47))
    )
    verdict = check_batch(memory_conn, batch, no_enum, reference, "ref")
    (growth,) = [v for v in verdict.violations if v.rule == "category_set"]
    assert "47 distinct values" in growth.detail and "12" in growth.detail


def test_natural_shift_is_a_warning_not_a_unit_change(memory_conn, contract, reference):
    table = generate_transactions("2026-11-02", ROWS)
    # Prices rise unevenly: small amounts x1.5, large ones x3: not one conversion factor.
    amounts = table["amount_cents"].to_numpy()
    shifted = (amounts * (1.5 + 1.5 * (amounts > 10_000))).astype("int64")
    verdict = check_batch(
        memory_conn,
        arrow_batch(memory_conn, _set(table, "amount_cents", shifted)),
        contract,
        reference,
        "ref",
    )
    assert ("amount_cents", "unit_change") not in _rules(verdict)
    assert verdict.passes, verdict.violations


@pytest.mark.parametrize("factor", [1000, 12])
def test_other_unit_factors_are_named(memory_conn, contract, reference, factor):
    table = generate_transactions("2026-11-02", ROWS)
    scaled = _set(table, "amount_cents", pc.multiply(table["amount_cents"], factor))  # pyright: ignore[reportAttributeAccessIssue]
    verdict = check_batch(memory_conn, arrow_batch(memory_conn, scaled), contract, reference, "ref")
    (unit,) = [v for v in verdict.violations if v.rule == "unit_change"]
    assert f"×{factor}" in unit.detail


def test_numbers_sent_as_text(memory_conn, contract):
    table = generate_transactions("2026-11-02", ROWS)
    table = _set(table, "amount_cents", pc.cast(table["amount_cents"], pa.string()))
    verdict = check_batch(memory_conn, arrow_batch(memory_conn, table), contract)
    (typed,) = [v for v in verdict.violations if v.rule == "logicalType"]
    assert typed.field == "amount_cents" and "numbers sent as text" in typed.detail


def test_booleans_sent_as_yes_no(memory_conn, contract):
    table = generate_transactions("2026-11-02", ROWS)
    flags = pc.if_else(table["card_present"], "Y", "N")  # pyright: ignore[reportAttributeAccessIssue]
    verdict = check_batch(
        memory_conn, arrow_batch(memory_conn, _set(table, "card_present", flags)), contract
    )
    (typed,) = [v for v in verdict.violations if v.rule == "logicalType"]
    assert typed.field == "card_present" and "booleans sent as N/Y" in typed.detail


def test_timestamps_sent_as_epoch_integers(memory_conn, contract):
    table = generate_transactions("2026-11-02", ROWS)
    epoch = pc.divide(pc.cast(table["event_ts"], pa.int64()), 1_000_000)  # pyright: ignore[reportAttributeAccessIssue]
    verdict = check_batch(
        memory_conn, arrow_batch(memory_conn, _set(table, "event_ts", epoch)), contract
    )
    (typed,) = [v for v in verdict.violations if v.rule == "logicalType"]
    assert typed.field == "event_ts" and "epoch seconds" in typed.detail


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("transaction_id", "TX-1", "pattern"),
        ("amount_cents", 0, "minimum"),
        ("amount_cents", 10**9, "maximum"),
        ("merchant_category", "casino", "enum"),
        ("currency", "JPY", "invalidValues"),
        ("user_country", "usa", "maxLength"),
    ],
)
def test_one_bad_value_breaks_its_rule_and_names_row_count_and_example(
    memory_conn, contract, column, value, rule
):
    table = generate_transactions("2026-11-02", ROWS)
    values = table[column].to_pylist()
    values[7] = value
    table = _set(table, column, pa.array(values, table.schema.field(column).type))
    verdict = check_batch(memory_conn, arrow_batch(memory_conn, table), contract)
    matching = [v for v in verdict.violations if v.field == column and v.rule == rule]
    assert matching, verdict.violations
    assert matching[0].failing_rows == 1
    assert repr(value) in matching[0].detail


def test_tolerated_nulls_pass_but_are_row_rules(memory_conn, contract):
    table = generate_transactions(
        "2026-11-02", ROWS, FaultInjection(null_rates={"user_country": 0.004})
    )
    verdict = check_batch(memory_conn, arrow_batch(memory_conn, table), contract)
    assert verdict.passes
    assert any(r.field == "user_country" and r.rule == "nullValues" for r in verdict.row_rules)


def test_optional_column_nulls_are_not_failing_rows(memory_conn, contract):
    verdict = check_batch(
        memory_conn, arrow_batch(memory_conn, generate_transactions("2026-11-02", ROWS)), contract
    )
    assert not any(r.field == "device_fingerprint" for r in verdict.row_rules)


def test_sql_rule_and_row_count(memory_conn, contract):
    table = generate_transactions("2026-11-02", ROWS)
    present = pa.array([True] * ROWS)
    verdict = check_batch(
        memory_conn, arrow_batch(memory_conn, _set(table, "card_present", present)), contract
    )
    assert (None, "sql") in _rules(verdict)
    empty = generate_transactions("2026-11-02", 0)
    verdict = check_batch(memory_conn, arrow_batch(memory_conn, empty), contract)
    assert (None, "rowCount") in _rules(verdict)


def test_unexpected_column_is_a_warning(memory_conn, contract):
    table = generate_transactions("2026-11-02", ROWS).append_column("note", pa.array(["x"] * ROWS))
    verdict = check_batch(memory_conn, arrow_batch(memory_conn, table), contract)
    assert verdict.passes
    assert [(v.field, v.severity) for v in verdict.violations if v.rule == "unexpected_column"] == [
        ("note", "warning")
    ]


def test_profile_round_trips_through_json(memory_conn, contract):
    from platform_assets.core.validation.profile import BatchProfile

    verdict = check_batch(
        memory_conn, arrow_batch(memory_conn, generate_transactions("2026-11-02", ROWS)), contract
    )
    again = BatchProfile.from_json(verdict.profile.to_json())
    assert again == verdict.profile
    assert again.columns["merchant_category"].values is not None
    assert len(again.columns["merchant_category"].values) == 12
    assert again.columns["user_country"].min_length == 2


def test_generator_is_deterministic_per_date():
    assert generate_transactions(dt.date(2026, 3, 1), 500).equals(
        generate_transactions("2026-03-01", 500)
    )
    assert not generate_transactions("2026-03-01", 500).equals(
        generate_transactions("2026-03-02", 500)
    )


def test_the_sample_is_blind_to_periodic_batches(memory_conn, contract):
    """100 rows repeated 1000 times: every k-th row would see the same 20 rows again and
    again and call every column categorical; the hashed sample sees all 100."""
    batch = arrow_batch(
        memory_conn,
        generate_transactions("2026-11-02", 100),
        "periodic",
        sql="SELECT src.* FROM range(1000), src",
    )
    verdict = check_batch(memory_conn, batch, contract)
    ids = verdict.profile.columns["transaction_id"]
    assert ids.values is None and ids.distinct > 64
    assert ("transaction_id", "primaryKey") in _rules(verdict)

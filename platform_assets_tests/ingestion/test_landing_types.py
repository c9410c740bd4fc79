"""The landing folder reads CSV and JSON Lines as the contract says, like ``contracts check``:
codes and flags stay text, declared types are parsed, a value that does not parse lands as
text and the partition's check names it (row count, example) and quarantines its rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from platform_assets.core import warehouse
from platform_assets.core.ingestion.bundled import generate_transactions
from platform_assets.core.ingestion.load import LandingFolderReader, ingest
from platform_assets.core.validation.service import check_partition

DAY = "2026-11-12"


def _landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing" / "transactions" / f"partition_date={DAY}"
    folder.mkdir(parents=True)
    return folder


def _day(rows: int = 300) -> pa.Table:
    table = generate_transactions(DAY, rows)
    # A code that a type guesser would turn into the number 37, and a Yes/No answer.
    table = table.append_column("merchant_zip", pa.array([f"{n % 100:05d}" for n in range(rows)]))
    return table.append_column("consent", pa.array(["Yes" if n % 3 else "No" for n in range(rows)]))


def _write(folder: Path, table: pa.Table, fmt: str) -> None:
    if fmt == "csv":
        pacsv.write_csv(table, folder / "part-0.csv")
    else:
        rows = table.to_pylist()
        for row in rows:
            row["event_ts"] = row["event_ts"].isoformat()
        (folder / "part-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_landed_text_keeps_codes_and_parses_declared_types(tmp_path: Path, contract, fmt):
    _write(_landing(tmp_path), _day(), fmt)
    db = tmp_path / "w.duckdb"
    ingest(
        LandingFolderReader(str(tmp_path / "landing"), parsed_types=contract.parsed_types()),
        [DAY],
        db,
        tmp_path / "dlt",
    )
    with warehouse.session(db) as conn:
        stored = warehouse.table_columns(conn, "raw", "transactions")
        zips, answers = conn.execute(
            "SELECT count(*) FILTER (merchant_zip = '00037'), "
            "count(DISTINCT consent) FILTER (consent IN ('Yes', 'No')) "
            "FROM raw.transactions"
        ).fetchall()[0]
        verdict = check_partition(conn, contract, DAY).verdict
    assert stored["merchant_zip"] == "VARCHAR" and stored["consent"] == "VARCHAR"
    assert stored["amount_cents"] == "BIGINT" and stored["card_present"] == "BOOLEAN"
    assert stored["event_ts"].startswith("TIMESTAMP")
    assert zips == 3 and answers == 2
    assert verdict.errors == [], verdict.errors


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_value_that_does_not_parse_lands_as_text_and_its_rows_are_named(
    tmp_path: Path, contract, fmt
):
    table = _day()
    amounts = [str(v) for v in table["amount_cents"].to_pylist()]
    amounts[4], amounts[9] = "12.50", "n/a"
    table = table.set_column(
        table.column_names.index("amount_cents"), "amount_cents", pa.array(amounts)
    )
    _write(_landing(tmp_path), table, fmt)
    db = tmp_path / "w.duckdb"
    ingest(
        LandingFolderReader(str(tmp_path / "landing"), parsed_types=contract.parsed_types()),
        [DAY],
        db,
        tmp_path / "dlt",
    )
    with warehouse.session(db) as conn:
        stored = warehouse.table_columns(conn, "raw", "transactions")
        check = check_partition(conn, contract, DAY)
        flagged = conn.execute(
            "SELECT row_number FROM quarantine.rows, unnest(CAST(reasons AS JSON[])) AS r(reason) "
            "WHERE partition_key = ? AND json_extract_string(reason, '$.rule') = 'logicalType' "
            "AND json_extract_string(reason, '$.field') = 'amount_cents' AND json_extract(reason, "
            "'$.batch') IS NULL ORDER BY row_number",
            [DAY],
        ).fetchall()
        quarantined = conn.execute(
            "SELECT count(*) FROM quarantine.rows WHERE partition_key = ?", [DAY]
        ).fetchall()
    assert stored["amount_cents"] == "VARCHAR", (
        "nothing is converted silently: the text lands as written"
    )
    (typed,) = [v for v in check.verdict.errors if v.field == "amount_cents"]
    assert typed.rule == "logicalType" and typed.failing_rows == 2 and "'12.50'" in typed.detail
    assert [row for (row,) in flagged] == [5, 10], "the rows' own reasons name the two values"
    assert quarantined == [
        (300,)
    ]  # a failing batch is held back whole: raw = validated + quarantined

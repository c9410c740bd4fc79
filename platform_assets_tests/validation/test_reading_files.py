"""Files are read as the contract says: strings stay as written, declared types are parsed
strictly, and a value that does not parse is a violation with its row count and an example.

Every test writes real files (CSV, JSON Lines, Parquet) and reads them through
``batch_from_file`` into a real DuckDB, or through the ``platform-assets`` command.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from platform_assets.core.validation.batch import batch_from_file, drop_batch
from platform_assets.core.validation.contract import load_contract
from platform_assets.core.validation.engine import check_batch
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: answers
version: 1.0.0
status: active
schema:
  - name: answers
    properties:
      - name: default
        logicalType: string
        required: true
        quality:
          - metric: invalidValues
            arguments:
              validValues: ["Yes", "No"]
            mustBe: 0
      - name: code
        logicalType: string
        logicalTypeOptions:
          pattern: '^[0-9]{5}$'
      - name: flag
        logicalType: string
        enum: [{value: T}, {value: F}]
      - name: day_text
        logicalType: string
      - name: amount
        logicalType: integer
        logicalTypeOptions:
          minimum: 0
      - name: day
        logicalType: date
        logicalTypeOptions:
          format: dd/MM/yyyy
          minimum: 01/01/2020
      - name: seen_at
        logicalType: timestamp
      - name: ok
        logicalType: boolean
"""

HEADER = ["default", "code", "flag", "day_text", "amount", "day", "seen_at", "ok", "extra"]
GOOD_ROWS = [
    ["Yes", "00123", "T", "2026-01-02", "5", "02/01/2026", "2026-01-02T10:00:00Z", "true", "007"],
    ["No", "04567", "F", "2026-01-03", "7", "31/12/2025", "2026-01-02 11:00:00", "false", None],
    [
        "Yes",
        "99999",
        "F",
        "2026-01-04",
        "0",
        "01/01/2020",
        "2026-01-03 00:00:00+02:00",
        "TRUE",
        "08",
    ],
]


@pytest.fixture
def contract(tmp_path: Path):
    path = tmp_path / "answers.odcs.yaml"
    path.write_text(CONTRACT)
    return load_contract(path)


def write_csv(path: Path, rows: list[list[str | None]], header: list[str] = HEADER) -> Path:
    lines = [",".join(header)] + [",".join("" if v is None else v for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_jsonl(path: Path, rows: list[list[str | None]], header: list[str] = HEADER) -> Path:
    path.write_text("".join(json.dumps(dict(zip(header, row, strict=True))) + "\n" for row in rows))
    return path


def checked(conn, contract, path: Path):
    batch = batch_from_file(conn, path, contract.parsed_types())
    try:
        return batch.columns, check_batch(conn, batch, contract), conn
    finally:
        drop_batch(conn, batch)


@pytest.mark.parametrize("write", [write_csv, write_jsonl], ids=["csv", "jsonl"])
def test_strings_stay_as_written_and_declared_types_are_parsed(
    tmp_path, contract, memory_conn, write
):
    path = write(tmp_path / f"good.{'csv' if write is write_csv else 'jsonl'}", GOOD_ROWS)
    columns, verdict, _ = checked(memory_conn, contract, path)
    assert verdict.passes, verdict.violations
    assert (
        columns["default"] == "VARCHAR"
        and columns["code"] == "VARCHAR"
        and columns["flag"] == "VARCHAR"
    )
    assert columns["day_text"] == "VARCHAR" and columns["extra"] == "VARCHAR"
    assert columns["amount"] == "BIGINT" and columns["day"] == "DATE" and columns["ok"] == "BOOLEAN"
    assert columns["seen_at"].startswith("TIMESTAMP")


def test_values_keep_their_text_and_dates_their_format(tmp_path, contract, memory_conn):
    path = write_csv(tmp_path / "good.csv", GOOD_ROWS)
    batch = batch_from_file(memory_conn, path, contract.parsed_types())
    rows = memory_conn.execute(
        f'SELECT "default", code, flag, extra, day, ok FROM {batch.relation} ORDER BY __row'
    ).fetchall()
    assert rows[0] == ("Yes", "00123", "T", "007", dt.date(2026, 1, 2), True)
    assert rows[1][3] is None and rows[1][4] == dt.date(2025, 12, 31)


@pytest.mark.parametrize("write", [write_csv, write_jsonl], ids=["csv", "jsonl"])
def test_a_value_that_does_not_parse_is_a_violation_with_count_and_example(
    tmp_path, contract, memory_conn, write
):
    rows = [list(r) for r in GOOD_ROWS]
    rows[1][4] = "7.5"  # an integer written with a fraction: not silently rounded to 8
    rows[2][4] = "abc"
    rows[2][5] = "2026-01-04"  # ISO, where the contract says dd/MM/yyyy
    rows[0][7] = "Yes"  # a flag word where a boolean is declared
    path = write(tmp_path / f"bad.{'csv' if write is write_csv else 'jsonl'}", rows)
    columns, verdict, _ = checked(memory_conn, contract, path)
    assert not verdict.passes
    typed = {v.field: v for v in verdict.violations if v.rule == "logicalType"}
    assert set(typed) == {"amount", "day", "ok"}
    assert typed["amount"].failing_rows == 2 and "'7.5'" in typed["amount"].detail
    assert "do not parse as integer" in typed["amount"].detail
    assert (
        typed["day"].failing_rows == 1
        and "date written dd/MM/yyyy, e.g. '2026-01-04'" in typed["day"].detail
    )
    assert typed["ok"].failing_rows == 1 and "'Yes'" in typed["ok"].detail
    assert columns["amount"] == "VARCHAR", (
        "a column with a value that does not parse stays text, as written"
    )
    assert {r.field for r in verdict.row_rules if r.rule == "logicalType"} == {
        "amount",
        "day",
        "ok",
    }


def test_date_bounds_run_in_the_columns_format(tmp_path, contract, memory_conn):
    rows = [list(r) for r in GOOD_ROWS]
    rows[2][5] = "31/12/2019"
    _, verdict, _ = checked(memory_conn, contract, write_csv(tmp_path / "early.csv", rows))
    (early,) = [v for v in verdict.violations if v.field == "day"]
    assert early.rule == "minimum" and early.failing_rows == 1 and "2019-12-31" in early.detail


def test_parquet_keeps_its_types_and_a_mistyped_column_is_a_type_violation(
    tmp_path, contract, memory_conn
):
    table = pa.table(
        {
            "default": ["Yes", "No"],
            "code": ["00123", "04567"],
            "flag": ["T", "F"],
            "day_text": ["2026-01-02", "2026-01-03"],
            "amount": pa.array([5, 7], pa.int64()),
            "day": pa.array([dt.date(2026, 1, 2), dt.date(2026, 1, 3)]),
            "seen_at": pa.array([dt.datetime(2026, 1, 2, 10)] * 2, pa.timestamp("us", tz="UTC")),
            "ok": ["true", "false"],  # text where the contract says boolean
        }
    )
    path = tmp_path / "typed.parquet"
    pq.write_table(table, path)
    columns, verdict, _ = checked(memory_conn, contract, path)
    assert columns["default"] == "VARCHAR" and columns["amount"] == "BIGINT"
    assert [(v.field, v.rule) for v in verdict.errors] == [("ok", "logicalType")]


def test_parquet_is_checked_in_place_with_its_row_numbers(tmp_path, contract, memory_conn):
    path = tmp_path / "rows.parquet"
    pq.write_table(
        pa.table({"default": ["Yes", "No", "Maybe"], "code": ["00001", "00002", "00003"]}),
        path,
        row_group_size=1,
    )
    batch = batch_from_file(memory_conn, path, contract.parsed_types())
    kind = memory_conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [batch.relation]
    ).fetchall()
    assert kind == [("VIEW",)], "a Parquet batch is a view over the file, not a copy"
    assert memory_conn.execute(
        f"SELECT __row FROM {batch.relation} WHERE \"default\" = 'Maybe'"
    ).fetchall() == [(3,)]
    drop_batch(memory_conn, batch)
    assert memory_conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [batch.relation]
    ).fetchall() == [(0,)]


def test_the_command_reads_a_yes_no_csv_as_written(tmp_path, contract):
    """The issue's case: a string column of Yes/No with validValues [Yes, No] passes."""
    path = write_csv(tmp_path / "answers.csv", GOOD_ROWS)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "platform_assets.cli",
            "contracts",
            "check",
            str(contract.path),
            str(path),
            "--json",
            "--no-llm",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=subprocess_env({"RUNTIME__LOG_LEVEL": "ERROR"}),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["passes"] is True and verdict["rows"] == 3
    bad = write_csv(tmp_path / "bad.csv", [[*GOOD_ROWS[0][:4], "1.5", *GOOD_ROWS[0][5:]]])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "platform_assets.cli",
            "contracts",
            "check",
            str(contract.path),
            str(bad),
            "--json",
            "--no-llm",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=subprocess_env({"RUNTIME__LOG_LEVEL": "ERROR"}),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    (typed,) = [v for v in json.loads(result.stdout)["violations"] if v["rule"] == "logicalType"]
    assert (
        typed["field"] == "amount"
        and "1 of 1 rows do not parse as integer, e.g. '1.5'" in typed["detail"]
    )


def test_a_malformed_jsonl_line_is_a_usage_error_naming_the_file(tmp_path, contract, memory_conn):
    from platform_assets.core.validation.batch import BatchError

    path = tmp_path / "broken.jsonl"
    path.write_text('{"default": "Yes"}\n{"default": \n')
    with pytest.raises(BatchError, match=r"broken\.jsonl: cannot be read as JSON Lines"):
        batch_from_file(memory_conn, path, contract.parsed_types())


def test_strict_parsing_refuses_what_duckdb_casts_would_accept(memory_conn):
    from platform_assets.core.warehouse import TextParse

    cases = [
        ("BIGINT", "1.5"),
        ("BIGINT", "0x10"),
        ("BIGINT", "1_000"),
        ("DATE", "2026-11-01 10:00:00"),
        ("BOOLEAN", "Yes"),
        ("BOOLEAN", "on"),
        ("DOUBLE", "1,5"),
    ]
    for duckdb_type, text in cases:
        (value,) = memory_conn.execute(
            f"SELECT {TextParse(duckdb_type).sql('$1')}", [text]
        ).fetchone()
        assert value is None, (duckdb_type, text, value)
    accepted = [
        ("BIGINT", " 42 ", 42),
        ("BIGINT", "00123", 123),
        ("DOUBLE", "-1.5e3", -1500.0),
        ("BOOLEAN", "FALSE", False),
        ("BOOLEAN", "t", True),
        ("DATE", "2026-11-01", dt.date(2026, 11, 1)),
    ]
    for duckdb_type, text, expected in accepted:
        (value,) = memory_conn.execute(
            f"SELECT {TextParse(duckdb_type).sql('$1')}", [text]
        ).fetchone()
        assert value == expected, (duckdb_type, text, value)
    (stamp,) = memory_conn.execute(
        f"SELECT {TextParse('TIMESTAMPTZ', '%d/%m/%Y %H:%M%z').sql('$1')}", ["02/01/2026 10:30Z"]
    ).fetchone()
    assert stamp == dt.datetime(2026, 1, 2, 10, 30, tzinfo=dt.UTC)


@pytest.fixture
def memory_conn():
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    yield conn
    conn.close()


def test_repeated_keys_are_counted_exactly_in_a_file_checked_in_place(tmp_path, memory_conn):
    """The main scan counts distinct key hashes; what it finds is recounted on the values."""
    contract_path = tmp_path / "keys.odcs.yaml"
    contract_path.write_text(
        CONTRACT.replace(
            "      - name: code\n        logicalType: string\n",
            "      - name: code\n        logicalType: string\n        unique: true\n",
        )
    )
    contract = load_contract(contract_path)
    codes = [f"{n:05d}" for n in range(5000)] + ["00007", "00007", "00042", None, None]
    path = tmp_path / "keys.parquet"
    pq.write_table(pa.table({"default": ["Yes"] * len(codes), "code": codes}), path)
    _, verdict, _ = checked(memory_conn, contract, path)
    (repeat,) = [v for v in verdict.errors if v.rule == "unique"]
    assert repeat.field == "code" and repeat.failing_rows == 3, (
        "nulls are not repeats; each extra copy is one"
    )

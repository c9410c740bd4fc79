"""Every example contract of the ODCS standard lints, every negative test is rejected with its
field and line, and what the examples declare (date formats and bounds, composite keys,
custom rules, contracts with no table) is run or named as not run.

The contracts are Bitol's own (``odcs/``, Apache-2.0, see its README).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from platform_assets.core.validation.batch import batch_from_file
from platform_assets.core.validation.contract import (
    INVALID_ODCS,
    ContractError,
    date_pattern_to_strptime,
    load_contract,
    load_contract_tables,
)
from platform_assets.core.validation.engine import check_batch
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.typed import present

ODCS = Path(__file__).parent / "odcs"
EXAMPLES = sorted((ODCS / "examples").glob("*/*.odcs.yaml"))
NEGATIVE = sorted((ODCS / "negative-tests").glob("*.odcs.yaml"))
LOCATED = re.compile(r"^(\(document\)|[A-Za-z_][\w.\[\]-]*) \(line \d+\): \S")


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env=subprocess_env({"RUNTIME__LOG_LEVEL": "ERROR"}),
    )


def test_the_bundled_examples_are_all_there():
    assert len(EXAMPLES) == 28 and len(NEGATIVE) == 28


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_valid_example_loads_and_names_each_part_not_run_with_its_line(path: Path):
    tables = load_contract_tables(path)
    assert tables
    for contract in tables:
        for part in contract.not_run:
            assert LOCATED.match(part) or part.startswith("schema: the contract describes"), part
            assert "not" in part, part


@pytest.mark.parametrize("path", NEGATIVE, ids=lambda p: p.name)
def test_every_negative_test_is_invalid_odcs_naming_field_and_line(path: Path):
    with pytest.raises(ContractError) as info:
        load_contract_tables(path)
    assert info.value.kind == INVALID_ODCS
    assert info.value.problems
    for problem in info.value.problems:
        assert LOCATED.match(problem), problem


def test_lint_exits_0_on_every_example_and_2_on_every_negative_test():
    valid = _cli("contracts", "lint", "--json", *EXAMPLES)
    assert valid.returncode == 0, valid.stdout[-2000:] + valid.stderr[-2000:]
    results = json.loads(valid.stdout)
    assert len(results) == 28 and all(r["valid_odcs"] and not r["problems"] for r in results)
    custom = next(r for r in results if r["file"].endswith("column-custom.odcs.yaml"))
    assert any("type 'custom' (engine soda) is not run" in part for part in custom["not_run"])
    assert (
        next(r for r in results if r["file"].endswith("basic-four-dpo.odcs.yaml"))["verdict"]
        == "valid ODCS, nothing to check"
    )

    invalid = _cli("contracts", "lint", *NEGATIVE)
    assert invalid.returncode == 2
    assert invalid.stderr.count("invalid data contract: not valid ODCS") == 28, invalid.stderr[
        -3000:
    ]
    assert (
        "enum-empty.odcs.yaml" in invalid.stderr
        and "schema[0].properties[0].enum (line 15)" in invalid.stderr
    )


def test_lint_tells_invalid_odcs_from_valid_odcs_not_run_here(tmp_path: Path):
    """Valid ODCS with a rule the checks cannot run as written is its own verdict."""
    source = (ODCS / "examples" / "quality" / "column-validity.odcs.yaml").read_text()
    unrunnable = tmp_path / "lookahead.odcs.yaml"
    unrunnable.write_text(
        source.replace(
            "      physicalType: varchar\n",
            "      physicalType: varchar\n      logicalTypeOptions:\n"
            "        pattern: '^(?!x)[a-z]+$'\n",
        )
    )
    result = _cli("contracts", "lint", "--json", unrunnable)
    assert result.returncode == 2
    (verdict,) = json.loads(result.stdout)
    assert verdict["valid_odcs"] is True and verdict["verdict"] == "cannot be checked as written"
    assert "logicalTypeOptions.pattern (line 24)" in verdict["problems"][0]


def test_a_contract_with_no_table_has_nothing_to_check(tmp_path: Path):
    path = ODCS / "examples" / "roles" / "service-and-operational-roles.odcs.yaml"
    (contract,) = load_contract_tables(path)
    assert contract.table is None and contract.columns == ()
    data = tmp_path / "any.csv"
    data.write_text("a\n1\n")
    result = _cli("contracts", "check", path, data, "--no-llm")
    assert result.returncode == 2 and "describes no table" in result.stderr


def test_custom_rules_are_not_run_and_the_rest_is(tmp_path: Path):
    contract = load_contract(ODCS / "examples" / "quality" / "column-custom.odcs.yaml")
    (column,) = contract.columns
    assert column.name == "UniqueID" and column.primary_key and column.quality == ()
    assert len([p for p in contract.not_run if "custom" in p]) == 2


@pytest.mark.parametrize(
    ("pattern", "strptime"),
    [
        ("yyyy-MM-dd", "%Y-%m-%d"),
        ("yyyy-MM-dd HH:mm:ss", "%Y-%m-%d %H:%M:%S"),
        ("yyyy-MM-dd HH:mm:ssZ", "%Y-%m-%d %H:%M:%S%z"),
        ("HH:mm:ss", "%H:%M:%S"),
        ("dd/MM/yyyy", "%d/%m/%Y"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "%Y-%m-%dT%H:%M:%S.%g%z"),
        ("%d.%m.%Y", "%d.%m.%Y"),
        ("yyyy-QQ", None),
    ],
)
def test_date_patterns(pattern, strptime):
    assert date_pattern_to_strptime(pattern) == strptime


def test_the_all_data_types_example_runs_its_date_formats_and_bounds(tmp_path: Path):
    contract = load_contract(ODCS / "examples" / "data-types" / "all-data-types.odcs.yaml")
    day, stamp, stamp_tz, time = (
        present(contract.column(n))
        for n in ("txn_ref_date", "txn_timestamp", "txn_timestamp_tz", "txn_time")
    )
    assert day.exclusive_minimum == dt.date(2020, 1, 1) and day.maximum == dt.date(2021, 1, 1)
    assert stamp.minimum == dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert stamp_tz.maximum == dt.datetime(
        2020, 12, 31, 14, tzinfo=dt.UTC
    )  # 2021-01-01 00:00:00+10:00
    assert time.maximum == dt.time(23, 59, 59)
    rows = [
        "account_id,txn_ref_date,txn_timestamp,txn_timestamp_tz,txn_time,amount,age,is_open",
        "ACC12345678,2020-06-01,2020-06-01 10:00:00,2020-06-01 10:00:00+1000,10:00:00,1.5,30,true",
        "ACC12345679,2020-01-01,2021-03-01 10:00:00,2020-06-01 10:00:00+0000,23:00:00,2.5,18,false",
    ]
    path = tmp_path / "transactions.csv"
    path.write_text("\n".join(rows) + "\n")
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        batch = batch_from_file(conn, path, contract.parsed_types())
        assert batch.columns["txn_ref_date"] == "DATE" and batch.columns["txn_time"] == "TIME"
        verdict = check_batch(conn, batch, contract)
    broken = {(v.field, v.rule, v.failing_rows) for v in verdict.errors}
    assert broken == {("txn_ref_date", "exclusiveMinimum", 1), ("txn_timestamp", "maximum", 1)}, (
        verdict.errors
    )


def test_a_composite_primary_key_is_unique_as_a_combination(tmp_path: Path):
    example = (ODCS / "examples" / "all" / "full-example.odcs.yaml").read_text()
    assert (
        example.count("        unique: true\n") == 1
    )  # on receivers.id, which would make id unique alone
    edited = tmp_path / "receivers.odcs.yaml"
    edited.write_text(example.replace("        unique: true\n", ""))
    contract = load_contract(edited, table="receivers_master")
    assert contract.primary_key == ("id", "country_code")
    path = tmp_path / "receivers.csv"
    path.write_text(
        "id,country_code,receiver_name,receiver_type\nr1,US,Ann,individual\nr1,CA,Ann,individual\n"
    )
    with duckdb.connect() as conn:
        assert check_batch(
            conn, batch_from_file(conn, path, contract.parsed_types()), contract
        ).passes
        path.write_text(path.read_text() + "r1,US,Ann again,individual\n")
        verdict = check_batch(conn, batch_from_file(conn, path, contract.parsed_types()), contract)
    (repeat,) = verdict.errors
    assert (repeat.field, repeat.rule, repeat.failing_rows) == ("id, country_code", "primaryKey", 1)

"""What a landing day that is not quite right gets: files that disagree on a column's type
are named (both files, the column, the two types) and nothing landed is lost; marker files
(``_SUCCESS``, ``.DS_Store``) are skipped and listed in the manifest; a huge field's error
is a short excerpt without the row's values; ``rows_per_partition: 0`` is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from platform_assets.core import warehouse
from platform_assets.core.ingestion.bundled import generate_transactions
from platform_assets.core.ingestion.load import (
    IngestionError,
    LandingFolderReader,
    ingest,
)
from platform_assets.core.settings import Settings, SettingsError
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO

DAY = "2026-11-12"


def platform_assets(home: Path, *args) -> subprocess.CompletedProcess:
    """The CLI with only this home: none of the developer's settings or Dagster instance."""
    env = {
        k: v
        for k, v in subprocess_env().items()
        if not k.startswith("PLATFORM_ASSETS_") and k != "DAGSTER_HOME"
    }
    env |= {"PLATFORM_ASSETS_HOME": str(home), "RUNTIME__LOG_LEVEL": "ERROR"}
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "landing" / "transactions" / f"partition_date={DAY}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ingest(tmp_path: Path, contract) -> None:
    reader = LandingFolderReader(str(tmp_path / "landing"), parsed_types=contract.parsed_types())
    ingest(reader, [DAY], tmp_path / "w.duckdb", tmp_path / "dlt")


def _one(conn, sql: str, params: list | None = None):
    row = warehouse.fetch_row(conn, sql, params or [])
    assert row is not None
    return row[0]


def _raw_rows(tmp_path: Path) -> int:
    with warehouse.session(tmp_path / "w.duckdb", read_only=True) as conn:
        rows = _one(conn, "SELECT count(*) FROM raw.transactions WHERE partition_date = ?", [DAY])
    return int(rows)


def _with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def test_parquet_files_that_disagree_on_a_type_are_named_and_the_day_is_kept(
    tmp_path: Path, contract
):
    folder = _folder(tmp_path)
    pq.write_table(generate_transactions(DAY, 200), folder / "a.parquet")
    _ingest(tmp_path, contract)
    assert _raw_rows(tmp_path) == 200

    second = generate_transactions(DAY, 50)
    amounts = pa.array([str(v) for v in second["amount_cents"].to_pylist()])
    pq.write_table(_with_column(second, "amount_cents", amounts), folder / "b.parquet")
    with pytest.raises(IngestionError) as caught:
        _ingest(tmp_path, contract)
    message = str(caught.value)
    assert "'amount_cents'" in message, message
    assert "a.parquet" in message and "b.parquet" in message, message
    assert "int64" in message and "string" in message, message
    assert "\n" not in message
    # Nothing landed is lost: the day's previous delivery is still there, whole.
    assert _raw_rows(tmp_path) == 200


def test_a_value_that_does_not_parse_in_one_csv_of_the_day_lands_as_text(tmp_path: Path, contract):
    folder = _folder(tmp_path)
    pacsv.write_csv(generate_transactions(DAY, 100), folder / "a.csv")
    second = generate_transactions(DAY, 20)
    amounts = [str(v) for v in second["amount_cents"].to_pylist()]
    amounts[3] = "12,50 EUR"
    pacsv.write_csv(_with_column(second, "amount_cents", pa.array(amounts)), folder / "b.csv")
    _ingest(tmp_path, contract)
    assert _raw_rows(tmp_path) == 120
    with warehouse.session(tmp_path / "w.duckdb", read_only=True) as conn:
        stored = warehouse.table_columns(conn, "raw", "transactions")
        held = _one(conn, "SELECT count(*) FROM raw.transactions WHERE amount_cents = '12,50 EUR'")
    assert stored["amount_cents"] == "VARCHAR" and held == 1


def test_marker_files_are_skipped_and_listed_in_the_manifest(tmp_path: Path, contract):
    folder = _folder(tmp_path)
    pq.write_table(generate_transactions(DAY, 120), folder / "part-0.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(100))
    (folder / "_committed_42").write_text('{"added": ["part-0.parquet"]}')
    _ingest(tmp_path, contract)
    assert _raw_rows(tmp_path) == 120
    with warehouse.session(tmp_path / "w.duckdb", read_only=True) as conn:
        skipped = _one(
            conn,
            "SELECT CAST(skipped_files AS VARCHAR) FROM platform.batch_manifest "
            "WHERE partition_key = ?",
            [DAY],
        )
    # A local listing hides dot files already (an S3 listing does not); either way it is skipped.
    assert (
        {"_SUCCESS", "_committed_42"}
        <= set(json.loads(skipped))
        <= {
            ".DS_Store",
            "_SUCCESS",
            "_committed_42",
        }
    )


def test_a_day_of_markers_only_is_no_files(tmp_path: Path, contract):
    (_folder(tmp_path) / "_SUCCESS").write_text("")
    with pytest.raises(IngestionError, match=r"No files for partition .*only markers.*_SUCCESS"):
        _ingest(tmp_path, contract)


def _huge_field_csv(path: Path) -> None:
    with path.open("w") as handle:
        handle.write("transaction_id,user_id,amount_cents\n")
        handle.write("t1,alice@example.com,100\n")
        handle.write('t2,bob.secret@example.com,"' + "x" * 3_000_000 + '",extra\n')


def test_a_huge_field_error_is_short_and_echoes_no_value(tmp_path: Path, contract):
    _huge_field_csv(_folder(tmp_path) / "part-0.csv")
    with pytest.raises(IngestionError) as caught:
        _ingest(tmp_path, contract)
    message = str(caught.value)
    assert "part-0.csv" in message and "Line: 3" in message, message
    assert len(message) < 600, len(message)
    assert "bob.secret" not in message and "xxxxxxxx" not in message


def test_zero_rows_per_partition_is_refused_naming_the_setting(tmp_path: Path):
    with pytest.raises(SettingsError, match="PLATFORM_ASSETS_ROWS_PER_PARTITION='0'"):
        Settings.from_env({"PLATFORM_ASSETS_ROWS_PER_PARTITION": "0"})
    assert Settings.from_env({}).rows_per_partition == 20_000
    config = tmp_path / "zero.yaml"
    config.write_text("ops:\n  raw_transactions:\n    config:\n      rows_per_partition: 0\n")
    result = platform_assets(
        tmp_path,
        "checks",
        "run",
        "--select",
        "raw/transactions",
        "--partition",
        DAY,
        "--materialize",
        "--config",
        config,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "ops:raw_transactions:config:rows_per_partition: 0 is not a positive integer" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing ran


@pytest.mark.slow
def test_a_run_summary_names_the_clash_and_echoes_no_row(tmp_path: Path):
    """In a run the step's summary is the innermost error: the platform's line, never the
    reader's (ArrowTypeError naming nothing, or DuckDB's error echoing the row)."""
    folder = tmp_path / "landing" / "transactions" / f"partition_date={DAY}"
    folder.mkdir(parents=True)
    pq.write_table(generate_transactions(DAY, 100), folder / "a.parquet")
    second = generate_transactions(DAY, 10)
    amounts = pa.array([str(v) for v in second["amount_cents"].to_pylist()])
    pq.write_table(_with_column(second, "amount_cents", amounts), folder / "b.parquet")
    config = tmp_path / "landing.yaml"
    config.write_text("ops:\n  raw_transactions:\n    config:\n      source: landing\n")
    args = ["checks", "run", "--select", "raw/transactions", "--partition", DAY, "--materialize"]
    result = platform_assets(tmp_path, *args, "--config", config)
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    (summary,) = [line for line in result.stdout.splitlines() if "failed step:" in line]
    assert "IngestionError: Files in" in summary and "'amount_cents'" in summary, summary

    for name in ("a.parquet", "b.parquet"):
        (folder / name).unlink()
    _huge_field_csv(folder / "part-0.csv")
    result = platform_assets(tmp_path, *args, "--config", config)
    assert result.returncode == 1, result.stdout + result.stderr[-2000:]
    (summary,) = [line for line in result.stdout.splitlines() if "failed step:" in line]
    assert "part-0.csv: cannot be read as CSV" in summary, summary
    assert "bob.secret" not in result.stdout + result.stderr
    assert "xxxxxxxx" not in result.stdout + result.stderr

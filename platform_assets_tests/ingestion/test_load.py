"""Landing batches with dlt into DuckDB: idempotent partitions, faithful types, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from platform_assets.core import warehouse
from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions
from platform_assets.core.ingestion.load import (
    BundledReader,
    IngestionError,
    LandingFolderReader,
    ingest,
)


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "w.duckdb", tmp_path / "dlt"


def _counts(path: Path) -> dict[str, int]:
    with warehouse.session(path, read_only=True) as conn:
        rows = conn.execute(
            "SELECT CAST(partition_date AS VARCHAR), count(*) FROM raw.transactions "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    return dict(rows)


def test_reloading_a_partition_replaces_it(paths):
    db, dlt_dir = paths
    ingest(BundledReader(1000), ["2026-11-01", "2026-11-02"], db, dlt_dir)
    ingest(BundledReader(1000), ["2026-11-02"], db, dlt_dir)
    ingest(BundledReader(1500), ["2026-11-02"], db, dlt_dir)
    assert _counts(db) == {"2026-11-01": 1000, "2026-11-02": 1500}
    with warehouse.session(db, read_only=True) as conn:
        distinct = conn.execute(
            "SELECT count(DISTINCT transaction_id) FROM raw.transactions"
        ).fetchall()[0][0]
    assert distinct == 2500


def test_type_change_lands_in_a_variant_column_without_loss(paths):
    db, dlt_dir = paths
    ingest(BundledReader(500), ["2026-11-01"], db, dlt_dir)
    (manifest,) = ingest(
        BundledReader(500, FaultInjection(amount_unit="dollars")), ["2026-11-02"], db, dlt_dir
    )
    amount = next(c for c in manifest.columns if c.name == "amount_cents")
    assert (amount.family, amount.stored_as) == ("double", "amount_cents__v_double")
    expected = generate_transactions("2026-11-02", 500, FaultInjection(amount_unit="dollars"))[
        "amount_cents"
    ].to_pylist()
    with warehouse.session(db, read_only=True) as conn:
        stored = [
            r[0]
            for r in conn.execute(
                "SELECT amount_cents__v_double FROM raw.transactions WHERE partition_date = "
                "'2026-11-02' ORDER BY transaction_id"
            ).fetchall()
        ]
        old = conn.execute(
            "SELECT count(amount_cents) FROM raw.transactions WHERE partition_date = '2026-11-01'"
        ).fetchall()[0][0]
    assert stored == expected  # 12.34 stays 12.34: no silent truncation to 12
    assert old == 500


def test_manifest_records_what_arrived(paths):
    db, dlt_dir = paths
    ingest(
        BundledReader(300, FaultInjection(rename={"merchant_category": "merchant_cat"})),
        ["2026-11-03"],
        db,
        dlt_dir,
    )
    with warehouse.session(db, read_only=True) as conn:
        row = conn.execute(
            "SELECT row_count, columns, source FROM platform.batch_manifest "
            "WHERE partition_key = '2026-11-03'"
        ).fetchall()[0]
    names = [c["name"] for c in json.loads(row[1])]
    assert row[0] == 300 and row[2] == "bundled"
    assert "merchant_cat" in names and "merchant_category" not in names


def test_empty_redelivery_clears_the_partition(paths):
    db, dlt_dir = paths
    ingest(BundledReader(200), ["2026-11-01"], db, dlt_dir)
    ingest(BundledReader(0), ["2026-11-01"], db, dlt_dir)
    assert _counts(db) == {}


def _landing(tmp_path: Path, key: str) -> Path:
    folder = tmp_path / "landing" / "transactions" / f"partition_date={key}"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_landing_folder_formats(tmp_path: Path, paths, fmt):
    db, dlt_dir = paths
    table = generate_transactions("2026-11-05", 400).drop_columns(["event_ts"])
    folder = _landing(tmp_path, "2026-11-05")
    if fmt == "parquet":
        pq.write_table(table, folder / "part-0.parquet")
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, folder / "part-0.csv")
    else:
        (folder / "part-0.jsonl").write_text("\n".join(json.dumps(r) for r in table.to_pylist()))
    (manifest,) = ingest(
        LandingFolderReader(str(tmp_path / "landing")), ["2026-11-05"], db, dlt_dir
    )
    assert manifest.row_count == 400 and manifest.source == "landing"
    assert _counts(db) == {"2026-11-05": 400}


def test_truncated_file_is_named_and_nothing_is_lost(tmp_path: Path, paths):
    db, dlt_dir = paths
    folder = _landing(tmp_path, "2026-11-06")
    pq.write_table(generate_transactions("2026-11-06", 300), folder / "good.parquet")
    ingest(LandingFolderReader(str(tmp_path / "landing")), ["2026-11-06"], db, dlt_dir)
    data = (folder / "good.parquet").read_bytes()
    (folder / "good.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        IngestionError, match=r"good\.parquet: cannot be read as PARQUET.*truncated"
    ):
        ingest(LandingFolderReader(str(tmp_path / "landing")), ["2026-11-06"], db, dlt_dir)
    assert _counts(db) == {"2026-11-06": 300}


def test_missing_partition_folder_says_where_to_put_files(tmp_path: Path, paths):
    db, dlt_dir = paths
    with pytest.raises(
        IngestionError, match=r"No files for partition 2026-11-07 in .*partition_date=2026-11-07/"
    ):
        ingest(LandingFolderReader(str(tmp_path / "landing")), ["2026-11-07"], db, dlt_dir)


def test_wrong_format_and_empty_file(tmp_path: Path, paths):
    db, dlt_dir = paths
    folder = _landing(tmp_path, "2026-11-08")
    (folder / "data.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(IngestionError, match=r"data\.xlsx: unsupported file type '\.xlsx'"):
        ingest(LandingFolderReader(str(tmp_path / "landing")), ["2026-11-08"], db, dlt_dir)
    (folder / "data.xlsx").unlink()
    (folder / "data.csv").write_text("")
    with pytest.raises(IngestionError, match=r"data\.csv: the file is empty"):
        ingest(LandingFolderReader(str(tmp_path / "landing")), ["2026-11-08"], db, dlt_dir)


def test_unknown_partition_key():
    with pytest.raises(IngestionError, match="Unknown partition '2026-13-01'"):
        BundledReader(10).read("2026-13-01")


def test_reserved_partition_column_is_refused(tmp_path: Path, paths):
    db, dlt_dir = paths
    folder = _landing(tmp_path, "2026-11-09")
    pq.write_table(pa.table({"partition_date": ["x"], "a": [1]}), folder / "x.parquet")
    with pytest.raises(IngestionError, match="reserves for the partition key"):
        ingest(LandingFolderReader(str(tmp_path / "landing")), ["2026-11-09"], db, dlt_dir)


def test_a_csv_written_from_the_bundled_source_lands_with_its_values_and_passes(
    tmp_path: Path, paths, contract
):
    """Empty fields stay NULL, codes stay text, declared types are parsed: the same way
    `contracts check` reads the file, so the pipeline and the CLI agree on it."""
    import pyarrow.csv as pacsv

    from platform_assets.core.validation.batch import batch_from_file
    from platform_assets.core.validation.engine import check_batch
    from platform_assets.core.validation.service import check_partition

    db, dlt_dir = paths
    table = generate_transactions("2026-11-09", 500)
    table = table.append_column(
        "merchant_zip", pa.array([f"{n % 100:05d}" for n in range(table.num_rows)])
    )
    path = _landing(tmp_path, "2026-11-09") / "part-0.csv"
    pacsv.write_csv(table, path)
    reader = LandingFolderReader(str(tmp_path / "landing"), parsed_types=contract.parsed_types())
    ingest(reader, ["2026-11-09"], db, dlt_dir)
    with warehouse.session(db) as conn:
        nulls, zips = conn.execute(
            "SELECT count(*) FILTER (device_fingerprint IS NULL), "
            "count(*) FILTER (merchant_zip = '00037') FROM raw.transactions"
        ).fetchall()[0]
        stored = warehouse.table_columns(conn, "raw", "transactions")
        verdict = check_partition(conn, contract, "2026-11-09").verdict
        cli_verdict = check_batch(
            conn, batch_from_file(conn, path, contract.parsed_types()), contract
        )
    assert nulls == table["device_fingerprint"].null_count > 0 and zips == 5
    assert stored["amount_cents"] == "BIGINT" and stored["card_present"] == "BOOLEAN"
    assert not [c for c in stored if "__v_" in c], stored
    assert verdict.errors == [] and cli_verdict.errors == []


def test_the_pipeline_leaves_signals_to_dagster(paths):
    """dlt's own SIGINT/SIGTERM handlers swallow the first signal during normalize and load, so
    a run told to stop mid-load would go on (operations/test_dead_runs.py stops one for real)."""
    from platform_assets.core.ingestion.load import build_pipeline

    db, dlt_dir = paths
    assert build_pipeline(db, dlt_dir).runtime_config.intercept_signals is False

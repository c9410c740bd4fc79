"""The production warehouse on the real servers: a DuckLake with its catalog in Postgres and
its data as Parquet on moto's S3, opened only through ``core.warehouse``."""

from __future__ import annotations

import logging

import pytest

from platform_assets.core import warehouse

ROWS = 500  # above DuckLake's inlining limit (10 rows): the rows go to a Parquet file on S3


def _fill(conn, day: str, value: int) -> None:
    conn.execute(f"INSERT INTO raw.events SELECT DATE '{day}', {value}, range FROM range({ROWS})")


@pytest.fixture
def lake(production):
    settings = production.settings()
    with warehouse.session(settings.warehouse) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        conn.execute("CREATE TABLE raw.events (partition_date DATE, value INTEGER, n BIGINT)")
        _fill(conn, "2026-11-01", 1)
        _fill(conn, "2026-11-02", 1)
    return settings


def test_the_platforms_names_live_in_the_lake(production, lake):
    assert warehouse.exists(lake.warehouse)
    with warehouse.session(lake.warehouse, read_only=True) as conn:
        assert conn.execute("SELECT current_database()").fetchall() == [("lake",)]
        assert set(warehouse.table_columns(conn, "platform", "batch_verdicts")) >= {
            "table_name",
            "partition_key",
            "passes",
            "checked_at",
        }
        assert warehouse.table_columns(conn, "quarantine", "rows")
        assert conn.execute("SELECT count(*) FROM raw.events").fetchall() == [(2 * ROWS,)]
        with pytest.raises(Exception, match="read-only"):
            conn.execute("DELETE FROM raw.events")
    catalog = {
        name
        for (name,) in production.pg(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "'platform_assets_lake'"
        )
    }
    assert {"ducklake_snapshot", "ducklake_table", "ducklake_data_file"} <= catalog
    files = production.s3_keys("warehouse/raw/events/")
    assert len(files) == 2 and all(key.endswith(".parquet") for key in files)
    # A temp table (the contract check's batches, CSV text) stays out of the catalog.
    with warehouse.session(lake.warehouse) as conn:
        table = warehouse.read_csv_as_text(conn, _csv(), "upload.csv")
        assert table.fetchall() == [("1", "Yes")]
    assert not any("csv_text" in key for key in production.s3_keys("warehouse/"))
    assert production.pg(
        "SELECT count(*) FROM platform_assets_lake.ducklake_table WHERE table_name LIKE 'csv_text%'"
    ) == [(0,)]


def _csv():
    import io

    return io.BytesIO(b"id,flag\n1,Yes\n")


def test_a_local_file_is_not_a_lake(tmp_path):
    import duckdb

    duckdb.connect(
        str(tmp_path / "w.duckdb")
    ).close()  # what a process killed while opening it leaves
    assert not warehouse.exists(tmp_path / "w.duckdb") and not warehouse.exists(
        tmp_path / "none.duckdb"
    )
    with warehouse.session(tmp_path / "w.duckdb") as conn:
        assert not isinstance(conn, warehouse.LakeConnection)
        with pytest.raises(Exception, match=r"PRIMARY KEY|[Cc]onstraint"):
            # The local file keeps the platform's keys.
            conn.execute(
                "INSERT INTO platform.batch_manifest (table_name, partition_key, row_count, "
                "columns, source) VALUES ('t', 'd', 1, '[]', 's'), ('t', 'd', 2, '[]', 's')"
            )
    assert warehouse.exists(tmp_path / "w.duckdb")


def test_conflicting_commits_are_replayed_not_lost(lake, caplog):
    """Two writers replace two different days of one table at once. DuckLake refuses the
    second commit (it inserts into a table the first deleted from); the connection replays
    that transaction, and both days end up replaced exactly once."""
    first, second = warehouse.connect(lake.warehouse), warehouse.connect(lake.warehouse)
    try:
        for conn, day in ((first, "2026-11-01"), (second, "2026-11-02")):
            conn.execute("BEGIN TRANSACTION")
            conn.execute("DELETE FROM raw.events WHERE partition_date = ?", [day])
            _fill(conn, day, 2)
        first.execute("COMMIT")
        with caplog.at_level(logging.WARNING, logger="platform_assets.core.warehouse"):
            second.execute("COMMIT")
    finally:
        first.close()
        second.close()
    assert any(
        "replaying the transaction (2 statements" in r.getMessage() for r in caplog.records
    ), caplog.text
    with warehouse.session(lake.warehouse, read_only=True) as conn:
        assert conn.execute(
            "SELECT partition_date::VARCHAR, value, count(*) FROM raw.events GROUP BY ALL "
            "ORDER BY 1"
        ).fetchall() == [("2026-11-01", 2, ROWS), ("2026-11-02", 2, ROWS)]


def test_a_real_error_in_a_transaction_is_not_retried(lake):
    with warehouse.session(lake.warehouse) as conn:
        conn.execute("BEGIN TRANSACTION")
        conn.execute("DELETE FROM raw.events WHERE partition_date = '2026-11-01'")
        with pytest.raises(Exception, match="no_such_column"):
            conn.execute("INSERT INTO raw.events (no_such_column) VALUES (1)")
        conn.execute("ROLLBACK")
        assert conn.execute("SELECT count(*) FROM raw.events").fetchall() == [(2 * ROWS,)]


def test_replace_row_keeps_one_row_per_key_in_the_lake(lake):
    with warehouse.session(lake.warehouse) as conn:
        for count in (10, 20):
            warehouse.replace_row(
                conn,
                "platform.batch_manifest",
                {"table_name": "t", "partition_key": "d"},
                {"row_count": count, "columns": "[]", "source": "bundled"},
                ["loaded_at"],
            )
        assert conn.execute("SELECT row_count FROM platform.batch_manifest").fetchall() == [(20,)]

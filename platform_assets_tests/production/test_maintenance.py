"""Nightly housekeeping on the production DuckLake (real Postgres catalog, Parquet on moto's
S3): the code location's ``warehouse_maintenance`` job merges the small files that daily
replaces leave, expires old snapshots and deletes the files nothing reads, and every row
stays as it was."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from platform_assets.core import warehouse
from platform_assets.defs.keys import MAINTENANCE_JOB
from platform_assets.runner import load_definitions
from platform_assets_tests.support.typed import scalar

pytestmark = pytest.mark.slow

ROWS = 500  # above DuckLake's inlining limit: each insert is a Parquet file on S3
DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")


def _land(conn, day: str, value: int) -> None:
    """As the ingestion does: the day's rows replaced in one transaction."""
    conn.execute("BEGIN TRANSACTION")
    conn.execute(f"DELETE FROM raw.events WHERE partition_date = DATE '{day}'")
    conn.execute(f"INSERT INTO raw.events SELECT DATE '{day}', {value}, range FROM range({ROWS})")
    conn.execute("COMMIT")


def _rows(settings) -> list[tuple]:
    with warehouse.session(settings.warehouse, read_only=True) as conn:
        return conn.execute(
            "SELECT partition_date, value, count(*), sum(n) FROM raw.events "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()


def _maintain(retention_days: float) -> dict:
    with dg.instance_for_test() as instance:
        result = (
            load_definitions()
            .resolve_job_def(MAINTENANCE_JOB)
            .execute_in_process(
                instance=instance,
                run_config={
                    "ops": {"maintain_warehouse": {"config": {"retention_days": retention_days}}}
                },
            )
        )
        assert result.success
        return result.output_for_node("maintain_warehouse")


def test_maintenance_merges_expires_and_deletes_and_keeps_every_row(production):
    settings = production.settings()
    with warehouse.session(settings.warehouse) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS raw")
        conn.execute("CREATE TABLE raw.events (partition_date DATE, value INTEGER, n BIGINT)")
        for value in (
            1,
            2,
            3,
        ):  # each day landed three times: the replaced files stay for time travel
            for day in DAYS:
                _land(conn, day, value)
    before_rows, before_files = _rows(settings), production.s3_keys("warehouse/raw/events/")
    assert before_rows == [
        (dt.date(2026, 11, day), 3, ROWS, ROWS * (ROWS - 1) // 2) for day in (1, 2, 3)
    ]
    assert len(before_files) == 9  # 3 live, 6 replaced but kept for time travel

    # With a week's retention nothing is old enough to expire; the small files are merged.
    kept = _maintain(7)
    assert (
        kept["kind"] == "ducklake" and kept["snapshots_expired"] == 0 and kept["files_deleted"] == 0
    )
    assert kept["files_merged"] == 3 and kept["files_written"] == 1
    assert _rows(settings) == before_rows

    # With none, every snapshot but the latest expires and the files nothing reads are deleted.
    swept = _maintain(0)
    assert (
        swept["snapshots_expired"] > 0 and swept["files_deleted"] == 9
    )  # 6 replaced, 3 merged away
    assert _rows(settings) == before_rows
    after_files = production.s3_keys("warehouse/raw/events/")
    assert len(after_files) == 1 and after_files[0] not in before_files  # the merged file
    with warehouse.session(settings.warehouse, read_only=True) as conn:
        assert scalar(conn, "SELECT count(*) FROM ducklake_snapshots('lake')") == 1

"""Nightly housekeeping on the local warehouse, a DuckDB file: the ``warehouse_maintenance``
job checkpoints it, keeps every row, and is scheduled every night (the DuckLake's file merges,
snapshot expiry and file cleanup: production/test_maintenance.py)."""

from __future__ import annotations

import dagster as dg
import pytest

from platform_assets.core import warehouse
from platform_assets.core.maintenance import maintain
from platform_assets.defs.keys import MAINTENANCE_JOB, MAINTENANCE_SCHEDULE, OPERATIONS, owners
from platform_assets.runner import load_definitions


def test_the_local_warehouse_is_checkpointed_and_keeps_its_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("PLATFORM_ASSETS_HOME", str(tmp_path))
    path = tmp_path / "warehouse.duckdb"
    with warehouse.session(path) as conn:
        conn.execute("CREATE TABLE t AS SELECT range AS n FROM range(100000)")
    defs = load_definitions()
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def(MAINTENANCE_JOB).execute_in_process(instance=instance)
    assert result.success
    report = result.output_for_node("maintain_warehouse")
    assert report["kind"] == "duckdb" and report["warehouse"] == str(path)
    assert report["file_bytes_after"] > 0
    with warehouse.session(path, read_only=True) as conn:
        assert conn.execute("SELECT count(*), sum(n) FROM t").fetchone() == (
            100000,
            100000 * 99999 // 2,
        )

    schedule = defs.get_repository_def().get_schedule_def(MAINTENANCE_SCHEDULE)
    assert schedule.cron_schedule == "0 3 * * *" and schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert list(schedule.owners or []) == owners(OPERATIONS)


def test_a_negative_retention_is_refused(tmp_path):
    with (
        warehouse.session(tmp_path / "w.duckdb") as conn,
        pytest.raises(ValueError, match="retention_days"),
    ):
        maintain(conn, lake=False, name="w", retention_days=-1)

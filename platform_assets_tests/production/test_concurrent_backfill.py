"""The issue's acceptance: with the production profile, a real Postgres and a moto S3,
``platform-assets backfill --select raw/transactions --select validated/transactions`` for
two different days, started at once in two processes, both succeed with nothing lost; the
runs are in Postgres and the data is on S3. Then both again at once: the re-runs replace
their days (DuckLake makes each delete-then-insert conflict with the other's, and the
warehouse retries it), and nothing changes."""

from __future__ import annotations

import dagster as dg
import pytest

from platform_assets.core import warehouse
from platform_assets_tests.support.production import backfill_args, run_together

pytestmark = pytest.mark.slow

DAYS = ("2026-11-02", "2026-11-03")


def _counts(settings) -> dict[str, dict[str, int]]:
    """Rows per day in raw, validated and quarantine, and the manifest's row counts."""
    with warehouse.session(settings.warehouse, read_only=True) as conn:

        def per_day(sql):
            return {str(day): int(n) for day, n in conn.execute(sql).fetchall()}

        return {
            "raw": per_day("SELECT partition_date, count(*) FROM raw.transactions GROUP BY 1"),
            "validated": per_day(
                "SELECT partition_date, count(*) FROM validated.transactions GROUP BY 1"
            ),
            "quarantined": per_day(
                "SELECT partition_key, count(*) FROM quarantine.rows GROUP BY 1"
            ),
            "manifest": per_day("SELECT partition_key, row_count FROM platform.batch_manifest"),
            "verdicts": per_day(
                "SELECT partition_key, count(*) FROM platform.batch_verdicts GROUP BY 1"
            ),
            "distinct_ids": per_day(
                "SELECT partition_date, count(DISTINCT transaction_id) FROM raw.transactions "
                "GROUP BY 1"
            ),
        }


def test_two_days_backfilled_at_once_in_two_processes_all_land(production):
    # One data home for both, as two processes on one host; ECS tasks would each have their own.
    first = run_together([production.start_cli(*backfill_args(day)) for day in DAYS])
    for day, result in zip(DAYS, first, strict=False):
        assert result.returncode == 0, f"backfill of {day} failed:\n{result.output[-3000:]}"
        assert f"partitions {day}: succeeded" in result.output

    rows = production.rows_per_partition
    counts = _counts(production.settings())
    assert counts["raw"] == dict.fromkeys(DAYS, rows)
    assert counts["distinct_ids"] == dict.fromkeys(DAYS, rows)  # nothing lost, nothing doubled
    assert counts["manifest"] == dict.fromkeys(DAYS, rows)
    assert counts["verdicts"] == dict.fromkeys(DAYS, 1)
    for day in DAYS:  # raw = validated + quarantined, per partition
        assert counts["raw"][day] == counts["validated"].get(day, 0) + counts["quarantined"].get(
            day, 0
        )

    # The runs and their events are in Postgres (deploy/dagster.yaml), not in a local SQLite.
    runs = dict(production.pg("SELECT run_id, status FROM runs"))
    assert len(runs) == 2 and set(runs.values()) == {"SUCCESS"}
    materialized = production.pg(
        "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
    )
    assert materialized[0][0] == 4  # raw and validated, two days
    assert not list(production.home.glob("**/*.db")) and not list(
        production.home.glob("**/*.duckdb")
    )

    # The warehouse's data is Parquet on S3; its catalog is a schema in the same Postgres.
    data = production.s3_keys("warehouse/")
    assert any(
        key.startswith("platform/warehouse/raw/transactions/") and key.endswith(".parquet")
        for key in data
    )
    assert any(key.startswith("platform/warehouse/validated/transactions/") for key in data)
    assert production.pg(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
        "'platform_assets_lake' AND table_name = 'ducklake_snapshot'"
    ) == [(1,)]

    # Both days again, at once: each replaces its day while the other does the same.
    again = run_together([production.start_cli(*backfill_args(day)) for day in DAYS])
    for day, result in zip(DAYS, again, strict=False):
        assert result.returncode == 0, f"re-run of {day} failed:\n{result.output[-3000:]}"
    assert _counts(production.settings()) == counts
    with dg.DagsterInstance.from_config(str(production.dagster_home)) as instance:
        assert len(instance.get_runs()) == 4
        assert {r.status for r in instance.get_runs()} == {dg.DagsterRunStatus.SUCCESS}

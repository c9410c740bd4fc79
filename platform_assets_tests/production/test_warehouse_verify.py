"""Lost S3 objects on the production DuckLake (real Postgres catalog, moto S3): ``platform-
assets warehouse verify`` names every day whose files are gone (exit 1; exit 0 when whole),
and the nightly ``warehouse_maintenance`` job raises an alert with the owner and runbook."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from platform_assets.core import warehouse
from platform_assets.core.ingestion.load import BundledReader, ingest
from platform_assets.defs.keys import MAINTENANCE_JOB
from platform_assets.runner import load_definitions
from platform_assets_tests.support.production import run_together

pytestmark = pytest.mark.slow

DAYS = ("2026-11-02", "2026-11-03")


def _files_of(production, day: str) -> list[str]:
    """The S3 keys of the raw.transactions files that hold ``day`` (from the catalog)."""
    settings = production.settings()
    with warehouse.session(settings.warehouse, read_only=True) as conn:
        files = [
            f
            for (f,) in conn.execute(
                "SELECT data_file FROM ducklake_list_files('lake', 'transactions', schema => 'raw')"
            ).fetchall()
        ]
        rows = conn.execute(
            "SELECT DISTINCT filename FROM read_parquet(?, filename = true) "
            "WHERE partition_date = ?",
            [files, day],
        ).fetchall()
    prefix = f"s3://{production.bucket}/"
    return [name[len(prefix) :] for (name,) in rows]


def _verify(production, *args: str):
    (result,) = run_together([production.start_cli("warehouse", "verify", *args)], timeout=300)
    return result


def test_lost_files_are_named_by_verify_and_alerted_nightly(production, tmp_path):
    settings = production.settings()
    for day in DAYS:  # one load each: a file per day
        ingest(BundledReader(2000), [day], settings.warehouse, tmp_path / "dlt")  # pyright: ignore[reportArgumentType]
    whole = _verify(production)
    assert whole.returncode == 0, whole.output
    assert "whole" in whole.output.splitlines()[-1]

    lost = _files_of(production, DAYS[1])
    assert lost
    s3 = production.moto.client("s3")
    for key in lost:
        s3.delete_object(Bucket=production.bucket, Key=key)

    named = _verify(production)
    assert named.returncode == 1, named.output
    lines = named.output.strip().splitlines()
    assert lines[0].startswith(f"raw.transactions {DAYS[1]}: 1 file(s) missing (s3://")
    assert not any(DAYS[0] in line for line in lines)
    as_json = json.loads(_verify(production, "--json").output)
    assert as_json["whole"] is False
    assert as_json["missing_days"] == {"raw.transactions": [DAYS[1]]}

    with dg.instance_for_test() as instance:
        result = (
            load_definitions()
            .resolve_job_def(MAINTENANCE_JOB)
            .execute_in_process(instance=instance, raise_on_error=False)
        )
    assert not result.success
    with warehouse.session(settings.warehouse, read_only=True) as conn:
        alerts = conn.execute(
            "SELECT kind, owner, runbook, summary FROM platform.alerts"
        ).fetchall()
    assert alerts == [
        (
            "warehouse_files_missing",
            "team:ml-platform",
            "warehouse_files_missing",
            f"raw.transactions: {DAYS[1]}",
        )
    ]

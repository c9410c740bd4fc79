"""Warehouse housekeeping, run nightly by the ``warehouse_maintenance`` job.

A DuckLake grows with every commit: each day's ingestion deletes and re-inserts its
partition, so it leaves new Parquet files and a new snapshot, and the files of the rows it
replaced stay on S3 for time travel. Nightly, :func:`maintain`:

1. merges each table's small adjacent Parquet files (``ducklake_merge_adjacent_files``),
2. expires the snapshots older than ``retention_days`` (``ducklake_expire_snapshots``):
   time travel reaches that far back, no further,
3. deletes the files that no remaining snapshot reads, once they are ``retention_days``
   old (``ducklake_cleanup_old_files``).

Each is one DuckLake commit, retried by the warehouse when a concurrent writer's commit
conflicts with it. A local DuckDB file only needs a ``CHECKPOINT`` (the write-ahead log
written into the file).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from platform_assets.core.warehouse import LAKE_ALIAS

if TYPE_CHECKING:
    import duckdb

DEFAULT_RETENTION_DAYS = 7.0


@dataclass
class MaintenanceReport:
    """What one maintenance pass did."""

    warehouse: str
    kind: str  # "ducklake" or "duckdb"
    retention_days: float
    files_merged: int = 0
    files_written: int = 0
    snapshots_expired: int = 0
    files_deleted: int = 0
    file_bytes_before: int | None = None
    file_bytes_after: int | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def summary(self) -> str:
        if self.kind == "duckdb":
            return (
                f"{self.warehouse}: checkpointed ({self.file_bytes_before} -> "
                f"{self.file_bytes_after} bytes)"
            )
        return (
            f"{self.warehouse}: {self.files_merged} files merged into {self.files_written}, "
            f"{self.snapshots_expired} snapshots older than {self.retention_days:g} days expired, "
            f"{self.files_deleted} unreferenced files deleted"
        )


def maintain(
    conn: duckdb.DuckDBPyConnection,
    *,
    lake: bool,
    name: str,
    retention_days: float = DEFAULT_RETENTION_DAYS,
    file_path: str | None = None,
) -> MaintenanceReport:
    """One maintenance pass over the warehouse open on ``conn`` (a DuckLake when ``lake``)."""
    if retention_days < 0:
        raise ValueError(f"retention_days must be 0 or more, not {retention_days}")
    report = MaintenanceReport(
        warehouse=name, kind="ducklake" if lake else "duckdb", retention_days=retention_days
    )
    if not lake:
        report.file_bytes_before = _size(file_path)
        conn.execute("CHECKPOINT")
        report.file_bytes_after = _size(file_path)
        return report
    catalog = f"'{LAKE_ALIAS}'"
    older_than = f"older_than => now() - INTERVAL '{float(retention_days) * 86400:.0f} seconds'"
    merged = conn.execute(f"CALL ducklake_merge_adjacent_files({catalog})").fetchall()
    report.files_merged = sum(int(row[2] or 0) for row in merged)
    report.files_written = sum(int(row[3] or 0) for row in merged)
    report.snapshots_expired = len(
        conn.execute(f"CALL ducklake_expire_snapshots({catalog}, {older_than})").fetchall()
    )
    report.files_deleted = len(
        conn.execute(f"CALL ducklake_cleanup_old_files({catalog}, {older_than})").fetchall()
    )
    return report


def _size(path: str | None) -> int | None:
    return os.path.getsize(path) if path and os.path.exists(path) else None

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
from dataclasses import asdict, dataclass, field
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
    merge: bool = True,
) -> MaintenanceReport:
    """One maintenance pass over the warehouse open on ``conn`` (a DuckLake when ``lake``).
    ``merge=False`` skips the file merges (they read every file: not with files missing)."""
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
    merged = (
        conn.execute(f"CALL ducklake_merge_adjacent_files({catalog})").fetchall() if merge else []
    )
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


# --- lost files: the catalog against the object store ------------------------------------

#: The columns a table's day is read from, in the file statistics of the catalog.
DAY_COLUMNS = ("partition_date", "partition_key")


@dataclass(frozen=True)
class MissingFile:
    """A data file the lake's current snapshot reads and the object store does not have."""

    table: str  # schema.table
    path: str
    days: tuple[str, ...]  # the days it holds (from the catalog's statistics); () = unknown
    rows: int

    def as_dict(self) -> dict:
        return {**asdict(self), "days": list(self.days)}


@dataclass
class VerifyReport:
    """What ``warehouse verify`` found: files checked, and those missing."""

    warehouse: str
    kind: str
    files_checked: int = 0
    tables_checked: int = 0
    missing: list[MissingFile] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return not self.missing

    def missing_days(self) -> dict[str, list[str]]:
        """``{table: [day, ...]}`` of every day with a missing file (``*`` for a file whose
        days the catalog does not say)."""
        days: dict[str, set[str]] = {}
        for file in self.missing:
            days.setdefault(file.table, set()).update(file.days or ("*",))
        return {table: sorted(found) for table, found in sorted(days.items())}

    def as_dict(self) -> dict:
        return {
            "warehouse": self.warehouse,
            "kind": self.kind,
            "whole": self.whole,
            "files_checked": self.files_checked,
            "tables_checked": self.tables_checked,
            "missing_days": self.missing_days(),
            "missing_files": [f.as_dict() for f in self.missing],
        }

    def lines(self) -> list[str]:
        if self.whole:
            return [
                f"{self.warehouse}: whole ({self.files_checked} files of {self.tables_checked} "
                f"tables found in the object store)"
            ]
        by_day: dict[tuple[str, str], list[MissingFile]] = {}
        for file in self.missing:
            for day in file.days or ("*",):
                by_day.setdefault((file.table, day), []).append(file)
        return [
            f"{table} {day}: {len(files)} file(s) missing ({', '.join(f.path for f in files)})"
            for (table, day), files in sorted(by_day.items())
        ] + [
            f"{self.warehouse}: {len(self.missing)} of {self.files_checked} files missing; "
            f"re-land those days (runbook warehouse_files_missing)"
        ]


def verify_files(lake, *, list_keys=None) -> VerifyReport:
    """Compare the DuckLake catalog (the data files its current snapshot reads, in Postgres)
    with the object store (S3), and name every ``(table, day)`` whose files are missing.

    ``lake`` is the :class:`~platform_assets.core.settings.LakeSettings`; ``list_keys``
    (``bucket, prefix -> set of keys``) defaults to boto3's listing with the lake's endpoint.
    """
    report = VerifyReport(warehouse=lake.name, kind="ducklake")
    files = _catalog_files(lake)
    report.tables_checked = len({f[0] for f in files})
    report.files_checked = len(files)
    lister = list_keys or _s3_lister(lake)
    listed: dict[tuple[str, str], set[str]] = {}
    for table, url, rows, days in files:
        bucket, _, key = url[len("s3://") :].partition("/")
        prefix = key.rsplit("/", 1)[0] + "/"
        if (bucket, prefix) not in listed:
            listed[(bucket, prefix)] = lister(bucket, prefix)
        if key not in listed[(bucket, prefix)]:
            report.missing.append(MissingFile(table, url, days, rows))
    return report


def _catalog_files(lake) -> list[tuple[str, str, int, tuple[str, ...]]]:
    """``(schema.table, s3 url, rows, days)`` of each data file of the current snapshot."""
    import psycopg2
    from psycopg2 import sql

    schema = sql.Identifier(lake.metadata_schema)
    query = sql.SQL(
        """
        SELECT s.schema_name || '.' || t.table_name,
               CASE WHEN f.path_is_relative THEN
                   (CASE WHEN t.path_is_relative THEN
                       (CASE WHEN s.path_is_relative THEN %(data_path)s || s.path ELSE s.path END)
                       || t.path ELSE t.path END) || f.path
               ELSE f.path END,
               f.record_count,
               (SELECT array_agg(DISTINCT v ORDER BY v) FROM (
                    SELECT st.min_value AS v FROM {s}.ducklake_file_column_stats st
                    JOIN {s}.ducklake_column c ON c.column_id = st.column_id
                         AND c.table_id = st.table_id AND c.end_snapshot IS NULL
                    WHERE st.data_file_id = f.data_file_id AND c.column_name = ANY(%(days)s)
                    UNION
                    SELECT st.max_value FROM {s}.ducklake_file_column_stats st
                    JOIN {s}.ducklake_column c ON c.column_id = st.column_id
                         AND c.table_id = st.table_id AND c.end_snapshot IS NULL
                    WHERE st.data_file_id = f.data_file_id AND c.column_name = ANY(%(days)s)
               ) d WHERE v IS NOT NULL)
        FROM {s}.ducklake_data_file f
        JOIN {s}.ducklake_table t ON t.table_id = f.table_id AND t.end_snapshot IS NULL
        JOIN {s}.ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
        WHERE f.end_snapshot IS NULL
        ORDER BY 1, 2
        """
    ).format(s=schema)
    conn = psycopg2.connect(lake.catalog_url, connect_timeout=10)
    try:
        with conn.cursor() as cursor:
            cursor.execute(query, {"data_path": lake.data_path, "days": list(DAY_COLUMNS)})
            rows = cursor.fetchall()
    except psycopg2.errors.UndefinedTable:
        return []  # a lake never written: no catalog tables, no files
    finally:
        conn.close()
    return [(table, url, int(n or 0), _days(values or [])) for table, url, n, values in rows]


def _days(bounds: list[str]) -> tuple[str, ...]:
    """The days between a file's smallest and largest day value (both when not dates)."""
    import datetime as dt

    if not bounds:
        return ()
    try:
        first, last = dt.date.fromisoformat(bounds[0]), dt.date.fromisoformat(bounds[-1])
    except ValueError:
        return tuple(bounds)
    return tuple((first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1))


def _s3_lister(lake):
    import boto3

    client = boto3.client(
        "s3", endpoint_url=lake.s3_endpoint_url or None, region_name=lake.s3_region or None
    )

    def keys(bucket: str, prefix: str) -> set[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {obj["Key"] for page in pages for obj in page.get("Contents", [])}

    return keys

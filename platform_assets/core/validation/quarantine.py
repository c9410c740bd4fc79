"""Split a checked batch into validated rows and quarantined rows, atomically, per partition.

The invariant: for every partition, ``raw rows = validated rows + quarantined rows``, as
counted in the three tables (:func:`partition_counts`). A day landed again is invalidated
(:func:`invalidate_partitions`) until its check runs again, so rows split from the batch it
replaced never read as current.

- A batch that **passes** its contract: rows that fail a row-level rule of severity
  ``error`` go to ``quarantine.rows`` with their reasons; all others go to
  ``validated.<table>``, typed as the contract says.
- A batch that **fails**: every row goes to quarantine, with its own row-level reasons and
  the batch-level violations that rejected it. Nothing reaches ``validated``.

Either way the partition's previous rows in both tables are deleted first, in the same
transaction, so re-running a partition never duplicates and never leaves stale rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from platform_assets.core.validation.batch import ROW_COLUMN, Batch
from platform_assets.core.validation.contract import LOGICAL_DUCKDB_TYPES, Contract
from platform_assets.core.validation.violations import Verdict
from platform_assets.core.warehouse import (
    fetch_one,
    quote_ident,
    table_columns,
    writer_locks,
)


@dataclass(frozen=True)
class SplitResult:
    partition_key: str
    raw_rows: int
    validated_rows: int
    quarantined_rows: int


def stored_type(spec) -> str:
    """The type a contract column is stored as in ``validated``: its physicalType, else its
    logicalType's."""
    return spec.physical_type or LOGICAL_DUCKDB_TYPES.get(spec.logical_type or "string", "VARCHAR")


def validated_columns_sql(contract: Contract, partition_column: str) -> str:
    """The validated table's DDL: the contract's columns, typed, plus the partition column."""
    cols = [f"{quote_ident(c.name)} {stored_type(c)}" for c in contract.columns]
    cols.append(f"{quote_ident(partition_column)} DATE NOT NULL")
    return ", ".join(cols)


def reasons_sql(verdict: Verdict, batch_reasons: list[dict]) -> tuple[str, list[str]]:
    """SQL building a JSON list of reasons per row, and the per-rule flag expressions."""
    flags = []
    pieces = []
    for i, rule in enumerate(r for r in verdict.row_rules if r.severity == "error"):
        flag = f"__f{i}"
        flags.append(f"({rule.predicate}) AS {flag}")
        reason = json.dumps({"field": rule.field, "rule": rule.rule})
        pieces.append(f"CASE WHEN {flag} THEN '{reason.replace(chr(39), chr(39) * 2)}'::JSON END")
    batch_json = json.dumps(batch_reasons).replace("'", "''")
    if pieces:
        row_list = f"list_filter([{', '.join(pieces)}], lambda x: x IS NOT NULL)"
        reasons = f"to_json(list_concat({row_list}, CAST('{batch_json}' AS JSON[])))"
    else:
        reasons = f"CAST('{batch_json}' AS JSON)"
    return reasons, flags


def validation_lock(conn, table: str, partition_key: str | None):
    """The write lock of ``validated.<table>`` for a day
    (:func:`platform_assets.core.warehouse.writer_locks`), held by everything that writes a
    day's validated rows, quarantined rows, verdict or accepted profile: two runs checking
    or splitting one day take turns, so the day's rows are stored once."""
    return writer_locks(
        conn, f"validated.{table}", [] if partition_key is None else [partition_key]
    )


def apply_verdict(
    conn: duckdb.DuckDBPyConnection,
    batch: Batch,
    contract: Contract,
    verdict: Verdict,
    table: str,
    partition_column: str = "partition_date",
) -> SplitResult:
    """Write the partition's validated and quarantined rows for ``verdict``; one transaction."""
    with validation_lock(conn, table, batch.partition_key):
        return _apply_verdict(
            conn,
            batch=batch,
            contract=contract,
            verdict=verdict,
            table=table,
            partition_column=partition_column,
        )


def _apply_verdict(
    conn: duckdb.DuckDBPyConnection,
    batch: Batch,
    contract: Contract,
    verdict: Verdict,
    table: str,
    partition_column: str = "partition_date",
) -> SplitResult:
    if batch.partition_key is None:
        raise ValueError("apply_verdict needs a batch read from a partition (batch.partition_key)")
    key = batch.partition_key
    target = f"validated.{quote_ident(table)}"
    batch_reasons = (
        []
        if verdict.passes
        else [
            {"field": v.field, "rule": v.rule, "detail": v.detail, "batch": True}
            for v in verdict.errors
        ]
    )
    reasons, flags = reasons_sql(verdict, batch_reasons)
    flag_names = [f.rsplit(" AS ", 1)[1] for f in flags]
    any_flag = " OR ".join(flag_names) or "FALSE"
    keep = "FALSE" if not verdict.passes else f"NOT ({any_flag})"
    data_columns = list(batch.columns)
    flagged = f"__flagged_{batch.relation}"
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS validated")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {target} "
            f"({validated_columns_sql(contract, partition_column)})"
        )
        conn.execute(f"DELETE FROM {target} WHERE {quote_ident(partition_column)} = ?", [key])
        conn.execute(
            "DELETE FROM quarantine.rows WHERE table_name = ? AND partition_key = ?", [table, key]
        )
        select_flags = (", " + ", ".join(flags)) if flags else ""
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {flagged} AS SELECT *{select_flags} FROM "
            f"{batch.relation}"
        )
        if verdict.passes:
            casts = ", ".join(
                f"CAST({quote_ident(c.name)} AS {stored_type(c)})"
                if c.name in batch.columns
                else "NULL"
                for c in contract.columns
            )
            conn.execute(
                f"INSERT INTO {target} SELECT {casts}, CAST(? AS DATE) FROM {flagged} WHERE {keep} "
                f"ORDER BY {ROW_COLUMN}",
                [key],
            )
        row_json = (
            "to_json(struct_pack("
            + ", ".join(f"{quote_ident(c)} := {quote_ident(c)}" for c in data_columns)
            + "))"
        )
        conn.execute(
            f"INSERT INTO quarantine.rows (table_name, partition_key, row_number, row_data, "
            f"reasons) "
            f"SELECT ?, ?, {ROW_COLUMN}, {row_json}, {reasons} FROM {flagged} WHERE NOT ({keep}) "
            f"ORDER BY {ROW_COLUMN}",
            [table, key],
        )
        conn.execute(f"DROP TABLE {flagged}")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    (validated,) = fetch_one(
        conn, f"SELECT count(*) FROM {target} WHERE {quote_ident(partition_column)} = ?", [key]
    )
    (quarantined,) = fetch_one(
        conn,
        "SELECT count(*) FROM quarantine.rows WHERE table_name = ? AND partition_key = ?",
        [table, key],
    )
    return SplitResult(key, batch.row_count, int(validated), int(quarantined))


# --- reading what is held back ---------------------------------------------------------


def invalidate_partitions(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    partition_keys: list[str],
    partition_column: str = "partition_date",
) -> None:
    """Delete the validated and quarantined rows of days whose raw rows were just replaced.

    Those rows were split from the batch the new delivery replaced: left in place they read
    as the day's current data (``validated`` would feed features with rows no longer in
    ``raw``). Until the day is checked again it has no validated or quarantined rows, its
    verdict is older than its load (:func:`partition_counts` says "stale"), and
    ``accept_partition`` refuses it. One transaction.
    """
    if not partition_keys:
        return
    target = f"validated.{quote_ident(table)}"
    has_validated = bool(table_columns(conn, "validated", table))
    conn.execute("BEGIN TRANSACTION")
    try:
        if has_validated:
            conn.execute(
                f"DELETE FROM {target} WHERE list_contains(?, CAST({quote_ident(partition_column)} "
                f"AS VARCHAR))",
                [list(partition_keys)],
            )
        conn.execute(
            "DELETE FROM quarantine.rows WHERE table_name = ? AND list_contains(?, partition_key)",
            [table, list(partition_keys)],
        )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def partition_counts(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    partition_key: str | None = None,
    partition_column: str = "partition_date",
) -> list[dict[str, Any]]:
    """Per ingested partition of ``table``: raw, validated and quarantined rows counted in
    their tables, whether ``raw = validated + quarantined`` holds, and the verdict that
    decided it (its contract version). ``stale`` is true when the day landed again after its
    check (or was never checked): its counts are not a verdict on what is in ``raw`` now.

    Without ``partition_key``: the partitions holding quarantined rows and those where the
    invariant does not hold (stale days among them); with it, that one partition."""
    raw = _counts_by_day(conn, "raw", table, partition_column)
    validated = _counts_by_day(conn, "validated", table, partition_column)
    rows = conn.execute(
        "SELECT m.partition_key, coalesce(q.held, 0), v.passes, v.contract_id, v.contract_version, "
        "CAST(v.checked_at AS VARCHAR), CAST(m.loaded_at AS VARCHAR), "
        "v.checked_at IS NULL OR m.loaded_at > v.checked_at "
        "FROM platform.batch_manifest m "
        "LEFT JOIN (SELECT partition_key, count(*) AS held FROM quarantine.rows "
        "           WHERE table_name = ? GROUP BY partition_key) q USING (partition_key) "
        "LEFT JOIN platform.batch_verdicts v "
        "ON v.table_name = m.table_name AND v.partition_key = m.partition_key "
        "WHERE m.table_name = ? AND (? IS NULL OR m.partition_key = ?) "
        "ORDER BY m.partition_key",
        [table, table, partition_key, partition_key],
    ).fetchall()
    days = []
    for key, held, passes, cid, version, checked_at, loaded_at, stale in rows:
        day_raw, day_validated = raw.get(key, 0), validated.get(key, 0)
        holds = day_raw == day_validated + int(held)
        if partition_key is None and held == 0 and holds:
            continue
        days.append(
            {
                "partition": key,
                "raw": day_raw,
                "validated": day_validated,
                "quarantined": int(held),
                "invariant_holds": holds,
                "stale": bool(stale),
                "passes": passes,
                "contract": f"{cid} {version}" if cid else None,
                "checked_at": checked_at,
                "loaded_at": loaded_at,
                "reasons": reason_counts(conn, table, key),
            }
        )
    return days


def _counts_by_day(conn, schema: str, table: str, partition_column: str) -> dict[str, int]:
    if not table_columns(conn, schema, table):
        return {}
    rows = conn.execute(
        f"SELECT CAST({quote_ident(partition_column)} AS VARCHAR), count(*) "
        f"FROM {schema}.{quote_ident(table)} GROUP BY 1"
    ).fetchall()
    return dict(rows)


def reason_counts(
    conn: duckdb.DuckDBPyConnection, table: str, partition_key: str
) -> list[dict[str, Any]]:
    """How many held rows of a partition each reason holds back (a row may have several);
    ``batch`` reasons are the batch-level violations that held back a whole failed day."""
    rows = conn.execute(
        "SELECT json_extract_string(r, '$.field'), json_extract_string(r, '$.rule'), "
        "coalesce(CAST(json_extract(r, '$.batch') AS BOOLEAN), FALSE) AS batch, count(*) "
        "FROM quarantine.rows, unnest(CAST(reasons AS JSON[])) AS t(r) "
        "WHERE table_name = ? AND partition_key = ? GROUP BY ALL ORDER BY 4 DESC, 1, 2",
        [table, partition_key],
    ).fetchall()
    return [
        {"field": f, "rule": rule, "batch": batch, "rows": int(n)} for f, rule, batch, n in rows
    ]


def held_rows(
    conn: duckdb.DuckDBPyConnection, table: str, partition_key: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """The quarantined rows of a partition, in row order: row number, values, reasons."""
    rows = conn.execute(
        "SELECT row_number, CAST(row_data AS VARCHAR), CAST(reasons AS VARCHAR) FROM "
        "quarantine.rows "
        "WHERE table_name = ? AND partition_key = ? ORDER BY row_number"
        + (" LIMIT ?" if limit is not None else ""),
        [table, partition_key] + ([limit] if limit is not None else []),
    ).fetchall()
    return [
        {"row": int(n), "values": json.loads(data), "reasons": json.loads(reasons)}
        for n, data, reasons in rows
    ]

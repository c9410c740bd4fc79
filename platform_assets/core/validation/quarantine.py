"""Split a checked batch into validated rows and quarantined rows, atomically, per partition.

The invariant: for every partition, ``raw rows = validated rows + quarantined rows``.

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

import duckdb

from platform_assets.core.validation.batch import ROW_COLUMN, Batch
from platform_assets.core.validation.contract import LOGICAL_DUCKDB_TYPES, Contract
from platform_assets.core.validation.violations import Verdict
from platform_assets.core.warehouse import fetch_row, quote_ident



@dataclass(frozen=True)
class SplitResult:
    partition_key: str
    raw_rows: int
    validated_rows: int
    quarantined_rows: int


def validated_columns_sql(contract: Contract, partition_column: str) -> str:
    """The validated table's DDL: the contract's columns, typed, plus the partition column."""
    cols = [f"{quote_ident(c.name)} {c.physical_type or LOGICAL_DUCKDB_TYPES.get(c.logical_type or 'string', 'VARCHAR')}"
            for c in contract.columns]
    cols.append(f"{quote_ident(partition_column)} DATE NOT NULL")
    return ", ".join(cols)


def _reasons_sql(verdict: Verdict, batch_reasons: list[dict]) -> tuple[str, list[str]]:
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


def apply_verdict(conn: duckdb.DuckDBPyConnection, batch: Batch, contract: Contract, verdict: Verdict,
                  table: str, partition_column: str = "partition_date") -> SplitResult:
    """Write the partition's validated and quarantined rows for ``verdict``; one transaction."""
    if batch.partition_key is None:
        raise ValueError("apply_verdict needs a batch read from a partition (batch.partition_key)")
    key = batch.partition_key
    target = f"validated.{quote_ident(table)}"
    batch_reasons = [] if verdict.passes else [
        {"field": v.field, "rule": v.rule, "detail": v.detail, "batch": True} for v in verdict.errors
    ]
    reasons, flags = _reasons_sql(verdict, batch_reasons)
    flag_names = [f.rsplit(" AS ", 1)[1] for f in flags]
    any_flag = " OR ".join(flag_names) or "FALSE"
    keep = "FALSE" if not verdict.passes else f"NOT ({any_flag})"
    data_columns = list(batch.columns)
    flagged = f"__flagged_{batch.relation}"
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute("CREATE SCHEMA IF NOT EXISTS validated")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {target} ({validated_columns_sql(contract, partition_column)})")
        conn.execute(f"DELETE FROM {target} WHERE {quote_ident(partition_column)} = ?", [key])
        conn.execute("DELETE FROM quarantine.rows WHERE table_name = ? AND partition_key = ?", [table, key])
        select_flags = (", " + ", ".join(flags)) if flags else ""
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {flagged} AS SELECT *{select_flags} FROM {batch.relation}")
        if verdict.passes:
            casts = ", ".join(
                f"CAST({quote_ident(c.name)} AS {c.physical_type or LOGICAL_DUCKDB_TYPES.get(c.logical_type or 'string', 'VARCHAR')})"
                if c.name in batch.columns else "NULL"
                for c in contract.columns
            )
            conn.execute(f"INSERT INTO {target} SELECT {casts}, CAST(? AS DATE) FROM {flagged} WHERE {keep} "
                         f"ORDER BY {ROW_COLUMN}", [key])
        row_json = "to_json(struct_pack(" + ", ".join(f"{quote_ident(c)} := {quote_ident(c)}" for c in data_columns) + "))"
        conn.execute(
            f"INSERT INTO quarantine.rows (table_name, partition_key, row_number, row_data, reasons) "
            f"SELECT ?, ?, {ROW_COLUMN}, {row_json}, {reasons} FROM {flagged} WHERE NOT ({keep}) ORDER BY {ROW_COLUMN}",
            [table, key],
        )
        conn.execute(f"DROP TABLE {flagged}")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    (validated,) = fetch_row(conn, f"SELECT count(*) FROM {target} WHERE {quote_ident(partition_column)} = ?",
                                [key])
    (quarantined,) = fetch_row(conn, "SELECT count(*) FROM quarantine.rows WHERE table_name = ? AND partition_key = ?",
                                  [table, key])
    return SplitResult(key, batch.row_count, int(validated), int(quarantined))

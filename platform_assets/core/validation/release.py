"""Release held-back rows: re-check a day against the current contract and move the
quarantined rows that now pass into ``validated``.

The day is re-checked whole (the raw partition, as the blocking check read it), so rules
across rows still hold: a repeated key stays held back even though its first occurrence is
validated. Then:

- the day still fails the current contract: nothing moves (the reasons say why);
- it passes: each quarantined row that breaks no row-level rule of severity ``error`` moves
  to ``validated`` (typed as the contract says); the others stay, their reasons replaced by
  the current ones. Semantic drift compares with days accepted under the same major version
(see ``service.reference_profile``). The new verdict is recorded with the contract version that
decided it,
  the day's profile becomes an accepted reference, and the release is logged in
  ``platform.quarantine_releases``.

All of it in one transaction, so ``raw = validated + quarantined`` holds for the day before
and after; releasing again moves nothing more (idempotent). Rows already validated are
never moved back. Derived data (features) is not rebuilt here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from platform_assets.core.validation.batch import ROW_COLUMN, batch_from_partition, drop_batch
from platform_assets.core.validation.contract import Contract
from platform_assets.core.validation.engine import check_batch
from platform_assets.core.validation.quarantine import (
    reasons_sql,
    stored_type,
    validated_columns_sql,
    validation_lock,
)
from platform_assets.core.validation.service import (
    StaleVerdictError,
    record_verdict,
    reference_profile,
)
from platform_assets.core.warehouse import (
    fetch_one,
    fetch_row,
    quote_ident,
    replace_row,
    table_columns,
)

RELEASES_DDL = """
CREATE TABLE IF NOT EXISTS platform.quarantine_releases (
    table_name VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    contract_id VARCHAR NOT NULL,
    contract_version VARCHAR,
    released_rows BIGINT NOT NULL,
    still_held_rows BIGINT NOT NULL,
    row_numbers JSON NOT NULL,
    released_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


@dataclass
class ReleaseResult:
    """What a release did for one partition."""

    table: str
    partition_key: str
    contract: str  # "id version" of the contract the day was re-checked against
    held_before: int
    released: int = 0
    still_held: int = 0
    day_passes: bool = True
    failing_rules: list[dict[str, Any]] = field(default_factory=list)  # why the day still fails
    raw: int = 0
    validated: int = 0
    quarantined: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def release_partition(
    conn: duckdb.DuckDBPyConnection,
    contract: Contract,
    partition_key: str,
    table: str | None = None,
    partition_column: str = "partition_date",
) -> ReleaseResult:
    """Re-check a day's quarantined rows against ``contract`` and release those that pass.

    Raises:
        BatchError: the partition was never ingested.
        StaleVerdictError: the day was re-ingested after its check (the rows held back are
            from an earlier delivery): run its check first.
    """
    with validation_lock(conn, contract.table_name(table), partition_key):
        return _release_partition(
            conn,
            contract=contract,
            partition_key=partition_key,
            table=table,
            partition_column=partition_column,
        )


def _release_partition(
    conn: duckdb.DuckDBPyConnection,
    contract: Contract,
    partition_key: str,
    table: str | None = None,
    partition_column: str = "partition_date",
) -> ReleaseResult:
    table = contract.table_name(table)
    conn.execute(RELEASES_DDL)
    (held,) = fetch_one(
        conn,
        "SELECT count(*) FROM quarantine.rows WHERE table_name = ? AND partition_key = ?",
        [table, partition_key],
    )
    result = ReleaseResult(table, partition_key, f"{contract.id} {contract.version}", int(held))
    batch = batch_from_partition(conn, table, partition_key, partition_column=partition_column)
    try:
        # Stale even with nothing held: a day landed again has no current quarantine.
        _refuse_stale(conn, table, partition_key)
        if held:
            reference, label = reference_profile(conn, table, partition_key, contract.major_version)
            verdict = check_batch(conn, batch, contract, reference, label)
            if not verdict.passes:
                result.day_passes = False
                result.still_held = result.held_before
                result.failing_rules = [
                    {"field": v.field, "rule": v.rule, "detail": v.detail} for v in verdict.errors
                ]
            else:
                _move(
                    conn, batch, contract, verdict, table, partition_key, partition_column, result
                )
    finally:
        drop_batch(conn, batch)
    _count_after(conn, table, partition_key, partition_column, result)
    return result


def _refuse_stale(conn, table: str, partition_key: str) -> None:
    row = fetch_row(
        conn,
        "SELECT v.checked_at, m.loaded_at FROM platform.batch_verdicts v "
        "JOIN platform.batch_manifest m USING (table_name, partition_key) "
        "WHERE v.table_name = ? AND v.partition_key = ?",
        [table, partition_key],
    )
    if row is not None and row[1] > row[0]:
        raise StaleVerdictError(
            f"{table} partition {partition_key} was re-ingested at {row[1]} after its check at "
            f"{row[0]}: nothing it holds is a verdict on what is in raw now. Run its contract "
            f"check first (platform-assets checks run)."
        )


def _move(
    conn,
    batch,
    contract: Contract,
    verdict,
    table: str,
    key: str,
    partition_column: str,
    result: ReleaseResult,
) -> None:
    """One transaction: held rows that pass go to validated; the others get their current
    reasons."""
    reasons, flags = reasons_sql(verdict, [])
    names = [f.rsplit(" AS ", 1)[1] for f in flags]
    fails = " OR ".join(names) or "FALSE"
    flagged = f"__release_{batch.relation}"
    target = f"validated.{quote_ident(table)}"
    casts = ", ".join(
        f"CAST({quote_ident(c.name)} AS {stored_type(c)})" if c.name in batch.columns else "NULL"
        for c in contract.columns
    )
    conn.execute("BEGIN TRANSACTION")
    try:
        # Flags over the whole day first (a repeated key is a repeat of a row that may be
        # validated), then only the held rows.
        select_flags = (", " + ", ".join(flags)) if flags else ""
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE {flagged} AS SELECT * FROM ("
            f"SELECT *{select_flags} FROM {batch.relation}) WHERE {ROW_COLUMN} IN "
            f"(SELECT row_number FROM quarantine.rows WHERE table_name = ? AND partition_key = ?)",
            [table, key],
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {target} "
            f"({validated_columns_sql(contract, partition_column)})"
        )
        conn.execute(
            f"INSERT INTO {target} SELECT {casts}, CAST(? AS DATE) FROM {flagged} WHERE NOT "
            f"({fails}) ORDER BY {ROW_COLUMN}",
            [key],
        )
        released = [
            int(n)
            for (n,) in conn.execute(
                f"SELECT {ROW_COLUMN} FROM {flagged} WHERE NOT ({fails}) ORDER BY 1"
            ).fetchall()
        ]
        conn.execute(
            "DELETE FROM quarantine.rows WHERE table_name = ? AND partition_key = ? AND "
            f"row_number IN (SELECT {ROW_COLUMN} FROM {flagged} WHERE NOT ({fails}))",
            [table, key],
        )
        conn.execute(
            f"UPDATE quarantine.rows SET reasons = f.__reasons FROM "
            f"(SELECT {ROW_COLUMN}, {reasons} AS __reasons FROM {flagged} WHERE {fails}) f "
            f"WHERE table_name = ? AND partition_key = ? AND row_number = f.{ROW_COLUMN}",
            [table, key],
        )
        result.released, result.still_held = len(released), result.held_before - len(released)
        if released:
            conn.execute(
                "INSERT INTO platform.quarantine_releases (table_name, partition_key, "
                "contract_id, contract_version, released_rows, still_held_rows, row_numbers) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    table,
                    key,
                    contract.id,
                    contract.version,
                    result.released,
                    result.still_held,
                    json.dumps(released),
                ],
            )
            record_verdict(conn, table, key, contract, verdict)
            replace_row(
                conn,
                "platform.accepted_profiles",
                {"table_name": table, "partition_key": key},
                {"profile": json.dumps(verdict.profile.to_json())},
                now_columns=["accepted_at"],
            )
        conn.execute(f"DROP TABLE {flagged}")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def _count_after(conn, table: str, key: str, partition_column: str, result: ReleaseResult) -> None:
    def count(schema: str) -> int:
        if not table_columns(conn, schema, table):
            return 0
        return int(
            fetch_one(
                conn,
                f"SELECT count(*) FROM {schema}.{quote_ident(table)} "
                f"WHERE {quote_ident(partition_column)} = ?",
                [key],
            )[0]
        )

    result.raw, result.validated = count("raw"), count("validated")
    result.quarantined = int(
        fetch_one(
            conn,
            "SELECT count(*) FROM quarantine.rows WHERE table_name = ? AND partition_key = ?",
            [table, key],
        )[0]
    )


def releases(
    conn: duckdb.DuckDBPyConnection, table: str, partition_key: str | None = None
) -> list[dict[str, Any]]:
    """The releases recorded for a table (one partition's, or all), oldest first."""
    if not table_columns(conn, "platform", "quarantine_releases"):
        return []
    rows = conn.execute(
        "SELECT partition_key, contract_id, contract_version, released_rows, still_held_rows, "
        "CAST(released_at AS VARCHAR) FROM platform.quarantine_releases WHERE table_name = ? "
        "AND (? IS NULL OR partition_key = ?) ORDER BY released_at",
        [table, partition_key, partition_key],
    ).fetchall()
    return [
        {
            "partition": p,
            "contract": f"{cid} {version}",
            "released": int(n),
            "still_held": int(m),
            "released_at": at,
        }
        for p, cid, version, n, m, at in rows
    ]

"""Validate a partition of a raw table end to end: the check, the verdict record, the split.

Two steps, matching the two Dagster pieces that call them:

1. :func:`check_partition` (the blocking asset check): read the partition as delivered,
   find the reference (the last accepted batch *before* this partition, else the nearest
   after it, so backfills compare with their neighbours), run the engine and the optional
   reviewer (Claude), record the verdict. A failing batch is quarantined here, whole,
   because a blocking check stops everything downstream: nothing else would keep the
   invariant ``raw = validated + quarantined``.
2. :func:`accept_partition` (the ``validated`` asset, which only runs after a pass): split
   the batch into validated and quarantined rows and store its profile as the next
   reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from platform_assets.core.validation.batch import Batch, batch_from_partition, drop_batch
from platform_assets.core.validation.contract import Contract
from platform_assets.core.validation.engine import check_batch
from platform_assets.core.validation.profile import BatchProfile
from platform_assets.core.validation.quarantine import SplitResult, apply_verdict, validation_lock
from platform_assets.core.validation.violations import RowRule, Verdict, Violation
from platform_assets.core.warehouse import fetch_row, replace_row

# A reviewer sees the rules' verdict and may only add to it (see core.validation.semantic_llm).
Reviewer = Callable[[duckdb.DuckDBPyConnection, Batch, Contract, Verdict], Verdict]


class StaleVerdictError(RuntimeError):
    """The partition changed after its check ran: the check must run again."""


@dataclass(frozen=True)
class PartitionCheck:
    verdict: Verdict
    split: SplitResult | None  # set when the batch failed and was quarantined whole


def reference_profile(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    partition_key: str,
    major_version: int | None = None,
) -> tuple[BatchProfile | None, str | None]:
    """The last accepted profile before ``partition_key``, else the nearest one after it.

    With ``major_version``, only profiles accepted under that major version of the contract
    count: a new major version says the data may change form on purpose (a unit, a code
    standard), so batches accepted under the old one are no baseline for semantic drift.
    """
    row = fetch_row(
        conn,
        "SELECT a.partition_key, a.profile FROM platform.accepted_profiles a LEFT JOIN "
        "platform.batch_verdicts v USING (table_name, partition_key) WHERE a.table_name = ? AND "
        "a.partition_key <> ? AND (CAST(? AS INTEGER) IS NULL OR "
        "TRY_CAST(regexp_extract(v.contract_version, '^\\s*v?(\\d+)', 1) AS INTEGER) = ?) ORDER "
        "BY (a.partition_key > ?), CASE WHEN a.partition_key < ? THEN a.partition_key END DESC, "
        "a.partition_key LIMIT 1",
        [table, partition_key, major_version, major_version, partition_key, partition_key],
    )
    if row is None:
        return None, None
    return BatchProfile.from_json(json.loads(row[1])), f"accepted partition {row[0]}"


def check_partition(
    conn: duckdb.DuckDBPyConnection,
    contract: Contract,
    partition_key: str,
    reviewer: Reviewer | None = None,
    table: str | None = None,
) -> PartitionCheck:
    with validation_lock(conn, contract.table_name(table), partition_key):
        return _check_partition(
            conn, contract=contract, partition_key=partition_key, reviewer=reviewer, table=table
        )


def _check_partition(
    conn: duckdb.DuckDBPyConnection,
    contract: Contract,
    partition_key: str,
    reviewer: Reviewer | None = None,
    table: str | None = None,
) -> PartitionCheck:
    table = contract.table_name(table)
    batch = batch_from_partition(conn, table, partition_key)
    try:
        reference, label = reference_profile(conn, table, partition_key, contract.major_version)
        verdict = check_batch(conn, batch, contract, reference, label)
        if reviewer is not None:
            verdict = reviewer(conn, batch, contract, verdict)
        record_verdict(conn, table, partition_key, contract, verdict)
        split = None if verdict.passes else apply_verdict(conn, batch, contract, verdict, table)
        return PartitionCheck(verdict, split)
    finally:
        drop_batch(conn, batch)


def accept_partition(
    conn: duckdb.DuckDBPyConnection,
    contract: Contract,
    partition_key: str,
    table: str | None = None,
) -> SplitResult:
    """Split a partition whose recorded verdict passed; store its profile as the next reference."""
    with validation_lock(conn, contract.table_name(table), partition_key):
        return _accept_partition(conn, contract=contract, partition_key=partition_key, table=table)


def _accept_partition(
    conn: duckdb.DuckDBPyConnection,
    contract: Contract,
    partition_key: str,
    table: str | None = None,
) -> SplitResult:
    table = contract.table_name(table)
    row = fetch_row(
        conn,
        "SELECT v.passes, v.violations, v.profile, v.checked_at, m.loaded_at, v.row_rules FROM "
        "platform.batch_verdicts v JOIN platform.batch_manifest m USING (table_name, "
        "partition_key) WHERE v.table_name = ? AND v.partition_key = ?",
        [table, partition_key],
    )
    if row is None:
        raise StaleVerdictError(
            f"{table} partition {partition_key} has no contract verdict: run its check first."
        )
    passes, violations, profile, checked_at, loaded_at, row_rules = row
    if loaded_at > checked_at:
        raise StaleVerdictError(
            f"{table} partition {partition_key} was re-ingested at {loaded_at} after its check at "
            f"{checked_at}: run the contract check again before validating."
        )
    if not passes:
        raise StaleVerdictError(
            f"{table} partition {partition_key} failed its contract; its rows are in quarantine."
        )
    verdict = Verdict(
        passes=True,
        violations=[Violation(**v) for v in json.loads(violations)],
        profile=BatchProfile.from_json(json.loads(profile)),
        row_count=0,
        row_rules=[RowRule(**r) for r in json.loads(row_rules)],
    )
    batch = batch_from_partition(conn, table, partition_key)
    try:
        split = apply_verdict(conn, batch, contract, verdict, table)
    finally:
        drop_batch(conn, batch)
    replace_row(
        conn,
        "platform.accepted_profiles",
        {"table_name": table, "partition_key": partition_key},
        {"profile": json.dumps(verdict.profile.to_json())},
        now_columns=["accepted_at"],
    )
    return split


def record_verdict(
    conn, table: str, partition_key: str, contract: Contract, verdict: Verdict
) -> None:
    """Store the verdict that decided a partition, with the contract id and version that decided
    it."""
    replace_row(
        conn,
        "platform.batch_verdicts",
        {"table_name": table, "partition_key": partition_key},
        {
            "contract_id": contract.id,
            "contract_version": contract.version,
            "passes": verdict.passes,
            "row_count": verdict.row_count,
            "violations": json.dumps([v.to_dict() for v in verdict.violations]),
            "profile": json.dumps(verdict.profile.to_json()),
            "reference_partition": verdict.reference,
            "decided_by": verdict.decided_by,
            "row_rules": json.dumps([r.__dict__ for r in verdict.row_rules]),
        },
        now_columns=["checked_at"],
    )
    if not verdict.passes:
        # A rejected batch must not stay the reference for later batches.
        conn.execute(
            "DELETE FROM platform.accepted_profiles WHERE table_name = ? AND partition_key = ?",
            [table, partition_key],
        )

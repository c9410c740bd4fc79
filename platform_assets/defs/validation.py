"""Validation: the contract's blocking check on each raw partition, and the validated table.

- ``contract_fct_transactions`` (blocking, ERROR severity) checks a raw partition against
  ``contracts/fct_transactions.odcs.yaml``. A failing batch is quarantined whole and
  nothing downstream runs.
- ``validated/transactions`` runs only after a pass: the batch's rows, typed per contract,
  minus rows failing a tolerated row-level rule, which go to ``quarantine.rows``.

Both say which contract version decided each partition (``platform.batch_verdicts`` records
it too; ``platform-assets quarantine list`` prints it).
"""

import dagster as dg

from platform_assets.core.features import withdraw_feature_partitions
from platform_assets.core.operations.alerts import Alert
from platform_assets.core.validation.service import (
    PartitionCheck,
    accept_partition,
    check_partition,
)
from platform_assets.core.validation.violations import Verdict
from platform_assets.defs.automation import after_upstream
from platform_assets.defs.keys import (
    CONTRACT_CHECK,
    INGEST_AND_VALIDATE_JOB,
    RAW_TRANSACTIONS,
    VALIDATED_TRANSACTIONS,
    VALIDATION,
    owner_metadata,
    owners,
)
from platform_assets.defs.partitions import daily_partitions
from platform_assets.defs.resources import (
    WAREHOUSE_POOL,
    ClaudeResource,
    NotifierResource,
    PlatformSettings,
    WarehouseResource,
)

TABLE = "transactions"


def violations_markdown(verdict: Verdict, limit: int = 50) -> str:
    """The violations as a Markdown table for the UI."""
    if not verdict.violations:
        return "No violations."
    lines = ["| severity | field | rule | source | detail |", "| --- | --- | --- | --- | --- |"]
    for v in verdict.violations[:limit]:
        detail = v.detail.replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {v.severity} | {v.field or '(table)'} | {v.rule} | {v.source} | {detail} |"
        )
    if len(verdict.violations) > limit:
        lines.append(f"| … | | | | {len(verdict.violations) - limit} more |")
    return "\n".join(lines)


def failed_rules(checks: dict[str, PartitionCheck]) -> list[dict]:
    """The errors that failed each partition, as plain values (for summaries and CI)."""
    return [
        {
            "partition": key,
            "field": v.field,
            "rule": v.rule,
            "failing_rows": v.failing_rows,
            "detail": v.detail,
        }
        for key, check in checks.items()
        for v in check.verdict.errors
    ]


@dg.asset_check(
    asset=RAW_TRANSACTIONS,
    name=CONTRACT_CHECK,
    blocking=True,
    partitions_def=daily_partitions,
    pool=WAREHOUSE_POOL,
    metadata=owner_metadata(VALIDATION),
    description="The batch honours contracts/fct_transactions.odcs.yaml: structure, quality "
    "metrics, and no semantic drift against the last accepted batch. A failing batch is "
    "quarantined whole.",
)
def contract_fct_transactions(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    platform: PlatformSettings,
    claude: ClaudeResource,
    notifier: NotifierResource,
) -> dg.AssetCheckResult:
    contract = platform.load_contract(TABLE)
    # Claude reviews after the rules and can only add violations; disabled without a key.
    reviewer = claude.contract_reviewer(run_id=context.run.run_id, asset=CONTRACT_CHECK)
    checks: dict[str, PartitionCheck] = {}
    with warehouse.get_connection() as conn:
        for key in context.partition_keys:
            checks[key] = check_partition(conn, contract, key, reviewer=reviewer)
        failed = [k for k, c in checks.items() if not c.verdict.passes]
        # A failed day's earlier validated rows are gone (quarantined); so must be what was derived
        # from them.
        withdrawn = withdraw_feature_partitions(conn, failed)
        if failed:
            rules = failed_rules({k: checks[k] for k in failed})
            notifier.notify(
                Alert(
                    kind="blocking_check_failed",
                    severity="error",
                    owner=owners(VALIDATION)[0],
                    title=f"{CONTRACT_CHECK} blocked {', '.join(failed)}: the batch broke "
                    f"{contract.id} {contract.version}",
                    summary="; ".join(f"{r['field'] or '(table)'} · {r['rule']}" for r in rules[:5])
                    + " — the batch is in quarantine.rows; nothing downstream was built from it",
                    runbook="inspect_quarantine",
                    run_id=context.run.run_id,
                    asset=RAW_TRANSACTIONS.to_user_string(),
                    details={
                        "check": CONTRACT_CHECK,
                        "partitions": failed,
                        "failed_rules": rules[:20],
                    },
                ),
                log=context.log,
                conn=conn,
            )
    sections = []
    for key, check in checks.items():
        verdict = check.verdict
        state = "passes" if verdict.passes else "FAILS"
        header = (
            f"### {key}: {state} ({verdict.row_count} rows, decided by {verdict.decided_by} under "
            f"contract {contract.id} {contract.version})"
        )
        quarantined = (
            f"\n\n{check.split.quarantined_rows} rows quarantined in quarantine.rows."
            if check.split
            else ""
        )
        notes = "".join(f"\n\n_{n}_" for n in verdict.notes)
        sections.append(f"{header}\n\n{violations_markdown(verdict)}{quarantined}{notes}")
    verdicts = [c.verdict for c in checks.values()]
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(failed)} of {len(checks)} partition(s) violate {contract.id} "
            f"{contract.version}: {', '.join(failed)}"
            if failed
            else f"{len(checks)} partition(s) honour {contract.id}"
        ),
        metadata={
            "violations": dg.MetadataValue.md("\n\n".join(sections)),
            "error_count": sum(len(v.errors) for v in verdicts),
            "warning_count": sum(len(v.violations) - len(v.errors) for v in verdicts),
            "rows_checked": sum(v.row_count for v in verdicts),
            "rows_quarantined": sum(c.split.quarantined_rows for c in checks.values() if c.split),
            "decided_by": ", ".join(sorted({v.decided_by for v in verdicts})),
            "reference": ", ".join(sorted({v.reference or "none" for v in verdicts})),
            "contract": f"{contract.id} {contract.version} ({contract.path.name})",
            "contract_version": contract.version,
            "decided_partitions": dg.MetadataValue.json(
                {
                    key: {
                        "passes": c.verdict.passes,
                        "contract": contract.id,
                        "contract_version": contract.version,
                    }
                    for key, c in checks.items()
                }
            ),
            "not_run_by_platform": dg.MetadataValue.json(list(contract.not_run)),
            "feature_rows_withdrawn": withdrawn["removed_rows"],
            "stale_feature_days": ", ".join(withdrawn["stale_days"]) or "none",
            "failed_rules": dg.MetadataValue.json(failed_rules(checks)),
        },
    )


@dg.asset(
    key=VALIDATED_TRANSACTIONS,
    deps=[RAW_TRANSACTIONS],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=VALIDATION,
    owners=owners(VALIDATION),
    automation_condition=after_upstream(),
    kinds={"duckdb"},
    pool=WAREHOUSE_POOL,
)
def validated_transactions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, platform: PlatformSettings
) -> dg.MaterializeResult:
    """Transactions that passed the contract, one row per transaction, typed as the contract says.

    Rows failing a tolerated row-level rule are in ``quarantine.rows`` with their reasons;
    per partition, raw rows = validated rows + quarantined rows.
    """
    contract = platform.load_contract(TABLE)
    splits = []
    with warehouse.get_connection() as conn:
        for key in context.partition_keys:
            splits.append(accept_partition(conn, contract, key))
    table = [
        "| partition | raw | validated | quarantined | contract |",
        "| --- | --- | --- | --- | --- |",
    ]
    table += [
        f"| {s.partition_key} | {s.raw_rows} | {s.validated_rows} | {s.quarantined_rows} | "
        f"{contract.id} {contract.version} |"
        for s in splits
    ]
    return dg.MaterializeResult(
        metadata={
            "contract": f"{contract.id} {contract.version}",
            "dagster/row_count": sum(s.validated_rows for s in splits),
            "rows_quarantined": sum(s.quarantined_rows for s in splits),
            "split": dg.MetadataValue.md("\n".join(table)),
            "table": "validated.transactions",
        }
    )


ingest_and_validate_job = dg.define_asset_job(
    INGEST_AND_VALIDATE_JOB,
    selection=dg.AssetSelection.assets(RAW_TRANSACTIONS, VALIDATED_TRANSACTIONS),
    partitions_def=daily_partitions,
    owners=owners(VALIDATION),
    description="Land a day of transactions, check it against its contract, validate or "
    "quarantine it.",
)

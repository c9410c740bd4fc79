"""Late labels: ``labels/chargebacks``, the chargebacks card networks report days or weeks
after a transaction, landed with dlt in ``labels.chargebacks`` (one daily partition per
report day), and checked against ``contracts/chargebacks.odcs.yaml`` by the blocking
``contract_chargebacks`` check. The bundled source is ``core/ingestion/chargebacks.py``.
"""

from pathlib import Path

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from pydantic import Field

from platform_assets.core.ingestion.chargebacks import (
    CHARGEBACKS_TABLE,
    LABELS_PIPELINE,
    LABELS_SCHEMA,
    chargebacks_source,
)
from platform_assets.core.ingestion.load import build_pipeline
from platform_assets.defs.automation import daily_ingestion
from platform_assets.defs.keys import (
    CHARGEBACKS_CONTRACT_CHECK,
    INGESTION,
    LABELS_CHARGEBACKS,
    LABELS_CHARGEBACKS_OP,
    owner_metadata,
    owners,
)
from platform_assets.defs.partitions import daily_partitions
from platform_assets.defs.resources import WAREHOUSE_POOL, PlatformSettings, WarehouseResource


class ChargebacksConfig(dg.Config):
    """Run config for ``labels/chargebacks`` (the bundled card network)."""

    rows_per_partition: int | None = Field(
        None, description="transactions a day the chargebacks are drawn from (default: settings)"
    )


class LabelsTranslator(DagsterDltTranslator):
    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=LABELS_CHARGEBACKS,
                deps=[],
                group_name=INGESTION,
                owners=owners(INGESTION),
                automation_condition=daily_ingestion(),
                kinds={"dlt", "duckdb"},
                description=(
                    "Chargebacks as the card networks report them: a confirmed fraud label "
                    "1-45 days after the transaction, a few reversed later; one partition per "
                    "report day."
                ),
            )
        )


def _describe_pipeline():
    import tempfile

    scratch = Path(tempfile.gettempdir()) / "platform_assets_dlt_spec"
    return build_pipeline(
        scratch / "describe_labels.duckdb", scratch, LABELS_SCHEMA, LABELS_PIPELINE
    )


@dlt_assets(
    dlt_source=chargebacks_source(),
    dlt_pipeline=_describe_pipeline(),
    name=LABELS_CHARGEBACKS_OP,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dlt_translator=LabelsTranslator(),
    pool=WAREHOUSE_POOL,
)
def labels_chargebacks(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    warehouse: WarehouseResource,
    platform: PlatformSettings,
    config: ChargebacksConfig,
):
    keys = list(context.partition_keys)
    rows = config.rows_per_partition or platform.rows_per_partition
    source = chargebacks_source(rows, keys)
    pipeline = build_pipeline(
        warehouse.database, Path(platform.home) / "dlt", LABELS_SCHEMA, LABELS_PIPELINE
    )
    for result in dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline):
        yield result._replace(metadata={**(result.metadata or {}), "report_days": ", ".join(keys)})


@dg.asset_check(
    asset=LABELS_CHARGEBACKS,
    name=CHARGEBACKS_CONTRACT_CHECK,
    blocking=True,
    partitions_def=daily_partitions,
    pool=WAREHOUSE_POOL,
    metadata=owner_metadata(INGESTION),
    description="Each report day honours contracts/chargebacks.odcs.yaml.",
)
def contract_chargebacks(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    platform: PlatformSettings,
) -> dg.AssetCheckResult:
    from platform_assets.core.validation.batch import batch_from_sql, drop_batch
    from platform_assets.core.validation.engine import check_batch

    try:
        contract = platform.load_contract(CHARGEBACKS_TABLE)
    except FileNotFoundError as exc:
        # A deployment whose contracts folder predates the late labels: say so, block nothing.
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"not checked: {exc}",
        )
    keys = list(context.partition_keys)
    failures: list[str] = []
    rows = 0
    with warehouse.get_connection() as conn:
        for key in keys:
            batch = batch_from_sql(
                conn,
                "SELECT chargeback_id, transaction_id, transaction_date, status, delay_days "
                f"FROM {LABELS_SCHEMA}.{CHARGEBACKS_TABLE} WHERE partition_date = ?",
                f"{LABELS_SCHEMA}.{CHARGEBACKS_TABLE} partition {key}",
                [key],
            )
            try:
                verdict = check_batch(conn, batch, contract)
            finally:
                drop_batch(conn, batch)
            rows += verdict.row_count
            failures += [
                f"{key} {v.field or '(table)'} · {v.rule}: {v.detail}"
                for v in verdict.violations
                if v.severity == "error"
            ]
    return dg.AssetCheckResult(
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{rows} chargebacks on {len(keys)} report day(s) honour the contract"
            if not failures
            else f"{len(failures)} contract violation(s): " + "; ".join(failures[:5])
        ),
        metadata={"rows": rows, "violations": dg.MetadataValue.json(failures[:50])},
    )

"""Features: ``features/transactions``, point-in-time correct features per daily partition.

Each partition reads validated days ``D - 7 .. D`` (the longest window) and the labels of
the 28 prior days, so the lineage maps a partition to that window of ``validated/transactions``.
Re-running a partition replaces it (delete, then insert).
"""

import dagster as dg

from platform_assets.core.features import build_feature_partitions
from platform_assets.core.features.transactions import FEATURE_TABLE, HISTORY_DAYS
from platform_assets.defs.automation import after_upstream
from platform_assets.defs.keys import (
    FEATURES,
    FEATURES_TRANSACTIONS,
    VALIDATED_TRANSACTIONS,
    owners,
)
from platform_assets.defs.partitions import daily_partitions
from platform_assets.defs.resources import WAREHOUSE_POOL, WarehouseResource


@dg.asset(
    key=FEATURES_TRANSACTIONS,
    deps=[
        dg.AssetDep(
            VALIDATED_TRANSACTIONS,
            partition_mapping=dg.TimeWindowPartitionMapping(
                start_offset=-HISTORY_DAYS, end_offset=0
            ),
        )
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name=FEATURES,
    owners=owners(FEATURES),
    automation_condition=after_upstream(),
    kinds={"duckdb", "sql"},
    pool=WAREHOUSE_POOL,
)
def features_transactions(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Model features of each validated transaction, one row per transaction, computed only from
    events strictly before it (trailing per-user windows, prior-day category fraud rates)."""
    keys = sorted(context.partition_keys)  # a single-run backfill is one contiguous range
    with warehouse.get_connection() as conn:
        counts = build_feature_partitions(conn, keys[0], keys[-1])
    context.log.info(f"features for {keys[0]}..{keys[-1]}: {sum(counts.values())} rows")
    table = ["| partition | rows |", "| --- | --- |"] + [
        f"| {k} | {v} |" for k, v in counts.items()
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "partitions": dg.MetadataValue.md("\n".join(table)),
            "table": FEATURE_TABLE,
        }
    )

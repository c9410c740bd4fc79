"""Features: ``features/transactions``, point-in-time correct features per daily partition.

Each partition reads validated days ``D - 7 .. D`` (the longest window) and the labels of
the 28 prior days, so the lineage maps a partition to that window of ``validated/transactions``.
Re-running a partition replaces it (delete, then insert).
"""

import dagster as dg

from platform_assets.core.features import build_feature_partitions
from platform_assets.core.features.transactions import FEATURE_TABLE, HISTORY_DAYS
from platform_assets.defs.automation import after_upstream, after_upstream_finished
from platform_assets.defs.keys import (
    FEATURES,
    FEATURES_ONLINE_STATE,
    FEATURES_TRANSACTIONS,
    VALIDATED_TRANSACTIONS,
    owners,
)
from platform_assets.defs.partitions import daily_partitions
from platform_assets.defs.resources import (
    WAREHOUSE_POOL,
    ModelRegistryResource,
    WarehouseResource,
)


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


@dg.asset(
    key=FEATURES_ONLINE_STATE,
    deps=[FEATURES_TRANSACTIONS],
    group_name=FEATURES,
    owners=owners(FEATURES),
    automation_condition=after_upstream_finished(FEATURES_TRANSACTIONS),
    kinds={"duckdb", "parquet"},
    pool=WAREHOUSE_POOL,
)
def features_online_state(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, registry: ModelRegistryResource
) -> dg.MaterializeResult:
    """The per-user windows and per-day category labels the scoring service computes online
    features from: the newest validated days (events with their times, so features are as of
    each transaction), published as Parquet to ``serving/online_state/`` in the artifacts store,
    which a running service reloads within seconds."""
    from platform_assets.core.features.online import online_state_tables
    from platform_assets.core.registry.store import store_from_url
    from platform_assets.core.serving.state import write_state

    with warehouse.get_connection() as conn:
        events, labels, as_of = online_state_tables(conn)
    if as_of is None:
        raise dg.Failure(
            description="validated.transactions is empty: validate a day before building the "
            "online state"
        )
    store = store_from_url(registry.artifacts_url or registry.artifacts_dir)
    pointer = write_state(store, events, labels, as_of)
    context.log.info(f"online state as of {as_of}: {events.num_rows} events")
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "events": events.num_rows,
            "users": len(set(events.column("user_id").to_pylist())),
            "label_rows": labels.num_rows,
            "stamp": pointer["stamp"],
            "location": store.uri("serving/online_state/CURRENT.json"),
        }
    )

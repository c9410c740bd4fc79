"""Nightly warehouse housekeeping: the ``warehouse_maintenance`` job and its schedule.

On the production DuckLake it merges small Parquet files, expires snapshots older than
``retention_days`` (time travel reaches that far back) and deletes the files no snapshot
reads any more (:mod:`platform_assets.core.maintenance`); on a local DuckDB file it
checkpoints. An op job, not an asset: it makes no artifact. Its step runs in the
warehouse pool like every writer; a commit that conflicts with a concurrent writer's is
retried by the warehouse.
"""

import dagster as dg

from platform_assets.core.maintenance import DEFAULT_RETENTION_DAYS, maintain
from platform_assets.core.warehouse import resolve_lake
from platform_assets.defs.keys import MAINTENANCE_JOB, MAINTENANCE_SCHEDULE, OPERATIONS, owners
from platform_assets.defs.resources import WAREHOUSE_POOL, WarehouseResource

# 03:00 UTC: after the day's ingestion (00:30) and the weekly retrain, before the working day.
MAINTENANCE_CRON = "0 3 * * *"


class MaintenanceConfig(dg.Config):
    retention_days: float = DEFAULT_RETENTION_DAYS


@dg.op(
    pool=WAREHOUSE_POOL,
    description="Merge small files, expire old snapshots, delete unreferenced files "
    "(DuckLake); CHECKPOINT (a DuckDB file).",
)
def maintain_warehouse(
    context: dg.OpExecutionContext, config: MaintenanceConfig, warehouse: WarehouseResource
) -> dg.Output[dict]:
    database = warehouse.database
    lake = resolve_lake(database) is not None
    with warehouse.get_connection() as conn:
        report = maintain(
            conn,
            lake=lake,
            name=str(database),
            retention_days=config.retention_days,
            file_path=None if lake else str(database),
        )
    context.log.info(report.summary())
    return dg.Output(
        report.as_dict(),
        metadata={k: v for k, v in report.as_dict().items() if isinstance(v, (int, float, str))},
    )


@dg.job(
    name=MAINTENANCE_JOB,
    owners=owners(OPERATIONS),
    description="Warehouse housekeeping: on the DuckLake, file merges, snapshot expiry and file "
    "cleanup.",
)
def warehouse_maintenance():
    maintain_warehouse()


nightly_warehouse_maintenance = dg.ScheduleDefinition(
    name=MAINTENANCE_SCHEDULE,
    job=warehouse_maintenance,
    cron_schedule=MAINTENANCE_CRON,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    owners=owners(OPERATIONS),
    description="Every night at 03:00 UTC, the warehouse's housekeeping (warehouse_maintenance).",
)

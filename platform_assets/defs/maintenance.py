"""Nightly warehouse housekeeping: the ``warehouse_maintenance`` job and its schedule.

On the production DuckLake it merges small Parquet files, expires snapshots older than
``retention_days`` (time travel reaches that far back) and deletes the files no snapshot
reads any more (:mod:`platform_assets.core.maintenance`); on a local DuckDB file it
checkpoints. Before that, on the DuckLake, it verifies that every file the catalog reads is
in the object store; missing files raise a ``warehouse_files_missing`` alert (the days they
hold, the runbook) and fail the job, after the snapshot expiry (the merges are skipped).
An op job, not an asset: it makes no artifact. Its step runs in the warehouse pool like
every writer; a commit that conflicts with a concurrent writer's is retried by the
warehouse.
"""

import dagster as dg

from platform_assets.core.maintenance import DEFAULT_RETENTION_DAYS, maintain, verify_files
from platform_assets.core.operations.alerts import Alert
from platform_assets.core.warehouse import resolve_lake
from platform_assets.defs.keys import MAINTENANCE_JOB, MAINTENANCE_SCHEDULE, OPERATIONS, owners
from platform_assets.defs.resources import WAREHOUSE_POOL, NotifierResource, WarehouseResource

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
    context: dg.OpExecutionContext,
    config: MaintenanceConfig,
    warehouse: WarehouseResource,
    notifier: NotifierResource,
) -> dg.Output[dict]:
    database = warehouse.database
    lake = resolve_lake(database)
    # First: are the catalog's files all there? A lost file fails every read of its days,
    # and the file merges below would fail on it too.
    verified = verify_files(lake) if lake is not None else None
    if verified is not None and not verified.whole:
        for line in verified.lines():
            context.log.error(line)
        notifier.notify(
            Alert(
                kind="warehouse_files_missing",
                severity="error",
                owner=owners(OPERATIONS)[0],
                title=f"{len(verified.missing)} warehouse files are missing from the object store",
                summary="; ".join(
                    f"{table}: {', '.join(days)}" for table, days in verified.missing_days().items()
                ),
                runbook="warehouse_files_missing",
                run_id=context.run.run_id,
                details=verified.as_dict(),
            ),
            log=context.log,
        )
    with warehouse.get_connection() as conn:
        report = maintain(
            conn,
            lake=lake is not None,
            name=str(database),
            retention_days=config.retention_days,
            file_path=None if lake else str(database),
            merge=verified is None or verified.whole,
        )
    context.log.info(report.summary())
    if verified is not None and not verified.whole:
        raise dg.Failure(
            description=f"{len(verified.missing)} of {verified.files_checked} warehouse files are "
            f"missing (alert raised, runbook warehouse_files_missing): "
            + "; ".join(verified.lines()[:-1])[:2000],
            metadata={"missing_days": dg.MetadataValue.json(verified.missing_days())},
        )
    return dg.Output(
        report.as_dict(),
        metadata={
            **{k: v for k, v in report.as_dict().items() if isinstance(v, (int, float, str))},
            **({"files_verified": verified.files_checked} if verified else {}),
        },
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

"""Ingestion: daily batches landed in ``raw.transactions`` with dlt.

One asset, ``raw/transactions``, daily partitions, single-run backfills: a range of days
is landed by one dlt run (dlt replaces each day through ``merge_key``). The source is the
bundled card-transaction generator unless run config says ``source: landing``.
"""

import tempfile
from pathlib import Path
from typing import Literal

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData
from pydantic import Field

from platform_assets.core.ingestion.bundled import FaultInjection
from platform_assets.core.ingestion.load import (
    TRANSACTIONS_TABLE,
    BatchReader,
    BundledReader,
    LandingFolderReader,
    build_pipeline,
    check_rows_per_partition,
    landing_lock,
    record_manifests,
    refuse_other_source,
    stored_column_types,
    surface_ingestion_errors,
    transactions_source,
)
from platform_assets.defs.automation import daily_ingestion
from platform_assets.defs.keys import INGESTION, RAW_TRANSACTIONS_OP, owners, raw_key
from platform_assets.defs.partitions import daily_partitions
from platform_assets.defs.resources import WAREHOUSE_POOL, PlatformSettings, WarehouseResource


class IngestionConfig(dg.Config):
    """Run config for ``raw/transactions``. The fields after ``rows_per_partition`` inject
    faults into the bundled source, to rehearse what the contract checks catch."""

    source: Literal["bundled", "landing"] = Field(
        "bundled", description="bundled generator or landing folder"
    )
    rows_per_partition: int | None = Field(
        None, description="bundled source: rows a day (default from settings)"
    )
    amount_unit: Literal["cents", "dollars"] = "cents"
    country_codes: Literal["alpha2", "alpha3"] = "alpha2"
    category_count: int = Field(12, description="merchant categories, 12 (healthy) to 47")
    rename: dict[str, str] = Field(default_factory=dict, description="column renames {old: new}")
    null_rates: dict[str, float] = Field(
        default_factory=dict, description="share of nulls per column"
    )
    duplicate_share: float = 0.0
    amount_scale: float = Field(
        1.0, description="every amount multiplied by this factor (prices moved)"
    )
    replace_other_source: bool = Field(
        False,
        description="replace days that landed from another source (by "
        "default such a load fails and nothing is replaced)",
    )

    def reader(self, platform: PlatformSettings) -> BatchReader:
        if self.source == "landing":
            # Files are read with the contract's types, as `contracts check` reads them.
            return LandingFolderReader(
                platform.landing_url,
                table=TRANSACTIONS_TABLE,
                parsed_types=platform.load_contract(TRANSACTIONS_TABLE).parsed_types(),
            )
        faults = FaultInjection(
            amount_unit=self.amount_unit,
            country_codes=self.country_codes,
            category_count=self.category_count,
            rename=dict(self.rename),
            null_rates=dict(self.null_rates),
            duplicate_share=self.duplicate_share,
            amount_scale=self.amount_scale,
        )
        if self.rows_per_partition is None:
            return BundledReader(platform.rows_per_partition, faults)
        rows = check_rows_per_partition(
            self.rows_per_partition, f"ops:{RAW_TRANSACTIONS_OP}:config:rows_per_partition"
        )
        return BundledReader(rows, faults)


class RawTranslator(DagsterDltTranslator):
    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        default = super().get_asset_spec(data)
        return default.replace_attributes(
            key=raw_key(data.resource.name),
            deps=[],
            group_name=INGESTION,
            owners=owners(INGESTION),
            automation_condition=daily_ingestion(),
            kinds={"dlt", "duckdb"},
            description=(
                f"Raw {data.resource.name} as delivered, one daily partition per load. Columns "
                "whose type changed land as dlt variants (`<column>__v_<type>`); "
                "`platform.batch_manifest` says what arrived."
            ),
        )


def _describe_pipeline():
    """A pipeline used only to describe the asset at load time; runs build their own."""
    scratch = Path(tempfile.gettempdir()) / "platform_assets_dlt_spec"
    return build_pipeline(scratch / "describe.duckdb", scratch)


@dlt_assets(
    dlt_source=transactions_source(),
    dlt_pipeline=_describe_pipeline(),
    name=RAW_TRANSACTIONS_OP,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    dagster_dlt_translator=RawTranslator(),
    pool=WAREHOUSE_POOL,
)
def raw_transactions(
    context: dg.AssetExecutionContext,
    dlt: DagsterDltResource,
    warehouse: WarehouseResource,
    platform: PlatformSettings,
    config: IngestionConfig,
):
    partition_keys = list(context.partition_keys)
    reader = config.reader(platform)
    # The one writer of these days from the source check to the manifest: a second run
    # landing one of them waits here instead of storing it a second time.
    with landing_lock(warehouse.database, TRANSACTIONS_TABLE, partition_keys, context.log.info):
        with warehouse.get_connection() as conn:
            if not config.replace_other_source:
                refuse_other_source(conn, TRANSACTIONS_TABLE, partition_keys, reader.name)
            stored = stored_column_types(conn)
        manifests = []
        source = transactions_source(reader, partition_keys, stored, manifests)
        pipeline = build_pipeline(warehouse.database, Path(platform.home) / "dlt")
        with surface_ingestion_errors():
            results = list(dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline))
        with warehouse.get_connection() as conn:
            record_manifests(conn, TRANSACTIONS_TABLE, manifests)
    rows = {m.partition_key: m.row_count for m in manifests}
    variants = sorted({c.stored_as for m in manifests for c in m.columns if c.stored_as != c.name})
    for result in results:
        yield result._replace(
            metadata={
                **(result.metadata or {}),
                "source": config.source,
                "rows_by_partition": dg.MetadataValue.json(rows),
                "dagster/row_count": sum(rows.values()),
                "variant_columns": dg.MetadataValue.text(", ".join(variants) or "none"),
            }
        )

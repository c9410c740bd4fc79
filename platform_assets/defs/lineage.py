"""What the Dagster instance remembers of earlier materializations, read as plain values."""

from typing import cast

import dagster as dg


def latest_metadata(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict:
    """The metadata of an asset's latest materialization, as plain values ({} when none)."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def run_metadata(instance: dg.DagsterInstance, run_id: str, key: dg.AssetKey) -> dict:
    """The metadata of ``key``'s materialization *in the run* ``run_id`` when that run
    materialized it, else of its latest materialization anywhere (``{}`` when none).

    This is how a step finds what an earlier step of its own run made: two runs at once
    (two retrains) each read their own, never the other's newer one. A run that did not
    make ``key`` (an evaluation re-run alone) reads the newest.
    """
    records = instance.fetch_materializations(key, limit=_OWN_RUN_LOOKBACK).records
    own = next((r for r in records if r.run_id == run_id), None)
    if own is None:
        return latest_metadata(instance, key)
    materialization = own.asset_materialization
    if materialization is None:
        return {}
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


#: How many of an asset's newest materializations are searched for the run's own.
_OWN_RUN_LOOKBACK = 200


def op_configs_by_partition(
    instance: dg.DagsterInstance, key: dg.AssetKey, op_name: str, partitions: list[str]
) -> dict[str, dict]:
    """``{partition: the op's run config}`` of the newest materialization of each partition of
    ``key`` (``{}`` for a run without config for that op)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=partitions),
        limit=10 * max(len(partitions), 1),
    ).records
    configs: dict[str, dict] = {}
    for record in sorted(records, key=lambda r: r.storage_id):  # the newest wins
        run = instance.get_run_by_id(record.run_id)
        ops = cast(dict, (run.run_config or {}).get("ops", {})) if run is not None else {}
        if record.partition_key is None:  # asked by partition: every record has one
            continue
        configs[record.partition_key] = dict((ops.get(op_name) or {}).get("config") or {})
    return configs

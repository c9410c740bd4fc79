"""Declarative automation, ticked by hand: what the automation sensor would request at a
given time, and the runs that carry those requests out, against a real instance."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg


@dataclass
class Tick:
    """One evaluation of every automation condition: what it requested, by partition."""

    result: dg.EvaluateAutomationConditionsResult
    requested: dict[str | None, set[str]]  # partition key (None: unpartitioned) -> asset keys

    @property
    def cursor(self):
        return self.result.cursor

    def keys(self, partition: str | None = None) -> set[str]:
        return self.requested.get(partition, set())


def utc(text: str) -> dt.datetime:
    """``"2026-03-01 00:40"`` as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def tick(
    defs: dg.Definitions, instance: dg.DagsterInstance, when: dt.datetime, cursor=None
) -> Tick:
    """Evaluate the code location's automation conditions at ``when`` (Dagster's own test helper)."""
    result = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=when, cursor=cursor
    )
    requested: dict[str | None, set[str]] = defaultdict(set)
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        for partition in result.get_requested_partitions(key):
            requested[partition].add(key.to_user_string())
    return Tick(result, dict(requested))


def execute_requested(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    requested: Tick,
    run_config: Mapping | None = None,
    tags: Mapping[str, str] | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Run what a tick requested as the daemon would: one run per partition key (assets with
    their checks), partitioned runs first, then one run of the unpartitioned assets.
    ``run_config`` is given to runs that select the ingestion op."""
    results = []
    order = sorted(requested.requested.items(), key=lambda item: (item[0] is None, item[0] or ""))
    for partition, keys in order:
        selection = dg.AssetSelection.assets(
            *(dg.AssetKey.from_user_string(k) for k in sorted(keys))
        )
        job = dg.define_asset_job("automation_requested_run", selection=selection)
        job_def = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
        config = run_config if "raw/transactions" in keys else None
        results.append(
            job_def.execute_in_process(
                instance=instance,
                partition_key=partition,
                run_config=dict(config or {}),
                tags=dict(tags or {}),
                raise_on_error=False,
            )
        )
    return results


#: Assets that follow every day's features and every new champion for the scoring service;
#: tests about other loops compare what a tick requested without them (``beside_serving``).
SERVING_FOLLOWERS = {"serving/batch_scores", "features/online_state"}


def beside_serving(requested: dict) -> dict:
    """A tick's ``requested`` without :data:`SERVING_FOLLOWERS` (and without emptied entries)."""
    out = {}
    for partition, keys in requested.items():
        rest = set(keys) - SERVING_FOLLOWERS
        if rest:
            out[partition] = rest
    return out

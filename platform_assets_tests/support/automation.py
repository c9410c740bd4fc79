"""Declarative automation, ticked by hand: what the automation sensor would request at a
given time, and the runs that carry those requests out, against a real instance."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

import dagster as dg


@dataclass
class Tick:
    """One evaluation of every automation condition: what it requested, by partition."""

    result: dg.EvaluateAutomationConditionsResult
    requested: dict[str | None, set[str]]  # partition key (None: unpartitioned) -> asset keys
    # the asset checks (defined apart from their asset) the tick asked for
    checks: set[dg.AssetCheckKey] = field(default_factory=set)

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
    checks = {
        r.key
        for r in result.results
        if isinstance(r.key, dg.AssetCheckKey) and not r.true_subset.is_empty
    }
    return Tick(result, dict(requested), checks)


def execute_requested(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    requested: Tick,
    run_config: Mapping | None = None,
    tags: Mapping[str, str] | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Run what a tick requested as the daemon would: partitioned runs first, then one run of
    the unpartitioned assets. Days that request the same assets go in one run over their range
    (every partitioned asset here has a single-run backfill policy, so the daemon does the
    same: one run per range of consecutive days). ``run_config`` is given to runs that select the
    ingestion op."""
    partitioned: dict[frozenset[str], list[str]] = defaultdict(list)
    for partition, keys in requested.requested.items():
        if partition is not None:
            partitioned[frozenset(keys)].append(partition)
    runs: list[tuple[frozenset[str], str | None, dict[str, str]]] = []
    for keys, days in sorted(partitioned.items(), key=lambda item: min(item[1])):
        for first, last in _consecutive(sorted(days)):
            if first == last:
                runs.append((keys, first, {}))
            else:
                runs.append((keys, None, {RANGE_START_TAG: first, RANGE_END_TAG: last}))
    if None in requested.requested:
        runs.append((frozenset(requested.requested[None]), None, {}))
    # Checks defined apart from their asset (`@dg.asset_check`), not in its decorator.
    apart = {key for checks_def in defs.asset_checks or [] for key in checks_def.check_keys}  # type: ignore[union-attr]
    results = []
    for keys, partition, range_tags in runs:
        selection = dg.AssetSelection.assets(
            *(dg.AssetKey.from_user_string(k) for k in sorted(keys))
        )
        if partition is None and not range_tags:
            # As the daemon builds it: the unpartitioned assets with the checks defined inside
            # them, and of the checks defined apart only those the tick requested.
            selection = selection - dg.AssetSelection.checks(*apart) | dg.AssetSelection.checks(
                *(requested.checks & apart)
            )
        job = dg.define_asset_job("automation_requested_run", selection=selection)
        job_def = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
        config = run_config if "raw/transactions" in keys else None
        results.append(
            job_def.execute_in_process(
                instance=instance,
                partition_key=partition,
                run_config=dict(config or {}),
                tags={**(tags or {}), **range_tags},
                raise_on_error=False,
            )
        )
    return results


# Dagster's run tags for a run over a range of partitions (public tag names, stable strings).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def _consecutive(days: list[str]) -> list[tuple[str, str]]:
    """Sorted ISO days as ``(first, last)`` ranges of consecutive days."""
    ranges: list[tuple[str, str]] = []
    for day in days:
        if ranges and dt.date.fromisoformat(day) - dt.date.fromisoformat(ranges[-1][1]) == ONE_DAY:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


ONE_DAY = dt.timedelta(days=1)

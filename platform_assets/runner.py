"""Run the code location from Python: the main job, asset checks for CI, and backfills.

Dagster has no public Python API for backfills (dagster PR #26731 was closed), so this is
ours. :func:`backfill` runs a range of partitions *in one run* when every selected asset
has a single-run backfill policy (Dagster's ``dagster/asset_partition_range_start``/``_end``
run tags), and one run per partition otherwise. Runs are recorded in the Dagster instance,
so they show in the UI like any other run.

The instance is ``$DAGSTER_HOME`` when set; otherwise ``$PLATFORM_ASSETS_HOME/dagster_home``
with the project's ``dagster.yaml`` (telemetry off, the DuckDB writer pool at 1).

Before each run, runs left in progress by a dead process are marked failed and their pool
slots freed; each run is tagged with the process that owns it and executes under
:class:`~platform_assets.operations_runs.GuardedRun` (SIGINT/SIGTERM end it as CANCELED; a
wait for a pool slot names the run holding it and gives up after ``pool_wait_seconds``).
See :mod:`platform_assets.operations_runs`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster import DagsterInvalidConfigError
from dagster._core.definitions.backfill_policy import BackfillPolicyType
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)
from dagster._core.utils import make_new_run_id

from platform_assets.core.settings import Settings, bundled_dagster_yaml
from platform_assets.defs.keys import MAIN_JOB, RAW_TRANSACTIONS_OP
from platform_assets.operations_runs import (
    POOL_WAIT_SECONDS,
    GuardedRun,
    ensure_pool_limits,
    owner_tags,
    reap_dead_runs,
)


class RunnerError(ValueError):
    """A request that cannot run: unknown asset selection, unknown partition, bad range."""


def get_instance() -> dg.DagsterInstance:
    """The persistent Dagster instance (created with the project's dagster.yaml if new)."""
    if not os.environ.get("DAGSTER_HOME"):
        home = Settings.from_env().dagster_home
        home.mkdir(parents=True, exist_ok=True)
        target = home / "dagster.yaml"
        if not target.exists():
            shutil.copyfile(bundled_dagster_yaml(), target)
        os.environ["DAGSTER_HOME"] = str(home)
    return dg.DagsterInstance.get()


def load_definitions() -> dg.Definitions:
    from platform_assets.definitions import defs

    return defs() if callable(defs) else defs


def _partitions_def(defs: dg.Definitions) -> dg.PartitionsDefinition:
    from platform_assets.defs.partitions import daily_partitions

    return daily_partitions


def default_partition() -> str:
    """The last complete day: what ``platform-assets run`` materializes by default."""
    from platform_assets.defs.partitions import daily_partitions

    key = daily_partitions.get_last_partition_key()
    if key is None:
        raise RunnerError("no complete partition yet")
    return key


def _check_partition(partitions_def: dg.PartitionsDefinition, key: str) -> None:
    from platform_assets.core.ingestion.load import parse_partition_key

    parse_partition_key(key)
    if not partitions_def.has_partition_key(key):
        first = partitions_def.get_first_partition_key()
        last = partitions_def.get_last_partition_key()
        raise RunnerError(
            f"unknown partition {key!r}: partitions run from {first} to {last} (UTC days)."
        )


def resolve_selection(
    defs: dg.Definitions, select: str | Sequence[str] | None
) -> list[dg.AssetKey]:
    """Asset keys for a selection: Dagster selection syntax or ``raw/transactions`` keys."""
    graph = defs.resolve_asset_graph()
    all_keys = graph.get_all_asset_keys()
    if select is None:
        return sorted(all_keys, key=lambda k: k.to_user_string())
    exprs = [select] if isinstance(select, str) else list(select)
    keys: set[dg.AssetKey] = set()
    for expr in exprs:
        if ":" not in expr and " " not in expr:
            key = dg.AssetKey.from_user_string(expr)
            if key not in all_keys:
                known = ", ".join(sorted(k.to_user_string() for k in all_keys))
                raise RunnerError(f"unknown asset {expr!r}; the code location has: {known}")
            keys.add(key)
            continue
        try:
            keys |= set(dg.AssetSelection.from_string(expr).resolve(graph))
        except Exception as exc:  # Dagster raises several types for bad selection strings
            raise RunnerError(f"cannot resolve selection {expr!r}: {exc}") from None
    if not keys:
        raise RunnerError(f"selection {select!r} matches no asset")
    return sorted(keys, key=lambda k: k.to_user_string())


@dataclass
class RunSummary:
    run_id: str
    partitions: list[str]
    success: bool
    failed_steps: list[str] = field(default_factory=list)
    check_results: list[dict[str, Any]] = field(default_factory=list)
    # {"step", "error"}: the first line of the error that failed each step
    step_errors: list[dict[str, str]] = field(default_factory=list)
    # a failed run's own triage ticket (no daemon needed): ticket_id, pattern, cause, runbook
    ticket: dict[str, Any] | None = None


def _first_line(error) -> str:
    """The innermost error's first line: the user's own exception, not Dagster's wrapper."""
    lines = []
    while error is not None:
        message = (error.message or "").strip()
        if message:
            first = message.splitlines()[0]
            if error.cls_name and first.split(":", 1)[0].endswith(error.cls_name):
                first = first.split(":", 1)[1].strip()  # "package.module.Error: text" -> "text"
            lines.append(f"{error.cls_name}: {first}" if error.cls_name else first)
        error = error.cause
    return lines[-1] if lines else "unknown error"


def _summarize(result: dg.ExecuteInProcessResult, partitions: list[str]) -> RunSummary:
    failures = [e for e in result.all_events if e.is_step_failure and e.step_key]
    failed = sorted({e.step_key for e in failures})
    errors = [
        {"step": e.step_key, "error": _first_line(e.step_failure_data.error)}
        for e in failures
        if e.step_failure_data.error is not None
    ]
    checks = [
        {
            "asset": e.asset_key.to_user_string(),
            "check": e.check_name,
            "passed": e.passed,
            "severity": e.severity.value,
            "description": e.description,
            "failed_rules": e.metadata["failed_rules"].value
            if "failed_rules" in e.metadata
            else [],
        }
        for e in result.get_asset_check_evaluations()
    ]
    return RunSummary(
        result.run_id,
        partitions,
        result.success,
        failed,
        checks,
        errors,
        ticket=_OWN_TICKETS.pop(result.run_id, None),
    )


# The tickets of this process's failed runs, by run id, until their summary takes them.
_OWN_TICKETS: dict[str, dict[str, Any]] = {}


def triage_own_failure(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """Triage a failed in-process run as the daemon's triage sensor would (ticket, safe
    actions, alert and its page), so a CLI run with no daemon gets its ticket before the
    command exits. A triage that fails is reported, never raised: the run's own outcome
    stands."""
    from platform_assets.core import warehouse
    from platform_assets.defs.operations import respond_to_pages, triage_failed_run
    from platform_assets.defs.resources import initialized_resources

    run = instance.get_run_by_id(run_id)
    if run is None:
        return {"error": f"run {run_id} is not in the instance"}
    try:
        resources: dict[str, Any] = initialized_resources()
        ticket, actions, _, page_id = triage_failed_run(
            instance,
            run,
            warehouse=resources["warehouse"],
            registry=resources["registry"],
            claude=resources["claude"],
            notifier=resources["notifier"],
            repository_def=load_definitions().get_repository_def(),
        )
        response = None
        if page_id is not None:
            with warehouse.session(resources["warehouse"].database) as conn:
                [response] = respond_to_pages(
                    conn,
                    instance=instance,
                    registry=resources["registry"],
                    claude=resources["claude"],
                    notifier=resources["notifier"],
                    page_ids=[page_id],
                )
    except Exception as exc:  # triage must never turn the run's own outcome into another one
        return {"error": f"triage of run {run_id} failed: {type(exc).__name__}: {exc}"}
    return {
        "ticket_id": ticket.ticket_id,
        "pattern": ticket.pattern,
        "probable_cause": ticket.probable_cause,
        "recommended_action": ticket.recommended_action,
        "actions": [(a["runbook"], a["status"]) for a in actions],
        "page_id": page_id,
        "page_state": response.state if response else None,
    }


def _execute(
    defs: dg.Definitions,
    selection: dg.AssetSelection | None,
    *,
    name: str,
    partition_key: str | None = None,
    tags: Mapping[str, str] | None = None,
    run_config: Mapping[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
    pool_wait_seconds: float = POOL_WAIT_SECONDS,
) -> dg.ExecuteInProcessResult:
    """Run a job in-process: the code location's job ``name``, or a new one over ``selection``.

    First ends the runs a dead process left in progress (their slots would block this run).
    Raises :class:`~platform_assets.operations_runs.RunStopped` when SIGINT/SIGTERM or a too
    long wait for a pool slot ended the run.
    """
    from platform_assets.core.ingestion.load import IngestionError, check_rows_per_partition

    rows = _source_config(run_config).get("rows_per_partition")
    if rows is not None:
        try:
            check_rows_per_partition(rows, f"ops:{RAW_TRANSACTIONS_OP}:config:rows_per_partition")
        except IngestionError as exc:
            raise RunnerError(f"invalid run config: {exc}") from None
    instance = instance or get_instance()
    reap_dead_runs(instance)
    tags = {**(tags or {}), **owner_tags()}
    if selection is not None:
        defs = dg.Definitions.merge(
            defs, dg.Definitions(jobs=[dg.define_asset_job(name, selection=selection)])
        )
    job_def = defs.resolve_job_def(name)
    ensure_pool_limits(
        instance, sorted({op.pool for op in job_def.graph.iterate_op_defs() if op.pool})
    )
    if partition_key is not None and not job_def.asset_layer.selected_asset_keys:
        # A checks-only job has no asset to validate a partition key against; the checks
        # read their partition from the run's partition tag.
        tags[PARTITION_NAME_TAG] = partition_key
        partition_key = None
    run_id = make_new_run_id()
    try:
        with GuardedRun(instance, run_id, pool_wait_seconds):
            result = job_def.execute_in_process(
                instance=instance,
                partition_key=partition_key,
                tags=tags,
                run_id=run_id,
                run_config=dict(run_config or {}),
                raise_on_error=False,
            )
    except DagsterInvalidConfigError as exc:
        problems = "; ".join(error.message for error in exc.errors) or str(exc)
        raise RunnerError(f"invalid run config: {problems}") from None
    if not result.success:
        _OWN_TICKETS[run_id] = triage_own_failure(instance, run_id)
    return result


HISTORY_DAYS = 6
BUNDLED_SOURCE = "bundled"


class HistoryError(RuntimeError):
    """The days before a run's partition are missing and cannot be filled as asked
    (``platform-assets run`` exits 1 with this message)."""


def _history_state(keys: Sequence[str]) -> tuple[dict[str, str], set[str]]:
    """``({day: source it landed from}, {days that failed their contract})`` among ``keys``."""
    from platform_assets.core import warehouse
    from platform_assets.core.ingestion.load import TRANSACTIONS_TABLE, landed_sources

    path = Settings.from_env().warehouse
    if not warehouse.exists(path):
        return {}, set()
    with warehouse.session(path, read_only=True) as conn:
        failed = conn.execute(
            "SELECT partition_key FROM platform.batch_verdicts WHERE table_name = ? AND NOT passes "
            "AND list_contains(?, partition_key)",
            [TRANSACTIONS_TABLE, list(keys)],
        ).fetchall()
        return landed_sources(conn, TRANSACTIONS_TABLE, keys), {row[0] for row in failed}


def _source_config(run_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The source part of the run's ``raw_transactions`` config (which source, how many rows);
    fault injection is left out: it rehearses a bad day, not a bad history."""
    config = ((run_config or {}).get("ops", {}).get(RAW_TRANSACTIONS_OP, {}) or {}).get(
        "config", {}
    ) or {}
    return {k: v for k, v in config.items() if k in ("source", "rows_per_partition")}


def _fill_history(
    defs: dg.Definitions,
    day: str,
    history_days: int,
    run_config: Mapping[str, Any] | None,
    backfill_history: bool,
    instance: dg.DagsterInstance,
    pool_wait_seconds: float = POOL_WAIT_SECONDS,
) -> list[str]:
    """Materialize the days before ``day`` that are not done, from the run's own source;
    returns them.

    - a day that never landed: generated with the bundled source; with a real source landed
      only when ``backfill_history`` is set, otherwise :class:`HistoryError` names it;
    - a day that landed but was left unfinished (a killed run): finished from the same
      source, which re-lands the same data; from another source, :class:`HistoryError`;
    - a day that failed its contract, or that every partitioned asset materialized: untouched.
    """
    import datetime as dt

    partitions_def = _partitions_def(defs)
    start = dt.date.fromisoformat(day)
    history = [(start - dt.timedelta(days=n)).isoformat() for n in range(history_days, 0, -1)]
    history = [k for k in history if partitions_def.has_partition_key(k)]
    landed, failed = _history_state(history)
    graph = defs.resolve_asset_graph()
    partitioned_keys = [k for k in graph.get_all_asset_keys() if graph.get(k).partitions_def]
    partitioned = sorted(k.to_user_string() for k in partitioned_keys)
    # A run killed halfway leaves days landed (even accepted) without their features: a day
    # is done when it failed its contract, or when every partitioned asset materialized it.
    materialized = set.intersection(
        *(set(instance.get_materialized_partitions(k)) for k in partitioned_keys)
    )
    unfinished = sorted(d for d in landed if d not in failed and d not in materialized)
    missing = sorted(set(history) - set(landed))
    source_config = _source_config(run_config)
    source = source_config.get("source", BUNDLED_SOURCE)
    elsewhere = [d for d in unfinished if landed[d] != source]
    if elsewhere:
        raise HistoryError(
            f"{', '.join(f'{d} (from {landed[d]})' for d in elsewhere)} landed but their features "
            f"were never built, and this run's source is {source!r}: finish them with the source "
            "they landed from (platform-assets backfill "
            f"{' '.join(f'--select {k}' for k in partitioned)} --start {elsewhere[0]} --end "
            f"{elsewhere[-1]} --config <that source's config>)"
        )
    missing_or_unfinished = sorted(set(missing) | set(unfinished))
    if not missing_or_unfinished:
        return []
    if missing and source != BUNDLED_SOURCE and not backfill_history:
        selection = " ".join(f"--select {key}" for key in partitioned)
        raise HistoryError(
            f"the model trains on the {history_days} days before {day}, and {len(missing)} of them "
            f"never landed from {source!r}: {', '.join(missing)}. Run again with "
            f"--backfill-history to land them from {source!r} first, or land them yourself: "
            f"platform-assets backfill {selection} --start {missing[0]} --end {missing[-1]} "
            "--config <your config>"
        )
    config = {"ops": {RAW_TRANSACTIONS_OP: {"config": source_config}}} if source_config else None
    for first, last in _contiguous_ranges(
        missing_or_unfinished
    ):  # a day done between two gaps is left alone
        warmup = backfill(
            partitioned,
            first,
            last,
            run_config=config,
            instance=instance,
            pool_wait_seconds=pool_wait_seconds,
        )
        if not warmup.success:
            failed = [step for run in warmup.runs for step in run.failed_steps]
            raise HistoryError(
                f"the history backfill {first}..{last} from {source!r} failed "
                f"(steps: {', '.join(failed)})"
            )
    return missing_or_unfinished


def _contiguous_ranges(days: Sequence[str]) -> list[tuple[str, str]]:
    """Sorted ISO days as ``(first, last)`` runs of consecutive days."""
    import datetime as dt

    ranges: list[tuple[str, str]] = []
    for day in sorted(days):
        if ranges and dt.date.fromisoformat(day) - dt.date.fromisoformat(
            ranges[-1][1]
        ) == dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def run_main(
    partition_key: str | None = None,
    *,
    history_days: int = HISTORY_DAYS,
    run_config: Mapping[str, Any] | None = None,
    backfill_history: bool = False,
    instance: dg.DagsterInstance | None = None,
    pool_wait_seconds: float = POOL_WAIT_SECONDS,
) -> RunSummary:
    """Materialize every asset of one partition (default: the last complete day).

    The model assets train on a window of days, so first the ``history_days`` days before
    the partition that are not done are materialized (the partitioned assets only, from the
    source ``run_config`` names, without its fault injection; see :func:`_fill_history`).
    A day that landed from another source is never replaced by the warm-up, and a day that
    failed its contract stays as it is.
    """
    defs = load_definitions()
    key = partition_key or default_partition()
    _check_partition(_partitions_def(defs), key)
    instance = instance or get_instance()
    _fill_history(
        defs, key, history_days, run_config, backfill_history, instance, pool_wait_seconds
    )
    result = _execute(
        defs,
        None,
        name=MAIN_JOB,
        partition_key=key,
        run_config=run_config,
        instance=instance,
        pool_wait_seconds=pool_wait_seconds,
    )
    return _summarize(result, [key])


def run_checks(
    select: str | Sequence[str] | None = None,
    partition_key: str | None = None,
    *,
    materialize: bool = False,
    run_config: Mapping[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
    pool_wait_seconds: float = POOL_WAIT_SECONDS,
) -> RunSummary:
    """Run the asset checks of the selected assets in-process (for CI).

    With ``materialize`` the assets are materialized first, in the same run; otherwise the
    checks look at what is already stored.
    """
    defs = load_definitions()
    keys = resolve_selection(defs, select)
    graph = defs.resolve_asset_graph()
    partitioned = any(graph.get(k).partitions_def is not None for k in keys)
    key = partition_key or (default_partition() if partitioned else None)
    if key is not None:
        _check_partition(_partitions_def(defs), key)
    checks = dg.AssetSelection.checks_for_assets(*keys)
    selection = dg.AssetSelection.assets(*keys) | checks if materialize else checks
    if not checks.resolve_checks(graph):
        raise RunnerError(
            "the selected assets have no asset checks: "
            f"{', '.join(k.to_user_string() for k in keys)}"
        )
    result = _execute(
        defs,
        selection,
        name="platform_checks_run",
        partition_key=key,
        run_config=run_config,
        instance=instance,
        pool_wait_seconds=pool_wait_seconds,
    )
    return _summarize(result, [key] if key else [])


@dataclass
class BackfillResult:
    selection: list[str]
    partitions: list[str]
    runs: list[RunSummary]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.runs)


def backfill(
    select: str | Sequence[str],
    start: str,
    end: str,
    *,
    run_config: Mapping[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
    pool_wait_seconds: float = POOL_WAIT_SECONDS,
    url: str | None = None,
) -> BackfillResult | SubmittedBackfill:
    """Materialize the selected assets for every partition from ``start`` to ``end`` (inclusive).

    One run covers the whole range when every selected asset allows single-run backfills;
    otherwise each partition gets its own run. Re-running a range replaces its rows.

    With ``url`` (a running deployment's webserver, e.g. ``http://host:3000``) nothing runs
    here: the backfill is submitted to that deployment (GraphQL ``launchPartitionBackfill``),
    shows in its Backfills tab, and its daemon runs it; a :class:`SubmittedBackfill` comes back.

    Example::

        import platform_assets
        result = platform_assets.backfill("raw/transactions", "2026-11-01", "2026-11-07")
        assert result.success, result.runs
        submitted = platform_assets.backfill("raw/transactions", "2026-11-01", "2026-11-07",
                                             url="http://localhost:3000")
        print(submitted.backfill_url, submitted.status())
    """
    defs = load_definitions()
    partitions_def = _partitions_def(defs)
    _check_partition(partitions_def, start)
    _check_partition(partitions_def, end)
    if start > end:
        raise RunnerError(f"the range starts after it ends: {start} > {end}")
    keys = resolve_selection(defs, select)
    graph = defs.resolve_asset_graph()
    partition_keys = partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    if url is not None:
        return submit_backfill(url, keys, partition_keys, run_config)
    selection = dg.AssetSelection.assets(*keys)
    single_run = all(
        graph.get(k).backfill_policy is not None
        and graph.get(k).backfill_policy.policy_type == BackfillPolicyType.SINGLE_RUN
        for k in keys
    )
    runs: list[RunSummary] = []
    if single_run:
        tags = {ASSET_PARTITION_RANGE_START_TAG: start, ASSET_PARTITION_RANGE_END_TAG: end}
        result = _execute(
            defs,
            selection,
            name="platform_backfill_run",
            tags=tags,
            run_config=run_config,
            instance=instance,
            pool_wait_seconds=pool_wait_seconds,
        )
        runs.append(_summarize(result, partition_keys))
    else:
        for key in partition_keys:
            result = _execute(
                defs,
                selection,
                name="platform_backfill_run",
                partition_key=key,
                run_config=run_config,
                instance=instance,
                pool_wait_seconds=pool_wait_seconds,
            )
            runs.append(_summarize(result, [key]))
    return BackfillResult([k.to_user_string() for k in keys], partition_keys, runs)


# --- backfills on a running deployment ------------------------------------------------------

_LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

_BACKFILL_STATUS = """
query BackfillStatus($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions }
    ... on PythonError { message }
    ... on BackfillNotFoundError { message }
  }
}
"""


def _graphql(url: str, query: str, variables: Mapping[str, Any], timeout: float = 30.0) -> dict:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql",
        method="POST",
        data=json.dumps({"query": query, "variables": dict(variables)}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RunnerError(
            f"Dagster at {url} answered HTTP {exc.code}: {exc.read(300).decode(errors='replace')}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise RunnerError(f"cannot reach Dagster at {url}: {exc}") from None
    if payload.get("errors"):
        raise RunnerError(
            f"Dagster at {url} refused the request: "
            f"{'; '.join(e.get('message', str(e)) for e in payload['errors'])}"
        )
    return payload["data"]


@dataclass
class SubmittedBackfill:
    """A backfill submitted to a running deployment; its daemon runs it."""

    backfill_id: str
    url: str
    selection: list[str]
    partitions: list[str]

    @property
    def backfill_url(self) -> str:
        """The backfill's page in the deployment's UI."""
        return f"{self.url.rstrip('/')}/runs/b/{self.backfill_id}"

    def status(self) -> str:
        """The deployment's status of the backfill: REQUESTED, COMPLETED_SUCCESS, FAILED, ..."""
        answer = _graphql(self.url, _BACKFILL_STATUS, {"id": self.backfill_id})[
            "partitionBackfillOrError"
        ]
        if answer["__typename"] != "PartitionBackfill":
            raise RunnerError(
                f"backfill {self.backfill_id} at {self.url}: {answer.get('message', answer)}"
            )
        return answer["status"]


def submit_backfill(
    url: str,
    keys: Sequence[dg.AssetKey],
    partition_keys: Sequence[str],
    run_config: Mapping[str, Any] | None = None,
) -> SubmittedBackfill:
    """Submit an asset backfill of ``keys`` over ``partition_keys`` to the deployment at ``url``
    (GraphQL ``launchPartitionBackfill``)."""
    params: dict[str, Any] = {
        "assetSelection": [{"path": key.path} for key in keys],
        "partitionNames": list(partition_keys),
        "title": f"platform_assets.backfill {partition_keys[0]}..{partition_keys[-1]}",
        "tags": [{"key": "platform_assets/submitted_by", "value": "platform_assets.backfill"}],
    }
    if run_config:
        params["runConfigData"] = dict(run_config)
    answer = _graphql(url, _LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if answer["__typename"] != "LaunchBackfillSuccess":
        detail = (
            answer.get("message")
            or "; ".join(e["message"] for e in answer.get("errors", []))
            or answer
        )
        raise RunnerError(
            f"Dagster at {url} did not launch the backfill ({answer['__typename']}): {detail}"
        )
    return SubmittedBackfill(
        answer["backfillId"], url, [k.to_user_string() for k in keys], list(partition_keys)
    )

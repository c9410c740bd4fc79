"""Dagster runs from the shell: ``checks run`` (for CI), ``run`` (the main job), ``backfill``."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, fail_usage


def _run_or_usage(fn, *args, **kwargs):
    """Call a runner function; usage errors exit 2, a stopped run 1 or 130 (by a signal)."""
    from platform_assets.core.ingestion.load import IngestionError
    from platform_assets.operations_runs import RunStopped
    from platform_assets.runner import RunnerError

    # SIGTERM stops the command the way Ctrl-C does; while a run executes, the run guard
    # turns either signal into a canceled run (platform_assets.operations_runs).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return fn(*args, **kwargs)
    except (RunnerError, IngestionError) as exc:
        fail_usage(str(exc))
    except RunStopped as exc:
        click.echo(f"stopped: run {exc.run_id}: {exc.reason}", err=True)
        sys.exit(EXIT_INTERRUPTED if exc.signal_name else EXIT_FAILED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


# The default is platform_assets.operations_runs.POOL_WAIT_SECONDS (not imported here: it loads
# Dagster).
_pool_timeout_option = click.option(
    "--pool-timeout",
    "pool_timeout",
    type=float,
    default=900.0,
    show_default=True,
    help="Seconds a step may wait for a pool slot held by another live run before the run gives "
    "up.",
)


def _load_run_config(path: Path | None) -> dict:
    if path is None:
        return {}
    import yaml

    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        fail_usage(f"{path}: cannot read run config: {exc}")
    return {}


def _print_run(summary, as_json: bool, instance=None) -> None:
    if as_json:
        click.echo(json.dumps(summary.__dict__, indent=2, default=str))
        return
    took = ""
    if instance is not None:
        record = instance.get_run_record_by_id(summary.run_id)
        if record is not None and record.start_time and record.end_time:
            took = f" in {record.end_time - record.start_time:.1f} s"
    click.echo(
        f"run {summary.run_id} partitions {', '.join(summary.partitions) or '-'}: "
        f"{'succeeded' if summary.success else 'FAILED'}{took}"
    )
    for check in summary.check_results:
        mark = "pass" if check["passed"] else "FAIL"
        click.echo(
            f"  [{mark}] {check['asset']} · {check['check']}: "
            f"{_shorten(check['description'] or '', 160)}"
        )
        for rule in check.get("failed_rules", [])[:FAILED_RULES_SHOWN]:
            rows = "" if rule["failing_rows"] is None else f", {rule['failing_rows']} rows"
            click.echo(
                f"      {rule['partition']} {rule['field'] or '(table)'} · {rule['rule']}{rows}: "
                f"{_shorten(rule['detail'])}"
            )
        if len(check.get("failed_rules", [])) > FAILED_RULES_SHOWN:
            click.echo(
                f"      … {len(check['failed_rules']) - FAILED_RULES_SHOWN} more in the check's "
                "metadata"
            )
    errors = {e["step"]: e["error"] for e in summary.step_errors}
    for step in summary.failed_steps:
        click.echo(f"  failed step: {step}: {_shorten(errors.get(step, 'see the run log'), 400)}")
    if not summary.success:
        quarantined = [c for c in summary.check_results if c.get("failed_rules")]
        if quarantined:
            click.echo(
                "  the rejected rows and their reasons are in the warehouse table quarantine.rows "
                f"(partition_key {', '.join(summary.partitions)})"
            )
        ticket = getattr(summary, "ticket", None)
        if ticket and ticket.get("ticket_id"):
            click.echo(
                f"  triage: ticket {ticket['ticket_id']}: {ticket['pattern']} → "
                f"{ticket['recommended_action']} (platform-assets tickets show "
                f"{ticket['ticket_id']})"
            )
            if ticket.get("page_id"):
                click.echo(
                    f"  page {ticket['page_id']}: {ticket.get('page_state')} "
                    f"(platform-assets pages show {ticket['page_id']})"
                )
        elif ticket:
            click.echo(f"  triage: {_shorten(str(ticket.get('error')), 300)}")
        click.echo(
            f"  full event log: the run {summary.run_id} in the Dagster UI (platform-assets dev)"
        )


FAILED_RULES_SHOWN = 10


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@click.group()
def checks() -> None:
    """Run asset checks in-process, for CI."""


@checks.command("run")
@click.option(
    "--select",
    "select",
    multiple=True,
    help="Asset key (raw/transactions) or Dagster selection "
    "(group:validation). Repeatable. Default: every asset.",
)
@click.option("--partition", help="Partition key, YYYY-MM-DD. Default: the last complete day.")
@click.option(
    "--materialize", is_flag=True, help="Materialize the selected assets first, in the same run."
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Run config YAML.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_pool_timeout_option
def checks_run(
    select: tuple[str, ...],
    partition: str | None,
    materialize: bool,
    config_path: Path | None,
    as_json: bool,
    pool_timeout: float,
) -> None:
    """Run the checks of the selected assets; exit 1 when any check fails."""
    from platform_assets.runner import run_checks

    summary = _run_or_usage(
        run_checks,
        list(select) or None,
        partition,
        materialize=materialize,
        run_config=_load_run_config(config_path),
        pool_wait_seconds=pool_timeout,
    )
    _print_run(summary, as_json)
    failed = not summary.success or any(not c["passed"] for c in summary.check_results)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@click.command("run")
@click.option("--partition", help="Partition key, YYYY-MM-DD. Default: the last complete day.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Run config YAML.")
@click.option(
    "--backfill-history",
    is_flag=True,
    help="Land the missing days before the partition from the "
    "configured source first (with the bundled source they are generated without asking).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_pool_timeout_option
def run(
    partition: str | None,
    config_path: Path | None,
    backfill_history: bool,
    as_json: bool,
    pool_timeout: float,
) -> None:
    """Materialize every asset of one partition on the configured (default: embedded) stack.

    The model trains on the days before the partition: those that never landed are landed
    first from the same source. Days that landed already are never replaced. Exits 1 when a
    step or check fails, or when history is missing for a real source (see --backfill-history).
    """
    from platform_assets.runner import HistoryError, get_instance, run_main

    config = _load_run_config(config_path)
    if not as_json:
        # The console shows warnings and errors; Dagster's event log stays in the instance (the UI).
        config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}, **config}
    instance = get_instance()
    try:
        with _progress(instance, enabled=not as_json) as progress:
            summary = _run_or_usage(
                run_main,
                partition,
                run_config=config,
                backfill_history=backfill_history,
                pool_wait_seconds=pool_timeout,
                instance=instance,
            )
    except HistoryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    costs = _record_costs(instance, progress.run_ids if progress else [summary.run_id])
    if as_json:
        click.echo(
            json.dumps(
                {**summary.__dict__, "estimated_cost_usd": {c.run_id: c.total_usd for c in costs}},
                indent=2,
                default=str,
            )
        )
        sys.exit(EXIT_OK if summary.success else EXIT_FAILED)
    settings = _settings()
    click.echo()
    _print_run(summary, False, instance=instance)
    _print_partition_tables(settings.warehouse, summary.partitions[0])
    _print_model(instance, summary.run_id)
    _print_costs(costs, summary.run_id)
    click.echo(
        f"warehouse: {settings.warehouse} · Dagster instance: {os.environ.get('DAGSTER_HOME')}"
    )
    click.echo("every run's full event log: platform-assets dev, then http://127.0.0.1:3000")
    sys.exit(EXIT_OK if summary.success else EXIT_FAILED)


def _settings():
    from platform_assets.core.settings import Settings

    return Settings.from_env()


def _progress(instance, enabled: bool):
    from contextlib import nullcontext

    from platform_assets.cli.progress import StepProgress

    return StepProgress(instance) if enabled else nullcontext()


def _record_costs(instance, run_ids: list[str]) -> list:
    """Each run's estimated cost, recorded on the run and its assets (see ``defs/costs.py``)."""
    import duckdb

    from platform_assets.core import warehouse
    from platform_assets.defs.costs import estimate_run_cost, record_run_cost

    settings = _settings()
    try:
        if warehouse.exists(settings.warehouse):
            with warehouse.session(settings.warehouse, read_only=True) as conn:
                costs = [
                    estimate_run_cost(instance, run_id, conn, settings.prices) for run_id in run_ids
                ]
        else:
            costs = [
                estimate_run_cost(instance, run_id, None, settings.prices) for run_id in run_ids
            ]
    except (duckdb.Error, KeyError) as exc:  # a summary must not turn a finished run into a failure
        click.echo(f"(could not estimate the cost: {exc})")
        return []
    for cost in costs:
        record_run_cost(instance, cost)
    return costs


def _print_model(instance, run_id: str) -> None:
    """The champion with its headline metrics, and where its card is."""
    from platform_assets.core.registry import RegistryError, registry_for
    from platform_assets.defs.keys import MODEL_CARD
    from platform_assets.defs.lineage import latest_metadata

    try:
        champion = registry_for(_settings().registry_url).champion()
    except (RegistryError, OSError, ValueError) as exc:
        click.echo(f"champion: (could not read the registry: {exc})")
        return
    if champion is None:
        click.echo("champion: none yet (the gate promotes a model that meets the minimums)")
        return
    metrics = champion.metrics
    shown = " · ".join(
        f"{label} {metrics[name]:.3f}"
        for name, label in (
            ("auroc", "AUROC"),
            ("pr_auc", "PR-AUC"),
            ("precision", "precision"),
            ("recall", "recall"),
        )
        if isinstance(metrics.get(name), int | float)
    )
    promoted = (
        " (promoted by this run)"
        if champion.record.get("lineage", {}).get("run_id") == run_id
        else ""
    )
    click.echo(f"champion: {champion.id}{promoted}: {shown}")
    card = latest_metadata(instance, MODEL_CARD)
    if card.get("card_markdown"):
        click.echo(f"model card: {card['card_markdown']} (model {card.get('model_id')})")


def _print_costs(costs: list, run_id: str) -> None:
    if not costs:
        return
    main = [c for c in costs if c.run_id == run_id]
    others = [c for c in costs if c.run_id != run_id]
    line = f"estimated cost: {main[0].line()}" if main else "estimated cost:"
    if others:
        line += f"; history {len(others)} run(s) ${sum(c.total_usd for c in others):.6f}"
    click.echo(line + "  (platform-assets costs)")


def _print_partition_tables(warehouse_path: str, partition_key: str) -> None:
    """Rows of the partition in each table of the warehouse that has a partition column, on one
    line.
    """
    import duckdb

    from platform_assets.core import warehouse

    if not warehouse.exists(warehouse_path):
        return
    try:
        with warehouse.session(warehouse_path, read_only=True) as conn:
            tables = conn.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE column_name IN ('partition_date', 'partition_key') AND table_schema <> "
                "'platform' AND table_schema NOT LIKE '%\\_staging' ESCAPE '\\' ORDER BY 1, 2"
            ).fetchall()
            counts = []
            for schema, table, column in tables:
                (count,) = conn.execute(
                    f"SELECT count(*) FROM {schema}.{warehouse.quote_ident(table)} "
                    f"WHERE CAST({warehouse.quote_ident(column)} AS VARCHAR) = ?",
                    [partition_key],
                ).fetchall()[0]
                counts.append(f"{schema}.{table} {count}")
            click.echo(f"rows of {partition_key}: {' · '.join(counts)}")
    except duckdb.Error as exc:  # a summary must not turn a finished run into a failure
        click.echo(f"(could not read the warehouse summary: {exc})")


@click.command("backfill")
@click.option(
    "--select",
    "select",
    multiple=True,
    required=True,
    help="Asset key or Dagster selection; repeatable.",
)
@click.option("--start", required=True, help="First partition, YYYY-MM-DD.")
@click.option("--end", required=True, help="Last partition (inclusive), YYYY-MM-DD.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Run config YAML.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--url",
    help="A running deployment's webserver (http://host:3000): submit the backfill there, "
    "for its daemon to run, instead of running it here.",
)
@_pool_timeout_option
def backfill_command(
    select: tuple[str, ...],
    start: str,
    end: str,
    config_path: Path | None,
    as_json: bool,
    url: str | None,
    pool_timeout: float,
) -> None:
    """Materialize a range of partitions: one run when the assets allow it, else one per day.

    With --url nothing runs here: the backfill goes to that deployment (its Backfills tab).
    """
    from platform_assets.runner import backfill

    result = _run_or_usage(
        backfill,
        list(select),
        start,
        end,
        run_config=_load_run_config(config_path),
        pool_wait_seconds=pool_timeout,
        url=url,
    )
    if url is not None:
        if as_json:
            click.echo(
                json.dumps({**result.__dict__, "backfill_url": result.backfill_url}, indent=2)
            )
        else:
            click.echo(
                f"submitted backfill {result.backfill_id} of {', '.join(result.selection)} "
                f"{start}..{end} ({len(result.partitions)} partitions) to {url}: "
                f"{result.backfill_url}"
            )
        sys.exit(EXIT_OK)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "selection": result.selection,
                    "partitions": result.partitions,
                    "success": result.success,
                    "runs": [r.__dict__ for r in result.runs],
                },
                indent=2,
                default=str,
            )
        )
    else:
        click.echo(
            f"backfill {', '.join(result.selection)} {start}..{end}: {len(result.partitions)} "
            f"partitions in {len(result.runs)} run(s)"
        )
        for summary in result.runs:
            _print_run(summary, False)
    sys.exit(EXIT_OK if result.success else EXIT_FAILED)

"""The ``platform-assets`` command.

Exit codes, for every command: 0 success, 1 the data or a check failed (or a run gave up
waiting for a pool slot), 2 a usage error (bad arguments, unreadable file, invalid contract,
unknown partition or asset), 130 stopped by SIGINT or SIGTERM (the run is marked canceled).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _fail_usage(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="platform_assets")
def main() -> None:
    """platform_assets: an ML platform shipped as a Dagster code location.

    Data lives under $PLATFORM_ASSETS_HOME (default ./.platform_assets); see the README
    for every setting.
    """


# --- contracts -----------------------------------------------------------------------


@main.group()
def contracts() -> None:
    """Check data files against ODCS data contracts, and lint contracts."""


def _claude_client(no_llm: bool):
    """Claude for the CLI when a key is set (or Bedrock is configured) and --no-llm is not given."""
    from platform_assets.core.llm.client import ClaudeClient, ClaudeConfig

    if no_llm:
        return None
    config = ClaudeConfig.from_env()
    client = ClaudeClient(config)
    return client if client.enabled else None


@contracts.command("check")
@click.argument("contract", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--reference", type=click.Path(path_type=Path), help="CSV or Parquet of the last accepted batch, "
              "to check semantic drift against.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option("--no-llm", is_flag=True, help="Do not ask Claude, even when ANTHROPIC_API_KEY is set.")
def contracts_check(contract: Path, data: Path, reference: Path | None, as_json: bool, no_llm: bool) -> None:
    """Check DATA (CSV or Parquet) against CONTRACT (ODCS v3 YAML).

    Exits 0 when the batch passes, 1 when it violates the contract, 2 on a usage error or
    an invalid contract.
    """
    from platform_assets.core import warehouse
    from platform_assets.core.settings import Settings
    from platform_assets.core.validation import semantic_llm
    from platform_assets.core.validation.batch import BatchError, batch_from_file
    from platform_assets.core.validation.contract import ContractError, load_contract
    from platform_assets.core.validation.engine import check_batch

    try:
        parsed = load_contract(contract)
    except ContractError as exc:
        _fail_usage(str(exc))
    conn = warehouse.connect(":memory:")
    try:
        reference_profile = None
        if reference is not None:
            ref_batch = batch_from_file(conn, reference)
            reference_profile = check_batch(conn, ref_batch, parsed).profile
        batch = batch_from_file(conn, data)
        verdict = check_batch(conn, batch, parsed, reference_profile,
                              f"file {reference}" if reference is not None else None)
        client = _claude_client(no_llm)
        llm = None
        if client is not None:
            # Every call is logged in the warehouse's governance table, CLI calls included.
            with warehouse.session(Settings.from_env().warehouse_path) as log_conn:
                result = semantic_llm.semantic_check(conn, batch, parsed, verdict, client,
                                                     asset="cli:contracts check", log_conn=log_conn)
            verdict, llm = result.verdict, semantic_llm.llm_summary(result)
        elif no_llm:
            verdict.notes.append(semantic_llm.TURNED_OFF_NOTE)
        else:
            verdict.notes.append(semantic_llm.NO_KEY_NOTE)
    except BatchError as exc:
        _fail_usage(str(exc))
    finally:
        conn.close()
    if as_json:
        out = {"passes": verdict.passes,
               "violations": [{k: v.to_dict()[k] for k in ("field", "rule", "detail", "severity", "source")}
                              for v in verdict.violations],
               "rows": verdict.row_count, "decided_by": verdict.decided_by, "notes": verdict.notes}
        if llm is not None:
            out["llm"] = llm
        click.echo(json.dumps(out, indent=2, default=str))
    else:
        click.echo(f"{data}: {verdict.row_count} rows, contract {parsed.id} {parsed.version}")
        for v in verdict.violations:
            click.echo(f"  [{v.severity}] {v.field or '(table)'} · {v.rule} ({v.source}): {v.detail}")
        for note in verdict.notes:
            click.echo(f"  note: {note}")
        click.echo("PASS" if verdict.passes else f"FAIL: {len(verdict.errors)} error(s)")
    sys.exit(EXIT_OK if verdict.passes else EXIT_FAILED)


@contracts.command("lint")
@click.argument("contract", type=click.Path(path_type=Path))
def contracts_lint(contract: Path) -> None:
    """Parse CONTRACT and explain each problem with its field and line. Exits 0 or 2."""
    from platform_assets.core.validation.contract import ContractError, load_contract

    try:
        parsed = load_contract(contract)
    except ContractError as exc:
        _fail_usage(str(exc))
    rules = sum(len(c.quality) for c in parsed.columns) + len(parsed.quality)
    click.echo(f"{contract}: ok: {parsed.id} {parsed.version}, table {parsed.table}, {len(parsed.columns)} columns, "
               f"{rules} quality rules, sensitive: {', '.join(parsed.sensitive_columns) or 'none'}")


# --- Dagster: checks, runs, backfills ------------------------------------------------------


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
        _fail_usage(str(exc))
    except RunStopped as exc:
        click.echo(f"stopped: run {exc.run_id}: {exc.reason}", err=True)
        sys.exit(EXIT_INTERRUPTED if exc.signal_name else EXIT_FAILED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)


# The default is platform_assets.operations_runs.POOL_WAIT_SECONDS (not imported here: it loads Dagster).
_pool_timeout_option = click.option(
    "--pool-timeout", "pool_timeout", type=float, default=900.0, show_default=True,
    help="Seconds a step may wait for a pool slot held by another live run before the run gives up.")


def _load_run_config(path: Path | None) -> dict:
    if path is None:
        return {}
    import yaml

    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        _fail_usage(f"{path}: cannot read run config: {exc}")
    return {}


def _print_run(summary, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(summary.__dict__, indent=2, default=str))
        return
    click.echo(f"run {summary.run_id} partitions {', '.join(summary.partitions) or '-'}: "
               f"{'succeeded' if summary.success else 'FAILED'}")
    for check in summary.check_results:
        mark = "pass" if check["passed"] else "FAIL"
        click.echo(f"  [{mark}] {check['asset']} · {check['check']}: {check['description'] or ''}")
    for step in summary.failed_steps:
        click.echo(f"  failed step: {step}")


@main.group()
def checks() -> None:
    """Run asset checks in-process, for CI."""


@checks.command("run")
@click.option("--select", "select", multiple=True, help="Asset key (raw/transactions) or Dagster selection "
              "(group:validation). Repeatable. Default: every asset.")
@click.option("--partition", help="Partition key, YYYY-MM-DD. Default: the last complete day.")
@click.option("--materialize", is_flag=True, help="Materialize the selected assets first, in the same run.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Run config YAML.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_pool_timeout_option
def checks_run(select: tuple[str, ...], partition: str | None, materialize: bool, config_path: Path | None,
               as_json: bool, pool_timeout: float) -> None:
    """Run the checks of the selected assets; exit 1 when any check fails."""
    from platform_assets.runner import run_checks

    summary = _run_or_usage(run_checks, list(select) or None, partition, materialize=materialize,
                            run_config=_load_run_config(config_path), pool_wait_seconds=pool_timeout)
    _print_run(summary, as_json)
    failed = not summary.success or any(not c["passed"] for c in summary.check_results)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


@main.command("run")
@click.option("--partition", help="Partition key, YYYY-MM-DD. Default: the last complete day.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Run config YAML.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_pool_timeout_option
def run(partition: str | None, config_path: Path | None, as_json: bool, pool_timeout: float) -> None:
    """Materialize every asset of one partition on the configured (default: embedded) stack."""
    from platform_assets.core.settings import Settings
    from platform_assets.runner import run_main

    summary = _run_or_usage(run_main, partition, run_config=_load_run_config(config_path),
                            pool_wait_seconds=pool_timeout)
    _print_run(summary, as_json)
    if not as_json:
        settings = Settings.from_env()
        _print_partition_tables(settings.warehouse_path, summary.partitions[0])
        click.echo(f"\nwarehouse: {settings.warehouse_path} (schemas raw, validated, quarantine, platform)")
        click.echo(f"dagster instance: {os.environ.get('DAGSTER_HOME')}")
        click.echo("UI: dagster dev -w workspace.yaml   (or: platform-assets dev)")
    sys.exit(EXIT_OK if summary.success else EXIT_FAILED)


def _print_partition_tables(warehouse_path: Path, partition_key: str) -> None:
    """Rows of the partition in each table of the warehouse that has a partition column."""
    import duckdb

    from platform_assets.core import warehouse

    if not Path(warehouse_path).exists():
        return
    try:
        with warehouse.session(warehouse_path, read_only=True) as conn:
            tables = conn.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE column_name IN ('partition_date', 'partition_key') AND table_schema <> 'platform' "
                "AND table_schema NOT LIKE '%\\_staging' ESCAPE '\\' "
                "ORDER BY 1, 2").fetchall()
            click.echo(f"\nrows of {partition_key}:")
            for schema, table, column in tables:
                (count,) = conn.execute(
                    f"SELECT count(*) FROM {schema}.{warehouse.quote_ident(table)} "
                    f"WHERE CAST({warehouse.quote_ident(column)} AS VARCHAR) = ?", [partition_key]).fetchall()[0]
                click.echo(f"  {schema}.{table}: {count}")
    except duckdb.Error as exc:  # a summary must not turn a finished run into a failure
        click.echo(f"(could not read the warehouse summary: {exc})")


@main.command("backfill")
@click.option("--select", "select", multiple=True, required=True, help="Asset key or Dagster selection; repeatable.")
@click.option("--start", required=True, help="First partition, YYYY-MM-DD.")
@click.option("--end", required=True, help="Last partition (inclusive), YYYY-MM-DD.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Run config YAML.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_pool_timeout_option
def backfill_command(select: tuple[str, ...], start: str, end: str, config_path: Path | None, as_json: bool,
                     pool_timeout: float) -> None:
    """Materialize a range of partitions: one run when the assets allow it, else one per day."""
    from platform_assets.runner import backfill

    result = _run_or_usage(backfill, list(select), start, end, run_config=_load_run_config(config_path),
                           pool_wait_seconds=pool_timeout)
    if as_json:
        click.echo(json.dumps({"selection": result.selection, "partitions": result.partitions,
                               "success": result.success, "runs": [r.__dict__ for r in result.runs]},
                              indent=2, default=str))
    else:
        click.echo(f"backfill {', '.join(result.selection)} {start}..{end}: {len(result.partitions)} partitions in "
                   f"{len(result.runs)} run(s)")
        for summary in result.runs:
            _print_run(summary, False)
    sys.exit(EXIT_OK if result.success else EXIT_FAILED)


# --- models ----------------------------------------------------------------------------


@main.group()
def models() -> None:
    """The model registry: versions, the champion/challenger aliases, promotion, rollback, cards."""


def _registry():
    from platform_assets.core.registry import registry_for
    from platform_assets.core.settings import Settings

    return registry_for(Settings.from_env().home)


def _registry_errors():
    from platform_assets.core.registry import RegistryError

    return RegistryError


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the versions as JSON.")
def models_list(as_json: bool) -> None:
    """Every version with its aliases, metrics and data window."""
    registry = _registry()
    aliases = registry.aliases()
    rows = []
    for number in registry.versions():
        version = registry.get(number)
        rows.append({
            "id": version.id, "version": number,
            "aliases": sorted(name for name, v in aliases.items() if v == number),
            "created_at": version.record.get("created_at"),
            "data_window": version.record.get("data_window"),
            "metrics": {k: v for k, v in version.metrics.items() if isinstance(v, int | float)},
        })
    if as_json:
        click.echo(json.dumps({"aliases": aliases, "versions": rows}, indent=2, default=str))
        return
    if not rows:
        click.echo("no model versions yet: materialize model/fraud_model (platform-assets run)")
        return
    for row in rows:
        headline = [k for k in ("pr_auc", "auroc", "precision", "recall") if k in row["metrics"]]
        metrics = ", ".join(f"{k} {row['metrics'][k]:.4f}" for k in headline)
        tags = f" [{', '.join(row['aliases'])}]" if row["aliases"] else ""
        click.echo(f"{row['id']}{tags}  {metrics}  window {row['data_window']}")


@models.command("promote")
@click.argument("version", type=int)
def models_promote(version: int) -> None:
    """Make VERSION the champion, only if it passes the champion/challenger gate.

    Exits 0 when promoted, 1 when the gate blocks it, 2 when the version does not exist.
    """
    registry = _registry()
    if version not in registry.versions():
        _fail_usage(f"no version {version}; the registry has {registry.versions() or 'none'}")
    try:
        decision = registry.promote_if_passes(version, actor="cli")
    except _registry_errors() as exc:
        click.echo(f"not promoted: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(decision.markdown())
    sys.exit(EXIT_OK if decision.passed else EXIT_FAILED)


@models.command("rollback")
@click.option("--reason", default="manual rollback", show_default=True)
def models_rollback(reason: str) -> None:
    """Put the previous champion back, in one call. Exits 1 when there is none."""
    try:
        restored = _registry().rollback(reason=reason, actor="cli")
    except _registry_errors() as exc:
        click.echo(f"not rolled back: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    click.echo(f"champion is now {restored.id}")


@models.command("card")
@click.option("--alias", default="champion", show_default=True, help="champion or challenger")
@click.option("--version", type=int, help="A version number instead of an alias.")
@click.option("--json", "as_json", is_flag=True, help="The card as JSON instead of Markdown.")
def models_card(alias: str, version: int | None, as_json: bool) -> None:
    """Print the model card of the champion (or --alias / --version)."""
    registry = _registry()
    if version is None:
        found = registry.alias(alias)
        if found is None:
            click.echo(f"no {alias} yet: materialize the model assets (platform-assets run)", err=True)
            sys.exit(EXIT_FAILED)
        version = found.version
    elif version not in registry.versions():
        _fail_usage(f"no version {version}; the registry has {registry.versions() or 'none'}")
    name = "model_card.json" if as_json else "model_card.md"
    try:
        click.echo(registry.read_file(version, name).decode())
    except _registry_errors() as exc:
        click.echo(f"no card for v{version} ({exc}): materialize model/model_card", err=True)
        sys.exit(EXIT_FAILED)


@main.command("dev")
@click.option("--port", default=3000, show_default=True)
def dev(port: int) -> None:
    """Start the Dagster UI and daemon on 127.0.0.1 for this code location."""
    from platform_assets.runner import get_instance

    get_instance()  # prepares DAGSTER_HOME with the project's dagster.yaml
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    args = ["dagster", "dev", "-h", "127.0.0.1", "-p", str(port)]
    args += ["-w", str(workspace)] if workspace.exists() else ["-m", "platform_assets.definitions"]
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()

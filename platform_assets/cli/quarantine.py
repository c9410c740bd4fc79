"""``platform-assets quarantine``: see what the contract checks held back, and release it.

- ``list [--partition D]``: partitions holding quarantined rows, with raw / validated /
  quarantined counts, the contract version that decided each and the reasons;
- ``show D [--limit N]``: the held rows of a day with their reasons;
- ``release D``: re-check the day against the current contract and move the held rows
  that now pass into ``validated`` (recorded; releasing again moves nothing more).

Exit codes as everywhere: 0 success, 1 rows remain held because the data still fails its
contract (``release``), 2 a usage error (unknown partition, no warehouse, unreadable contract).
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_OK, fail_usage

TABLE_OPTION = click.option(
    "--table",
    default="transactions",
    show_default=True,
    help="The table whose quarantine to read (its contract is in the contracts folder).",
)


@click.group()
def quarantine() -> None:
    """See the rows the contract checks held back, and release those that now pass."""


@contextmanager
def _warehouse(read_only: bool):
    from platform_assets.core import warehouse
    from platform_assets.core.settings import Settings

    path = Settings.from_env().warehouse
    if not warehouse.exists(path):
        fail_usage(
            f"no warehouse at {path}: nothing has been ingested yet (set PLATFORM_ASSETS_WAREHOUSE "
            "or PLATFORM_ASSETS_HOME, or run an ingestion first)"
        )
    with warehouse.session(path, read_only=read_only) as conn:
        yield conn


def _known_partition(conn, table: str, partition: str) -> None:
    from platform_assets.core.warehouse import fetch_row

    if (
        fetch_row(
            conn,
            "SELECT 1 FROM platform.batch_manifest WHERE table_name = ? AND partition_key = ?",
            [table, partition],
        )
        is None
    ):
        fail_usage(
            f"partition {partition!r} of {table} was never ingested; `platform-assets quarantine "
            "list` shows the days holding rows"
        )


def _reasons_text(reasons: list[dict]) -> str:
    return ", ".join(
        f"{r['field'] or '(table)'} · {r['rule']}{' (day)' if r['batch'] else ''}: {r['rows']}"
        for r in reasons[:6]
    ) + (" …" if len(reasons) > 6 else "")


@quarantine.command("list")
@click.option("--partition", help="Only this day (YYYY-MM-DD), even when nothing is held.")
@TABLE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the partitions as JSON.")
def quarantine_list(partition: str | None, table: str, as_json: bool) -> None:
    """Partitions holding quarantined rows: raw, validated, quarantined, the deciding contract, the
    reasons.
    """
    from platform_assets.core.validation.quarantine import partition_counts
    from platform_assets.core.validation.release import releases

    with _warehouse(read_only=True) as conn:
        if partition is not None:
            _known_partition(conn, table, partition)
        days = partition_counts(conn, table, partition)
        for day in days:
            day["released"] = sum(r["released"] for r in releases(conn, table, day["partition"]))
    broken = [d for d in days if not d["invariant_holds"] and not d["stale"]]
    if as_json:
        click.echo(json.dumps(days, indent=2, default=str))
        sys.exit(EXIT_FAILED if broken else EXIT_OK)
    if not days:
        click.echo(f"{table}: no quarantined rows")
    for day in days:
        click.echo(_day_line(day, table))
        if day["reasons"]:
            click.echo(f"  reasons (rows): {_reasons_text(day['reasons'])}")
    # A day whose counts do not add up, though nothing landed since its check, is damage.
    sys.exit(EXIT_FAILED if broken else EXIT_OK)


def _day_line(day: dict, table: str) -> str:
    """One day's counts as the tables have them, and whether they are a current verdict."""
    counts = (
        f"raw {day['raw']} {'=' if day['invariant_holds'] else '!='} validated "
        f"{day['validated']} + quarantined {day['quarantined']}"
    )
    if day["stale"]:
        when = (
            f"landed again at {day['loaded_at']} after its check at {day['checked_at']}"
            if day["checked_at"]
            else f"landed at {day['loaded_at']} and never checked"
        )
        return (
            f"{day['partition']}: {counts}; STALE: {when}, so it has no current verdict until "
            f"its contract check on raw/{table} and validated/{table} run again for the day"
        )
    verdict = "no verdict" if day["passes"] is None else ("passed" if day["passes"] else "FAILED")
    line = f"{day['partition']}: {counts}; {verdict} under {day['contract'] or 'no contract yet'}"
    if day.get("released"):
        line += f"; {day['released']} released so far"
    if not day["invariant_holds"]:
        line += (
            f"; the invariant raw = validated + quarantined does NOT hold: rows of {table} were "
            f"changed outside the platform; run the day's contract check and validation again"
        )
    return line


@quarantine.command("show")
@click.argument("partition")
@click.option(
    "--limit", type=click.IntRange(min=0), default=20, show_default=True, help="Rows to show."
)
@TABLE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def quarantine_show(partition: str, limit: int, table: str, as_json: bool) -> None:
    """The quarantined rows of PARTITION (a day), each with the reasons it is held back."""
    from platform_assets.core.validation.quarantine import held_rows, partition_counts

    with _warehouse(read_only=True) as conn:
        _known_partition(conn, table, partition)
        (day,) = partition_counts(conn, table, partition)
        rows = held_rows(conn, table, partition, limit)
    if as_json:
        click.echo(json.dumps({**day, "rows": rows, "shown": len(rows)}, indent=2, default=str))
        sys.exit(EXIT_OK)
    click.echo(
        f"{partition}: {day['quarantined']} of {day['raw']} rows held back"
        + (f" (showing {len(rows)})" if len(rows) < day["quarantined"] else "")
    )
    for row in rows:
        why = "; ".join(
            f"{r.get('field') or '(table)'} · {r.get('rule')}"
            + (" (day)" if r.get("batch") else "")
            for r in row["reasons"]
        )
        click.echo(f"  row {row['row']}: {why}")
        click.echo(f"    {json.dumps(row['values'], default=str)}")
    sys.exit(EXIT_OK)


@quarantine.command("release")
@click.argument("partition")
@TABLE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print what was released as JSON.")
def quarantine_release(partition: str, table: str, as_json: bool) -> None:
    """Re-check PARTITION against the current contract; move the held rows that now pass to
    validated.

    Exits 0 when nothing is left held back, 1 when rows stay held because they (or the day)
    still fail the contract, 2 on a usage error.
    """
    from pathlib import Path

    from platform_assets.core.settings import Settings
    from platform_assets.core.validation.batch import BatchError
    from platform_assets.core.validation.contract import ContractError, find_contract, load_contract
    from platform_assets.core.validation.release import release_partition
    from platform_assets.core.validation.service import StaleVerdictError

    try:
        contract = load_contract(
            find_contract(Path(Settings.from_env().contracts_dir), table), table
        )
    except (ContractError, FileNotFoundError) as exc:
        fail_usage(str(exc))
    with _warehouse(read_only=False) as conn:
        _known_partition(conn, table, partition)
        try:
            result = release_partition(conn, contract, partition, table)
        except (StaleVerdictError, BatchError) as exc:
            fail_usage(str(exc))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, default=str))
    else:
        click.echo(
            f"{partition}: re-checked against {result.contract}: {result.released} of "
            f"{result.held_before} held rows released; raw {result.raw} = validated "
            f"{result.validated} + quarantined {result.quarantined}"
        )
        if not result.day_passes:
            click.echo("  the day still fails the current contract, so nothing moves:")
            for rule in result.failing_rules:
                click.echo(f"    {rule['field'] or '(table)'} · {rule['rule']}: {rule['detail']}")
        elif result.still_held:
            click.echo(
                f"  {result.still_held} rows still break a row rule: `platform-assets quarantine "
                f"show {partition}` lists them"
            )
        if result.released:
            click.echo(
                f"  features derived from {partition} are not rebuilt by a release: materialize "
                "them again"
            )
    sys.exit(EXIT_FAILED if result.quarantined else EXIT_OK)

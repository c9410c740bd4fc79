"""``platform-assets costs``: the estimated cost of recent runs, by asset and by day.

A run's cost is its steps' compute seconds at the configured prices per vCPU-hour and
GiB-hour (defaults: AWS Fargate, see the README) plus the Claude calls the governance log
recorded for it. Read from the Dagster instance and the warehouse; nothing is written.

Exit codes: 0 success; 2 a usage error (``--since`` not a positive number of days).
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import click

from platform_assets.cli.common import EXIT_OK, fail_usage


def _money(value: float) -> str:
    return f"${value:.6f}"


@click.command("costs")
@click.option(
    "--since",
    "since_days",
    default=7.0,
    show_default=True,
    type=float,
    help="Runs that started in the last DAYS days.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the totals (and each run) as JSON.")
def costs(since_days: float, as_json: bool) -> None:
    """Estimated cost of recent runs: step compute at Fargate prices plus Claude calls."""
    import dagster as dg

    from platform_assets.core import warehouse
    from platform_assets.core.operations.costs import summarize
    from platform_assets.core.settings import Settings
    from platform_assets.defs.costs import FINISHED, estimate_run_cost
    from platform_assets.runner import get_instance

    if since_days <= 0:
        fail_usage(f"--since must be a positive number of days, got {since_days:g}")
    settings = Settings.from_env()
    instance = get_instance()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=since_days)
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=FINISHED, created_after=since)
    )
    runs = []
    if warehouse.exists(settings.warehouse):
        with warehouse.session(settings.warehouse, read_only=True) as conn:
            runs = [
                estimate_run_cost(instance, r.dagster_run.run_id, conn, settings.prices)
                for r in records
            ]
    else:
        runs = [
            estimate_run_cost(instance, r.dagster_run.run_id, None, settings.prices)
            for r in records
        ]
    totals = summarize(runs)
    prices = settings.prices
    if as_json:
        click.echo(
            json.dumps(
                {
                    **totals,
                    "since": since.isoformat(timespec="seconds"),
                    "prices": runs[0].prices if runs else None,
                    "run_costs": [r.to_dict() for r in runs],
                },
                indent=2,
                default=str,
            )
        )
        sys.exit(EXIT_OK)
    click.echo(
        f"estimated cost of {totals['runs']} run(s) since {since:%Y-%m-%d %H:%M} UTC: "
        f"{_money(totals['total_usd'])}"
    )
    click.echo(
        f"  (step compute at {prices.vcpu:g} vCPU × ${prices.usd_per_vcpu_hour}/vCPU-hour + "
        f"{prices.memory_gib:g} GiB × ${prices.usd_per_gib_hour}/GiB-hour, plus logged Claude "
        "calls)"
    )
    if not runs:
        sys.exit(EXIT_OK)
    click.echo("\nby asset:")
    width = max(len(name) for name in totals["by_asset"])
    for name, row in totals["by_asset"].items():
        click.echo(
            f"  {name:<{width}}  {row['runs']:>3} run(s)  {row['compute_seconds']:>8.1f} s  "
            f"compute {_money(row['compute_usd'])}  LLM {_money(row['llm_usd'])}  "
            f"total {_money(row['total_usd'])}"
        )
    click.echo("\nby day:")
    for day, row in totals["by_day"].items():
        click.echo(
            f"  {day}  {row['runs']:>3} run(s)  {row['compute_seconds']:>8.1f} s  "
            f"compute {_money(row['compute_usd'])}  LLM {_money(row['llm_usd'])}  "
            f"total {_money(row['total_usd'])}"
        )
    sys.exit(EXIT_OK)

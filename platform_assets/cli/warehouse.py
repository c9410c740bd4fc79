"""``platform-assets warehouse verify``: is every file the warehouse's catalog reads there?

On the production DuckLake, the catalog (Postgres) lists the Parquet files of each table's
current snapshot; the object store (S3) holds them. A lost object (a lifecycle rule, a
mistaken delete, a bucket restored from an older copy) makes every read of its days fail
with a 404, and nothing else notices. ``verify`` lists both and names each ``(table, day)``
whose files are missing; re-landing such a day restores it (see
``runbooks/warehouse_files_missing.md``). A local DuckDB file keeps its data inside itself:
there is nothing to compare, and it is reported whole.

Exit codes: 0 every file is there; 1 files are missing; 2 a usage error (the settings).
"""

from __future__ import annotations

import json
import sys

import click

from platform_assets.cli.common import EXIT_FAILED, EXIT_OK


@click.group("warehouse")
def warehouse() -> None:
    """The warehouse itself: are its files all there."""


@warehouse.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(as_json: bool) -> None:
    """Compare the DuckLake catalog with the object store; name every day whose files are
    missing (exit 1), or say the warehouse is whole (exit 0)."""
    from platform_assets.core.maintenance import VerifyReport, verify_files
    from platform_assets.core.settings import Settings

    settings = Settings.from_env()
    if settings.lake is None:
        report = VerifyReport(warehouse=str(settings.warehouse), kind="duckdb")
    else:
        report = verify_files(settings.lake)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for line in report.lines():
            click.echo(line)
    sys.exit(EXIT_OK if report.whole else EXIT_FAILED)

"""The ``platform-assets`` command: one module per command group.

- ``contracts``: check files against ODCS contracts, lint contracts (:mod:`.contracts`);
- ``checks run``, ``run``, ``backfill``: Dagster runs from the shell (:mod:`.runs`);
- ``models``: the model registry and release notes (:mod:`.models`);
- ``quarantine``: rows the contract checks held back, and their release (:mod:`.quarantine`);
- ``evals``: the eval suite: drafts, review, coverage, runs (:mod:`.evals`);
- ``tickets``: triage tickets and who approved their runbooks (:mod:`.tickets`);
- ``pages``: every alert as a page, its responder's findings, ack and resolve (:mod:`.pages`);
- ``costs``: the estimated cost of recent runs, by asset and by day (:mod:`.costs`);
- ``dev``: the Dagster UI and daemon.

Exit codes: see :mod:`.common` (0 success, 1 failed, 2 usage error, 130 stopped by a signal).

Every command's stdout and stderr pass :func:`platform_assets.core.redaction.for_terminal`
(no secret, no terminal control sequence), and a ``--json`` command that fails says so as
JSON on stdout too (:class:`PlatformGroup`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from platform_assets.cli import (
    contracts,
    costs,
    evals,
    models,
    pages,
    quarantine,
    runs,
    tickets,
)
from platform_assets.cli.common import PlatformGroup


@click.group(cls=PlatformGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="platform_assets")
def main() -> None:
    """platform_assets: an ML platform shipped as a Dagster code location.

    Data lives under $PLATFORM_ASSETS_HOME (default ./.platform_assets); see the README
    for every setting.
    """


@click.command("dev")
@click.option("--port", default=3000, show_default=True)
def dev(port: int) -> None:
    """Start the Dagster UI and daemon on 127.0.0.1 for this code location."""
    from platform_assets.runner import get_instance

    get_instance()  # prepares DAGSTER_HOME with the project's dagster.yaml
    workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
    # The running interpreter's dagster, not one found on PATH: `make dev` runs the venv's
    # platform-assets with the venv not on PATH.
    args = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port)]
    args += ["-w", str(workspace)] if workspace.exists() else ["-m", "platform_assets.definitions"]
    os.execv(sys.executable, args)


main.add_command(contracts.contracts)
main.add_command(runs.checks)
main.add_command(runs.run)
main.add_command(runs.backfill_command)
main.add_command(models.models)
main.add_command(tickets.tickets)
main.add_command(pages.pages)
main.add_command(costs.costs)
main.add_command(dev)
main.add_command(quarantine.quarantine)
main.add_command(evals.evals)

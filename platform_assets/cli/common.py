"""What every ``platform-assets`` command shares: exit codes and how a usage error is said.

Exit codes, for every command: 0 success, 1 the data or a check failed (or a run gave up
waiting for a pool slot), 2 a usage error (bad arguments, unreadable file, invalid contract,
unknown partition or asset), 130 stopped by SIGINT or SIGTERM (the run is marked canceled).
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def fail_usage(message: str) -> NoReturn:
    """Say what is wrong and exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)

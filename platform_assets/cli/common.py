"""What every ``platform-assets`` command shares: exit codes and how a usage error is said.

Exit codes, for every command: 0 success, 1 the data or a check failed (or a run gave up
waiting for a pool slot), 2 a usage error (bad arguments, unreadable file, invalid contract,
unknown partition or asset), 130 stopped by SIGINT or SIGTERM (the run is marked canceled).
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def fail_usage(message: str) -> None:
    """Say what is wrong and exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def json_error(out: TextIO, message: str, exit_code: int) -> None:
    """A ``--json`` command's error, on stdout: ``{"error": ..., "exit_code": ...}``."""
    out.write(json.dumps({"error": message, "exit_code": exit_code}) + "\n")
    out.flush()


# What cannot be reached, by the exception a client library raises for it (named, not
# imported: botocore and SQLAlchemy load only when a command uses them).
_OUTAGES = {
    "WarehouseUnreachable": None,  # its message already says what could not be reached
    "EndpointConnectionError": "cannot reach S3",
    "ConnectTimeoutError": "cannot reach S3",
    "OperationalError": "cannot reach Postgres (Dagster's storage)",
}


def outage_message(exc: BaseException) -> str | None:
    """One line for an outage (the warehouse's catalog, S3, Dagster's Postgres), or None when
    ``exc`` is not one. An outage is exit 1 and says so: it never reads as "nothing there"."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _OUTAGES and (
            cls.__name__ != "OperationalError" or cls.__module__.startswith("sqlalchemy")
        ):
            what = _OUTAGES[cls.__name__]
            text = " ".join(str(exc).split())
            return text if what is None else f"{what}: {text}"
    return None

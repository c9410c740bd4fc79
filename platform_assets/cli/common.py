"""What every ``platform-assets`` command shares: exit codes and how a usage error is said.

Exit codes, for every command: 0 success, 1 the data or a check failed (or a run gave up
waiting for a pool slot), 2 a usage error (bad arguments, unreadable file, invalid contract,
unknown partition or asset, a setting or a file the platform cannot use, storage that is
full or unreachable), 130 stopped by SIGINT or SIGTERM (the run is marked canceled).

:class:`PlatformGroup`, the ``platform-assets`` group, turns the failures every command
can meet (a corrupted warehouse file, a setting that cannot work, a full disk, S3 out of
reach, a signal) into one line on stderr with its exit code, instead of a traceback:
:func:`usage_message` is the one list of them.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import sys
from typing import NoReturn, TextIO

import click

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def fail_usage(message: str) -> NoReturn:
    """Say what is wrong and exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


class PlatformGroup(click.Group):
    """The top-level group, for every command:

    - stdout and stderr pass :func:`platform_assets.core.redaction.safe_stream` (no secret,
      no terminal control sequence);
    - SIGTERM stops a command as Ctrl-C does (``interrupted``, exit 130);
    - the known failures of :func:`usage_message` and the outages of :func:`outage_message`
      (what the settings name cannot be reached) end it with one line naming it, exit 2;
    - a ``--json`` command that fails also says so as JSON on stdout (:func:`json_error`).
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        from platform_assets.core.redaction import safe_stream

        argv = list(sys.argv[1:] if args is None else args)
        out, err = safe_stream(sys.stdout), safe_stream(sys.stderr)
        sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
        try:
            return super().main(argv, prog_name, complete_var, standalone_mode, **extra)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if "--json" in argv and code != 0 and not out.written.strip():
                json_error(out, _error_text(err.written, str(exc.code)), code)
            raise
        except Exception as exc:
            if "--json" not in argv:
                raise
            message = f"{type(exc).__name__}: {exc}"
            err.write(f"error: {message}\n")
            json_error(out, message, EXIT_FAILED)
            sys.exit(EXIT_FAILED)

    def invoke(self, ctx: click.Context):
        # A command that never installs its own handler (lint, diff, list) would otherwise
        # die by SIGTERM with Python's traceback-free but unexplained 143, or mid-write.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except Exception as exc:
            message = usage_message(exc)
            if message is not None:
                fail_usage(message)
            outage = outage_message(exc)
            if outage is None:
                raise
            fail_usage(outage)


def _error_text(stderr_text: str, fallback: str) -> str:
    """The error a failed command said on stderr: its ``error:`` lines, else its last line."""
    lines = [line.strip() for line in stderr_text.splitlines() if line.strip()]
    errors = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    return " ".join(errors) if errors else (lines[-1] if lines else fallback)


def _chain(exc: BaseException):
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _dagster_home() -> str:
    return os.environ.get("DAGSTER_HOME") or "$PLATFORM_ASSETS_HOME/dagster_home"


def usage_message(exc: BaseException) -> str | None:
    """One line for a failure that is the environment's or a file's, not the platform's:
    naming the file or setting and what to do. ``None`` for anything else (a bug keeps its
    traceback)."""
    for cause in _chain(exc):
        message = _one(cause)
        if message is not None:
            return " ".join(message.split())
    return None


def _one(exc: BaseException) -> str | None:
    import duckdb

    from platform_assets.core.registry.registry import RegistryError
    from platform_assets.core.settings import SettingsError

    text = str(exc)
    if isinstance(exc, SettingsError | RegistryError):
        # A RegistryError no command answered itself: the registry or a request cannot work.
        return text
    if isinstance(exc, duckdb.Error) and any(p in text for p in _DUCKDB_CORRUPT):
        return (
            f"{_warehouse_file(text)}: the warehouse cannot be read "
            f"({text.splitlines()[0].removeprefix('IO Error: ')}): the file is corrupted, "
            f"truncated or not a DuckDB database: restore it from a backup, or move it away and "
            f"land the data again (PLATFORM_ASSETS_WAREHOUSE names the file)"
        )
    if _disk_full(exc):
        where = getattr(exc, "filename", None) or _dagster_home()
        return (
            f"no space left on the device under {where} (the Dagster instance's storage is in "
            f"DAGSTER_HOME={_dagster_home()}): free space there, or point PLATFORM_ASSETS_HOME at "
            f"a disk with room"
        )
    if isinstance(exc, sqlite3.Error) and any(p in text for p in _SQLITE_CANNOT_WRITE):
        # The local Dagster instance's SQLite (run, event and schedule storage).
        return (
            f"the Dagster instance's storage in DAGSTER_HOME={_dagster_home()} cannot be written "
            f"(SQLite: {text.splitlines()[0]}; {_free_space(_dagster_home())}): free space on "
            f"that disk or make it writable, or point PLATFORM_ASSETS_HOME at one that is"
        )
    if (
        isinstance(exc, OSError)
        and exc.errno in (errno.ENOTDIR, errno.EISDIR, errno.EACCES)
        and (exc.filename)
    ):
        return (
            f"{exc.filename}: {exc.strerror}: the platform cannot use this path; check "
            f"PLATFORM_ASSETS_HOME and the PLATFORM_ASSETS_* paths (a directory it can write)"
        )
    unreachable = _unreachable_endpoint(exc)
    if unreachable is not None:
        return (
            f"S3 is unreachable ({unreachable}): check AWS_ENDPOINT_URL, PLATFORM_ASSETS_S3_URL "
            f"and the network, then run the command again; nothing was changed"
        )
    return None


_DUCKDB_CORRUPT = (
    "not a valid DuckDB database file",
    "Corrupt database file",
    "Could not read enough bytes from file",
)


def _warehouse_file(text: str) -> str:
    """The file DuckDB's message names, else the warehouse the settings name."""
    import re

    quoted = re.search(r'file "([^"]+)"', text)
    if quoted:
        return quoted.group(1)
    try:
        from platform_assets.core.settings import Settings

        return str(Settings.from_env().warehouse)
    except ValueError:
        return "the warehouse file"


_SQLITE_CANNOT_WRITE = (
    "disk I/O error",
    "unable to open database file",
    "attempt to write a readonly database",
    "readonly database",
)


def _free_space(path: str) -> str:
    import shutil

    try:
        return f"{shutil.disk_usage(path).free // 1024} KiB free there"
    except OSError:
        return "its free space unknown"


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc).lower()
    # SQLite (the local Dagster instance, through SQLAlchemy) and DuckDB say it in words.
    return "database or disk is full" in text or "no space left on device" in text


def _unreachable_endpoint(exc: BaseException) -> str | None:
    import duckdb

    try:
        from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
    except ImportError:  # pragma: no cover - botocore comes with the production extras
        return None
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        return str(exc)
    # DuckDB's httpfs reading the DuckLake's Parquet on S3.
    text = str(exc)
    if (
        isinstance(exc, duckdb.IOException | duckdb.HTTPException)
        and "HTTP" in text
        and any(p in text for p in _HTTP_UNREACHABLE)
    ):
        return text.splitlines()[0].removeprefix("IO Error: ")
    return None


_HTTP_UNREACHABLE = ("Could not connect", "Could not establish", "Couldn't resolve", "timed out")


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
    ``exc`` is not one. An outage is exit 2 and says so: it never reads as "nothing there"."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _OUTAGES and (
            cls.__name__ != "OperationalError" or cls.__module__.startswith("sqlalchemy")
        ):
            what = _OUTAGES[cls.__name__]
            text = " ".join(str(exc).split())
            return text if what is None else f"{what}: {text}"
    return None

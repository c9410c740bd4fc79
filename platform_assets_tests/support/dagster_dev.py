"""A throwaway Dagster instance served by ``dagster dev``, for the browser test.

The server runs in its own process group so that stopping it ends the webserver, the daemon
and the code server together, whatever happens in the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACTS_DIR, REPO

CHROMIUM = Path("/usr/bin/chromium")
ROWS_PER_PARTITION = 2000
SERVER_START_TIMEOUT_S = 120


@dataclass
class DagsterServer:
    url: str
    dagster_home: Path
    data_home: Path
    log_path: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(
            f"{self.url}/graphql", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
        if payload.get("errors"):
            raise AssertionError(f"GraphQL errors: {payload['errors']}")
        return payload["data"]

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def _wait_until_loaded(server: DagsterServer, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"dagster dev exited with {process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(f"{server.url}/server_info", timeout=5):
                pass
            entries = server.graphql(_LOCATIONS)["workspaceOrError"]["locationEntries"]
            last = json.dumps(entries)
            for entry in entries:
                error = entry["locationOrLoadError"] or {}
                if error.get("__typename") == "PythonError":
                    raise AssertionError(
                        f"Code location {entry['name']} failed to load: {error['message']}"
                    )
            if entries and all(
                e["loadStatus"] == "LOADED" and e["locationOrLoadError"] for e in entries
            ):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last = repr(exc)
        time.sleep(1)
    raise AssertionError(
        f"dagster dev did not load the code location in {SERVER_START_TIMEOUT_S}s "
        f"(last: {last}):\n{server.log_tail()}"
    )


def _stop(process: subprocess.Popen) -> None:
    """SIGINT the group (dagster dev shuts its children down), then SIGKILL what is left."""
    try:
        pgid = os.getpgid(process.pid)
    except ProcessLookupError:
        return
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGKILL, 5)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.5)


@contextmanager
def dagster_dev(
    root: Path,
    *,
    via_platform_assets: bool = False,
    path: str | None = None,
    automation: bool = False,
) -> Iterator[DagsterServer]:
    """``dagster dev`` on a free loopback port, its instance and data under ``root``, with
    Claude and AWS variables withheld; stopped (with its children) on exit.

    ``via_platform_assets``: started as ``python -m platform_assets.cli dev`` (what ``make dev``
    runs) instead of the venv's ``dagster`` script; ``path``: the child's ``PATH``;
    ``automation``: leave declarative automation on. Off by default: on a fresh instance it
    would start catching up the last complete day while a test looks at a quiet one."""
    dagster_home = root / "dagster_home"
    data_home = root / "data"
    dagster_home.mkdir()
    data_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    if not automation:
        with (dagster_home / "dagster.yaml").open("a") as yaml_file:
            yaml_file.write("\nauto_materialize:\n  enabled: false\n  use_sensors: false\n")
    port = _free_port()
    env = subprocess_env(
        DAGSTER_HOME=str(dagster_home),
        PLATFORM_ASSETS_HOME=str(data_home),
        PLATFORM_ASSETS_ROWS_PER_PARTITION=str(ROWS_PER_PARTITION),
        PLATFORM_ASSETS_CONTRACTS_DIR=str(CONTRACTS_DIR),
        RUNTIME__LOG_LEVEL="ERROR",
    )
    if path is not None:
        env["PATH"] = path
    dagster_bin = Path(sys.executable).with_name("dagster")
    log_path = root / "dagster_dev.log"
    server = DagsterServer(f"http://127.0.0.1:{port}", dagster_home, data_home, log_path)
    with log_path.open("wb") as log:
        command = (
            [sys.executable, "-m", "platform_assets.cli", "dev", "--port", str(port)]
            if via_platform_assets
            else [
                str(dagster_bin),
                "dev",
                "-w",
                str(REPO / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ]
        )
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_until_loaded(server, process)
            yield server
        finally:
            _stop(process)

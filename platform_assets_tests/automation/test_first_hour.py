"""The first hour of a newcomer, as the README's quick start has it:

- ``platform-assets run`` on a fresh home prints progress and a short summary (no Dagster
  DEBUG lines, no exit-time ``nanobind: leaked`` block) and makes no outbound connection:
  a Python audit hook in the child records every non-loopback connect and name lookup;
- ``platform-assets dev`` serves the UI when the venv's ``bin`` is not on ``PATH`` (as
  ``make dev`` runs it), and ``platform_assets.backfill(..., url=...)`` submits a backfill
  to it that shows in its Backfills tab and that its daemon runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import platform_assets
from platform_assets.runner import RunnerError
from platform_assets_tests.support.dagster_dev import dagster_dev
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACTS_DIR

MAX_LINES = 44  # 40, and labels/chargebacks: its check and a progress line in each of the two runs

# Installed in the child through PYTHONPATH: records each socket connect or name lookup that
# is not to the loopback interface (or a Unix socket), one JSON line per attempt.
AUDIT_HOOK = """
import json, os, sys
_log = os.environ["NETWORK_AUDIT_LOG"]
_LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0", None)

def _record(event, target):
    with open(_log, "a") as handle:
        handle.write(json.dumps({"pid": os.getpid(), "event": event, "target": repr(target)}) + "\\n")

def _hook(event, args):
    if event == "socket.getaddrinfo" and args[0] not in _LOCAL:
        _record(event, args[:2])
    elif event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address[0] not in _LOCAL:
            _record(event, address)

sys.addaudithook(_hook)
with open(_log + ".installed", "a") as handle:
    handle.write(f"{os.getpid()}\\n")
"""


def _audited_env(tmp_path: Path, **more: str) -> tuple[dict[str, str], Path]:
    hook_dir = tmp_path / "audit_hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(AUDIT_HOOK)
    log = tmp_path / "network.jsonl"
    pythonpath = [str(hook_dir), *filter(None, [subprocess_env().get("PYTHONPATH")])]
    return subprocess_env(PYTHONPATH=":".join(pythonpath), NETWORK_AUDIT_LOG=str(log), **more), log


def _attempts(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_audit_hook_sees_an_outbound_lookup(tmp_path):
    env, log = _audited_env(tmp_path)
    code = "import socket\ntry:\n    socket.getaddrinfo('example.invalid', 443)\nexcept OSError:\n    pass"
    subprocess.run([sys.executable, "-c", code], env=env, timeout=60, check=True)
    assert [a["target"] for a in _attempts(log)] == ["('example.invalid', 443)"]


@pytest.mark.slow
def test_quick_start_run_is_short_quiet_and_offline(tmp_path):
    home = tmp_path / "home"
    env, log = _audited_env(
        tmp_path, PLATFORM_ASSETS_HOME=str(home), PLATFORM_ASSETS_CONTRACTS_DIR=str(CONTRACTS_DIR)
    )
    env.pop("RUNTIME__LOG_LEVEL", None)  # as a newcomer's shell has it
    started = time.monotonic()
    # From a directory that is not the repository: dlt's project config (.dlt/) is not found there.
    run = subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.monotonic() - started
    lines = run.stdout.splitlines() + run.stderr.splitlines()
    print(f"platform-assets run: {len(lines)} lines in {seconds:.0f} s\n" + "\n".join(lines))
    assert run.returncode == 0, run.stdout + run.stderr
    assert (log.parent / (log.name + ".installed")).exists(), (
        "the audit hook was not installed in the child"
    )

    assert _attempts(log) == [], "outbound connection attempts during a run with no key"
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines"
    assert not [line for line in lines if " - DEBUG - " in line]
    assert "nanobind" not in run.stderr and "leaked" not in run.stderr
    assert "platform_main" in run.stderr and "  ✓ model/fraud_model" in run.stderr  # progress
    out = run.stdout
    assert "[pass] model/fraud_model_onnx · onnx_parity: ONNX and scikit-learn agree on all" in out
    assert "rows of " in out and "validated.transactions 20000" in out
    champion = next(line for line in out.splitlines() if line.startswith("champion: "))
    assert "fraud_model:v1 (promoted by this run): AUROC 0." in champion and "PR-AUC" in champion
    card = next(line for line in out.splitlines() if line.startswith("model card: "))
    assert Path(card.split()[2]).is_file()
    assert "estimated cost: $" in out


@pytest.mark.slow
def test_dev_serves_the_ui_without_the_venv_on_path_and_takes_a_backfill(tmp_path):
    venv_bin = str(Path(sys.executable).parent)
    path = "/usr/local/bin:/usr/bin:/bin"
    assert venv_bin not in path.split(":")
    with dagster_dev(tmp_path, via_platform_assets=True, path=path) as server:
        submitted = platform_assets.backfill(
            ["raw/transactions", "validated/transactions"],
            "2026-11-01",
            "2026-11-02",
            url=server.url,
        )
        assert submitted.partitions == ["2026-11-01", "2026-11-02"]
        listed = server.graphql(
            "{ partitionBackfillsOrError { ... on PartitionBackfills { results { id "
            "assetSelection { path } } } } }"
        )
        backfills = {b["id"]: b for b in listed["partitionBackfillsOrError"]["results"]}
        assert submitted.backfill_id in backfills  # the Backfills tab lists it
        assert {tuple(k["path"]) for k in backfills[submitted.backfill_id]["assetSelection"]} == {
            ("raw", "transactions"),
            ("validated", "transactions"),
        }
        deadline = time.monotonic() + 300
        status = "REQUESTED"
        while status in ("REQUESTED", "CANCELING", "unknown") and time.monotonic() < deadline:
            time.sleep(2)
            try:
                status = submitted.status()
            except RunnerError as exc:  # a webserver busy with the run may not answer in time
                status, last_error = "unknown", exc
        assert status == "COMPLETED_SUCCESS", (
            f"{status} {locals().get('last_error', '')}\n{server.log_tail()}"
        )
        runs = server.graphql(
            f'{{ runsOrError(filter: {{tags: [{{key: "dagster/backfill", value: "{submitted.backfill_id}"}}]}}) '
            "{ ... on Runs { results { status tags { key value } } } } }"
        )["runsOrError"]["results"]
        assert runs and all(r["status"] == "SUCCESS" for r in runs)

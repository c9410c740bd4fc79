"""The first hour of a newcomer, as the README's quick start has it:

- ``platform-assets run`` on a fresh home prints progress and a short summary (no Dagster
  DEBUG lines, no exit-time ``nanobind: leaked`` block) and makes no outbound connection:
  it runs under ``strace -f -e trace=connect,sendto`` (every process and thread, native code
  included: onnxruntime's telemetry is native), and any non-loopback connect or DNS lookup
  fails it (:mod:`platform_assets_tests.support.egress`);
- ``platform-assets dev`` serves the UI when the venv's ``bin`` is not on ``PATH`` (as
  ``make dev`` runs it), and ``platform_assets.backfill(..., url=...)`` submits a backfill
  to it that shows in its Backfills tab and that its daemon runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

import platform_assets
from platform_assets.core.telemetry import TELEMETRY_OFF
from platform_assets.runner import RunnerError
from platform_assets_tests.support.dagster_dev import dagster_dev
from platform_assets_tests.support.egress import outbound_attempts, run_watched
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACTS_DIR

MAX_LINES = 40


@pytest.mark.slow
def test_quick_start_run_is_short_quiet_and_offline(tmp_path):
    home = tmp_path / "home"
    log = tmp_path / "strace.log"
    env = subprocess_env(
        PLATFORM_ASSETS_HOME=str(home), PLATFORM_ASSETS_CONTRACTS_DIR=str(CONTRACTS_DIR)
    )
    for variable in ("RUNTIME__LOG_LEVEL", *TELEMETRY_OFF):  # as a newcomer's shell has it
        env.pop(variable, None)
    started = time.monotonic()
    # From a directory that is not the repository: dlt's project config (.dlt/) is not found there.
    run = run_watched(
        [sys.executable, "-m", "platform_assets.cli", "run"],
        log,
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
    assert log.stat().st_size > 0, "strace wrote nothing"
    assert outbound_attempts(log) == [], "outbound connections or lookups during a run"
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
            '{ runsOrError(filter: {tags: [{key: "dagster/backfill", '
            f'value: "{submitted.backfill_id}"}}]}}) '
            "{ ... on Runs { results { status tags { key value } } } } }"
        )["runsOrError"]["results"]
        assert runs and all(r["status"] == "SUCCESS" for r in runs)

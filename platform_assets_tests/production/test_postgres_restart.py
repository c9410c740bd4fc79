"""A Postgres restart while workers land days: the warehouse attaches again and replays the
transaction the restart cut, so every day lands once, without a person."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import pytest

from platform_assets_tests.production.test_one_writer_per_day import WORKER, _stored
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.production import run_together

pytestmark = pytest.mark.slow

WORKERS = 4
ROWS = 20_000


@pytest.mark.xfail(
    strict=False,
    reason="known bug: a worker can abort (SIGABRT) in DuckDB's ROLLBACK after a Postgres "
    "restart (seen once in a fresh-clone run); the replay path needs a fix",
)
def test_postgres_restarted_while_four_workers_land_every_day_lands(production, tmp_path):
    days = [(dt.date(2026, 11, 2) + dt.timedelta(days=n)).isoformat() for n in range(WORKERS)]
    go = tmp_path / "go"
    env = subprocess_env({**production.env, "RUNTIME__LOG_LEVEL": "ERROR"})
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, day, str(go), str(production.home / "dlt"), str(ROWS)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for day in days
    ]
    time.sleep(8)
    go.touch()
    restarts = []
    # Restart while they work: a few times, so some restart hits an attach, a transaction
    # or a commit.
    for _ in range(3):
        time.sleep(6)
        if all(p.poll() is not None for p in processes):
            break
        started = time.monotonic()
        production.postgres.restart()
        restarts.append(round(time.monotonic() - started, 1))
    results = run_together(processes, timeout=900)
    print(
        f"Postgres restarted {len(restarts)} times ({restarts} s each) while {WORKERS} workers ran"
    )
    for day, result in zip(days, results, strict=True):
        assert result.returncode == 0, f"{day}:\n{result.output[-3000:]}"
    assert restarts, "the workers finished before Postgres could be restarted"
    raw, manifests = _stored(production.settings())
    assert raw == dict.fromkeys(days, ROWS)
    assert manifests == dict.fromkeys(days, 1)


def test_the_production_instance_retries_infrastructure_failures_only(production):
    import dagster as dg

    with dg.DagsterInstance.from_config(str(production.dagster_home)) as instance:
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == 2
        # A failed step or check (contract, ONNX parity, gate) is never run again.
        assert instance.run_retries_retry_on_asset_or_op_failure is False

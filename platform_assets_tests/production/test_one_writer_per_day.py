"""One writer per (table, day) on the production warehouse (real Postgres, moto S3).

Replacing a day is "delete the day, insert it". Deleting a day that is not there yet deletes
nothing, so without a lock two writers of one *new* day both commit and the day is stored
twice (DuckLake sees no conflict). ``warehouse.writer_locks`` makes them take turns.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import pytest

from platform_assets.core import warehouse
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.production import run_together

pytestmark = pytest.mark.slow

ROWS = 20_000
WORKERS = 3
ROUNDS = 10

#: A worker: everything imported first, then it waits for the go file, so the workers of a
#: round start landing the same day within a few milliseconds of each other.
WORKER = """
import os, sys, time
from pathlib import Path
from platform_assets.core.ingestion.load import BundledReader, ingest
from platform_assets.core.settings import Settings
import dlt  # noqa: F401
day, go, pipelines = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
settings = Settings.from_env()
while not go.exists():
    time.sleep(0.01)
ingest(BundledReader(int(sys.argv[4])), [day], settings.warehouse, pipelines)
print("landed", day)
"""


def _land_at_once(production, day: str, go, workers: int = WORKERS, rows: int = ROWS):
    env = subprocess_env({**production.env, "RUNTIME__LOG_LEVEL": "ERROR"})
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, day, str(go), str(production.home / "dlt"), str(rows)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(workers)
    ]
    time.sleep(8)  # the imports (dlt, duckdb, boto3) before the go
    go.touch()
    return run_together(processes, timeout=900)


def _stored(settings) -> tuple[dict[str, int], dict[str, int]]:
    with warehouse.session(settings.warehouse, read_only=True) as conn:
        raw = dict(
            conn.execute(
                "SELECT CAST(partition_date AS VARCHAR), count(*) FROM raw.transactions GROUP BY 1"
            ).fetchall()
        )
        manifests = dict(
            conn.execute(
                "SELECT partition_key, count(*) FROM platform.batch_manifest GROUP BY 1"
            ).fetchall()
        )
    return raw, manifests


def test_three_workers_landing_one_new_day_at_once_store_it_once(production, tmp_path):
    settings = production.settings()
    days = [(dt.date(2026, 11, 2) + dt.timedelta(days=n)).isoformat() for n in range(ROUNDS)]
    seconds = []
    for round_number, day in enumerate(days):
        results = _land_at_once(production, day, tmp_path / f"go-{round_number}")
        for result in results:
            assert result.returncode == 0, result.output[-3000:]
        seconds.append(max(r.seconds for r in results))
    raw, manifests = _stored(settings)
    print(f"{ROUNDS} rounds of {WORKERS} workers: {[round(s, 1) for s in seconds]} s")
    assert raw == dict.fromkeys(days, ROWS)
    assert manifests == dict.fromkeys(days, 1)


def test_a_writer_waits_for_the_one_replacing_the_day(production):
    """In one process, two threads: the second waits, then names the day when it gives up."""
    import threading

    settings = production.settings()
    lake = warehouse.resolve_lake(settings.warehouse)
    held, release = threading.Event(), threading.Event()
    lines: list[str] = []

    def first() -> None:
        with warehouse.writer_locks(lake, "raw.transactions", ["2026-11-02"]):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=first)
    holder.start()
    assert held.wait(30)
    started = time.monotonic()
    with (
        pytest.raises(warehouse.WriterBusyError, match=r"raw\.transactions 2026-11-02: another"),
        warehouse.writer_locks(
            lake, "raw.transactions", ["2026-11-02"], timeout=1.5, log=lines.append
        ),
    ):
        pass
    assert 1.5 <= time.monotonic() - started < 10
    assert lines == [
        "raw.transactions 2026-11-02: another writer is replacing this day; waiting for it "
        "(up to 1.5 s)"
    ]
    # Another day is not held, and the lock is free once its holder is done.
    with warehouse.writer_locks(lake, "raw.transactions", ["2026-11-03"], timeout=1):
        pass
    release.set()
    holder.join(30)
    with warehouse.writer_locks(lake, "raw.transactions", ["2026-11-02"], timeout=5):
        pass

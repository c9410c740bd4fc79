"""The production warehouse against the local one, and partitions per hour on each.

What it measures (PostgreSQL and moto's S3 started here, on loopback, as the tests do)
    1. Ingestion: ``ingest`` of one pre-generated day (``--rows``) into a fresh DuckDB file
       and into a fresh DuckLake (catalog in Postgres, Parquet on S3), then the same day again
       (the delete-insert of a re-materialisation). Median of ``--repeats``.
    2. Contract check: ``service.check_partition`` of that day, read from each warehouse
       (the partition becomes a temp table, then the same engine runs). Median of
       ``--repeats``.
    3. Partitions per hour, end to end: ``platform-assets backfill --select raw/transactions
       --select validated/transactions`` for one day per process (what one ECS task does for
       one partition, process start and code-location load included, container start
       excluded), ``--days`` days one after the other (one worker), then ``--days`` days
       per worker on 2 workers at once, on the production profile; the local profile's one
       worker for comparison (a DuckDB file allows no second writer).

Run
    .venv/bin/python benchmarks/bench_production.py                       # 20k-row days
    .venv/bin/python benchmarks/bench_production.py --feed-rows 200000    # a 10x feed
Writes benchmarks/results/production.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

import duckdb  # noqa: E402

from platform_assets.core import warehouse  # noqa: E402
from platform_assets.core.ingestion.bundled import generate_transactions  # noqa: E402
from platform_assets.core.ingestion.load import ingest  # noqa: E402
from platform_assets.core.validation.contract import load_contract  # noqa: E402
from platform_assets.core.validation.service import check_partition  # noqa: E402
from platform_assets_tests.support.environment import without_credentials  # noqa: E402
from platform_assets_tests.support.servers import MotoS3, PostgresServer, postgres_bin_dir  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DAY = "2026-11-01"


class Fixed:
    name = "bundled"

    def __init__(self, table):
        self.table = table

    def read(self, partition_key):
        return self.table


def production_env(postgres, moto, home: Path) -> dict[str, str]:
    return {
        "PLATFORM_ASSETS_PROFILE": "production",
        "PLATFORM_ASSETS_PG_URL": postgres.create_database("bench"),
        "PLATFORM_ASSETS_S3_URL": f"s3://{moto.create_bucket('bench')}/platform",
        "PLATFORM_ASSETS_HOME": str(home),
        **moto.env(),
    }


def set_env(values: dict[str, str]) -> None:
    for name in [
        n for n in os.environ if n.startswith(("PLATFORM_ASSETS_", "AWS_", "DAGSTER_HOME"))
    ]:
        del os.environ[name]
    os.environ.update(values)


def time_engines(postgres, moto, rows: int, repeats: int) -> dict:
    table = generate_transactions(DAY, rows)
    contract = load_contract(REPO / "contracts" / "fct_transactions.odcs.yaml")
    out = {}
    for engine in ("duckdb_file", "ducklake"):
        loads, reloads, checks = [], [], []
        for _ in range(repeats):
            home = Path(tempfile.mkdtemp(prefix=f"bench_{engine}_"))
            if engine == "ducklake":
                set_env(production_env(postgres, moto, home))
                target = "ducklake:platform_assets_lake"
            else:
                set_env({"PLATFORM_ASSETS_HOME": str(home)})
                target = str(home / "w.duckdb")
            for timings in (loads, reloads):
                started = time.perf_counter()
                ingest(Fixed(table), [DAY], target, home / "dlt")
                timings.append(time.perf_counter() - started)
            started = time.perf_counter()
            with warehouse.session(target) as conn:
                verdict = check_partition(conn, contract, DAY).verdict
            checks.append(time.perf_counter() - started)
            assert verdict.passes, verdict.errors
        out[engine] = {
            "ingest_s": loads,
            "reingest_s": reloads,
            "check_s": checks,
            "ingest_median_s": statistics.median(loads),
            "reingest_median_s": statistics.median(reloads),
            "check_median_s": statistics.median(checks),
            "ingest_rows_per_s": rows / statistics.median(loads),
        }
    set_env({})
    return out


class S3Requests(logging.Handler):
    """Counts the requests moto's server answers (its access log), by HTTP method."""

    def __init__(self):
        super().__init__()
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        match = re.search(r"\b(GET|PUT|POST|HEAD|DELETE) /", record.getMessage())
        if match:
            self.counts[match.group(1)] = self.counts.get(match.group(1), 0) + 1

    def __enter__(self):
        log = logging.getLogger("werkzeug")
        log.setLevel(logging.INFO)
        log.addHandler(self)
        return self

    def __exit__(self, *exc):
        logging.getLogger("werkzeug").removeHandler(self)


def backfill(env: dict[str, str], day: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "platform_assets.cli",
            "backfill",
            "--select",
            "raw/transactions",
            "--select",
            "validated/transactions",
            "--start",
            day,
            "--end",
            day,
        ],
        cwd=REPO,
        env={**without_credentials(os.environ), **env, "RUNTIME__LOG_LEVEL": "ERROR"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"backfill {day} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return time.perf_counter() - started


def worker(env: dict[str, str], days: list[str]) -> subprocess.Popen:
    """One worker: a shell loop of one-day backfills, as consecutive ECS tasks would run."""
    script = "; ".join(
        f"{sys.executable} -m platform_assets.cli backfill --select raw/transactions --select "
        f"validated/transactions --start {day} --end {day} >/dev/null 2>&1 || exit 1"
        for day in days
    )
    return subprocess.Popen(
        ["bash", "-c", script],
        cwd=REPO,
        env={**without_credentials(os.environ), **env, "RUNTIME__LOG_LEVEL": "ERROR"},
    )


def partitions_per_hour(postgres, moto, feed_rows: int, days: int) -> dict:
    import datetime as dt

    def day_list(offset: int) -> list[str]:
        return [
            (dt.date(2026, 9, 1) + dt.timedelta(days=offset + i)).isoformat() for i in range(days)
        ]

    out = {}
    # Local profile: one worker, one DuckDB file.
    home = Path(tempfile.mkdtemp(prefix="bench_local_"))
    local = {
        "PLATFORM_ASSETS_HOME": str(home),
        "PLATFORM_ASSETS_ROWS_PER_PARTITION": str(feed_rows),
    }
    seconds = [backfill(local, day) for day in day_list(0)]
    out["local_one_worker"] = {
        "seconds_per_partition": seconds,
        "partitions_per_hour": 3600 / statistics.mean(seconds),
    }
    # Production profile: one worker, then two at once on other days.
    home = Path(tempfile.mkdtemp(prefix="bench_prod_"))
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
    prod = {
        **production_env(postgres, moto, home),
        "PLATFORM_ASSETS_ROWS_PER_PARTITION": str(feed_rows),
        "DAGSTER_HOME": str(dagster_home),
    }
    backfill(prod, "2026-08-01")  # creates the lake's tables: every measured run finds them
    with S3Requests() as requests:
        seconds = [backfill(prod, day) for day in day_list(0)]
    out["s3_requests_per_partition"] = {method: n / days for method, n in requests.counts.items()}
    out["production_one_worker"] = {
        "seconds_per_partition": seconds,
        "partitions_per_hour": 3600 / statistics.mean(seconds),
    }
    started = time.perf_counter()
    workers = [worker(prod, day_list(10 + 10 * w)) for w in range(2)]
    codes = [w.wait() for w in workers]
    wall = time.perf_counter() - started
    if any(codes):
        raise RuntimeError(f"a worker failed: {codes}")
    out["production_two_workers"] = {
        "partitions": 2 * days,
        "wall_s": wall,
        "partitions_per_hour": 3600 * 2 * days / wall,
    }
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=200_000, help="rows of the day in the engine comparison"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--feed-rows", type=int, default=20_000, help="rows per day in the end-to-end runs"
    )
    parser.add_argument(
        "--days", type=int, default=3, help="days per worker in the end-to-end runs"
    )
    parser.add_argument("--skip-engines", action="store_true")
    args = parser.parse_args(argv)
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    postgres = PostgresServer(bin_dir).start()
    moto = MotoS3().start()
    try:
        result = {
            "duckdb": duckdb.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "rows": args.rows,
            "feed_rows": args.feed_rows,
        }
        if not args.skip_engines:
            result["engines"] = time_engines(postgres, moto, args.rows, args.repeats)
        result["end_to_end"] = partitions_per_hour(postgres, moto, args.feed_rows, args.days)
        result["load_average_after"] = os.getloadavg()
    finally:
        moto.stop()
        postgres.stop()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "production.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()

"""Ingestion throughput: the bundled source through dlt into DuckDB vs DuckDB's native insert.

What it measures
    Rows per second of ``platform_assets.core.ingestion.load.ingest`` (the path the
    ``raw/transactions`` asset takes: harmonise types, add ``partition_date``, dlt
    normalise + load into the ``raw`` schema with merge / delete-insert on
    ``partition_date``, write the batch manifest) against DuckDB's native load of the same
    Arrow table into a table of a fresh DuckDB file
    (``conn.register('t', table); CREATE TABLE x AS SELECT * FROM t``). The ratio
    dlt / native throughput is the number that matters (the aim: >= 25%).

    Generation is timed separately and excluded: the Arrow table is generated once and
    handed to ``ingest`` through a reader that returns it (any object with ``name`` and
    ``read(partition_key)`` is a ``BatchReader``). Every timed run writes to a fresh
    warehouse file and dlt pipelines folder. Also timed: re-loading the same partition into
    the now non-empty table (dlt's delete-insert merge, what a re-materialisation does).

Run
    .venv/bin/python benchmarks/bench_ingestion.py              # 1M rows
    .venv/bin/python benchmarks/bench_ingestion.py --rows 200000
Writes benchmarks/results/ingestion.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# dlt logs a warning per load about Arrow nullability hints; it is noise here.
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

import duckdb  # noqa: E402
import pyarrow as pa  # noqa: E402

from platform_assets.core.ingestion.bundled import generate_transactions  # noqa: E402
from platform_assets.core.ingestion.load import ingest  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PARTITION = "2026-11-01"


@dataclass(frozen=True)
class PreGeneratedReader:
    """A BatchReader that hands back an already generated table (so generation is not timed)."""

    table: pa.Table
    name: str = "bundled"

    def read(self, partition_key: str) -> pa.Table:
        return self.table


def time_native(table: pa.Table, workdir: Path) -> float:
    path = workdir / "native.duckdb"
    t0 = time.perf_counter()
    conn = duckdb.connect(str(path))
    conn.register("t", table)
    conn.execute("CREATE TABLE x AS SELECT * FROM t")
    conn.unregister("t")
    conn.close()  # includes the checkpoint to disk, as dlt's load does
    return time.perf_counter() - t0


def time_dlt(table: pa.Table, workdir: Path) -> tuple[float, float]:
    warehouse = workdir / "warehouse.duckdb"
    pipelines = workdir / "dlt"
    reader = PreGeneratedReader(table)
    t0 = time.perf_counter()
    manifests = ingest(reader, [PARTITION], warehouse, pipelines)
    first = time.perf_counter() - t0
    assert manifests[0].row_count == table.num_rows
    t0 = time.perf_counter()
    ingest(reader, [PARTITION], warehouse, pipelines)
    reload = time.perf_counter() - t0
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        (rows,) = conn.execute("SELECT count(*) FROM raw.transactions").fetchall()[0]
    finally:
        conn.close()
    assert rows == table.num_rows, f"expected {table.num_rows} rows after reload, found {rows}"
    return first, reload


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side (median)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    table = generate_transactions(dt.date.fromisoformat(PARTITION), args.rows)
    generate_s = time.perf_counter() - t0

    native_runs, dlt_runs, reload_runs = [], [], []
    root = Path(tempfile.mkdtemp(prefix="bench_ingestion_"))
    try:
        # Warm-up: imports dlt and its destination code, so the first timed run is not an outlier.
        warm = generate_transactions(dt.date.fromisoformat(PARTITION), 1000)
        time_dlt(warm, root / "warmup")
        for i in range(args.repeats):
            (root / f"native_{i}").mkdir(parents=True)
            native_runs.append(time_native(table, root / f"native_{i}"))
            first, reload = time_dlt(table, root / f"dlt_{i}")
            dlt_runs.append(first)
            reload_runs.append(reload)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    native_s, dlt_s, reload_s = (statistics.median(x) for x in (native_runs, dlt_runs, reload_runs))
    rows = table.num_rows
    result = {
        "benchmark": "ingestion",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
        },
        "rows": rows,
        "arrow_mb": round(table.nbytes / 1e6, 1),
        "generate_seconds": round(generate_s, 3),
        "generate_rows_per_s": round(rows / generate_s),
        "native_seconds": round(native_s, 4),
        "native_rows_per_s": round(rows / native_s),
        "dlt_first_load_seconds": round(dlt_s, 4),
        "dlt_first_load_rows_per_s": round(rows / dlt_s),
        "dlt_reload_seconds": round(reload_s, 4),
        "dlt_reload_rows_per_s": round(rows / reload_s),
        "dlt_share_of_native": round(native_s / dlt_s, 3),
        "dlt_reload_share_of_native": round(native_s / reload_s, 3),
        "runs": {
            "native": [round(t, 4) for t in native_runs],
            "dlt_first_load": [round(t, 4) for t in dlt_runs],
            "dlt_reload": [round(t, 4) for t in reload_runs],
        },
        "aim": "dlt_share_of_native >= 0.25",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingestion.json").write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    return result


def print_table(r: dict) -> None:
    print(
        f"\ningestion benchmark: {r['rows']:,} rows ({r['arrow_mb']} MB Arrow), "
        f"{r['machine']['cpus']} cpus, duckdb {r['machine']['duckdb']}"
    )
    print(f"  {'what':<46}{'median s':>10}{'rows/s':>12}{'vs native':>11}")
    print(
        f"  {'generate (bundled source, not in the loads)':<46}{r['generate_seconds']:>10.3f}"
        f"{r['generate_rows_per_s']:>12,}{'':>11}"
    )
    print(
        f"  {'DuckDB native CREATE TABLE AS (Arrow)':<46}{r['native_seconds']:>10.3f}"
        f"{r['native_rows_per_s']:>12,}"
        f"{'100%':>11}"
    )
    print(
        f"  {'ingest() via dlt, first load':<46}{r['dlt_first_load_seconds']:>10.3f}"
        f"{r['dlt_first_load_rows_per_s']:>12,}{r['dlt_share_of_native']:>10.0%} "
    )
    print(
        f"  {'ingest() via dlt, reload same partition':<46}{r['dlt_reload_seconds']:>10.3f}"
        f"{r['dlt_reload_rows_per_s']:>12,}{r['dlt_reload_share_of_native']:>10.0%} "
    )
    print(
        f"  aim: dlt >= 25% of native -> {'met' if r['dlt_share_of_native'] >= 0.25 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()

"""Contract check on N rows vs one plain DuckDB aggregate scan of the same columns.

What it measures
    ``check_batch`` (the full contract check; as of writing: a ~20k-row sample profile,
    one aggregate scan with every rule as a FILTER clause, the primary-key distinct count
    and the low-cardinality histograms, then the contract's SQL rules) against a baseline: ONE
    aggregate query over the same batch computing count(*), and count / min / max of every
    contract column plus count(DISTINCT transaction_id). Both run on the same connection on
    the same materialised batch (a DuckDB temp table); the ratio check / baseline is the
    number that matters (the aim is <= 2x), since absolute times on a shared box are noisy.

    A breakdown follows: the time of each query check_batch issues, and the main scan
    re-run without (and with only) its expensive parts, to show what dominates. The engine
    is not modified: its queries are captured by wrapping ``engine.fetch_row``.

How the batch is built
    One day of the bundled source (``generate_transactions``, at most 1M rows) is generated
    once and inserted as many times as needed with the numeric suffix of ``transaction_id``
    shifted, so keys stay unique and still match the contract's pattern.

Run
    .venv/bin/python benchmarks/bench_contract_check.py                # 10M rows, ~2 min
    .venv/bin/python benchmarks/bench_contract_check.py --rows 2000000 # quicker
    .venv/bin/python benchmarks/bench_contract_check.py --breakdown always # + profile, ~2 min more
Writes benchmarks/results/contract_check.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402

from platform_assets.core.ingestion.bundled import generate_transactions  # noqa: E402
from platform_assets.core.validation import engine  # noqa: E402
from platform_assets.core.validation.batch import batch_from_sql  # noqa: E402
from platform_assets.core.validation.contract import load_contract  # noqa: E402
from platform_assets.core.warehouse import fetch_one, fetch_row, quote_ident  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
DAY = dt.date(2026, 11, 1)
CHUNK = 1_000_000


def build_batch(conn: duckdb.DuckDBPyConnection, rows: int):
    chunk = min(rows, CHUNK)
    t0 = time.perf_counter()
    day = generate_transactions(DAY, chunk)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.register("one_day", day)
    columns = [f.name for f in day.schema]
    select_rest = ", ".join(quote_ident(c) for c in columns if c != "transaction_id")
    conn.execute("CREATE TABLE bench_source AS SELECT * FROM one_day LIMIT 0")
    copies = -(-rows // chunk)
    for k in range(copies):
        take = min(chunk, rows - k * chunk)
        # tx_YYYYMMDD_NNNNNNNN: shift NNNNNNNN by k * chunk (stays 8 digits up to 10M rows/day;
        # beyond that, bump the date part instead).
        conn.execute(
            f"INSERT INTO bench_source SELECT 'tx_' || strftime(DATE '{DAY}' + INTERVAL "
            f"({k // 10}) DAY, '%Y%m%d') || '_' || lpad(CAST(CAST(split_part(transaction_id, '_', "
            f"3) AS BIGINT) + {(k % 10) * chunk} AS VARCHAR), 8, '0') AS transaction_id, "
            f"{select_rest} FROM one_day LIMIT {take}"
        )
    conn.unregister("one_day")
    batch = batch_from_sql(conn, "SELECT * FROM bench_source", f"benchmark {rows} rows")
    conn.execute("DROP TABLE bench_source")
    return batch, generate_s, time.perf_counter() - t0


def baseline_sql(relation: str, contract, batch_columns: dict[str, str]) -> str:
    exprs = ["count(*)"]
    for spec in contract.columns:
        if spec.name not in batch_columns:
            continue
        c = quote_ident(spec.name)
        exprs += [f"count({c})", f"min({c})", f"max({c})"]
        if spec.primary_key or spec.unique:
            exprs.append(f"count(DISTINCT {c})")
    return f"SELECT {', '.join(exprs)} FROM {relation}"


def timed(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


class QueryRecorder:
    """Wraps engine.fetch_row, engine.fetch_one and engine._Scan.run to time each query
    check_batch issues.

    Only reads what the engine does; the engine itself is not changed.
    """

    def __init__(self):
        self.calls: list[tuple[str, str, float]] = []
        self.scan_exprs: list[str] = []
        self._in_scan = False

    def __enter__(self):
        self._fetch_row, self._scan_run = engine.fetch_row, engine._Scan.run
        self._fetch_one = engine.fetch_one
        recorder = self

        def fetch_row_timed(conn, sql, params=None):
            kind = "main aggregate scan" if recorder._in_scan else classify(sql)
            t0 = time.perf_counter()
            try:
                return recorder._fetch_row(conn, sql, params)
            finally:
                recorder.calls.append((kind, sql, time.perf_counter() - t0))

        def scan_run(
            self: engine._Scan, conn: duckdb.DuckDBPyConnection, relation: str
        ) -> dict[tuple, Any]:
            recorder.scan_exprs = list(self.exprs)
            recorder._in_scan = True
            try:
                return recorder._scan_run(self, conn, relation)
            finally:
                recorder._in_scan = False

        def fetch_one_timed(conn, sql, params=None):
            row = fetch_row_timed(conn, sql, params)
            if row is None:
                raise LookupError(f"the query returned no row: {sql}")
            return row

        engine.fetch_row, engine.fetch_one = fetch_row_timed, fetch_one_timed
        engine._Scan.run = scan_run
        return self

    def __exit__(self, *exc):
        engine.fetch_row, engine._Scan.run = self._fetch_row, self._scan_run
        engine.fetch_one = self._fetch_one


def classify(sql: str) -> str:
    """Which part of check_batch a query (other than the main scan) belongs to."""
    if "USING SAMPLE" in sql.upper() or "__row %" in sql:
        return "sample profile (~20k rows)"
    if sql.lstrip().startswith("SELECT histogram(CAST("):
        return "categorical histograms (separate query)"
    if sql.rstrip().upper().endswith("LIMIT 1"):
        return "example rows for failing rules"
    return "contract SQL rules and other queries"


# Expensive expression kinds in the main scan, by a substring of their SQL.
EXPENSIVE = {
    "count(DISTINCT)": "count(DISTINCT",
    "regexp_full_match": "regexp_full_match",
    "approx_count_distinct": "approx_count_distinct",
    "histogram": "histogram(",
}


def breakdown(conn, batch, contract, repeats: int) -> dict:
    with QueryRecorder() as recorder:
        t0 = time.perf_counter()
        engine.check_batch(conn, batch, contract)
        total = time.perf_counter() - t0
    parts: dict[str, float] = {}
    for kind, _sql, seconds in recorder.calls:
        parts[kind] = parts.get(kind, 0.0) + seconds
    parts["python and other (DESCRIBE etc.)"] = total - sum(parts.values())
    exprs = recorder.scan_exprs
    rel = batch.relation

    def scan_of(selected: list[str]) -> float:
        sql = f"SELECT {', '.join(selected)} FROM {rel}"
        return timed(lambda: fetch_row(conn, sql), repeats)[0]

    present = {
        label: needle for label, needle in EXPENSIVE.items() if any(needle in e for e in exprs)
    }
    variants = {"main scan, all expressions": exprs}
    for label, needle in present.items():
        variants[f"without {label}"] = [e for e in exprs if needle not in e]
    variants["without all of those"] = [
        e for e in exprs if not any(n in e for n in present.values())
    ]
    for label, needle in present.items():
        variants[f"only {label}"] = [e for e in exprs if needle in e]
    scan_variants = {
        name: {"expressions": len(sel), "seconds": round(scan_of(sel), 4)}
        for name, sel in variants.items()
        if sel
    }
    return {
        "one_check_batch_seconds": round(total, 4),
        "per_query_kind_seconds": {k: round(v, 4) for k, v in parts.items()},
        "queries": len(recorder.calls),
        "main_scan_variants": scan_variants,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--rows", type=int, default=10_000_000, help="batch size (default: the 10M target)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each side (median)")
    parser.add_argument(
        "--breakdown",
        choices=("auto", "always", "never"),
        default="auto",
        help="per-query profile of check_batch: auto = only when the ratio misses 2x",
    )
    parser.add_argument(
        "--breakdown-repeats",
        type=int,
        default=1,
        help="timed runs of each main-scan variant in the breakdown (median)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

    contract = load_contract(REPO / "contracts" / "fct_transactions.odcs.yaml")
    conn = duckdb.connect()
    batch, generate_s, build_s = build_batch(conn, args.rows)
    sql = baseline_sql(batch.relation, contract, batch.columns)

    fetch_row(conn, sql)  # warm up (page in the temp table) before either side is timed
    verdict = engine.check_batch(conn, batch, contract)  # warm-up of the check side
    # Interleaved, so load from other processes on a shared box hits all three sides alike.
    sides = {
        "baseline": lambda: fetch_row(conn, sql),
        "check_batch": lambda: engine.check_batch(conn, batch, contract),
        # Semantic drift on top: the same batch as its own reference (all comparisons run).
        "check_batch_with_reference": lambda: engine.check_batch(
            conn, batch, contract, verdict.profile
        ),
    }
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, fn in sides.items():
            runs[name].append(timed(fn, 1)[0])
    baseline_s, check_s, drift_s = (statistics.median(runs[name]) for name in sides)
    baseline_runs, check_runs, drift_runs = (runs[name] for name in sides)
    result = {
        "benchmark": "contract_check",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "duckdb_threads": fetch_one(conn, "SELECT current_setting('threads')")[0],
        },
        "rows": batch.row_count,
        "generate_seconds": round(generate_s, 3),
        "build_batch_seconds": round(build_s, 3),
        "baseline_scan_seconds": round(baseline_s, 4),
        "check_batch_seconds": round(check_s, 4),
        "check_batch_with_reference_seconds": round(drift_s, 4),
        "ratio": round(check_s / baseline_s, 3),
        "ratio_with_reference": round(drift_s / baseline_s, 3),
        "runs": {
            "baseline": [round(t, 4) for t in baseline_runs],
            "check_batch": [round(t, 4) for t in check_runs],
            "check_batch_with_reference": [round(t, 4) for t in drift_runs],
        },
        "verdict_passes": verdict.passes,
        "violations": [f"{v.field}: {v.rule}" for v in verdict.violations],
        "aim": "ratio <= 2.0",
    }
    if args.breakdown == "always" or (args.breakdown == "auto" and result["ratio"] > 2.0):
        result["breakdown"] = breakdown(conn, batch, contract, args.breakdown_repeats)
    conn.close()

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "contract_check.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_table(result)
    return result


def print_table(r: dict) -> None:
    print(
        f"\ncontract check benchmark: {r['rows']:,} rows, {r['machine']['cpus']} cpus, "
        f"duckdb {r['machine']['duckdb']} ({r['machine']['duckdb_threads']} threads)"
    )
    print(
        f"  batch built in {r['build_batch_seconds']} s (generation of one day: "
        f"{r['generate_seconds']} s)"
    )
    print(f"  {'what':<44}{'median s':>10}{'ratio':>8}")
    print(f"  {'baseline: one aggregate scan':<44}{r['baseline_scan_seconds']:>10.3f}{1:>8.2f}")
    print(f"  {'check_batch (structure)':<44}{r['check_batch_seconds']:>10.3f}{r['ratio']:>8.2f}")
    print(
        f"  {'check_batch + reference profile (drift)':<44}"
        f"{r['check_batch_with_reference_seconds']:>10.3f}"
        f"{r['ratio_with_reference']:>8.2f}"
    )
    print(f"  aim: ratio <= 2.0 -> {'met' if r['ratio'] <= 2.0 else 'MISSED'}")
    b = r.get("breakdown")
    if b:
        print(
            f"\n  breakdown of one check_batch ({b['one_check_batch_seconds']} s, {b['queries']} "
            "queries):"
        )
        for kind, seconds in b["per_query_kind_seconds"].items():
            print(f"    {kind:<42}{seconds:>10.3f}")
        print("  main scan re-run in parts (median s):")
        for name, v in b["main_scan_variants"].items():
            print(f"    {name:<34}{v['expressions']:>4} exprs{v['seconds']:>10.3f}")


if __name__ == "__main__":
    main()

"""Checking a Parquet file: ``platform-assets contracts check`` vs ``datacontract test``.

What it measures
    Wall time and peak memory (the child process's maximum resident set size, from
    ``wait4``) of two commands on the same Parquet file and the same contract, each run as
    its own process, interleaved so that load from other processes hits both alike:

    - ``platform-assets contracts check contracts/fct_transactions.odcs.yaml FILE --no-llm --json``
      (this repository, run with the interpreter running this script);
    - ``datacontract test CONTRACT`` from ``datacontract-cli`` 1.2.8, the reference ODCS
      tool, installed in its own virtual environment (``benchmarks/.venv-datacontract``,
      created by this script with ``uv``, or ``venv`` + ``pip``, from the package index).

    The ratio platform / datacontract of the median wall times, and both peak memories,
    are the numbers that matter (aim: ratio <= 0.6, platform peak <= 1 GiB).

The contract
    The same ODCS file, with what datacontract-cli cannot take as written changed for it
    only (the changes are printed and saved next to the results): a ``servers`` entry
    pointing at the file (it reads data only through a server); the table's ``name`` set to
    its ``physicalName`` (it creates its table under ``name`` but queries ``physicalName``);
    ``physicalType: TIMESTAMP WITH TIME ZONE`` written ``timestamp`` (its type vocabulary;
    it fails to connect on the former). Every rule stays. It does not check Parquet column
    types (it says so, as warnings) nor semantic drift; the platform does both.

The file
    One day of the bundled source (1M rows, ``generate_transactions``) repeated with the
    numeric suffix of ``transaction_id`` shifted so that keys stay unique, written once to
    ``benchmarks/results/transactions_<rows>.parquet`` and reused by later runs. The data
    passes the contract, so both tools run every rule over every row.

Run
    .venv/bin/python benchmarks/bench_file_check.py                 # 10M rows (minutes)
    .venv/bin/python benchmarks/bench_file_check.py --rows 2000000  # quicker
Writes benchmarks/results/file_check.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import duckdb  # noqa: E402
import yaml  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PEER_VENV = Path(__file__).resolve().parent / ".venv-datacontract"
PEER_PACKAGE = "datacontract-cli[duckdb,parquet]==1.2.8"
CONTRACT = REPO / "contracts" / "fct_transactions.odcs.yaml"
GIB = 1024**3


def build_file(rows: int) -> Path:
    """The benchmark's Parquet file, written once per row count."""
    from bench_contract_check import build_batch  # the same data as the warehouse-path benchmark

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"transactions_{rows}.parquet"
    if path.exists():
        return path
    t0 = time.perf_counter()
    with duckdb.connect() as conn:
        batch, _, _ = build_batch(conn, rows)
        partial = path.with_suffix(".partial")
        conn.execute(
            f"COPY (SELECT * EXCLUDE (__row) FROM {batch.relation} ORDER BY __row) TO '{partial}' "
            f"(FORMAT parquet)"
        )
    partial.rename(path)
    print(f"wrote {path} ({rows:,} rows) in {time.perf_counter() - t0:.1f} s")
    return path


def ensure_peer() -> Path:
    """``datacontract`` from datacontract-cli 1.2.8 in its own virtual environment."""
    exe = PEER_VENV / "bin" / "datacontract"
    if exe.exists():
        return exe
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    print(f"installing {PEER_PACKAGE} into {PEER_VENV} …")
    if Path(uv).exists():
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(PEER_VENV)], check=True)
        subprocess.run(
            [
                uv,
                "pip",
                "install",
                "-q",
                "--python",
                str(PEER_VENV / "bin" / "python"),
                PEER_PACKAGE,
            ],
            check=True,
        )
    else:
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", PEER_PACKAGE], check=True)
    return exe


def peer_contract(data: Path) -> tuple[Path, list[str]]:
    """The contract as datacontract-cli takes it, and what was changed for it."""
    document = yaml.safe_load(CONTRACT.read_text())
    changes = [f"servers: [local parquet {data.name}] (it reads data only through a server)"]
    document["servers"] = [
        {"server": "local", "type": "local", "path": str(data), "format": "parquet"}
    ]
    table = document["schema"][0]
    if table.get("physicalName") and table["name"] != table["physicalName"]:
        changes.append(
            f"schema[0].name {table['name']!r} -> {table['physicalName']!r} (it queries "
            "physicalName)"
        )
        table["name"] = table["physicalName"]
    for prop in table["properties"]:
        if prop.get("physicalType") == "TIMESTAMP WITH TIME ZONE":
            prop["physicalType"] = "timestamp"
            changes.append(
                f"{prop['name']}.physicalType 'TIMESTAMP WITH TIME ZONE' -> 'timestamp' (its "
                "vocabulary)"
            )
    path = RESULTS / "file_check_datacontract.odcs.yaml"
    path.write_text(
        "# Generated by benchmarks/bench_file_check.py from contracts/fct_transactions.odcs.yaml\n"
        + yaml.safe_dump(document, sort_keys=False)
    )
    return path, changes


# Each command is started by this small launcher, not by the benchmark itself: Linux carries
# a process's peak resident memory over fork and exec, so a child of this (large) process
# would report at least this process's peak.
LAUNCHER = """
import json, os, subprocess, sys, time
with open(sys.argv[1], "wb") as out, open(sys.argv[2], "wb") as err:
    t0 = time.perf_counter()
    child = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_bytes": usage.ru_maxrss * 1024,
                  "exit": os.waitstatus_to_exitcode(status)}))
"""


def measured(args: list[str], env: dict[str, str] | None = None) -> dict:
    """Run a command; its wall time, peak resident memory (its own, from wait4) and exit code."""
    out, err = RESULTS / "file_check_stdout.txt", RESULTS / "file_check_stderr.txt"
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, str(out), str(err), *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(launched.stdout)
    return {
        "seconds": round(result["seconds"], 3),
        "peak_bytes": result["peak_bytes"],
        "exit": result["exit"],
        "stdout": out.read_text(),
        "stderr": err.read_text(),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs of each side, interleaved (median)"
    )
    args = parser.parse_args(argv)

    data = build_file(args.rows)
    peer = ensure_peer()
    peer_path, changes = peer_contract(data)
    peer_out = RESULTS / "file_check_datacontract_result.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "RUNTIME__LOG_LEVEL": "ERROR"}
    env = {k: v for k, v in env.items() if not k.startswith(("ANTHROPIC_", "PLATFORM_CLAUDE_"))}
    sides = {
        "platform-assets contracts check": [
            sys.executable,
            "-m",
            "platform_assets.cli",
            "contracts",
            "check",
            str(CONTRACT),
            str(data),
            "--no-llm",
            "--json",
        ],
        "datacontract test": [
            str(peer),
            "test",
            str(peer_path),
            "--output",
            str(peer_out),
            "--output-format",
            "json",
        ],
    }
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    for _ in range(args.repeats):
        for name, command in sides.items():
            runs[name].append(measured(command, env))
    platform_runs, peer_runs = runs.values()
    verdict = json.loads(platform_runs[-1]["stdout"])
    peer_result = json.loads(peer_out.read_text()) if peer_out.exists() else {}
    platform_s = statistics.median(r["seconds"] for r in platform_runs)
    peer_s = statistics.median(r["seconds"] for r in peer_runs)
    result = {
        "benchmark": "file_check",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "load_average": os.getloadavg(),
        },
        "rows": args.rows,
        "file": str(data),
        "file_bytes": data.stat().st_size,
        "peer": PEER_PACKAGE,
        "peer_contract_changes": changes,
        "platform_seconds": platform_s,
        "peer_seconds": peer_s,
        "ratio": round(platform_s / peer_s, 3),
        "platform_peak_bytes": max(r["peak_bytes"] for r in platform_runs),
        "peer_peak_bytes": max(r["peak_bytes"] for r in peer_runs),
        "platform_exit_codes": [r["exit"] for r in platform_runs],
        "peer_exit_codes": [r["exit"] for r in peer_runs],
        "platform_passes": verdict.get("passes"),
        "platform_rows": verdict.get("rows"),
        "peer_result": peer_result.get("result"),
        "peer_checks": {
            state: sum(1 for c in peer_result.get("checks", []) if c.get("result") == state)
            for state in ("passed", "warning", "failed", "error")
        },
        "runs": {
            name: [{k: r[k] for k in ("seconds", "peak_bytes", "exit")} for r in rs]
            for name, rs in runs.items()
        },
        "aim": "ratio <= 0.6 and platform peak <= 1 GiB",
    }
    (RESULTS / "file_check.json").write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    return result


def print_table(r: dict) -> None:
    print(
        f"\nfile check benchmark: {r['rows']:,} rows, Parquet {r['file_bytes'] / 2**20:.0f} MiB, "
        f"{r['machine']['cpus']} cpus, load average "
        f"{', '.join(f'{x:.1f}' for x in r['machine']['load_average'])}"
    )
    print(f"  {'command':<36}{'median s':>10}{'peak memory':>14}{'exit':>8}")
    print(
        f"  {'platform-assets contracts check':<36}{r['platform_seconds']:>10.2f}"
        f"{r['platform_peak_bytes'] / GIB:>10.2f} GiB{r['platform_exit_codes']!s:>8}"
    )
    print(
        f"  {'datacontract test (1.2.8)':<36}{r['peer_seconds']:>10.2f}"
        f"{r['peer_peak_bytes'] / GIB:>10.2f} GiB{r['peer_exit_codes']!s:>8}"
    )
    print(
        f"  ratio (platform / datacontract wall time): {r['ratio']:.2f}x "
        f"(aim <= 0.6: {'met' if r['ratio'] <= 0.6 else 'MISSED'})"
    )
    print(
        f"  platform peak memory: {r['platform_peak_bytes'] / GIB:.2f} GiB "
        f"(aim <= 1 GiB: {'met' if r['platform_peak_bytes'] <= GIB else 'MISSED'})"
    )
    print(
        f"  platform verdict: passes={r['platform_passes']} rows={r['platform_rows']}; "
        f"datacontract: {r['peer_result']} {r['peer_checks']}"
    )
    for change in r["peer_contract_changes"]:
        print(f"  peer contract: {change}")


if __name__ == "__main__":
    main()

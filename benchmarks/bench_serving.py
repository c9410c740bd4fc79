"""How fast does ``platform-assets serve`` score one transaction, against what a user would
otherwise run?

Open-loop load on loopback: requests are *scheduled* at a fixed arrival rate and each latency
is measured from its scheduled send time, so time spent queueing (in the client's connection
pool or the server) counts. Steps of ``--step-seconds`` (60) at rising rates until p99 passes
the SLO (50 ms) or a request fails. Side by side, in the same run:

- **in-process limit**: the same contract check + online features + ONNX call in this process,
  no HTTP, one transaction at a time;
- **ours**: ``platform-assets serve --workers N`` (contract rules, online features, ONNX,
  decision log, metrics);
- **MLflow 3**: ``mlflow models serve`` of the same scikit-learn pipeline (``model.joblib`` of
  the champion), in its own venv (``/tmp/mlflow-venv``, built here when missing), sent the
  feature row it needs (it has no online features);
- **FastAPI + predict_proba**: a plain endpoint over the same pipeline, same venv, same row.

Needs a served home (``make run`` then the service's assets; or the tests' small one):
``--home`` (default ``$PLATFORM_ASSETS_HOME``). ``--quick`` runs 10 s steps. Prints a Markdown
table and writes ``benchmarks/results/bench_serving.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
MLFLOW_VENV = Path("/tmp/mlflow-venv")
SLO_P99_MS = 50.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rss_mib(pid: int) -> float:
    """RSS of a process and its descendants (uvicorn's workers), MiB, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    family, frontier = {pid}, [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and child not in family:
                family.add(child)
                frontier.append(child)
    total = 0
    for member in family:
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# --- the load generator ---------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.readexactly(length)
    return status


async def open_loop(
    port: int, path: str, bodies, rate: float, seconds: float, pool: int = 64
) -> dict:
    """Send ``rate * seconds`` requests at a fixed rate; latency from each scheduled time."""
    loop = asyncio.get_running_loop()
    connections: asyncio.Queue = asyncio.Queue()
    for _ in range(pool):
        connections.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    latencies: list[float] = []
    errors = 0
    count = int(rate * seconds)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"

    async def one(i: int, scheduled: float) -> None:
        nonlocal errors
        reader, writer = await connections.get()
        ok = False
        try:
            body = bodies(i)
            writer.write((head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
            status = await asyncio.wait_for(_read_response(reader), 10)
            ok = status == 200
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError):
            writer.close()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        latencies.append((loop.time() - scheduled) * 1000)
        errors += not ok
        connections.put_nowait((reader, writer))

    start = loop.time() + 0.1
    tasks = []
    for i in range(count):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    while not connections.empty():
        _, writer = connections.get_nowait()
        writer.close()
    return {
        "rate": rate,
        "sent": count,
        "achieved_rps": count / elapsed if elapsed > 0 else 0.0,
        "errors": errors,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
    }


def warm_up(port: int, path: str, bodies, timeout: float = 180) -> None:
    """Sequential requests until 20 in a row answer 200 (workers up, models loaded)."""
    deadline, good, i = time.monotonic() + timeout, 0, 0
    while good < 20:
        if time.monotonic() > deadline:
            raise TimeoutError(f"port {port}{path} never answered 20 requests in a row")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=bodies(10_000_000 + i),
            headers={"Content-Type": "application/json"},
        )
        i += 1
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                good = good + 1 if response.status == 200 else 0
        except OSError:
            good = 0
            time.sleep(0.5)


def ramp(name, port, path, bodies, rates, seconds, pid) -> list[dict]:
    warm_up(port, path, bodies)
    steps = []
    for rate in rates:
        step = asyncio.run(open_loop(port, path, bodies, rate, seconds))
        step["rss_mib"] = rss_mib(pid)
        step["holds_slo"] = step["errors"] == 0 and step["p99_ms"] <= SLO_P99_MS
        steps.append(step)
        print(
            f"  {name:>10} {rate:>6.0f} rps: p50 {step['p50_ms']:7.2f} p95 {step['p95_ms']:7.2f} "
            f"p99 {step['p99_ms']:8.2f} ms, errors {step['errors']}, RSS {step['rss_mib']:.0f} MiB",
            flush=True,
        )
        if not step["holds_slo"]:
            break
    return steps


def wait_http(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


# --- the workload ---------------------------------------------------------------------------


def workload(home: Path):
    """(transactions as callers send them, their feature rows, champion's joblib path)."""
    from platform_assets.core import warehouse as wh
    from platform_assets.core.features.transactions import FEATURE_COLUMNS
    from platform_assets.core.registry import registry_for
    from platform_assets.core.settings import Settings

    settings = Settings.from_env({**os.environ, "PLATFORM_ASSETS_HOME": str(home)})
    with wh.session(settings.warehouse, read_only=True) as conn:
        day = conn.execute("SELECT max(partition_date) FROM features.transactions").fetchall()[0][0]
        cursor = conn.execute(
            "SELECT * EXCLUDE (is_fraud, partition_date) FROM validated.transactions "
            "WHERE partition_date = ? ORDER BY event_ts LIMIT 5000",
            [day],
        )
        names = [d[0] for d in cursor.description]
        transactions = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        features = conn.execute(
            f"SELECT {', '.join(FEATURE_COLUMNS)} FROM features.transactions "
            f"WHERE partition_date = ? LIMIT 5000",
            [day],
        ).df()
    next_day = day + dt.timedelta(days=1)
    for row in transactions:
        row["event_ts"] = (row["event_ts"] + dt.timedelta(days=1)).astimezone(dt.UTC).isoformat()
    registry = registry_for(settings.registry_url)
    champion = registry.champion()
    assert champion is not None, f"no champion in {settings.registry_url}"
    joblib_path = Path(registry.file_uri(champion.version, "model.joblib"))
    rows = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in features.to_dict("records")
    ]
    return transactions, rows, joblib_path, next_day, settings


def in_process(home: Path, transactions: list[dict], n: int = 3000) -> dict:
    from platform_assets.core.features.online import epoch_us
    from platform_assets.core.registry import registry_for
    from platform_assets.core.registry.store import store_from_url
    from platform_assets.core.serving.models import load_bundle
    from platform_assets.core.serving.requests import TransactionRules
    from platform_assets.core.settings import Settings
    from platform_assets.core.validation.contract import find_contract, load_contract

    settings = Settings.from_env({**os.environ, "PLATFORM_ASSETS_HOME": str(home)})
    bundle = load_bundle(
        registry_for(settings.registry_url), store_from_url(settings.artifacts_url)
    )
    rules = TransactionRules(
        load_contract(find_contract(settings.contracts_dir, "transactions"), "transactions")
    )
    timings = []
    for i in range(n):
        started = time.perf_counter()
        row, _ = rules.check(0, transactions[i % len(transactions)])
        assert row is not None
        bundle.state.add(
            f"bench_{i}", row["user_id"], epoch_us(row["event_ts"]), row["amount_cents"] / 100
        )
        bundle.champion.score([bundle.state.features(row, row["event_ts"])])
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": percentile(timings, 50),
        "p99_ms": percentile(timings, 99),
        "max_rps": 1000 / statistics.mean(timings),
    }


def ensure_mlflow_venv() -> Path:
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        print(
            f"building {MLFLOW_VENV} (mlflow 3, fastapi, the lock's scikit-learn) ...", flush=True
        )
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        import sklearn

        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "mlflow==3.*",
                "fastapi",
                "uvicorn[standard]",
                f"scikit-learn=={sklearn.__version__}",
                "joblib",
            ],
            check=True,
        )
    return python


FASTAPI_APP = """
import joblib, pandas as pd, os
from fastapi import FastAPI, Request
app = FastAPI()
model = joblib.load(os.environ["BENCH_MODEL"])
@app.post("/predict")
async def predict(request: Request):
    frame = pd.DataFrame([await request.json()])
    return {"score": float(model.predict_proba(frame)[0, 1])}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--home", default=os.environ.get("PLATFORM_ASSETS_HOME", ".platform_assets")
    )
    parser.add_argument("--quick", action="store_true", help="10 s steps instead of 60 s")
    parser.add_argument("--step-seconds", type=float, default=None)
    parser.add_argument("--rates", default="100,200,400,800,1200,1600,2400,3200")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--services", default="ours,mlflow,fastapi", help="which to run, comma-separated"
    )
    args = parser.parse_args()
    home = Path(args.home).resolve()
    seconds = args.step_seconds or (10.0 if args.quick else 60.0)
    rates = [float(r) for r in args.rates.split(",")]
    transactions, feature_rows, joblib_path, next_day, _ = workload(home)
    stamp = next_day.strftime("%Y%m%d")
    result: dict = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "step_seconds": seconds,
        "workers": args.workers,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }

    print("in-process limit (contract rules + online features + ONNX, no HTTP)", flush=True)
    result["in_process"] = in_process(home, transactions)
    print(f"  {result['in_process']}", flush=True)

    def our_body(i: int) -> bytes:
        row = dict(transactions[i % len(transactions)])
        row["transaction_id"] = f"tx_{stamp}_{i % 100_000_000:08d}"
        return json.dumps(row, default=str).encode()

    def feature_body(i: int) -> bytes:
        return json.dumps(feature_rows[i % len(feature_rows)]).encode()

    def mlflow_body(i: int) -> bytes:
        return json.dumps({"dataframe_records": [feature_rows[i % len(feature_rows)]]}).encode()

    services = {}
    port = free_port()
    env = {**os.environ, "PLATFORM_ASSETS_HOME": str(home)}
    ours = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "platform_assets.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    wanted = set(args.services.split(","))
    try:
        if "ours" in wanted:
            wait_http(f"http://127.0.0.1:{port}/readyz")
            print(f"ours: platform-assets serve --workers {args.workers}", flush=True)
            services["ours"] = ramp("ours", port, "/v1/score", our_body, rates, seconds, ours.pid)
    finally:
        stop(ours)

    if wanted & {"mlflow", "fastapi"}:
        python = ensure_mlflow_venv()
        model_dir = Path("/tmp/bench_serving_mlflow_model")
        if model_dir.exists():
            import shutil

            shutil.rmtree(model_dir)
        subprocess.run(
            [
                str(python),
                "-c",
                "import joblib, sys, mlflow.sklearn; "
                "mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2], "
                "serialization_format='cloudpickle')",
                str(joblib_path),
                str(model_dir),
            ],
            check=True,
        )
        app_file = Path("/tmp/bench_serving_fastapi_app.py")
        app_file.write_text(FASTAPI_APP)
        for name, command, path, body in (
            (
                "mlflow",
                [
                    str(MLFLOW_VENV / "bin" / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    str(model_dir),
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-w",
                    str(args.workers),
                ],
                "/invocations",
                mlflow_body,
            ),
            (
                "fastapi",
                [
                    str(python),
                    "-m",
                    "uvicorn",
                    "bench_serving_fastapi_app:app",
                    "--host",
                    "127.0.0.1",
                    "--workers",
                    str(args.workers),
                    "--log-level",
                    "warning",
                ],
                "/predict",
                feature_body,
            ),
        ):
            if name not in wanted:
                continue
            port = free_port()
            command = [*command, "-p" if name == "mlflow" else "--port", str(port)]
            process = subprocess.Popen(
                command,
                cwd="/tmp",
                start_new_session=True,
                env={
                    **os.environ,
                    "BENCH_MODEL": str(joblib_path),
                    "PYTHONPATH": "/tmp",
                    # One thread per worker, as our ONNX session: OpenMP's spinning threads
                    # on a shared 2-core box time every request out.
                    "OMP_NUM_THREADS": "1",
                    "PATH": f"{MLFLOW_VENV / 'bin'}:{os.environ.get('PATH', '')}",
                },
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_http(f"http://127.0.0.1:{port}/")
                print(name, flush=True)
                services[name] = ramp(name, port, path, body, rates, seconds, process.pid)
            finally:
                stop(process)

    result["services"] = services
    best = {
        name: max((s["rate"] for s in steps if s["holds_slo"]), default=0.0)
        for name, steps in services.items()
    }
    result["highest_slo_rate"] = best
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_serving.json").write_text(json.dumps(result, indent=2))
    print()
    print("| service | rate (rps) | p50 ms | p95 ms | p99 ms | errors | RSS MiB | holds SLO |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, steps in services.items():
        for s in steps:
            print(
                f"| {name} | {s['rate']:.0f} | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} | "
                f"{s['p99_ms']:.2f} | {s['errors']} | {s['rss_mib']:.0f} | "
                f"{'yes' if s['holds_slo'] else 'no'} |"
            )
    limit = result["in_process"]
    print(
        f"\nin-process limit: p50 {limit['p50_ms']:.3f} ms, p99 {limit['p99_ms']:.3f} ms, "
        f"~{limit['max_rps']:.0f} rps on one core"
    )
    print(f"highest rate holding p99 <= {SLO_P99_MS:g} ms with 0 errors: {best}")


if __name__ == "__main__":
    main()

"""A served home (a small real lifecycle: validated days, features, a trained and promoted
champion, the online state, batch scores) and the real service in a subprocess on a free
loopback port."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from platform_assets.core import warehouse as wh
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets_tests.support.dagster import offline_resources
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACTS_DIR
from platform_assets_tests.support.servers import free_port, wait_for

DAYS = day_range("2026-01-01", 8)
ROWS_PER_DAY = 1_500
FAST = {"training_days": 8, "holdout_days": 2, "max_iter": 40, "n_threads": 1}


def _range_tags(days: list[dt.date]) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": days[0].isoformat(),
        "dagster/asset_partition_range_end": days[-1].isoformat(),
    }


def build_served_home(home: Path) -> Path:
    """Eight validated days, their features, a champion (v1), the online state and the batch
    scores of the last day, all through the real assets."""
    from platform_assets.defs import evaluation, features, serving, training

    with wh.session(home / "w.duckdb") as conn:
        load_validated_days(conn, DAYS, ROWS_PER_DAY)
    resources = offline_resources(home)
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            [features.features_transactions],
            resources=resources,
            instance=instance,
            tags=_range_tags(DAYS),
        ).success
        trained = dg.materialize(
            [
                training.fraud_model,
                training.fraud_model_onnx,
                training.onnx_parity,
                evaluation.eval_results,
                evaluation.champion_challenger_gate,
                evaluation.promotion_gate,
            ],
            resources=resources,
            instance=instance,
            run_config={"ops": {"model__fraud_model": {"config": FAST}}},
        )
        assert trained.success
        assert dg.materialize(
            [features.features_online_state], resources=resources, instance=instance
        ).success
        assert dg.materialize(
            [serving.serving_batch_scores],
            resources=resources,
            instance=instance,
            partition_key=DAYS[-1].isoformat(),
        ).success
    return home


def service_env(home: Path, **extra: str) -> dict[str, str]:
    return subprocess_env(
        {
            "PLATFORM_ASSETS_HOME": str(home),
            "PLATFORM_ASSETS_WAREHOUSE": str(home / "w.duckdb"),
            "PLATFORM_ASSETS_CONTRACTS_DIR": str(CONTRACTS_DIR),
            "PLATFORM_ASSETS_SERVING_POLL_SECONDS": "0.5",
            **extra,
        }
    )


class Service:
    """``platform-assets serve`` in a subprocess; ``stop()`` ends it (``kill()``: SIGKILL)."""

    def __init__(self, home: Path, workers: int = 1, **env: str):
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(home / f"serve-{self.port}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "platform_assets.cli",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=service_env(home, **env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 90) -> dict:
        def ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited {self.process.returncode}: {self.output()}")
            try:
                status, body = get(self.url + "/readyz")
            except OSError:
                return None
            return body if status == 200 else None

        return wait_for(ready, timeout, "the service answers /readyz")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.home / f"serve-{self.port}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.log.close()


def get(url: str, timeout: float = 10) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def post(url: str, body: bytes | dict | list, timeout: float = 10) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def day_transactions(home: Path, day: dt.date) -> list[dict]:
    """The validated transactions of ``day`` as a caller would send them (JSON types)."""
    with wh.session(home / "w.duckdb", read_only=True) as conn:
        cursor = conn.execute(
            "SELECT * EXCLUDE (is_fraud, partition_date) FROM validated.transactions "
            "WHERE partition_date = ? ORDER BY event_ts, transaction_id",
            [day],
        )
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        row["event_ts"] = row["event_ts"].astimezone(dt.UTC).isoformat()
    return rows


def constant_onnx(score: float, input_name: str = "amount_usd") -> bytes:
    """An ONNX model that reads one float input and answers ``score`` for every row (a
    deliberately bad challenger: same inputs as the real model's, a constant output)."""
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info
    const = helper.make_tensor
    graph = helper.make_graph(
        [
            helper.make_node("Mul", [input_name, "zero"], ["z"]),
            helper.make_node("Add", ["z", "low"], ["p0"]),
            helper.make_node("Add", ["z", "high"], ["p1"]),
            helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1),
        ],
        "constant",
        [value(input_name, TensorProto.FLOAT, [None, 1])],
        [value("probabilities", TensorProto.FLOAT, [None, 2])],
        initializer=[
            const("zero", TensorProto.FLOAT, [1], [0.0]),
            const("low", TensorProto.FLOAT, [1], [1.0 - score]),
            const("high", TensorProto.FLOAT, [1], [score]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    return model.SerializeToString()


def register_copy(home: Path, onnx: bytes | None = None, threshold: float | None = None) -> int:
    """Register a new version (v1's ONNX, or ``onnx``) with a passing parity record; returns it."""
    from platform_assets_tests.support.dagster import offline_registry

    registry = offline_registry(home)
    v1 = registry.get(1)
    version = registry.register(
        {"model.onnx": onnx if onnx is not None else registry.read_file(1, "model.onnx")},
        config=v1.config,
        threshold=float(v1.threshold or 0.5) if threshold is None else threshold,
        data_window=v1.record["data_window"],
        metrics=v1.metrics,
        lineage={"test": "copy"},
        extra={"parity": {"passed": True, "max_abs_diff": 0.0}},
    )
    return version.version


def promote(home: Path, version: int) -> None:
    """Make ``version`` the champion with a passing decision (the gate is tested elsewhere)."""
    from platform_assets.core.registry import GateDecision
    from platform_assets_tests.support.dagster import offline_registry

    registry = offline_registry(home)
    decision = GateDecision(True, version, registry.aliases()["champion"], ["test"], [], {})
    registry.promote(version, decision, actor="test")


class Traffic:
    """Threads posting single transactions to the service as fast as it answers (or at
    ``rate`` per second in all), each a new transaction of 2026-01-09 built from ``template``;
    every answer is kept: ``(sent_at, status, body)``."""

    def __init__(self, url: str, templates: list[dict], threads: int = 4, rate: float = 0):
        import itertools
        import threading

        self.url = url
        self.templates = templates
        self.answers: list[tuple[float, int, dict]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._seq: Iterator[int] = itertools.count()
        self._lock = threading.Lock()
        self._pause = threads / rate if rate else 0.0
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def transaction(self, n: int) -> dict:
        row = dict(self.templates[n % len(self.templates)])
        row["transaction_id"] = f"tx_20260109_{n:08d}"
        seconds = (n * 7) % 86_400
        row["event_ts"] = (
            f"2026-01-09T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}+00:00"
        )
        return row

    def _run(self) -> None:
        import time

        while not self._stop.is_set():
            with self._lock:
                n = next(self._seq)
            sent = time.monotonic()
            try:
                status, body = post(self.url + "/v1/score", self.transaction(n), timeout=10)
            except OSError as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                status, body = -1, {}
            with self._lock:
                self.answers.append((sent, status, body))
            if self._pause:
                time.sleep(max(0.0, self._pause - (time.monotonic() - sent)))

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    def ok(self) -> list[dict]:
        with self._lock:
            return [body for _, status, body in self.answers if status == 200]

    def failed(self) -> list[tuple[float, int, dict]]:
        with self._lock:
            return [a for a in self.answers if a[1] != 200]

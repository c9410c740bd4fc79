"""An ONNX scoring session makes no network call: onnxruntime's native telemetry (1DS) looks
up Microsoft's collector whenever a session is created unless it is turned off
(:mod:`platform_assets.core.telemetry`). Watched with ``strace``: Python's audit hooks do
not see native code."""

from __future__ import annotations

import sys

from platform_assets_tests.support.egress import outbound_attempts, run_watched
from platform_assets_tests.support.environment import subprocess_env

SCORE = """
import time
import platform_assets  # every entry point imports the package first
import onnxruntime  # the telemetry starts when the library loads, its lookup seconds later
import numpy as np
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression
from platform_assets.core.training.scoring import OnnxScorer

features = np.random.default_rng(0).random((40, 3)).astype("float32")
model = LogisticRegression().fit(features, [0, 1] * 20)
scorer = OnnxScorer(to_onnx(model, features[:1]).SerializeToString())
time.sleep(6)  # the telemetry thread looks its collector up a few seconds after it starts
print("scored")
"""


def test_the_watch_sees_a_lookup_from_any_code(tmp_path):
    log = tmp_path / "strace.log"
    code = (
        "import socket\ntry:\n    socket.getaddrinfo('example.invalid', 443)\n"
        "except OSError:\n    pass"
    )
    run_watched([sys.executable, "-c", code], log, env=subprocess_env(), timeout=60, check=True)
    assert outbound_attempts(log), log.read_text()


def test_an_onnx_session_looks_nothing_up(tmp_path):
    log = tmp_path / "strace.log"
    env = subprocess_env()
    env.pop("ORT_DISABLE_TELEMETRY", None)  # as a shell that never heard of it has it
    done = run_watched(
        [sys.executable, "-c", SCORE], log, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "scored" in done.stdout, done.stderr
    assert outbound_attempts(log) == []

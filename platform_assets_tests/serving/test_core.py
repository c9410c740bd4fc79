"""The serving core without the service: point-in-time state, the canary's hash, arms in the
registry, the PSI rule, decision files cut short, and the ``models canary`` command."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from platform_assets.cli import main
from platform_assets.core.features.online import OnlineState, epoch_us
from platform_assets.core.registry import GateDecision, LocalStore, ModelRegistry, RegistryError
from platform_assets.core.registry.arms import (
    CANARY,
    SHADOW,
    arm_history,
    current_arm,
    start_arm,
    stop_arm,
)
from platform_assets.core.serving.decisions import DecisionLog, read_decisions
from platform_assets.core.serving.models import in_canary
from platform_assets.core.serving.monitor import ServingMonitor, psi
from platform_assets.core.settings import ServingSettings
from platform_assets_tests.support.models import identity_onnx
from platform_assets_tests.support.serving import constant_onnx

T0 = dt.datetime(2026, 1, 8, 12, 0, tzinfo=dt.UTC)


def _state(events: list[tuple[str, str, dt.datetime, float]]) -> OnlineState:
    table = pa.table(
        {
            "user_id": [e[1] for e in events],
            "transaction_id": [e[0] for e in events],
            "event_us": pa.array([epoch_us(e[2]) for e in events], pa.int64()),
            "amount_usd": [e[3] for e in events],
        }
    )
    labels = pa.table(
        {
            "partition_date": pa.array([dt.date(2026, 1, 7)], pa.date32()),
            "merchant_category": ["grocery"],
            "n": [100],
            "frauds": [4],
        }
    )
    return OnlineState(table.sort_by([("user_id", "ascending"), ("event_us", "ascending")]), labels)


def _txn(tid: str, ts: dt.datetime, cents: int = 5_000) -> dict:
    return {
        "transaction_id": tid,
        "user_id": "u_000001",
        "event_ts": ts,
        "merchant_category": "grocery",
        "user_country": "US",
        "amount_cents": cents,
        "currency": "USD",
        "card_present": True,
        "device_fingerprint": None,
    }


def test_features_are_as_of_the_transaction_and_count_it_once():
    history = [
        ("tx_a", "u_000001", T0 - dt.timedelta(minutes=30), 10.0),
        ("tx_b", "u_000001", T0 - dt.timedelta(hours=5), 30.0),
        ("tx_c", "u_000001", T0 - dt.timedelta(days=8), 99.0),  # outside 7 days
        ("tx_later", "u_000001", T0 + dt.timedelta(minutes=5), 500.0),  # after: never counts
    ]
    state = _state(history)
    features = state.features(_txn("tx_now", T0), T0)
    assert (features["user_txn_count_1h"], features["user_txn_count_24h"]) == (1, 2)
    assert features["user_txn_count_7d"] == 2 and features["user_amount_sum_24h"] == 40.0
    assert features["seconds_since_prev_txn"] == 1800.0
    assert features["category_fraud_rate_prior"] == pytest.approx((4 + 200 * 0.04) / 300)
    # The transaction joins the state once; scoring it again sees the same windows.
    assert state.add("tx_now", "u_000001", epoch_us(T0), 50.0) is True
    assert state.add("tx_now", "u_000001", epoch_us(T0), 50.0) is False
    assert state.features(_txn("tx_now", T0), T0) == features
    later = state.features(
        _txn("tx_next", T0 + dt.timedelta(minutes=1)), T0 + dt.timedelta(minutes=1)
    )
    assert later["user_txn_count_1h"] == 2  # tx_a and tx_now, not tx_now twice


def test_the_canary_hash_is_stable_and_takes_its_share():
    ids = [f"tx_20260109_{n:08d}" for n in range(20_000)]
    share = np.mean([in_canary(t, 10) for t in ids])
    assert 0.09 < share < 0.11
    assert [in_canary(t, 10) for t in ids[:500]] == [in_canary(t, 10) for t in ids[:500]]
    assert not any(in_canary(t, 0) for t in ids[:500]) and all(in_canary(t, 100) for t in ids[:500])


def _registry(tmp_path) -> ModelRegistry:
    registry = ModelRegistry(LocalStore(tmp_path / "registry"))
    for tag, parity in (("v1", True), ("v2", True), ("v3", False)):
        registry.register(
            {"model.onnx": identity_onnx(tag)},
            config={},
            threshold=0.5,
            data_window={},
            metrics={},
            lineage={},
            extra={"parity": {"passed": parity}},
        )
    registry.promote(1, GateDecision(True, 1, None, ["first"], [], {}))
    return registry


def test_arms_are_recorded_with_who_and_when_and_refuse_what_cannot_serve(tmp_path):
    registry = _registry(tmp_path)
    with pytest.raises(RegistryError, match="no passing ONNX parity check"):
        start_arm(registry, 3, CANARY, percent=10, actor="ana")
    with pytest.raises(RegistryError, match="is the champion"):
        start_arm(registry, 1, SHADOW, actor="ana")
    with pytest.raises(RegistryError, match="canary percent 0"):
        start_arm(registry, 2, CANARY, percent=0, actor="ana")
    arm = start_arm(registry, 2, CANARY, percent=10, actor="ana", reason="try v2")
    assert current_arm(registry) == arm and arm.actor == "ana" and arm.at
    stop_arm(registry, actor="serving", reason="PSI 3.2 > 0.25", automatic=True)
    assert current_arm(registry) is None
    assert [(h["event"], h["actor"], h["automatic"]) for h in arm_history(registry)] == [
        ("start", "ana", False),
        ("stop", "serving", True),
    ]
    assert stop_arm(registry, actor="x", reason="again") is None


def test_models_canary_command_and_list(tmp_path, monkeypatch):
    home = tmp_path / "home"
    _registry(home / "artifacts")
    monkeypatch.setenv("PLATFORM_ASSETS_HOME", str(home))
    runner = CliRunner()
    result = runner.invoke(main, ["models", "canary", "v2", "--percent", "5", "--by", "ana"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["models", "list"])
    assert "arm: canary fraud_model:v2 on 5% of traffic, started by ana" in listed.output
    data = json.loads(runner.invoke(main, ["models", "list", "--json"]).output)
    assert data["arm"]["version"] == 2 and data["arm"]["percent"] == 5.0
    refused = runner.invoke(main, ["models", "canary", "v3", "--shadow"])
    assert refused.exit_code == 1 and "parity" in refused.output
    usage = runner.invoke(main, ["models", "canary", "v2"])
    assert usage.exit_code == 2 and "--percent" in usage.output
    stopped = runner.invoke(main, ["models", "canary", "--stop", "--by", "ana"])
    assert stopped.exit_code == 0 and "stopped the canary of fraud_model:v2" in stopped.output


def test_psi_and_the_canary_rule_see_a_constant_model():
    rng = np.random.default_rng(0)
    champion = rng.beta(0.5, 20, 2_000)
    assert psi(champion, rng.beta(0.5, 20, 2_000)) < 0.05
    assert psi(champion, np.full(2_000, 0.99)) > 5
    monitor = ServingMonitor(ServingSettings(canary_min_samples=50))
    for i in range(49):
        monitor.record_canary(1.0, 2.0, True, 0.99, float(champion[i]))
    assert monitor.canary_breach(1.0) is None  # too few samples to judge
    monitor.record_canary(1.0, 2.0, True, 0.99, float(champion[49]))
    breach = monitor.canary_breach(1.0)
    assert breach is not None and breach.rule == "score_psi" and "PSI" in breach.message


def test_a_decision_line_cut_short_is_skipped_and_a_repeat_is_read_once(tmp_path):
    store = LocalStore(tmp_path)
    log = DecisionLog(store, worker_id="w1")
    record = {
        "request_id": "r1",
        "transaction_id": "tx_20260109_00000001",
        "scored_at": "2026-12-04T10:00:00+00:00",
        "arm": "champion",
        "model_version": 1,
        "score": 0.1,
        "decision": "approve",
        "threshold": 0.5,
        "latency_ms": 1.0,
    }
    log.append(record)
    log.append(record)  # the same decision twice is landed once
    log.append({**record, "request_id": "r2"})
    assert log.flush() == 3
    path = store.local_path("serving/decisions/2026-12-04/w1.jsonl")
    with path.open("a") as handle:
        handle.write('{"request_id": "r3", "transaction_id": "tx_2')  # a write cut by kill -9
    rows, torn = read_decisions(store, "2026-12-04")
    assert [r["request_id"] for r in rows] == ["r1", "r2"] and torn == 1


def test_the_constant_model_scores_every_row_the_same():
    from platform_assets.core.serving.models import ServedModel

    model = ServedModel("fraud_model", 9, 0.5, constant_onnx(0.99))
    scores = model.score([{"amount_usd": 1.0}, {"amount_usd": 900.0}])
    assert np.allclose(scores, 0.99)

"""The registry on a local folder and on a real (moto) S3 server, and the champion/challenger
gate."""

from __future__ import annotations

import json
import socket

import pytest

from platform_assets.core.registry import (
    CorruptModelError,
    GatePolicy,
    LocalStore,
    ModelRegistry,
    PromotionBlockedError,
    RegistryError,
    S3Store,
    gate,
    store_from_url,
)


def _metrics(pr_auc, auroc=0.85, slices=None):
    return {"pr_auc": pr_auc, "auroc": auroc, "slices": slices or []}


def _slice(value, auroc, positives=20):
    return {"column": "merchant_category", "value": value, "auroc": auroc, "positives": positives}


@pytest.fixture(scope="module")
def onnx_bytes():
    # A tiny real model: the registry loads the ONNX file before promoting it.
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    onnx_model = to_onnx(LogisticRegression().fit(x, y), x[:1], options={"zipmap": False})
    # skl2onnx annotates a (model, topology) tuple; without intermediate=True it returns the model
    return onnx_model.SerializeToString()  # pyright: ignore[reportAttributeAccessIssue]


def _register(registry, onnx_bytes, metrics):
    return registry.register(
        {"model.onnx": onnx_bytes, "model.joblib": b"joblib"},
        config={"model_type": "lr"},
        threshold=0.5,
        data_window={"train": ["2026-01-01", "2026-01-06"]},
        metrics=metrics,
        lineage={"run_id": "test"},
    )


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def registry(request, tmp_path, monkeypatch):
    if request.param == "local":
        return ModelRegistry(LocalStore(tmp_path / "registry"))
    import boto3

    endpoint = request.getfixturevalue("moto_endpoint")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    bucket = f"models-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    store = store_from_url(f"s3://{bucket}/platform", endpoint_url=endpoint)
    assert isinstance(store, S3Store)
    return ModelRegistry(store)


def test_versions_record_facts_and_become_challenger(registry, onnx_bytes):
    v1 = _register(registry, onnx_bytes, _metrics(0.20))
    v2 = _register(registry, onnx_bytes, _metrics(0.25))
    assert (v1.version, v2.version) == (1, 2) and registry.versions() == [1, 2]
    assert registry.aliases() == {"champion": None, "challenger": 2}
    stored = registry.get(1)
    assert stored.metrics["pr_auc"] == 0.20 and stored.record["lineage"] == {"run_id": "test"}
    assert registry.read_file(1, "model.onnx") == onnx_bytes
    assert registry.store.uri(registry.file_key(1, "model.onnx")).endswith(
        "fraud_model/versions/v0001/model.onnx"
    )


def test_first_model_promoted_on_minimums_then_gate_and_rollback(registry, onnx_bytes):
    bad_first = _register(registry, onnx_bytes, _metrics(0.01, auroc=0.55))
    decision = registry.promote_if_passes(bad_first.version)
    assert not decision.passed and registry.aliases()["champion"] is None
    assert any("absolute minimum" in r for r in decision.reasons)

    first = _register(registry, onnx_bytes, _metrics(0.20))
    decision = registry.promote_if_passes(first.version)
    assert decision.passed and "no champion yet" in decision.reasons[-1]
    assert registry.aliases()["champion"] == first.version

    better = _register(registry, onnx_bytes, _metrics(0.215))
    assert registry.promote_if_passes(better.version).passed
    worse = _register(registry, onnx_bytes, _metrics(0.15))
    blocked = registry.promote_if_passes(worse.version)
    assert not blocked.passed and registry.aliases() == {
        "champion": better.version,
        "challenger": worse.version,
    }
    with pytest.raises(PromotionBlockedError, match="did not pass"):
        registry.promote(worse.version, blocked)

    assert registry.rollback(reason="incident 42").version == first.version
    assert registry.aliases()["champion"] == first.version
    assert (
        registry.history()[-1]["event"] == "rollback"
        and registry.history()[-1]["reason"] == "incident 42"
    )
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback()


def test_corrupted_model_file_is_a_clear_error_and_champion_stays(tmp_path, onnx_bytes):
    registry = ModelRegistry(LocalStore(tmp_path))
    champion = _register(registry, onnx_bytes, _metrics(0.20))
    registry.promote_if_passes(champion.version)
    challenger = _register(registry, onnx_bytes, _metrics(0.30))
    store = registry.store
    assert isinstance(store, LocalStore)
    path = store.local_path(registry.file_key(challenger.version, "model.onnx"))
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(
        CorruptModelError, match=r"v0002/model.onnx does not match its recorded SHA-256"
    ):
        registry.promote_if_passes(challenger.version)
    assert registry.aliases()["champion"] == champion.version


def test_unloadable_onnx_with_matching_checksum_is_caught(tmp_path):
    registry = ModelRegistry(LocalStore(tmp_path))
    version = _register(registry, b"not an onnx model", _metrics(0.3))
    with pytest.raises(CorruptModelError, match="onnxruntime cannot load"):
        registry.promote_if_passes(version.version)
    assert registry.aliases()["champion"] is None


def test_slice_regression_blocks_even_when_headline_improves():
    champion = _metrics(
        0.20, slices=[_slice("travel", 0.90), _slice("grocery", 0.80), _slice("tiny", 0.9, 2)]
    )
    challenger = _metrics(
        0.22, slices=[_slice("travel", 0.70), _slice("grocery", 0.82), _slice("tiny", 0.1, 2)]
    )
    decision = gate(challenger, champion, GatePolicy(slice_tolerance=0.05), 2, 1)
    assert not decision.passed
    assert "merchant_category=travel (-0.200)" in decision.reasons[-1]
    assert "tiny" not in decision.reasons[-1]  # too few fraud cases to judge
    fine = gate(
        challenger | {"slices": [_slice("travel", 0.88)]},
        champion,
        GatePolicy(slice_tolerance=0.05),
    )
    assert fine.passed
    assert (
        "BLOCKED" in decision.markdown()
        and "| slice merchant_category=travel auroc |" in decision.markdown()
    )


def test_primary_metric_tolerance_boundary():
    policy = GatePolicy(tolerance=0.01)
    assert gate(_metrics(0.191), _metrics(0.20), policy).passed
    assert not gate(_metrics(0.189), _metrics(0.20), policy).passed


def test_attachments_do_not_replace_model_files(tmp_path, onnx_bytes):
    registry = ModelRegistry(LocalStore(tmp_path))
    version = _register(registry, onnx_bytes, _metrics(0.3))
    registry.attach(version.version, "model_card.json", json.dumps({"a": 1}).encode())
    assert json.loads(registry.read_file(version.version, "model_card.json")) == {"a": 1}
    with pytest.raises(RegistryError, match="cannot be replaced"):
        registry.attach(version.version, "model.onnx", b"x")

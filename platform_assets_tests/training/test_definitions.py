"""The code location loads with the lifecycle's assets, checks, sensors and jobs, grouped as
designed.

That loading imports no heavy library is checked once, in
``platform_assets_tests/test_definitions.py``.
"""

from __future__ import annotations

import dagster as dg


def test_lifecycle_definitions_load_with_groups_checks_sensors_and_jobs():
    import platform_assets.definitions as definitions

    defs = definitions.defs()
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert {
        k: groups[k]
        for k in (
            "features/transactions",
            "model/fraud_model",
            "model/fraud_model_onnx",
            "model/eval_results",
            "model/champion_challenger_gate",
            "model/shadow_scores",
            "model/model_card",
            "monitoring/feature_drift",
        )
    } == {
        "features/transactions": "features",
        "model/fraud_model": "training",
        "model/fraud_model_onnx": "training",
        "model/eval_results": "evaluation",
        "model/champion_challenger_gate": "evaluation",
        "model/shadow_scores": "evaluation",
        "model/model_card": "evaluation",
        "monitoring/feature_drift": "monitoring",
    }
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert {
        ("model/fraud_model_onnx", "onnx_parity"),
        ("model/champion_challenger_gate", "promotion_gate"),
    } <= checks
    assert {"drift_retraining_sensor", "triage_run_failures"} <= {
        s.name for s in defs.sensors or []
    }
    assert "retrain_fraud_model" in {j.name for j in defs.jobs or []}
    features = graph.get(dg.AssetKey(["features", "transactions"]))
    assert (
        features.partitions_def is not None
        and dg.AssetKey(["validated", "transactions"]) in features.parent_keys
    )

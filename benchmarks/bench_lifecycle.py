"""Benchmarks of the ML lifecycle core, on the bundled generator's data (no network).

1. Single-row scoring: ``platform_assets.core.training.scoring.score`` (ONNX Runtime, cached
   session) against scikit-learn ``predict_proba`` on a one-row DataFrame. Target ≥ 40×.
2. FaultInjection: the sampled Evidently report (20k rows a side, as the
   ``monitoring/feature_drift``
   asset runs it) against Evidently on all rows (1M current vs 1M reference). Target ≥ 10×
   faster with the same verdict (same drifted columns, drift share within 0.1).
3. The whole lifecycle on 1M validated rows (features → training → ONNX + parity →
   evaluation → registry + gate → model card → drift): target ≤ 60 s.

Run: ``python benchmarks/bench_lifecycle.py [--rows-per-day 100000] [--days 10] [--threads 1]
[--skip-full-drift]``.

``--threads`` caps OpenMP/BLAS threads (scikit-learn's gradient boosting). On a shared or
oversubscribed machine one thread is about twice as fast as the default, because spinning
OpenMP workers compete with other processes; pass ``--threads 0`` for the library default.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from platform_assets.core import warehouse as wh
from platform_assets.core.features import build_feature_partitions, load_features
from platform_assets.core.features.sample_data import day_range, load_validated_days
from platform_assets.core.ingestion.bundled import FaultInjection


class Stopwatch:
    def __init__(self):
        self.stages: dict[str, float] = {}

    def time(self, name):
        watch = self

        class _Stage:
            def __enter__(self):
                self.started = time.perf_counter()

            def __exit__(self, *exc):
                watch.stages[name] = time.perf_counter() - self.started

        return _Stage()


def lifecycle(home: Path, days: list[dt.date], rows_per_day: int) -> tuple[dict, object, object]:
    """The core lifecycle end to end; returns per-stage seconds, the trained model and the
    registry."""
    from platform_assets.core.evaluation import evaluate
    from platform_assets.core.model_card import build_model_card, render_markdown
    from platform_assets.core.monitoring import compute_drift
    from platform_assets.core.registry import LocalStore, ModelRegistry
    from platform_assets.core.training import TrainingConfig, check_parity, export_onnx, train_model

    watch = Stopwatch()
    database = home / "warehouse.duckdb"
    with wh.session(database) as conn:
        load_validated_days(
            conn, days, rows_per_day
        )  # the data the lifecycle starts from (not timed)
    with watch.time("features"), wh.session(database) as conn:
        build_feature_partitions(conn, days[0], days[-1])  # as the single-run backfill does
        features = load_features(conn, days[0], days[-1])
    config = TrainingConfig(training_days=len(days), holdout_days=2)
    with watch.time("training"):
        model = train_model(features, config)
    with watch.time("onnx_export_and_parity"):
        onnx_bytes = export_onnx(model)
        parity = check_parity(model, onnx_bytes)
    with watch.time("evaluation"):
        result = evaluate(onnx_bytes, model.holdout, model.threshold)
    with watch.time("registry_and_gate"):
        import io

        import joblib

        buffer = io.BytesIO()
        joblib.dump(model.pipeline, buffer)
        registry = ModelRegistry(LocalStore(home / "registry"))
        version = registry.register(
            {
                "model.onnx": onnx_bytes,
                "model.joblib": buffer.getvalue(),
                "reference.parquet": model.reference_sample.to_parquet(index=False),
            },
            config=config.to_dict(),
            threshold=model.threshold,
            data_window={
                "train": [d.isoformat() for d in model.train_window],
                "holdout": [d.isoformat() for d in model.holdout_window],
                "train_rows": model.train_rows,
                "holdout_rows": len(model.holdout),
                "train_positive_rate": model.train_positive_rate,
            },
            metrics=result.to_dict(),
            lineage={"benchmark": True},
            extra={"parity": parity.to_dict()},
        )
        decision = registry.promote_if_passes(version.version)
    with watch.time("model_card"):
        card = build_model_card(
            version.record,
            status="champion" if decision.passed else "challenger",
            gate_decision=decision.to_dict(),
        )
        (home / "model_card.md").write_text(render_markdown(card))
    with watch.time("drift"), wh.session(database, read_only=True) as conn:
        current = load_features(conn, days[-1], days[-1], sample_rows=20_000)
        drift = compute_drift(model.reference_sample, current, html_path=home / "drift.html")
    stages: dict[str, Any] = dict(watch.stages)
    stages["total"] = sum(watch.stages.values())
    stages["_facts"] = {
        "rows": len(features),
        "auroc": round(result.auroc, 4),
        "pr_auc": round(result.pr_auc, 4),
        "parity_max_abs_diff": parity.max_abs_diff,
        "promoted": decision.passed,
        "drift_share": round(drift.drift_share, 3),
        "train_rows": model.train_rows,
    }
    return stages, model, onnx_bytes


def bench_scoring(model, onnx_bytes, repeats: int = 2_000) -> dict:
    from platform_assets.core.training.scoring import score

    rows = model.holdout.head(200)
    records = rows.to_dict("records")
    frames = [rows.iloc[[i]] for i in range(len(rows))]
    score(onnx_bytes, records[0])  # warm the cached session
    onnx_times = []
    for i in range(repeats):
        started = time.perf_counter()
        score(onnx_bytes, records[i % len(records)])
        onnx_times.append(time.perf_counter() - started)
    sklearn_times = []
    for i in range(min(repeats, 300)):
        started = time.perf_counter()
        model.predict_proba(frames[i % len(frames)])
        sklearn_times.append(time.perf_counter() - started)
    onnx_ms, sklearn_ms = (
        statistics.median(onnx_times) * 1e3,
        statistics.median(sklearn_times) * 1e3,
    )
    return {
        "onnx_p50_ms": round(onnx_ms, 4),
        "onnx_p99_ms": round(sorted(onnx_times)[int(0.99 * len(onnx_times))] * 1e3, 4),
        "sklearn_p50_ms": round(sklearn_ms, 4),
        "speedup": round(sklearn_ms / onnx_ms, 1),
    }


def bench_drift(home: Path, rows_per_day: int, days: int) -> dict:
    """1M reference rows (healthy) vs 1M current rows (a feed with dollars and 47 categories)."""
    from platform_assets.core.monitoring import compute_drift

    database = home / "drift.duckdb"
    warm_up = day_range("2026-01-25", 7)  # history for the 7-day windows of the first reference day
    reference_days = day_range("2026-02-01", days)
    current_days = day_range("2026-02-01", 2 * days)[days:]
    with wh.session(database) as conn:
        load_validated_days(conn, warm_up + reference_days, rows_per_day)
        load_validated_days(
            conn,
            current_days,
            rows_per_day,
            FaultInjection(amount_unit="dollars", category_count=47),
        )
        build_feature_partitions(conn, reference_days[0], current_days[-1])
        reference = load_features(conn, reference_days[0], reference_days[-1])
        current = load_features(conn, current_days[0], current_days[-1])
    started = time.perf_counter()
    sampled = compute_drift(reference, current, sample_rows=20_000)
    sampled_seconds = time.perf_counter() - started
    started = time.perf_counter()
    full = compute_drift(reference, current, sample_rows=None)
    full_seconds = time.perf_counter() - started
    threshold = 0.3  # the drift sensor's default retrain threshold
    differing = sorted(set(sampled.drifted_columns) ^ set(full.drifted_columns))
    return {
        "rows_each_side": len(current),
        "threshold": threshold,
        "same_verdict": (sampled.drift_share >= threshold) == (full.drift_share >= threshold),
        "differing_columns": {
            c: {
                "sampled": round(sampled.columns[c]["score"], 4),
                "full": round(full.columns[c]["score"], 4),
                "threshold": full.columns[c]["threshold"],
            }
            for c in differing
        },
        "sampled_seconds": round(sampled_seconds, 2),
        "full_seconds": round(full_seconds, 2),
        "speedup": round(full_seconds / sampled_seconds, 1),
        "sampled_drift_share": round(sampled.drift_share, 3),
        "full_drift_share": round(full.drift_share, 3),
        "same_drifted_columns": sampled.drifted_columns == full.drifted_columns,
        "sampled_drifted": sampled.drifted_columns,
        "full_drifted": full.drifted_columns,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, default=1, help="OpenMP/BLAS threads; 0 = library default"
    )
    parser.add_argument("--skip-full-drift", action="store_true")
    args = parser.parse_args()
    from contextlib import nullcontext

    import sklearn.ensemble  # noqa: F401  (load the OpenMP runtime so the thread limit applies to it)
    from threadpoolctl import threadpool_limits

    with (
        threadpool_limits(limits=args.threads) if args.threads else nullcontext(),
        tempfile.TemporaryDirectory() as tmp,
    ):
        home = Path(tmp)
        days = day_range("2026-01-01", args.days)
        stages, model, onnx_bytes = lifecycle(home, days, args.rows_per_day)
        facts = stages.pop("_facts")
        print(f"lifecycle on {facts['rows']:,} rows: {stages['total']:.1f} s (target ≤ 60 s)")
        for name, seconds in stages.items():
            print(f"  {name:24s} {seconds:7.2f} s")
        print(f"  facts: {json.dumps(facts)}")
        scoring = bench_scoring(model, onnx_bytes)
        print(
            f"single-row scoring: ONNX {scoring['onnx_p50_ms']:.3f} ms (p99 "
            f"{scoring['onnx_p99_ms']:.3f}) vs sklearn {scoring['sklearn_p50_ms']:.3f} ms → "
            f"{scoring['speedup']}× (target ≥ 40×)"
        )
        if not args.skip_full_drift:
            drift = bench_drift(home, args.rows_per_day, args.days)
            print(
                f"drift on {drift['rows_each_side']:,} rows a side: sampled "
                f"{drift['sampled_seconds']} s vs full {drift['full_seconds']} s → "
                f"{drift['speedup']}× (target ≥ 10×); drift share sampled "
                f"{drift['sampled_drift_share']} vs full {drift['full_drift_share']}; same retrain "
                f"verdict at {drift['threshold']}: {drift['same_verdict']}; same drifted columns: "
                f"{drift['same_drifted_columns']}"
            )
            print(f"  drifted columns (full): {drift['full_drifted']}")
            if drift["differing_columns"]:
                print(
                    "  columns judged differently (scores): "
                    f"{json.dumps(drift['differing_columns'])}"
                )


if __name__ == "__main__":
    main()

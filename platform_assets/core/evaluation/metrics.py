"""Model evaluation on the holdout: plain numbers in a plain dataclass.

- ranking: AUROC and PR-AUC (average precision; the primary metric, because fraud is ~2%
  and AUROC hides poor precision at that base rate);
- the operating point: precision, recall and alert rate at the model's threshold;
- calibration: Brier score and expected calibration error over equal-count bins;
- slices: the same metrics per ``merchant_category`` and per ``user_country``, and the
  largest gap between slices with enough fraud cases to be measured;
- latency: single-row ONNX scoring, p50 and p99 in milliseconds.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

PRIMARY_METRIC = "pr_auc"
# The metrics a person reads first, in the order tables and cards show them.
HEADLINE_METRICS = (
    "auroc",
    "pr_auc",
    "precision",
    "recall",
    "brier",
    "ece",
    "latency_p50_ms",
    "latency_p99_ms",
)
SLICE_COLUMNS: tuple[str, ...] = ("merchant_category", "user_country")
MIN_SLICE_POSITIVES = 5  # slices with fewer fraud cases are reported but not compared
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class SliceMetrics:
    column: str
    value: str
    rows: int
    positives: int
    auroc: float | None
    pr_auc: float | None
    precision: float | None
    recall: float | None

    @property
    def measurable(self) -> bool:
        return self.positives >= MIN_SLICE_POSITIVES and self.auroc is not None


@dataclass
class EvaluationResult:
    rows: int
    positives: int
    threshold: float
    auroc: float
    pr_auc: float
    precision: float
    recall: float
    alert_rate: float
    brier: float
    ece: float
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    slices: list[SliceMetrics] = field(default_factory=list)
    slice_gaps: dict[str, dict] = field(default_factory=dict)

    def metric(self, name: str) -> float:
        return float(getattr(self, name))

    def slice_metric(self, column: str, value: str, name: str = "auroc") -> float | None:
        for s in self.slices:
            if s.column == column and s.value == value:
                return getattr(s, name)
        return None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["primary_metric"] = PRIMARY_METRIC
        return data

    @classmethod
    def from_dict(cls, data: dict) -> EvaluationResult:
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        data["slices"] = [SliceMetrics(**s) for s in data.get("slices", [])]
        return cls(**data)

    def headline(self) -> dict[str, float]:
        keys = (
            "auroc",
            "pr_auc",
            "precision",
            "recall",
            "brier",
            "ece",
            "latency_p50_ms",
            "latency_p99_ms",
        )
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def _safe(fn, y: np.ndarray, p: np.ndarray) -> float | None:
    if len(np.unique(y)) < 2:
        return None
    return float(fn(y, p))


def _precision_recall(y: np.ndarray, flagged: np.ndarray) -> tuple[float | None, float | None]:
    tp = int((flagged & (y == 1)).sum())
    precision = tp / int(flagged.sum()) if flagged.any() else None
    recall = tp / int((y == 1).sum()) if (y == 1).any() else None
    return precision, recall


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Mean |observed rate - mean predicted| over equal-count bins, weighted by bin size."""
    if len(y) == 0:
        return 0.0
    order = np.argsort(p, kind="stable")
    total = 0.0
    for chunk in np.array_split(order, min(bins, len(y))):
        if len(chunk):
            total += len(chunk) * abs(float(y[chunk].mean()) - float(p[chunk].mean()))
    return total / len(y)


def evaluate_scores(
    y_true,
    scores,
    threshold: float,
    slices: pd.DataFrame | None = None,
    slice_columns: tuple[str, ...] = SLICE_COLUMNS,
) -> EvaluationResult:
    """Metrics of P(fraud) ``scores`` against 0/1 labels ``y_true`` (both shape ``(n,)``).

    ``slices`` is a frame aligned with the labels holding ``slice_columns``.
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y_true).astype(int)
    p = np.asarray(scores, dtype=np.float64)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} scores")
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"the evaluation set of {len(y)} rows holds one class only; AUROC is undefined: "
            f"widen holdout_days"
        )
    flagged = p >= threshold
    precision, recall = _precision_recall(y, flagged)
    result = EvaluationResult(
        rows=len(y),
        positives=int(y.sum()),
        threshold=float(threshold),
        auroc=float(roc_auc_score(y, p)),
        pr_auc=float(average_precision_score(y, p)),
        precision=precision or 0.0,
        recall=recall or 0.0,
        alert_rate=float(flagged.mean()),
        brier=float(brier_score_loss(y, p)),
        ece=expected_calibration_error(y, p),
    )
    if slices is not None:
        for column in slice_columns:
            if column not in slices.columns:
                continue
            values = (
                slices[column]
                .astype(object)
                .where(slices[column].notna(), "(null)")
                .astype(str)
                .to_numpy()
            )
            column_slices = []
            for value in sorted(set(values)):
                mask = values == value
                ys, ps = y[mask], p[mask]
                sp, sr = _precision_recall(ys, ps >= threshold)
                column_slices.append(
                    SliceMetrics(
                        column=column,
                        value=value,
                        rows=int(mask.sum()),
                        positives=int(ys.sum()),
                        auroc=_safe(roc_auc_score, ys, ps),
                        pr_auc=_safe(average_precision_score, ys, ps),
                        precision=sp,
                        recall=sr,
                    )
                )
            result.slices.extend(column_slices)
            measurable = [s for s in column_slices if s.measurable]
            if len(measurable) >= 2:
                worst = min(measurable, key=lambda s: s.auroc)
                best = max(measurable, key=lambda s: s.auroc)
                result.slice_gaps[column] = {
                    "metric": "auroc",
                    "gap": best.auroc - worst.auroc,
                    "worst": worst.value,
                    "worst_value": worst.auroc,
                    "best": best.value,
                    "best_value": best.auroc,
                    "measured_slices": len(measurable),
                }
            else:
                result.slice_gaps[column] = {
                    "metric": "auroc",
                    "gap": None,
                    "measured_slices": len(measurable),
                }
    return result


def measure_latency(scorer, rows: pd.DataFrame, n: int = 200) -> tuple[float, float]:
    """Single-row scoring latency ``(p50_ms, p99_ms)`` over ``n`` rows of ``rows``."""
    records = rows.head(n).to_dict("records")
    if not records:
        return 0.0, 0.0
    scorer.score_one(records[0])  # warm-up
    timings = []
    for record in records:
        started = time.perf_counter()
        scorer.score_one(record)
        timings.append((time.perf_counter() - started) * 1000.0)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))


def evaluate(
    onnx_model, holdout: pd.DataFrame, threshold: float, latency_rows: int = 200
) -> EvaluationResult:
    """Score ``holdout`` with the ONNX model (path or bytes) and measure everything above."""
    from platform_assets.core.training.scoring import scorer_for

    scorer = scorer_for(onnx_model)
    scores = scorer.score(holdout)
    result = evaluate_scores(holdout["is_fraud"].to_numpy(), scores, threshold, slices=holdout)
    result.latency_p50_ms, result.latency_p99_ms = measure_latency(scorer, holdout, latency_rows)
    return result

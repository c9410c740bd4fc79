"""Evaluation: ranking, operating-point, calibration, slice and latency metrics of a model."""

from platform_assets.core.evaluation.metrics import (
    PRIMARY_METRIC,
    SLICE_COLUMNS,
    EvaluationResult,
    SliceMetrics,
    evaluate,
    evaluate_scores,
    measure_latency,
)

__all__ = [
    "PRIMARY_METRIC",
    "SLICE_COLUMNS",
    "EvaluationResult",
    "SliceMetrics",
    "evaluate",
    "evaluate_scores",
    "measure_latency",
]

"""ONNX export with skl2onnx, and the parity check that decides whether an export ships.

Each model input column becomes one ONNX input of shape ``[None, 1]``: categoricals as
strings, numbers as float32. The classifier's ZipMap is switched off so the graph returns a
plain ``probabilities`` tensor, which is what :mod:`scoring` reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from platform_assets.core.training.model import TrainedModel, TrainingConfig, model_input

PARITY_TOLERANCE = 1e-3
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}


class OnnxParityError(RuntimeError):
    """The ONNX graph does not score like the scikit-learn pipeline; it must not ship."""

    def __init__(self, report: ParityReport):
        self.report = report
        super().__init__(
            f"ONNX export disagrees with scikit-learn on {report.rows_over_tolerance} of "
            f"{report.rows} holdout rows: max |Δp| = {report.max_abs_diff:.3g} > tolerance "
            f"{report.tolerance:g}. The export does not ship; check for unsupported converter "
            "options (e.g. native categorical_features)"
        )


@dataclass(frozen=True)
class ParityReport:
    rows: int
    max_abs_diff: float
    mean_abs_diff: float
    rows_over_tolerance: int
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(self.max_abs_diff <= self.tolerance and np.isfinite(self.max_abs_diff))

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def onnx_input_types(config: TrainingConfig) -> list:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [(c, StringTensorType([None, 1])) for c in config.categorical_columns] + [
        (c, FloatTensorType([None, 1])) for c in config.numeric_columns
    ]


def export_onnx(model: TrainedModel) -> bytes:
    """The fitted pipeline as a serialized ONNX model (bytes)."""
    from skl2onnx import convert_sklearn

    classifier = model.pipeline.steps[-1][1]
    onnx_model = convert_sklearn(
        model.pipeline,
        name="fraud_model",
        initial_types=onnx_input_types(model.config),
        options={id(classifier): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    # skl2onnx annotates a (model, topology) tuple; without intermediate=True it returns the model
    return onnx_model.SerializeToString()  # pyright: ignore[reportAttributeAccessIssue]


def check_parity(
    model: TrainedModel,
    onnx_bytes: bytes,
    frame: pd.DataFrame | None = None,
    tolerance: float = PARITY_TOLERANCE,
    raise_on_failure: bool = True,
) -> ParityReport:
    """Score ``frame`` (default: the holdout) with both and compare P(fraud) row by row.

    Raises:
        OnnxParityError: when ``raise_on_failure`` and max |Δp| exceeds ``tolerance``.
    """
    from platform_assets.core.training.scoring import OnnxScorer

    frame = model.holdout if frame is None else frame
    expected = model.predict_proba(frame)
    actual = OnnxScorer(onnx_bytes).score(frame)
    diff = np.abs(expected - actual)
    max_diff = float(diff.max()) if diff.size else 0.0
    if np.isnan(diff).any():
        max_diff = float("inf")
    report = ParityReport(
        rows=len(frame),
        max_abs_diff=max_diff,
        mean_abs_diff=float(np.nanmean(diff)) if diff.size else 0.0,
        rows_over_tolerance=int((~(diff <= tolerance)).sum()),
        tolerance=tolerance,
    )
    if raise_on_failure and not report.passed:
        raise OnnxParityError(report)
    return report


__all__ = ["OnnxParityError", "ParityReport", "check_parity", "export_onnx", "model_input"]

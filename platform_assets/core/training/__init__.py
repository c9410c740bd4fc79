"""Training: a scikit-learn fraud classifier, its ONNX export and parity check, and scoring.

Names are resolved lazily (PEP 562) so that importing ``TrainingConfig`` for the Dagster
config class does not pull numpy, pandas or onnxruntime into the code location's load.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy names resolve to, for type checkers and readers
    from platform_assets.core.training.model import (
        InsufficientDataError,
        SingleClassError,
        TrainedModel,
        TrainingConfig,
        TrainingError,
        split_by_time,
        train_model,
    )
    from platform_assets.core.training.onnx_export import (
        OnnxParityError,
        ParityReport,
        check_parity,
        export_onnx,
    )
    from platform_assets.core.training.scoring import OnnxScorer, score

_EXPORTS = {
    "InsufficientDataError": "model",
    "SingleClassError": "model",
    "TrainedModel": "model",
    "TrainingConfig": "model",
    "TrainingError": "model",
    "split_by_time": "model",
    "train_model": "model",
    "OnnxParityError": "onnx_export",
    "ParityReport": "onnx_export",
    "check_parity": "onnx_export",
    "export_onnx": "onnx_export",
    "OnnxScorer": "scoring",
    "score": "scoring",
}

# The same names as _EXPORTS, spelled out for linters and type checkers.
__all__ = [
    "InsufficientDataError",
    "OnnxParityError",
    "OnnxScorer",
    "ParityReport",
    "SingleClassError",
    "TrainedModel",
    "TrainingConfig",
    "TrainingError",
    "check_parity",
    "export_onnx",
    "score",
    "split_by_time",
    "train_model",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

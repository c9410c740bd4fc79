"""Scoring with onnxruntime: single rows and batches, one cached InferenceSession per model.

``score(model, rows)`` accepts a model path (or ONNX bytes) and rows as one mapping, a list
of mappings, or a DataFrame, and returns P(fraud) as a float for one mapping and as an
array of shape ``(n,)`` otherwise. Sessions are cached per file path and modification time,
so a new model file at the same path is picked up, and per content hash for bytes.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

_SESSIONS: dict[tuple, OnnxScorer] = {}
_LOCK = threading.Lock()


class ModelLoadError(RuntimeError):
    """An ONNX file that onnxruntime cannot load (corrupted, truncated, not ONNX)."""


class OnnxScorer:
    """One onnxruntime session and its input signature."""

    def __init__(self, model: bytes | str | Path):
        import onnxruntime as ort

        from platform_assets.core.telemetry import turn_off_onnxruntime

        turn_off_onnxruntime(ort)  # its 1DS telemetry would look up Microsoft's collector
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises several private exception types
            name = "in-memory model" if isinstance(model, bytes) else str(model)
            raise ModelLoadError(
                f"onnxruntime cannot load {name}: {exc}. The file is corrupted or "
                f"not an ONNX model; re-export it or restore it from the registry"
            ) from exc
        self.inputs = [(i.name, i.type) for i in self.session.get_inputs()]
        self._string_inputs = {name for name, kind in self.inputs if "string" in kind}
        outputs = [o.name for o in self.session.get_outputs()]
        self._output = "probabilities" if "probabilities" in outputs else outputs[-1]

    @property
    def input_names(self) -> list[str]:
        return [name for name, _ in self.inputs]

    def _feed_one(self, row: Mapping) -> dict[str, np.ndarray]:
        feed = {}
        for name in self.input_names:
            value = row[name]
            if name in self._string_inputs:
                feed[name] = np.array([["" if value is None else str(value)]], dtype=object)
            else:
                feed[name] = np.array([[value]], dtype=np.float32)
        return feed

    def _feed_frame(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        feed = {}
        for name in self.input_names:
            column = frame[name]
            if name in self._string_inputs:
                values = (
                    column.astype(object).where(column.notna(), "").astype(str).to_numpy(object)
                )
                feed[name] = values.reshape(-1, 1)
            else:
                feed[name] = column.to_numpy(dtype=np.float32).reshape(-1, 1)
        return feed

    def score_one(self, row: Mapping) -> float:
        """P(fraud) for one row given as a mapping of feature name to value."""
        return float(self.session.run([self._output], self._feed_one(row))[0][0, 1])

    def score(self, rows: Mapping | Sequence[Mapping] | pd.DataFrame) -> float | np.ndarray:
        """P(fraud): a float for one mapping, an array ``(n,)`` for a list or DataFrame."""
        if isinstance(rows, Mapping):
            return self.score_one(rows)
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if frame.empty:
            return np.zeros(0, dtype=np.float64)
        missing = [name for name in self.input_names if name not in frame.columns]
        if missing:
            raise KeyError(
                f"rows lack model inputs {missing}; the model expects {self.input_names}"
            )
        probabilities = self.session.run([self._output], self._feed_frame(frame))[0]
        return probabilities[:, 1].astype(np.float64)


def scorer_for(model: bytes | str | Path) -> OnnxScorer:
    """The cached scorer for a model file (keyed by path and mtime) or bytes (by hash)."""
    if isinstance(model, bytes):
        key: tuple = ("bytes", hashlib.sha256(model).hexdigest())
    else:
        path = Path(model).resolve()
        stat = path.stat()
        key = ("path", str(path), stat.st_mtime_ns, stat.st_size)
    scorer = _SESSIONS.get(key)
    if scorer is None:
        with _LOCK:
            scorer = _SESSIONS.get(key)
            if scorer is None:
                scorer = OnnxScorer(model)
                _SESSIONS[key] = scorer
    return scorer


def score(
    model: bytes | str | Path, rows: Mapping | Sequence[Mapping] | pd.DataFrame
) -> float | np.ndarray:
    """P(fraud) for one row (a mapping → float) or many (list/DataFrame → array)."""
    return scorer_for(model).score(rows)

"""A training candidate on disk: everything later stages need, in one folder.

``<artifacts>/candidates/<run id>/`` holds

- ``model.joblib``: the fitted scikit-learn pipeline;
- ``model.onnx`` and ``parity.json`` once exported;
- ``holdout.parquet``: the evaluation rows; ``reference.parquet``: the drift reference sample;
- ``training.json``: config, threshold, data window, row counts (``TrainedModel.summary``);
- ``eval.json`` once evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from platform_assets.core.training.model import TrainedModel, TrainingConfig

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


@dataclass
class Candidate:
    path: Path
    pipeline: Pipeline
    config: TrainingConfig
    summary: dict

    @property
    def threshold(self) -> float:
        return float(self.summary["threshold"])

    @property
    def onnx_path(self) -> Path:
        return self.path / "model.onnx"

    def holdout(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "holdout.parquet")

    def reference(self) -> pd.DataFrame:
        return pd.read_parquet(self.path / "reference.parquet")

    def as_trained_model(self) -> TrainedModel:
        import datetime as dt

        holdout = self.holdout()

        def window(key: str) -> tuple[dt.date, dt.date]:
            start, end = (dt.date.fromisoformat(d) for d in self.summary[key])
            return start, end

        return TrainedModel(
            pipeline=self.pipeline,
            config=self.config,
            threshold=self.threshold,
            train_window=window("train_window"),
            holdout_window=window("holdout_window"),
            train_rows=self.summary["train_rows"],
            train_positive_rate=self.summary["train_positive_rate"],
            holdout=holdout,
            reference_sample=pd.DataFrame(),
            fit_seconds=self.summary.get("fit_seconds", 0.0),
        )

    def read_json(self, name: str) -> dict:
        return json.loads((self.path / name).read_text())

    def write_json(self, name: str, data: dict) -> Path:
        target = self.path / name
        target.write_text(json.dumps(data, indent=2, default=str))
        return target


def save_candidate(model: TrainedModel, path: str | Path) -> Candidate:
    import joblib

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    joblib.dump(model.pipeline, path / "model.joblib")
    model.holdout.to_parquet(path / "holdout.parquet", index=False)
    model.reference_sample.to_parquet(path / "reference.parquet", index=False)
    (path / "training.json").write_text(json.dumps(model.summary(), indent=2, default=str))
    return load_candidate(path)


def load_candidate(path: str | Path) -> Candidate:
    """Raises FileNotFoundError naming the folder when the candidate is incomplete."""
    import joblib

    path = Path(path)
    for name in ("model.joblib", "training.json", "holdout.parquet", "reference.parquet"):
        if not (path / name).is_file():
            raise FileNotFoundError(
                f"candidate {path} lacks {name}: re-materialize model/fraud_model"
            )
    summary = json.loads((path / "training.json").read_text())
    return Candidate(
        path=path,
        pipeline=joblib.load(path / "model.joblib"),
        config=TrainingConfig.from_dict(summary["config"]),
        summary=summary,
    )

"""The fraud classifier: a scikit-learn pipeline trained on a rolling, time-based split.

Categoricals are one-hot encoded *inside* the pipeline and the gradient-boosted trees see
only numbers. HistGradientBoosting's native ``categorical_features`` is avoided on purpose:
skl2onnx converts it without error and then mis-scores (onnx/sklearn-onnx#1051), which the
parity check would catch only after a wasted training run.

Split: the holdout is the last ``holdout_days`` days of the window, training is the days
before it, so both roll forward as new partitions arrive and no future row trains the model
that is evaluated on it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from platform_assets.core.features.transactions import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    LABEL,
    NUMERIC_FEATURES,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class TrainingError(ValueError):
    """The training data cannot produce a model; the message says why and what to do."""


class InsufficientDataError(TrainingError):
    pass


class SingleClassError(TrainingError):
    pass


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters and data-window settings. Plain data: JSON-safe via ``asdict``.

    Attributes:
        model_type: ``"hist_gradient_boosting"`` or ``"logistic_regression"``.
        features: the feature columns to use; empty means all of ``FEATURE_COLUMNS``.
        training_days: days of features read, ending at the newest partition.
        holdout_days: the last days of that window kept out of training for evaluation.
        alert_rate: share of training transactions the operating threshold flags.
        max_train_rows: cap on training rows, drawn uniformly with ``seed`` (None: all); the
            holdout is never sampled.
        n_threads: cap on OpenMP/BLAS threads while fitting (None: the library default); 1 is
            faster on a shared, oversubscribed machine.
        min_train_rows / min_positive_rows: refuse to train below these.
    """

    model_type: str = "hist_gradient_boosting"
    features: tuple[str, ...] = ()
    training_days: int = 28
    holdout_days: int = 2
    learning_rate: float = 0.05
    max_iter: int = 150
    max_depth: int | None = 3
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0
    logistic_c: float = 1.0
    alert_rate: float = 0.02
    max_train_rows: int | None = 400_000
    n_threads: int | None = None
    seed: int = 42
    min_train_rows: int = 1_000
    min_positive_rows: int = 20
    min_holdout_rows: int = 200

    def __post_init__(self) -> None:
        if self.model_type not in ("hist_gradient_boosting", "logistic_regression"):
            raise ValueError(
                f"model_type must be 'hist_gradient_boosting' or 'logistic_regression', "
                f"got {self.model_type!r}"
            )
        unknown = sorted(set(self.features) - set(FEATURE_COLUMNS))
        if unknown:
            raise ValueError(
                f"features {unknown} are not feature columns; choose from {list(FEATURE_COLUMNS)}"
            )
        if self.holdout_days < 1 or self.training_days <= self.holdout_days:
            raise ValueError(
                f"need training_days > holdout_days >= 1, got {self.training_days} and "
                f"{self.holdout_days}"
            )
        if not 0 < self.alert_rate < 1:
            raise ValueError(f"alert_rate must be in (0, 1), got {self.alert_rate}")

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return tuple(self.features) or FEATURE_COLUMNS

    @property
    def categorical_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.feature_columns if c in CATEGORICAL_FEATURES)

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.feature_columns if c in NUMERIC_FEATURES)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["features"] = list(self.feature_columns)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainingConfig:
        data = dict(data)
        data["features"] = tuple(data.get("features") or ())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class TrainedModel:
    """A fitted pipeline plus everything needed to evaluate, export and document it."""

    pipeline: object
    config: TrainingConfig
    threshold: float
    train_window: tuple[dt.date, dt.date]
    holdout_window: tuple[dt.date, dt.date]
    train_rows: int
    train_positive_rate: float
    holdout: pd.DataFrame = field(repr=False)
    reference_sample: pd.DataFrame = field(repr=False)
    fit_seconds: float = 0.0
    # What the model learned from (rows, config, code): see `training_inputs_fingerprint`.
    inputs_fingerprint: str = ""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """P(fraud) per row, shape ``(n,)``, from the scikit-learn pipeline."""
        return self.pipeline.predict_proba(model_input(frame, self.config))[:, 1]

    def summary(self) -> dict:
        return {
            "model_type": self.config.model_type,
            "threshold": self.threshold,
            "train_window": [d.isoformat() for d in self.train_window],
            "holdout_window": [d.isoformat() for d in self.holdout_window],
            "train_rows": self.train_rows,
            "holdout_rows": len(self.holdout),
            "train_positive_rate": self.train_positive_rate,
            "fit_seconds": round(self.fit_seconds, 3),
            "features": list(self.config.feature_columns),
            "config": self.config.to_dict(),
            "inputs_fingerprint": self.inputs_fingerprint,
        }


def model_input(frame: pd.DataFrame, config: TrainingConfig) -> pd.DataFrame:
    """The pipeline's input columns, typed as the ONNX graph expects (strings, float32)."""
    import numpy as np
    import pandas as pd

    data = {}
    for column in config.categorical_columns:
        data[column] = (
            frame[column]
            .astype(object)
            .where(frame[column].notna(), "")
            .astype(str)
            .to_numpy(object)
        )
    for column in config.numeric_columns:
        data[column] = frame[column].to_numpy(dtype=np.float32)
    return pd.DataFrame(data, index=frame.index)


def build_pipeline(config: TrainingConfig):
    """An unfitted pipeline: one-hot for categoricals, numbers passed through, then the model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    transformers = []
    if config.categorical_columns:
        transformers.append(
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(config.categorical_columns),
            )
        )
    if config.numeric_columns:
        numeric = StandardScaler() if config.model_type == "logistic_regression" else "passthrough"
        transformers.append(("numeric", numeric, list(config.numeric_columns)))
    preprocess = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    if config.model_type == "logistic_regression":
        estimator = LogisticRegression(
            C=config.logistic_c, max_iter=2_000, random_state=config.seed
        )
    else:
        estimator = HistGradientBoostingClassifier(
            learning_rate=config.learning_rate,
            max_iter=config.max_iter,
            max_depth=config.max_depth,
            max_leaf_nodes=config.max_leaf_nodes,
            min_samples_leaf=config.min_samples_leaf,
            l2_regularization=config.l2_regularization,
            early_stopping=False,
            random_state=config.seed,
        )
    return Pipeline([("preprocess", preprocess), ("classifier", estimator)])


def split_by_time(features: pd.DataFrame, holdout_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(train, holdout)``: holdout is the last ``holdout_days`` distinct days present."""
    import pandas as pd

    days = sorted(pd.to_datetime(features["partition_date"]).dt.date.unique())
    if len(days) <= holdout_days:
        raise InsufficientDataError(
            f"the feature window holds {len(days)} day(s) ({_span(days)}), but holdout_days={holdout_days} "
            f"needs at least {holdout_days + 1}: materialize more features/transactions partitions or lower "
            f"holdout_days"
        )
    cutoff = days[-holdout_days]
    dates = pd.to_datetime(features["partition_date"]).dt.date
    return features[dates < cutoff].reset_index(drop=True), features[dates >= cutoff].reset_index(
        drop=True
    )


# The code a model's numbers depend on: the feature definitions and this training module.
_FINGERPRINTED_CODE = ("core/features/transactions.py", "core/training/model.py")


def training_inputs_fingerprint(features: pd.DataFrame, config: TrainingConfig) -> str:
    """SHA-256 of everything a training run learns from: the feature rows of its window (their
    content, in transaction order), its config and the code of the features and the training.

    Two runs with the same fingerprint fit the same model (the fit is seeded), so the registry
    keeps one version for them (``core/registry/candidates.register_candidate``)."""
    import hashlib
    import json
    from pathlib import Path

    import pandas as pd

    digest = hashlib.sha256()
    digest.update(json.dumps(config.to_dict(), sort_keys=True, default=str).encode())
    package = Path(__file__).resolve().parents[2]
    for relative in _FINGERPRINTED_CODE:
        digest.update(relative.encode())
        digest.update((package / relative).read_bytes())
    columns = sorted(features.columns)
    keys = [c for c in ("partition_date", "transaction_id") if c in features.columns]
    ordered = features.sort_values(keys).reset_index(drop=True) if keys else features
    digest.update(json.dumps(columns).encode())
    digest.update(pd.util.hash_pandas_object(ordered[columns], index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _reference_pool(
    features: pd.DataFrame, train: pd.DataFrame, reference_days: Collection[dt.date] | None
) -> pd.DataFrame:
    """The rows the drift reference is sampled from (see ``train_model``)."""
    import pandas as pd

    if reference_days is None:
        return train
    allowed = set(reference_days)
    for frame in (train, features):
        rows = frame[pd.to_datetime(frame["partition_date"]).dt.date.isin(allowed)]
        if not rows.empty:
            return rows
    return train


def _span(days) -> str:
    return f"{days[0]}..{days[-1]}" if days else "none"


def train_model(
    features: pd.DataFrame,
    config: TrainingConfig | None = None,
    reference_rows: int = 20_000,
    reference_days: Collection[dt.date] | None = None,
) -> TrainedModel:
    """Fit the pipeline on all but the last ``holdout_days`` days of ``features``.

    Args:
        features: rows of ``features.transactions`` (any order), label column ``is_fraud``.
        config: hyperparameters; defaults when None.
        reference_rows: size of the seeded training sample kept as the drift reference.
        reference_days: the days whose rows may describe normal traffic in the drift
            reference (``core.features.complete_window_days``: their 7-day windows are
            complete). The reference is drawn from the training rows of those days; when the
            training part has none (a first model on a fresh history), from the window's rows
            of those days; with none at all, from the training rows. ``None``: every day.

    Raises:
        InsufficientDataError: too few days, rows or fraud cases to train or evaluate.
        SingleClassError: the training window holds only one class.
    """
    import numpy as np
    import pandas as pd

    config = config or TrainingConfig()
    if features.empty:
        raise InsufficientDataError(
            "no feature rows in the training window: materialize features/transactions first"
        )
    missing = sorted(
        (set(config.feature_columns) | {LABEL, "partition_date"}) - set(features.columns)
    )
    if missing:
        raise TrainingError(f"feature frame lacks columns {missing}: rebuild features/transactions")
    train, holdout = split_by_time(features, config.holdout_days)
    train_days = sorted(pd.to_datetime(train["partition_date"]).dt.date.unique())
    holdout_days = sorted(pd.to_datetime(holdout["partition_date"]).dt.date.unique())
    if len(train) < config.min_train_rows:
        raise InsufficientDataError(
            f"{len(train)} training rows in {_span(train_days)}, fewer than min_train_rows="
            f"{config.min_train_rows}: materialize more partitions or lower min_train_rows"
        )
    if len(holdout) < config.min_holdout_rows:
        raise InsufficientDataError(
            f"{len(holdout)} holdout rows in {_span(holdout_days)}, fewer than min_holdout_rows="
            f"{config.min_holdout_rows}"
        )
    labels = train[LABEL].astype(int).to_numpy()
    classes = np.unique(labels)
    if len(classes) < 2:
        only = "fraud" if classes[0] == 1 else "legitimate"
        raise SingleClassError(
            f"every one of the {len(train)} training rows in {_span(train_days)} is {only} "
            f"(is_fraud={int(classes[0])}): a classifier needs both classes; check the label feed "
            f"or widen training_days"
        )
    positives = int(labels.sum())
    if positives < config.min_positive_rows:
        raise InsufficientDataError(
            f"only {positives} fraud rows in training window {_span(train_days)}, fewer than "
            f"min_positive_rows={config.min_positive_rows}: widen training_days"
        )

    fit_rows = train
    if config.max_train_rows is not None and len(train) > config.max_train_rows:
        fit_rows = train.sample(n=config.max_train_rows, random_state=config.seed)
    from contextlib import nullcontext

    from threadpoolctl import threadpool_limits

    pipeline = build_pipeline(config)
    with threadpool_limits(limits=config.n_threads) if config.n_threads else nullcontext():
        started = time.perf_counter()
        pipeline.fit(model_input(fit_rows, config), fit_rows[LABEL].astype(int).to_numpy())
        fit_seconds = time.perf_counter() - started
        # The threshold flags alert_rate of training traffic; 100k rows pin that quantile well.
        threshold_rows = (
            fit_rows
            if len(fit_rows) <= 100_000
            else fit_rows.sample(n=100_000, random_state=config.seed)
        )
        train_scores = pipeline.predict_proba(model_input(threshold_rows, config))[:, 1]
    threshold = float(np.quantile(train_scores, 1.0 - config.alert_rate))
    reference_pool = _reference_pool(features, train, reference_days)
    reference = reference_pool.sample(
        n=min(reference_rows, len(reference_pool)), random_state=config.seed
    )
    return TrainedModel(
        pipeline=pipeline,
        config=config,
        threshold=threshold,
        train_window=(train_days[0], train_days[-1]),
        holdout_window=(holdout_days[0], holdout_days[-1]),
        train_rows=len(fit_rows),
        train_positive_rate=float(labels.mean()),
        holdout=holdout,
        reference_sample=reference.reset_index(drop=True),
        fit_seconds=fit_seconds,
        inputs_fingerprint=training_inputs_fingerprint(features, config),
    )

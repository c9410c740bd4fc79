"""Features: point-in-time correct transaction features computed in DuckDB SQL."""

from platform_assets.core.features.transactions import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    NUMERIC_FEATURES,
    build_feature_partition,
    build_feature_partitions,
    complete_window_days,
    feature_partitions,
    load_features,
    withdraw_feature_partitions,
)

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURE_COLUMNS",
    "NUMERIC_FEATURES",
    "build_feature_partition",
    "build_feature_partitions",
    "complete_window_days",
    "feature_partitions",
    "load_features",
    "withdraw_feature_partitions",
]

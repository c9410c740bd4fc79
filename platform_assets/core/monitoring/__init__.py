"""Monitoring: feature drift of recent data against the champion's training reference."""

from platform_assets.core.monitoring.feature_drift import (
    DRIFT_CATEGORICAL,
    DRIFT_NUMERIC,
    DriftResult,
    compute_drift,
    sample_frame,
)

__all__ = ["DRIFT_CATEGORICAL", "DRIFT_NUMERIC", "DriftResult", "compute_drift", "sample_frame"]

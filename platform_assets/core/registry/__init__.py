"""Model registry: versions with their facts, ``champion``/``challenger`` aliases, a gate,
rollback."""

from pathlib import Path

from platform_assets.core.registry.gate import (
    EvalCaseComparison,
    EvalCaseResult,
    GateDecision,
    GatePolicy,
    gate,
)
from platform_assets.core.registry.registry import (
    CHALLENGER,
    CHAMPION,
    CorruptModelError,
    ModelRegistry,
    ModelVersion,
    PromotionBlockedError,
    RegistryError,
)
from platform_assets.core.registry.store import ArtifactStore, LocalStore, S3Store, store_from_url


def registry_for(url: str | Path) -> ModelRegistry:
    """The registry at ``url``: ``s3://bucket/prefix`` or a local path (the platform's is
    ``Settings.registry_url``)."""
    return ModelRegistry(store_from_url(url))


__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ArtifactStore",
    "CorruptModelError",
    "EvalCaseComparison",
    "EvalCaseResult",
    "GateDecision",
    "GatePolicy",
    "LocalStore",
    "ModelRegistry",
    "ModelVersion",
    "PromotionBlockedError",
    "RegistryError",
    "S3Store",
    "gate",
    "registry_for",
    "store_from_url",
]

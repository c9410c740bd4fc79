"""Model registry: versions with their facts, ``champion``/``challenger`` aliases, a gate, rollback."""

from platform_assets.core.registry.gate import GateDecision, GatePolicy, gate
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

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "ArtifactStore",
    "CorruptModelError",
    "GateDecision",
    "GatePolicy",
    "LocalStore",
    "ModelRegistry",
    "ModelVersion",
    "PromotionBlockedError",
    "RegistryError",
    "S3Store",
    "gate",
    "store_from_url",
]

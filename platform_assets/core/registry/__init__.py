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

REGISTRY_URL_ENV = "PLATFORM_ASSETS_REGISTRY_URL"


def registry_for(home, environ=None) -> ModelRegistry:
    """The registry: ``$PLATFORM_ASSETS_REGISTRY_URL`` (``s3://bucket/prefix`` or a path)
    when set, else ``<home>/artifacts/registry``. Read when called, never at import."""
    import os
    from pathlib import Path

    env = os.environ if environ is None else environ
    url = env.get(REGISTRY_URL_ENV) or str(Path(home) / "artifacts" / "registry")
    return ModelRegistry(store_from_url(url))

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
    "REGISTRY_URL_ENV",
    "gate",
    "registry_for",
    "store_from_url",
]

"""What the service serves, loaded as one unit: the champion, the arm's challenger, the online
state. A :class:`Bundle` is immutable but for the state's live events; the service swaps the
whole bundle in one assignment, so a request sees one consistent set.

The registry is polled through :func:`fingerprint`: three small objects (the aliases, the
arms, the state pointer). A change loads a new bundle off the request path; models and state
that did not change are reused, not reloaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from platform_assets.core.features.online import OnlineState
from platform_assets.core.registry.arms import CANARY, Arm, arms_key, current_arm
from platform_assets.core.registry.registry import ONNX_FILE, ModelRegistry, RegistryError
from platform_assets.core.registry.store import ArtifactStore
from platform_assets.core.serving.state import read_state, state_pointer_bytes

DEFAULT_THRESHOLD = 0.5


class NotServableError(RuntimeError):
    """No champion, or no online state: the service is not ready."""


class ServedModel:
    """One registry version's ONNX graph, scored without pandas."""

    def __init__(self, model_name: str, version: int, threshold: float, onnx: bytes):
        from platform_assets.core.training.scoring import OnnxScorer

        self.model_name = model_name
        self.version = version
        self.threshold = threshold
        self.scorer = OnnxScorer(onnx)
        self._inputs = [(name, "string" in kind) for name, kind in self.scorer.inputs]
        outputs = [o.name for o in self.scorer.session.get_outputs()]
        self._output = "probabilities" if "probabilities" in outputs else outputs[-1]

    @property
    def id(self) -> str:
        return f"{self.model_name}:v{self.version}"

    def score(self, features: Sequence[dict]) -> np.ndarray:
        """P(fraud) of each feature row, shape ``(n,)``."""
        if not features:
            return np.zeros(0)
        feed = {}
        for name, is_string in self._inputs:
            if is_string:
                feed[name] = np.array(
                    [["" if f[name] is None else str(f[name])] for f in features], dtype=object
                )
            else:
                feed[name] = np.array([[f[name]] for f in features], dtype=np.float32)
        probabilities = self.scorer.session.run([self._output], feed)[0]
        return np.asarray(probabilities)[:, 1].astype(np.float64)


def load_version(registry: ModelRegistry, version: int) -> ServedModel:
    record = registry.get(version)
    threshold = record.threshold if record.threshold is not None else DEFAULT_THRESHOLD
    return ServedModel(
        registry.model_name, version, float(threshold), registry.read_file(version, ONNX_FILE)
    )


def in_canary(transaction_id: str, percent: float) -> bool:
    """Whether ``transaction_id`` falls in the canary's ``percent`` %: a stable hash, so the
    same transaction always takes the same arm, in every worker and after every restart."""
    digest = hashlib.blake2b(transaction_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < round(percent * 100)


@dataclass
class Bundle:
    champion: ServedModel
    arm: Arm | None
    challenger: ServedModel | None
    state: OnlineState
    state_info: dict
    fingerprint: str
    loaded_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )

    @property
    def canary_percent(self) -> float:
        if self.arm is None or self.challenger is None or self.arm.mode != CANARY:
            return 0.0
        return self.arm.percent

    def describe(self) -> dict:
        return {
            "model": self.champion.model_name,
            "champion": {
                "version": self.champion.version,
                "id": self.champion.id,
                "threshold": self.champion.threshold,
            },
            "arm": None
            if self.arm is None or self.challenger is None
            else {
                **self.arm.to_dict(),
                "id": self.challenger.id,
                "threshold": self.challenger.threshold,
            },
            "state": {k: v for k, v in self.state_info.items() if not k.startswith("_")},
            "loaded_at": self.loaded_at,
            "fingerprint": self.fingerprint,
        }


def fingerprint(registry: ModelRegistry, artifacts: ArtifactStore) -> str:
    """A digest of what decides the bundle: aliases, arms, the state pointer (three reads)."""
    digest = hashlib.sha256()
    for store, key in (
        (registry.store, f"{registry.model_name}/aliases.json"),
        (registry.store, arms_key(registry)),
    ):
        try:
            digest.update(store.get(key))
        except KeyError:
            digest.update(b"-")
        digest.update(b"\0")
    digest.update(state_pointer_bytes(artifacts))
    return digest.hexdigest()


def load_bundle(
    registry: ModelRegistry, artifacts: ArtifactStore, previous: Bundle | None = None
) -> Bundle:
    """The bundle the registry and the state pointer describe now.

    Raises:
        NotServableError: there is no champion or no online state.
        RegistryError: a model file is corrupted (the previous bundle keeps serving).
    """
    stamp = fingerprint(registry, artifacts)
    champion_version = registry.aliases().get("champion")
    if champion_version is None:
        raise NotServableError(
            f"{registry.model_name} has no champion in {registry.store.uri('')}: train and "
            f"promote one (platform-assets run) before serving"
        )

    def model(version: int) -> ServedModel:
        if previous is not None:
            for loaded in (previous.champion, previous.challenger):
                if loaded is not None and loaded.version == version:
                    return loaded
        return load_version(registry, version)

    champion = model(champion_version)
    arm = current_arm(registry)
    challenger = None
    if arm is not None and arm.version != champion_version:
        try:
            challenger = model(arm.version)
        except RegistryError:
            arm, challenger = None, None
    pointer = state_pointer_bytes(artifacts)
    if previous is not None and pointer and previous.state_info.get("_raw") == pointer:
        state, info = previous.state, previous.state_info
    else:
        try:
            state, info = read_state(artifacts, pointer)
        except LookupError as exc:
            raise NotServableError(str(exc)) from exc
        info = {**info, "_raw": pointer}
    return Bundle(champion, arm, challenger, state, info, stamp)

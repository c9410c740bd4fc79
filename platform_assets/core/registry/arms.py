"""Traffic arms next to the champion: a ``canary`` (P% of transactions, chosen by a hash of
``transaction_id``, answered by the challenger) or a ``shadow`` (the challenger scores every
transaction off the response path; the champion answers).

Kept in the registry beside the aliases, ``<model>/arms.json``::

    {"arm": {"mode": "canary", "version": 2, "percent": 10.0, "actor": "ana", "at": "...",
             "reason": "..."},
     "history": [{"event": "start"|"stop", "mode": ..., "version": ..., "percent": ...,
                  "actor": ..., "reason": ..., "automatic": false, "at": ...}, ...]}

At most one arm runs at a time. A version may run in an arm only if its files match their
checksums, its ONNX graph loads, and its recorded ONNX parity check passed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from platform_assets.core.registry.registry import ONNX_FILE, ModelRegistry, RegistryError

CANARY = "canary"
SHADOW = "shadow"
MODES = (CANARY, SHADOW)


@dataclass(frozen=True)
class Arm:
    mode: str
    version: int
    percent: float
    actor: str
    at: str
    reason: str = ""

    def to_dict(self) -> dict:
        return {
            "mode": self.mode,
            "version": self.version,
            "percent": self.percent,
            "actor": self.actor,
            "at": self.at,
            "reason": self.reason,
        }


def arms_key(registry: ModelRegistry) -> str:
    return f"{registry.model_name}/arms.json"


def _read(registry: ModelRegistry) -> dict:
    key = arms_key(registry)
    if not registry.store.exists(key):
        return {"arm": None, "history": []}
    return json.loads(registry.store.get_text(key))


def current_arm(registry: ModelRegistry) -> Arm | None:
    """The arm that runs now, or None."""
    arm = _read(registry).get("arm")
    return None if arm is None else Arm(**arm)


def arm_history(registry: ModelRegistry) -> list[dict]:
    return list(_read(registry).get("history", []))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def start_arm(
    registry: ModelRegistry,
    version: int,
    mode: str,
    *,
    percent: float = 0.0,
    actor: str,
    reason: str = "",
) -> Arm:
    """Run ``version`` as a canary on ``percent`` % of traffic, or as a shadow on all of it.

    Raises:
        RegistryError: an unknown mode, a percent outside (0, 100], the champion itself, a
            version without a passing ONNX parity check, or corrupted files.
    """
    if mode not in MODES:
        raise RegistryError(f"arm mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == CANARY and not 0 < percent <= 100:
        raise RegistryError(f"canary percent {percent:g}: expected more than 0 and at most 100")
    record = registry.get(version).record
    champion = registry.aliases().get("champion")
    if champion == version:
        raise RegistryError(f"v{version} is the champion; an arm runs another version beside it")
    parity = record.get("parity") or {}
    if not parity.get("passed"):
        raise RegistryError(
            f"v{version} has no passing ONNX parity check (recorded: "
            f"{json.dumps(parity) if parity else 'none'}); it cannot take traffic"
        )
    registry.verify(version)
    if ONNX_FILE not in record.get("files", {}):
        raise RegistryError(f"v{version} has no {ONNX_FILE}")
    data = _read(registry)
    arm = Arm(mode, version, float(percent if mode == CANARY else 100.0), actor, _now(), reason)
    data["arm"] = arm.to_dict()
    data.setdefault("history", []).append({"event": "start", **arm.to_dict(), "automatic": False})
    registry.store.put_text(arms_key(registry), json.dumps(data, indent=2))
    return arm


def stop_arm(
    registry: ModelRegistry, *, actor: str, reason: str, automatic: bool = False
) -> Arm | None:
    """Stop the running arm (a no-op returning None when none runs); returns what stopped."""
    data = _read(registry)
    running = data.get("arm")
    if running is None:
        return None
    data["arm"] = None
    data.setdefault("history", []).append(
        {
            **running,
            "event": "stop",
            "actor": actor,
            "reason": reason,
            "automatic": automatic,
            "at": _now(),
        }
    )
    registry.store.put_text(arms_key(registry), json.dumps(data, indent=2))
    return Arm(**running)

"""The model registry over an :class:`ArtifactStore`.

Layout under the store (one folder per model name)::

    fraud_model/versions/v0001/version.json     facts: config, data window, metrics, lineage, checksums
    fraud_model/versions/v0001/model.onnx       (and model.joblib, reference.parquet, cards …)
    fraud_model/aliases.json                    {"champion": 1, "challenger": 2, "history": [...]}

Rules:

- every registered version becomes the ``challenger``;
- ``champion`` moves only through :meth:`ModelRegistry.promote` with a passing
  :class:`GateDecision` for that version, or through :meth:`ModelRegistry.rollback`;
- before a version becomes champion its files are checked against their SHA-256 and the
  ONNX file is loaded; a corrupted file raises :class:`CorruptModelError` and the champion
  stays where it was;
- every alias move is appended to ``history`` with who/why/when;
- the eval suite's comparison of a version with the champion (``eval_cases.json``, attached
  by the promotion gate) is part of that version's gate decision while that champion stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from platform_assets.core.registry.gate import (
    EVAL_CASES_FILE,
    EvalCaseComparison,
    GateDecision,
    GatePolicy,
    gate,
)
from platform_assets.core.registry.store import ArtifactStore

CHAMPION = "champion"
CHALLENGER = "challenger"
ONNX_FILE = "model.onnx"
SAME_HOLDOUT = "same_holdout"  # record: {"champion_version", "champion_metrics"} at registration


class RegistryError(RuntimeError):
    pass


class CorruptModelError(RegistryError):
    """A model file does not match its recorded checksum or cannot be loaded."""


class PromotionBlockedError(RegistryError):
    """Promotion was asked for without a passing gate decision for that version."""


@dataclass(frozen=True)
class ModelVersion:
    model_name: str
    version: int
    record: dict

    @property
    def id(self) -> str:
        return f"{self.model_name}:v{self.version}"

    @property
    def metrics(self) -> dict:
        return self.record.get("metrics", {})

    @property
    def config(self) -> dict:
        return self.record.get("config", {})

    @property
    def threshold(self) -> float | None:
        return self.record.get("threshold")

    @property
    def files(self) -> dict:
        return self.record.get("files", {})


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ModelRegistry:
    def __init__(self, store: ArtifactStore, model_name: str = "fraud_model"):
        self.store = store
        self.model_name = model_name

    # -- keys ---------------------------------------------------------------------------
    def _version_dir(self, version: int) -> str:
        return f"{self.model_name}/versions/v{version:04d}"

    def _aliases_key(self) -> str:
        return f"{self.model_name}/aliases.json"

    def file_key(self, version: int, name: str) -> str:
        return f"{self._version_dir(version)}/{name}"

    def file_uri(self, version: int, name: str) -> str:
        return self.store.uri(self.file_key(version, name))

    # -- versions -----------------------------------------------------------------------
    def versions(self) -> list[int]:
        prefix = f"{self.model_name}/versions/"
        found = set()
        for key in self.store.list(prefix):
            rest = key[len(prefix) :]
            if rest.endswith("/version.json") and rest.startswith("v"):
                found.add(int(rest.split("/")[0][1:]))
        return sorted(found)

    def register(
        self,
        files: dict[str, bytes],
        *,
        config: dict,
        threshold: float,
        data_window: dict,
        metrics: dict,
        lineage: dict,
        extra: dict | None = None,
    ) -> ModelVersion:
        """Store a new version and make it the ``challenger``. Returns the version."""
        if ONNX_FILE not in files:
            raise RegistryError(f"a version needs {ONNX_FILE}; got files {sorted(files)}")
        existing = self.versions()
        version = (existing[-1] if existing else 0) + 1
        manifest = {}
        for name, data in sorted(files.items()):
            self.store.put(self.file_key(version, name), data)
            manifest[name] = {"sha256": _sha256(data), "bytes": len(data)}
        record = {
            "model_name": self.model_name,
            "version": version,
            "created_at": _now(),
            "files": manifest,
            "config": config,
            "threshold": threshold,
            "data_window": data_window,
            "metrics": metrics,
            "lineage": lineage,
            "attachments": {},
            **(extra or {}),
        }
        self.store.put_text(
            self.file_key(version, "version.json"), json.dumps(record, indent=2, default=str)
        )
        self._move_alias(CHALLENGER, version, reason="registered", actor="registry")
        return ModelVersion(self.model_name, version, record)

    def get(self, version: int) -> ModelVersion:
        key = self.file_key(version, "version.json")
        if not self.store.exists(key):
            raise RegistryError(
                f"{self.model_name} has no version {version} (looked for {self.store.uri(key)}); "
                f"versions: {self.versions()}"
            )
        return ModelVersion(self.model_name, version, json.loads(self.store.get_text(key)))

    def attach(self, version: int, name: str, data: bytes) -> str:
        """Add a document (model card, report) to a version; model files are immutable."""
        record = self.get(version).record
        if name in record["files"] or name == "version.json":
            raise RegistryError(f"{name} is a model file of v{version} and cannot be replaced")
        uri = self.store.put(self.file_key(version, name), data)
        record.setdefault("attachments", {})[name] = {"sha256": _sha256(data), "bytes": len(data)}
        self.store.put_text(
            self.file_key(version, "version.json"), json.dumps(record, indent=2, default=str)
        )
        return uri

    def read_file(self, version: int, name: str, verify: bool = True) -> bytes:
        """A version's file; with ``verify`` its SHA-256 must match the manifest."""
        record = self.get(version).record
        entry = record["files"].get(name) or record.get("attachments", {}).get(name)
        key = self.file_key(version, name)
        if entry is None:
            raise RegistryError(f"v{version} of {self.model_name} has no file {name}")
        try:
            data = self.store.get(key)
        except KeyError as exc:
            raise CorruptModelError(
                f"{self.store.uri(key)} is missing: v{version} is incomplete"
            ) from exc
        if verify and _sha256(data) != entry["sha256"]:
            raise CorruptModelError(
                f"{self.store.uri(key)} does not match its recorded SHA-256 ({len(data)} bytes, expected "
                f"{entry['bytes']}): the file is corrupted or was replaced; v{version} cannot serve"
            )
        return data

    def verify(self, version: int) -> None:
        """Check every model file's checksum and that the ONNX graph loads.

        Raises:
            CorruptModelError: naming the file and what is wrong with it.
        """
        from platform_assets.core.training.scoring import ModelLoadError, OnnxScorer

        for name in self.get(version).files:
            data = self.read_file(version, name)
            if name == ONNX_FILE:
                try:
                    OnnxScorer(data)
                except ModelLoadError as exc:
                    raise CorruptModelError(f"{self.file_uri(version, name)}: {exc}") from exc

    def integrity_problem(self, version: int) -> str | None:
        """What is wrong with ``version``'s files (a missing file or a SHA-256 mismatch), or
        None when every recorded file matches its checksum."""
        try:
            for name in self.get(version).files:
                self.read_file(version, name)
        except RegistryError as exc:
            return str(exc)
        return None

    # -- aliases ------------------------------------------------------------------------
    def _aliases(self) -> dict:
        key = self._aliases_key()
        if not self.store.exists(key):
            return {CHAMPION: None, CHALLENGER: None, "history": []}
        return json.loads(self.store.get_text(key))

    def aliases(self) -> dict[str, int | None]:
        data = self._aliases()
        return {CHAMPION: data.get(CHAMPION), CHALLENGER: data.get(CHALLENGER)}

    def history(self) -> list[dict]:
        return list(self._aliases().get("history", []))

    def alias(self, name: str) -> ModelVersion | None:
        version = self._aliases().get(name)
        return None if version is None else self.get(version)

    def champion(self) -> ModelVersion | None:
        return self.alias(CHAMPION)

    def challenger(self) -> ModelVersion | None:
        return self.alias(CHALLENGER)

    def version_with_lineage(self, name: str, value: str) -> ModelVersion | None:
        """The newest version whose ``lineage[name]`` is ``value`` (e.g. the version already
        registered from a candidate folder), or ``None``."""
        for number in reversed(self.versions()):
            version = self.get(number)
            if version.record.get("lineage", {}).get(name) == value:
                return version
        return None

    def champion_on_holdout(self, version: int, champion: int | None) -> dict | None:
        """The metrics of ``champion`` re-scored on ``version``'s own holdout, as the evaluation
        recorded them at registration (``same_holdout``), or None when ``version`` was not
        compared with that champion.

        The one comparison of a version with a champion: the gate, ``models promote`` and the
        model card all read it, so they judge on the same rows and the same numbers."""
        recorded = self.get(version).record.get(SAME_HOLDOUT) or {}
        if champion is None or recorded.get("champion_version") != champion:
            return None
        return recorded.get("champion_metrics")

    def compared_versions(self) -> tuple[ModelVersion | None, ModelVersion | None]:
        """(champion, challenger) as a comparison sees them: after a promotion the two aliases
        point at the same version, so the challenger's opponent is the champion it replaced."""
        champion, challenger = self.champion(), self.challenger()
        if (
            champion is not None
            and challenger is not None
            and champion.version == challenger.version
        ):
            replaced = [
                e["from"]
                for e in self.history()
                if e["alias"] == CHAMPION
                and e["event"] == "promote"
                and e["to"] == champion.version
                and e["from"] is not None
            ]
            champion = self.get(replaced[-1]) if replaced else None
        return champion, challenger

    def _move_alias(
        self, alias: str, version: int | None, *, reason: str, actor: str, event: str = "move"
    ) -> None:
        data = self._aliases()
        previous = data.get(alias)
        data[alias] = version
        data.setdefault("history", []).append(
            {
                "event": event,
                "alias": alias,
                "from": previous,
                "to": version,
                "reason": reason,
                "actor": actor,
                "at": _now(),
            }
        )
        self.store.put_text(self._aliases_key(), json.dumps(data, indent=2))

    # -- the eval suite's comparison --------------------------------------------------
    def attach_eval_cases(self, version: int, comparison: EvalCaseComparison) -> str:
        """Record the eval suite's run of ``version`` against its champion."""
        return self.attach(
            version, EVAL_CASES_FILE, json.dumps(comparison.to_dict(), indent=2).encode()
        )

    def eval_cases(self, version: int) -> EvalCaseComparison | None:
        """The eval suite's recorded comparison of ``version`` with a champion, if any."""
        if EVAL_CASES_FILE not in self.get(version).record.get("attachments", {}):
            return None
        return EvalCaseComparison.from_dict(json.loads(self.read_file(version, EVAL_CASES_FILE)))

    # -- the gate, promotion and rollback ------------------------------------------------
    def evaluate_gate(
        self,
        version: int,
        policy: GatePolicy | None = None,
        champion_metrics: dict | None = None,
        eval_cases: EvalCaseComparison | None = None,
    ) -> GateDecision:
        """The gate decision for ``version`` against the current champion.

        ``champion_metrics`` should be the champion re-evaluated on ``version``'s holdout;
        without it the champion's recorded metrics are used. ``eval_cases`` is the eval
        suite's run of both; without it, the comparison recorded with ``version`` is used
        when it was made against the current champion.
        """
        challenger = self.get(version)
        champion = self.champion()
        if champion is not None and champion.version == version:
            champion = None if champion_metrics is None else champion
        if champion is not None and champion_metrics is None:
            champion_metrics = self.champion_on_holdout(version, champion.version)
        theirs = None if champion is None else (champion_metrics or champion.metrics)
        champion_version = None if champion is None else champion.version
        if eval_cases is None:
            eval_cases = self.eval_cases(version)
        if eval_cases is not None and eval_cases.champion_version != champion_version:
            eval_cases = None  # run against another champion: not comparable
        return gate(
            challenger.metrics,
            theirs,
            policy,
            challenger_version=version,
            champion_version=champion_version,
            eval_cases=eval_cases,
        )

    def promote(self, version: int, decision: GateDecision, actor: str = "gate") -> ModelVersion:
        """Make ``version`` the champion. Needs a passing decision for that very version.

        Raises:
            PromotionBlockedError: the decision did not pass or is for another version.
            CorruptModelError: a file of ``version`` is corrupted; the champion stays.
        """
        if decision.challenger_version != version:
            raise PromotionBlockedError(
                f"the gate decision is for v{decision.challenger_version}, not v{version}"
            )
        if not decision.passed:
            raise PromotionBlockedError(
                f"v{version} did not pass the gate: " + "; ".join(decision.reasons)
            )
        self.verify(version)
        self._move_alias(
            CHAMPION, version, reason="; ".join(decision.reasons), actor=actor, event="promote"
        )
        return self.get(version)

    def promote_if_passes(
        self,
        version: int,
        policy: GatePolicy | None = None,
        champion_metrics: dict | None = None,
        actor: str = "gate",
        eval_cases: EvalCaseComparison | None = None,
    ) -> GateDecision:
        """Run the gate and promote on a pass; returns the decision either way."""
        decision = self.evaluate_gate(version, policy, champion_metrics, eval_cases)
        if decision.passed:
            self.promote(version, decision, actor=actor)
        return decision

    def rollback(self, reason: str = "manual rollback", actor: str = "operator") -> ModelVersion:
        """Put the previous champion back, in one call. Returns the restored version.

        Raises:
            RegistryError: there is no earlier champion to return to.
        """
        data = self._aliases()
        current = data.get(CHAMPION)
        # Champions form a stack: a promotion pushes, a rollback pops.
        stack: list[int] = []
        for entry in data.get("history", []):
            if entry["alias"] != CHAMPION:
                continue
            if entry["event"] == "promote":
                stack.append(entry["to"])
            elif entry["event"] == "rollback" and stack:
                stack.pop()
        previous = stack[-2] if len(stack) >= 2 else None
        if previous is None:
            raise RegistryError(
                f"{self.model_name} has no earlier champion to roll back to "
                f"(champion: {current if current is None else 'v' + str(current)})"
            )
        self.verify(previous)
        self._move_alias(CHAMPION, previous, reason=reason, actor=actor, event="rollback")
        return self.get(previous)

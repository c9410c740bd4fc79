"""From a training candidate (``core.training.candidate``) to a registered version and its
promotion decision.

Registering is idempotent twice over: the same candidate folder returns the version
registered from it (a re-run of the gate), and so does a candidate trained on identical
inputs (the same feature rows, config and code: ``inputs_fingerprint``), so a retrain that
has nothing new to learn from (``make run`` twice) registers nothing new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_assets.core.registry.gate import EvalCaseComparison, GateDecision
from platform_assets.core.registry.registry import SAME_HOLDOUT, ModelRegistry, ModelVersion

if TYPE_CHECKING:
    from platform_assets.core.training.candidate import Candidate

CANDIDATE_FILES = ("model.onnx", "model.joblib", "reference.parquet")
INPUTS_FINGERPRINT = "inputs_fingerprint"  # lineage: what the version was trained on


def register_candidate(
    registry: ModelRegistry, candidate: Candidate, *, run_id: str, asset: str, feature_table: str
) -> ModelVersion:
    """Register ``candidate`` (its files, config, data window, ``eval.json`` metrics and
    ``parity.json``) as a new version, which becomes the challenger; or return the version
    already registered from the same folder."""
    existing = registry.version_with_lineage("candidate_dir", str(candidate.path))
    if existing is not None:
        return existing
    summary = candidate.summary
    fingerprint = summary.get("inputs_fingerprint") or ""
    if fingerprint:
        same_inputs = registry.version_with_lineage(INPUTS_FINGERPRINT, fingerprint)
        if same_inputs is not None:
            return same_inputs
    return registry.register(
        {name: (candidate.path / name).read_bytes() for name in CANDIDATE_FILES},
        config=summary["config"],
        threshold=candidate.threshold,
        data_window={
            "train": summary["train_window"],
            "holdout": summary["holdout_window"],
            "train_rows": summary["train_rows"],
            "holdout_rows": summary["holdout_rows"],
            "train_positive_rate": summary["train_positive_rate"],
        },
        metrics=candidate.read_json("eval.json")["candidate"],
        lineage={
            "run_id": run_id,
            "candidate_dir": str(candidate.path),
            "feature_table": feature_table,
            "asset": asset,
            INPUTS_FINGERPRINT: fingerprint,
            "training_days": _training_days(candidate),
        },
        extra={
            "parity": candidate.read_json("parity.json"),
            SAME_HOLDOUT: _same_holdout(candidate),
        },
    )


def _same_holdout(candidate: Candidate) -> dict:
    """The champion the candidate was evaluated against, and its metrics on the same rows."""
    evaluation = candidate.read_json("eval.json")
    return {
        "champion_version": evaluation.get("champion_version"),
        "champion_metrics": evaluation.get("champion"),
    }


def _training_days(candidate: Candidate) -> list[dict]:
    """Each training day's source URI and row counts (``lineage.json``), if recorded."""
    path = candidate.path / "lineage.json"
    return candidate.read_json("lineage.json")["days"] if path.is_file() else []


def promote_if_better(
    registry: ModelRegistry,
    version: int,
    evaluation: dict,
    actor: str,
    eval_cases: EvalCaseComparison | None = None,
    hold: str | None = None,
) -> GateDecision:
    """Run the gate for ``version`` and promote it on a pass.

    ``evaluation`` is the candidate's ``eval.json``: when its champion is still the champion,
    the champion's metrics on the candidate's holdout are what the gate compares against.
    ``eval_cases`` is the eval suite's run of the candidate and that champion; it is
    attached to the version (so ``models promote`` later decides the same way) and, when it
    was run against the current champion, a case the champion passes and the candidate
    fails blocks the promotion.

    ``hold``: the gate runs, but a passing version is not promoted; ``hold`` says why (a
    signed card is required first) and joins the decision's reasons.

    Raises:
        CorruptModelError: a file of ``version`` fails its checksum; the champion stays.
    """
    champion = registry.champion()
    if champion is not None and champion.version == version:
        # A candidate with the champion's own training inputs: nothing new to judge or move.
        return GateDecision(
            passed=True,
            challenger_version=version,
            champion_version=version,
            reasons=[
                f"trained on the same inputs as champion v{version} (rows, config, code): "
                f"nothing new registered, the champion stays"
            ],
            comparisons=[],
            policy={},
        )
    same_holdout = (
        evaluation["champion"]
        if champion and evaluation.get("champion_version") == champion.version
        else registry.champion_on_holdout(version, champion.version if champion else None)
    )
    if eval_cases is not None:
        registry.attach_eval_cases(version, eval_cases)
    if hold is not None:
        decision = registry.evaluate_gate(
            version, champion_metrics=same_holdout, eval_cases=eval_cases
        )
        if decision.passed:
            decision.reasons.append(f"passed the gate, not promoted yet: {hold}")
        return decision
    return registry.promote_if_passes(
        version, champion_metrics=same_holdout, actor=actor, eval_cases=eval_cases
    )

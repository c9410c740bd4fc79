"""From a training candidate (``core.training.candidate``) to a registered version and its
promotion decision.

The candidate folder is the unit of idempotence: registering the same folder twice returns
the version registered the first time, so a re-run of the gate registers nothing new.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from platform_assets.core.registry.gate import EvalCaseComparison, GateDecision
from platform_assets.core.registry.registry import ModelRegistry, ModelVersion

if TYPE_CHECKING:
    from platform_assets.core.training.candidate import Candidate

CANDIDATE_FILES = ("model.onnx", "model.joblib", "reference.parquet")


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
        },
        extra={"parity": candidate.read_json("parity.json")},
    )


def promote_if_better(
    registry: ModelRegistry,
    version: int,
    evaluation: dict,
    actor: str,
    eval_cases: EvalCaseComparison | None = None,
) -> GateDecision:
    """Run the gate for ``version`` and promote it on a pass.

    ``evaluation`` is the candidate's ``eval.json``: when its champion is still the champion,
    the champion's metrics on the candidate's holdout are what the gate compares against.
    ``eval_cases`` is the eval suite's run of the candidate and that champion; it is
    attached to the version (so ``models promote`` later decides the same way) and, when it
    was run against the current champion, a case the champion passes and the candidate
    fails blocks the promotion.

    Raises:
        CorruptModelError: a file of ``version`` fails its checksum; the champion stays.
    """
    champion = registry.champion()
    same_holdout = (
        evaluation["champion"]
        if champion and evaluation.get("champion_version") == champion.version
        else None
    )
    if eval_cases is not None:
        registry.attach_eval_cases(version, eval_cases)
    return registry.promote_if_passes(
        version, champion_metrics=same_holdout, actor=actor, eval_cases=eval_cases
    )

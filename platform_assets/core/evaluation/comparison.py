"""Champion versus candidate: the same holdout for both, and their decisions side by side.

- :func:`evaluate_with_champion`: the candidate's metrics on its holdout and the current
  champion re-scored on the *same* rows, so a gate compares like with like;
- :func:`comparison_markdown`: the two as a table for the UI;
- :func:`shadow_compare`: one batch scored by two models, and where their flag/no-flag
  decisions differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from platform_assets.core.evaluation.metrics import HEADLINE_METRICS, evaluate

if TYPE_CHECKING:
    import pandas as pd

    from platform_assets.core.registry import ModelRegistry, ModelVersion


def evaluate_with_champion(
    onnx_path: Path, holdout: pd.DataFrame, threshold: float, registry: ModelRegistry
) -> dict:
    """``{"candidate": metrics, "champion": metrics on the same holdout or None,
    "champion_version": int or None}``: what ``eval.json`` holds."""
    candidate = evaluate(onnx_path, holdout, threshold).to_dict()
    champion = registry.champion()
    champion_result = None
    if champion is not None:
        onnx_bytes = registry.read_file(champion.version, "model.onnx")
        champion_result = evaluate(onnx_bytes, holdout, champion.threshold).to_dict()
    return {
        "candidate": candidate,
        "champion": champion_result,
        "champion_version": None if champion is None else champion.version,
    }


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def comparison_markdown(candidate: dict, champion: dict | None) -> str:
    """Headline metrics of the candidate and the champion (same holdout), and the largest
    AUROC gap between slices of the candidate."""
    lines = ["| metric | candidate | champion (same holdout) |", "| --- | --- | --- |"]
    for name in HEADLINE_METRICS:
        lines.append(
            f"| {name} | {_fmt(candidate.get(name))} | {_fmt((champion or {}).get(name))} |"
        )
    for column, gap in candidate.get("slice_gaps", {}).items():
        if gap.get("gap") is not None:
            lines.append(
                f"| largest AUROC gap by {column} | {gap['gap']:.3f} ({gap['worst']} vs "
                f"{gap['best']}) | |"
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class ShadowComparison:
    """Two models' decisions on one batch. Counts are rows; scores are P(fraud)."""

    champion_version: int
    challenger_version: int
    rows: int
    decision_differences: int
    only_champion_flags: int
    only_challenger_flags: int
    max_abs_score_diff: float
    markdown: str

    @property
    def decision_difference_rate(self) -> float:
        return self.decision_differences / self.rows if self.rows else 0.0


def shadow_compare(
    registry: ModelRegistry, champion: ModelVersion, challenger: ModelVersion, batch: pd.DataFrame
) -> ShadowComparison:
    """Score ``batch`` (feature rows with ``is_fraud``) with both versions' ONNX files and
    compare their decisions at each version's own threshold."""
    import numpy as np

    from platform_assets.core.training.scoring import score

    p_champion = score(registry.read_file(champion.version, "model.onnx"), batch)
    p_challenger = score(registry.read_file(challenger.version, "model.onnx"), batch)
    flag_champion = p_champion >= champion.threshold
    flag_challenger = p_challenger >= challenger.threshold
    differ = flag_champion != flag_challenger
    labels = batch["is_fraud"].to_numpy().astype(bool)
    table = [
        "| | champion | challenger |",
        "| --- | --- | --- |",
        f"| version | v{champion.version} | v{challenger.version} |",
        f"| flagged | {int(flag_champion.sum())} | {int(flag_challenger.sum())} |",
        f"| frauds caught | {int((flag_champion & labels).sum())} | "
        f"{int((flag_challenger & labels).sum())} |",
        f"| mean P(fraud) | {p_champion.mean():.4f} | {p_challenger.mean():.4f} |",
    ]
    return ShadowComparison(
        champion_version=champion.version,
        challenger_version=challenger.version,
        rows=len(batch),
        decision_differences=int(differ.sum()),
        only_champion_flags=int((flag_champion & ~flag_challenger).sum()),
        only_challenger_flags=int((flag_challenger & ~flag_champion).sum()),
        max_abs_score_diff=float(np.abs(p_champion - p_challenger).max()),
        markdown="\n".join(table),
    )

"""The suite run that decides a release: every approved case against the challenger and the
champion, on the challenger's holdout (the same rows for both, as the metrics gate does).

- :func:`run_suite`: approved cases × models → a :class:`SuiteRun` (per case, per model);
- :func:`run_for_candidate`: a training candidate as the challenger against the registry's
  champion (or, once the candidate is champion, the champion it replaced), recorded in the
  candidate folder as ``eval_suite.json``;
- :func:`suite_run_for_gate`: what the promotion gate uses: the candidate's recorded run
  when it is for this suite and this champion, else a new run (a retrain job that did not
  materialize ``evals/results`` still goes through the suite);
- :func:`SuiteRun.comparison`: the gate's input,
  :class:`~platform_assets.core.registry.EvalCaseComparison`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from platform_assets.core.eval_suite.execution import CaseOutcome, ModelUnderTest, SuiteRunner
from platform_assets.core.eval_suite.suite import Suite
from platform_assets.core.registry.gate import EvalCaseComparison, EvalCaseResult
from platform_assets.core.registry.registry import CorruptModelError

if TYPE_CHECKING:
    import pandas as pd

    from platform_assets.core.registry import ModelRegistry, ModelVersion
    from platform_assets.core.training.candidate import Candidate

SUITE_RUN_FILE = "eval_suite.json"
CHALLENGER, CHAMPION = "challenger", "champion"


@dataclass
class SuiteRun:
    """Outcomes of every approved case for each model (``label`` → outcomes in case order)."""

    suite_fingerprint: str
    requirements: list[str]
    titles: dict[str, str]  # case id -> title
    models: dict[str, dict]  # label -> {"version", "threshold"}
    outcomes: dict[str, list[CaseOutcome]]
    holdout_rows: int
    ran_at: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    notes: list[str] = field(default_factory=list)

    def version_of(self, label: str) -> int | None:
        return (self.models.get(label) or {}).get("version")

    def has(self, label: str) -> bool:
        return label in self.outcomes

    def requirement_summary(self, label: str) -> list[dict]:
        """``[{"id", "cases", "passed"}]`` for ``label``: every requirement of the suite, then
        any requirement an approved case names that the documents no longer have."""
        outcomes = self.outcomes.get(label, [])
        ids = list(self.requirements) + sorted(
            {o.requirement for o in outcomes if o.requirement is not None} - set(self.requirements)
        )
        return [
            {
                "id": rid,
                "cases": sum(1 for o in outcomes if o.requirement == rid),
                "passed": sum(1 for o in outcomes if o.requirement == rid and o.passed),
            }
            for rid in ids
        ]

    def failed_cases(self, label: str) -> list[dict]:
        return [
            {
                "case": o.case,
                "requirement": o.requirement,
                "kind": o.kind,
                "status": o.status,
                "detail": o.detail,
            }
            for o in self.outcomes.get(label, [])
            if not o.passed
        ]

    def pass_rate(self, label: str) -> float | None:
        outcomes = self.outcomes.get(label, [])
        return sum(1 for o in outcomes if o.passed) / len(outcomes) if outcomes else None

    def comparison(self) -> EvalCaseComparison:
        """The gate's input: the challenger's outcome of each case next to the champion's."""
        champion = {o.case: o for o in self.outcomes.get(CHAMPION, [])}
        cases = tuple(
            EvalCaseResult(
                case=o.case,
                requirement=o.requirement,
                challenger_passed=o.passed,
                champion_passed=champion[o.case].passed if o.case in champion else None,
                detail=o.detail,
            )
            for o in self.outcomes.get(CHALLENGER, [])
        )
        return EvalCaseComparison(
            champion_version=self.version_of(CHAMPION) if self.has(CHAMPION) else None,
            suite_fingerprint=self.suite_fingerprint,
            cases=cases,
        )

    def markdown(self) -> str:
        labels = [label for label in (CHALLENGER, CHAMPION) if self.has(label)]
        heads = [
            f"{label} v{self.version_of(label)}" if self.version_of(label) else label
            for label in labels
        ]
        lines = ["| requirement | " + " | ".join(heads) + " |", "| --- |" + " --- |" * len(labels)]
        summaries = [{r["id"]: r for r in self.requirement_summary(label)} for label in labels]
        for rid in summaries[0] if summaries else []:
            cells = [f"{s[rid]['passed']}/{s[rid]['cases']}" for s in summaries]
            lines.append(f"| {rid} | " + " | ".join(cells) + " |")
        failing = [(label, o) for label in labels for o in self.outcomes[label] if not o.passed]
        if failing:
            lines += ["", "Not passing:"] + [
                f"- {label}: **{o.case}** ({o.requirement}) {o.status}: {o.detail}"
                for label, o in failing
            ]
        lines += [f"\nNote: {note}" for note in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "suite_fingerprint": self.suite_fingerprint,
            "ran_at": self.ran_at,
            "holdout_rows": self.holdout_rows,
            "requirements": self.requirements,
            "titles": self.titles,
            "models": self.models,
            "notes": self.notes,
            "outcomes": {
                label: [o.to_dict() for o in outcomes] for label, outcomes in self.outcomes.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict) -> SuiteRun:
        return cls(
            suite_fingerprint=data["suite_fingerprint"],
            requirements=data["requirements"],
            titles=data.get("titles", {}),
            models=data["models"],
            outcomes={
                label: [CaseOutcome(**o) for o in outcomes]
                for label, outcomes in data["outcomes"].items()
            },
            holdout_rows=data["holdout_rows"],
            ran_at=data["ran_at"],
            notes=data.get("notes", []),
        )


def run_suite(
    suite: Suite, models: list[ModelUnderTest], holdout: pd.DataFrame, contracts_dir: str | Path
) -> SuiteRun:
    """Every approved case of ``suite`` for each model, on ``holdout``."""
    cases = sorted(suite.approved, key=lambda c: (c.requirement or "", c.id))
    with SuiteRunner(holdout, contracts_dir) as runner:
        outcomes = {model.label: [runner.run(case, model) for case in cases] for model in models}
    return SuiteRun(
        suite_fingerprint=suite.fingerprint(),
        requirements=[r.id for r in suite.requirements],
        titles={c.id: c.title for c in cases},
        models={m.label: {"version": m.version, "threshold": m.threshold} for m in models},
        outcomes=outcomes,
        holdout_rows=len(holdout),
    )


def version_under_test(
    registry: ModelRegistry, version: ModelVersion, label: str
) -> ModelUnderTest:
    """A registered version as the suite runs it (its ONNX file checked against its SHA-256)."""
    return ModelUnderTest(
        label,
        version.version,
        registry.read_file(version.version, "model.onnx"),
        float(version.threshold),
    )


def run_for_candidate(
    candidate: Candidate, registry: ModelRegistry, suite: Suite, contracts_dir: str | Path
) -> SuiteRun:
    """The candidate (the challenger) and the champion it is compared with, on the
    candidate's holdout; recorded as ``eval_suite.json`` in the candidate folder. A champion
    whose ONNX file fails its checksum is left out (and said so): the gate then decides on
    the metrics alone, as it did before the suite existed."""

    registered = registry.version_with_lineage("candidate_dir", str(candidate.path))
    champion = registry.champion()
    if champion is not None and registered is not None and champion.version == registered.version:
        champion, _ = (
            registry.compared_versions()
        )  # promoted already: its opponent is the champion it replaced
    models = [
        ModelUnderTest(
            CHALLENGER,
            None if registered is None else registered.version,
            candidate.onnx_path,
            candidate.threshold,
        )
    ]
    notes = []
    if champion is not None:
        try:
            models.append(version_under_test(registry, champion, CHAMPION))
        except CorruptModelError as exc:
            notes.append(f"the champion was not run: {exc}")
    run = run_suite(suite, models, candidate.holdout(), contracts_dir)
    run.notes = notes
    candidate.write_json(SUITE_RUN_FILE, run.to_dict())
    return run


def recorded_run(candidate_path: str | Path) -> SuiteRun | None:
    """The suite run recorded in a candidate folder, if any."""
    path = Path(candidate_path) / SUITE_RUN_FILE
    return SuiteRun.from_dict(json.loads(path.read_text())) if path.is_file() else None


def suite_run_for_gate(
    candidate: Candidate, registry: ModelRegistry, suite: Suite, contracts_dir: str | Path
) -> SuiteRun:
    """The candidate's recorded run when it was made for this suite against the current
    champion; otherwise the suite runs now."""
    recorded = recorded_run(candidate.path)
    champion = registry.champion()
    if (
        recorded is not None
        and recorded.suite_fingerprint == suite.fingerprint()
        and recorded.has(CHAMPION) == (champion is not None)
        and (champion is None or recorded.version_of(CHAMPION) == champion.version)
    ):
        return recorded
    return run_for_candidate(candidate, registry, suite, contracts_dir)


def holdout_for_version(version: ModelVersion, warehouse_path: str | Path) -> pd.DataFrame:
    """The holdout a registered version was evaluated on: its candidate folder's copy when the
    folder is still there, else the feature rows of its holdout window in the warehouse.

    Raises:
        FileNotFoundError: neither exists (naming both places).
    """
    import pandas as pd

    candidate_dir = version.record.get("lineage", {}).get("candidate_dir")
    if candidate_dir and (Path(candidate_dir) / "holdout.parquet").is_file():
        return pd.read_parquet(Path(candidate_dir) / "holdout.parquet")
    from platform_assets.core import warehouse

    window = version.record.get("data_window", {}).get("holdout")
    if window and warehouse.exists(warehouse_path):
        from platform_assets.core.features import load_features

        with warehouse.session(warehouse_path, read_only=True) as conn:
            frame = load_features(
                conn, dt.date.fromisoformat(window[0]), dt.date.fromisoformat(window[1])
            )
        if not frame.empty:
            return frame
    raise FileNotFoundError(
        f"no holdout for {version.id}: its candidate folder {candidate_dir} is gone and the "
        f"warehouse {warehouse_path} has no features for {window}"
    )

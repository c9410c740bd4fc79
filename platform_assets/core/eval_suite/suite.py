"""The suite: requirements, the cases that test them, and its review (coverage, duplicates, rot).

- **Coverage**: every requirement needs at least ``min_cases`` approved cases; below that
  is a warning, none at all an error. Drafts never count.
- **Duplicates**: approved cases with the same fingerprint (requirement, kind and block)
  test the same thing twice.
- **Rot**: an approved case is stale when nobody has reviewed it for ``stale_after_days``
  (90) days, or when its requirement's text changed since it was approved (its recorded
  hash differs), or when its requirement no longer exists.

Where cases live: ``<evals>/cases/*.yaml`` holds the reviewed cases (approved, rejected, and
drafts a person wrote there); drafts written by Claude or the rules wait in a drafts inbox
under the data home (``<artifacts>/eval_drafts``) until a person approves them
(:mod:`.review`), so a run never writes into the source tree.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from platform_assets.core.eval_suite.cases import CASES_FOLDER, Case, load_cases
from platform_assets.core.eval_suite.requirements import Requirement, load_requirements

DEFAULT_MIN_CASES = 2
DEFAULT_STALE_AFTER_DAYS = 90
DRAFTS_INBOX = "eval_drafts"


def drafts_inbox(artifacts_dir: str | Path) -> Path:
    """Where drafted cases wait for review: ``<artifacts>/eval_drafts``."""
    return Path(artifacts_dir) / DRAFTS_INBOX


@dataclass
class Suite:
    """What the evals folder (and the drafts inbox) hold."""

    evals_dir: Path
    requirements: list[Requirement]
    cases: list[Case]  # <evals>/cases
    inbox: list[Case] = field(default_factory=list)  # the drafts inbox

    @property
    def approved(self) -> list[Case]:
        return [c for c in self.cases if c.status == "approved"]

    @property
    def drafted(self) -> list[Case]:
        return [c for c in self.cases if c.status == "drafted"] + [
            c for c in self.inbox if c.status == "drafted"
        ]

    @property
    def rejected(self) -> list[Case]:
        return [c for c in self.cases if c.status == "rejected"]

    def requirement(self, requirement_id: str) -> Requirement | None:
        return next((r for r in self.requirements if r.id == requirement_id), None)

    def fingerprint(self) -> str:
        """Changes when an approved case or a requirement's text changes: results computed
        for another fingerprint are for another suite."""
        body = sorted([c.id, c.fingerprint()] for c in self.approved) + sorted(
            [r.id, r.sha256] for r in self.requirements
        )
        return hashlib.sha256(json.dumps(body).encode()).hexdigest()[:16]


def load_suite(evals_dir: str | Path, drafts_dir: str | Path | None = None) -> Suite:
    """The requirements and cases under ``evals_dir`` and the drafts in ``drafts_dir``.

    Raises:
        RequirementsError / CaseError: a document or case that does not parse (file, field, line).
    """
    evals_dir = Path(evals_dir)
    return Suite(
        evals_dir=evals_dir,
        requirements=load_requirements(evals_dir),
        cases=load_cases(evals_dir / CASES_FOLDER),
        inbox=load_cases(drafts_dir) if drafts_dir is not None else [],
    )


@dataclass(frozen=True)
class RequirementCoverage:
    id: str
    approved: int
    drafted: int
    stale: int
    level: str  # ok | warn (fewer than min_cases) | error (none)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "approved": self.approved,
            "drafted": self.drafted,
            "stale": self.stale,
        }


@dataclass(frozen=True)
class StaleCase:
    case: str
    requirement: str | None
    reasons: list[str]


@dataclass
class SuiteReview:
    """Coverage, duplicates and rot of a suite on a day."""

    requirements: list[RequirementCoverage]
    duplicates: list[list[str]]  # groups of approved case ids with the same fingerprint
    stale: list[StaleCase]
    # approved case id -> requirement id that does not exist
    unknown_requirements: dict[str, str | None]
    min_cases: int
    stale_after_days: int
    cases: int  # approved
    drafted: int

    @property
    def coverage(self) -> float:
        """Share of requirements with at least one approved case (1.0 when there are none)."""
        if not self.requirements:
            return 1.0
        return sum(1 for r in self.requirements if r.approved) / len(self.requirements)

    @property
    def uncovered(self) -> list[str]:
        return [r.id for r in self.requirements if not r.approved]

    @property
    def thin(self) -> list[str]:
        return [r.id for r in self.requirements if 0 < r.approved < self.min_cases]

    def coverage_json(self) -> dict:
        """``{"coverage": 0..1, "requirements": [{"id", "approved", "drafted", "stale"}]}``."""
        return {
            "coverage": round(self.coverage, 4),
            "requirements": [r.to_dict() for r in self.requirements],
        }

    def coverage_markdown(self) -> str:
        lines = ["| requirement | approved | drafted | stale |", "| --- | --- | --- | --- |"]
        marks = {"ok": "", "warn": " ⚠", "error": " ❌"}
        lines += [
            f"| {r.id}{marks[r.level]} | {r.approved} | {r.drafted} | {r.stale} |"
            for r in self.requirements
        ]
        return "\n".join(lines)


def review_suite(
    suite: Suite,
    *,
    today: dt.date | None = None,
    min_cases: int = DEFAULT_MIN_CASES,
    stale_after_days: int = DEFAULT_STALE_AFTER_DAYS,
) -> SuiteReview:
    """Coverage per requirement, duplicate approved cases and stale ones, as of ``today``."""
    today = today or dt.datetime.now(dt.UTC).date()
    stale = _stale_cases(suite, today, stale_after_days)
    stale_ids = {s.case for s in stale}
    coverage = []
    for requirement in suite.requirements:
        approved = [c for c in suite.approved if c.requirement == requirement.id]
        drafted = [c for c in suite.drafted if c.requirement == requirement.id]
        level = "error" if not approved else "warn" if len(approved) < min_cases else "ok"
        coverage.append(
            RequirementCoverage(
                requirement.id,
                len(approved),
                len(drafted),
                sum(1 for c in approved if c.id in stale_ids),
                level,
            )
        )
    groups: dict[str, list[str]] = {}
    for case in suite.approved:
        groups.setdefault(case.fingerprint(), []).append(case.id)
    known = {r.id for r in suite.requirements}
    return SuiteReview(
        requirements=coverage,
        duplicates=sorted(sorted(g) for g in groups.values() if len(g) > 1),
        stale=stale,
        unknown_requirements={
            c.id: c.requirement for c in suite.approved if c.requirement not in known
        },
        min_cases=min_cases,
        stale_after_days=stale_after_days,
        cases=len(suite.approved),
        drafted=len(suite.drafted),
    )


def _stale_cases(suite: Suite, today: dt.date, stale_after_days: int) -> list[StaleCase]:
    found = []
    for case in suite.approved:
        reasons = []
        # an approved case records its requirement and review (the case's validator)
        assert case.requirement is not None and case.reviewed_at is not None
        requirement = suite.requirement(case.requirement)
        if requirement is None:
            reasons.append(f"its requirement {case.requirement} no longer exists")
        elif requirement.sha256 != case.requirement_sha256:
            reasons.append(
                f"the text of {case.requirement} changed since it was approved (hash "
                f"{case.requirement_sha256} → {requirement.sha256})"
            )
        age = (today - case.reviewed_at).days
        if age > stale_after_days:
            reasons.append(
                f"not reviewed for {age} days (since {case.reviewed_at}; stale after "
                f"{stale_after_days})"
            )
        if reasons:
            found.append(StaleCase(case.id, case.requirement, reasons))
    return found

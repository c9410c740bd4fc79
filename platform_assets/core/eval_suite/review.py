"""A person reviews drafts: approve (the only way into the suite) or reject with a reason.

- :func:`approve` writes the case to ``<evals>/cases/<id>.yaml`` with ``status: approved``,
  the reviewer, the day, and the hash of its requirement's text as it is now; a draft from
  the inbox leaves the inbox. Approving an approved case again is a re-review: it renews
  the day and the hash (what the rot review asks for).
- :func:`reject` writes it to ``<evals>/cases/`` with ``status: rejected`` and the reason, so
  the drafters do not propose it again.

A draft without a requirement, for a requirement that does not exist, or that duplicates an
approved case cannot be approved; the error says which and what to do.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from platform_assets.core.eval_suite.cases import CASES_FOLDER, Case, write_case
from platform_assets.core.eval_suite.suite import Suite, load_suite


class ReviewError(ValueError):
    """A review that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Located:
    case: Case
    path: Path
    in_inbox: bool


def locate(
    evals_dir: str | Path, drafts_dir: str | Path | None, case_id: str
) -> tuple[Suite, Located]:
    suite = load_suite(evals_dir, drafts_dir)
    cases_folder = Path(evals_dir) / CASES_FOLDER
    found = [
        Located(c, cases_folder / f"{c.id}.yaml", False) for c in suite.cases if c.id == case_id
    ]
    if drafts_dir is not None:  # no drafts folder: no inbox
        found += [
            Located(c, Path(drafts_dir) / f"{c.id}.yaml", True)
            for c in suite.inbox
            if c.id == case_id
        ]
    if not found:
        drafted = ", ".join(c.id for c in suite.drafted) or "none"
        raise ReviewError(
            f"no case {case_id!r} in {cases_folder} or the drafts inbox {drafts_dir}; drafts "
            f"waiting for review: {drafted}"
        )
    if len(found) > 1:
        raise ReviewError(
            f"case {case_id!r} is both in {found[0].path} and in {found[1].path}: the inbox draft "
            f"would replace a reviewed case; rename the draft (its id and file name)"
        )
    return suite, found[0]


def approve(
    evals_dir: str | Path,
    drafts_dir: str | Path | None,
    case_id: str,
    reviewer: str,
    today: dt.date | None = None,
) -> Path:
    """Approve ``case_id``; returns the path it is written to."""
    if not reviewer or not reviewer.strip():
        raise ReviewError("a reviewer's name is needed (--reviewer, or git config user.name)")
    suite, found = locate(evals_dir, drafts_dir, case_id)
    case = found.case
    if case.requirement is None:
        raise ReviewError(
            f"{found.path}: requirement is not set; write the requirement this case tests "
            f"(e.g. requirement: fraud_scoring#3) before approving it"
        )
    requirement = suite.requirement(case.requirement)
    if requirement is None:
        known = ", ".join(r.id for r in suite.requirements) or "none"
        raise ReviewError(
            f"{found.path}: requirement {case.requirement} is not in "
            f"{Path(evals_dir) / 'requirements'} (requirements: {known})"
        )
    twins = [
        c.id for c in suite.approved if c.id != case.id and c.fingerprint() == case.fingerprint()
    ]
    if twins:
        raise ReviewError(
            f"{found.path}: the case tests exactly what approved case {twins[0]} tests; reject it "
            "as a duplicate or change what it checks"
        )
    approved = Case.model_validate(
        {
            **case.model_dump(),
            "status": "approved",
            "requirement_sha256": requirement.sha256,
            "reviewed_by": reviewer.strip(),
            "reviewed_at": today or dt.datetime.now(dt.UTC).date(),
            "review_note": None,
        }
    )
    return _move(approved, found, evals_dir)


def reject(
    evals_dir: str | Path,
    drafts_dir: str | Path | None,
    case_id: str,
    reviewer: str,
    reason: str,
    today: dt.date | None = None,
) -> Path:
    """Reject ``case_id`` with ``reason``; returns the path it is written to."""
    if not reason or not reason.strip():
        raise ReviewError("a rejection says why (--reason)")
    if not reviewer or not reviewer.strip():
        raise ReviewError("a reviewer's name is needed (--reviewer, or git config user.name)")
    _, found = locate(evals_dir, drafts_dir, case_id)
    rejected = Case.model_validate(
        {
            **found.case.model_dump(),
            "status": "rejected",
            "review_note": reason.strip(),
            "reviewed_by": reviewer.strip(),
            "reviewed_at": today or dt.datetime.now(dt.UTC).date(),
        }
    )
    return _move(rejected, found, evals_dir)


def _move(case: Case, found: Located, evals_dir: str | Path) -> Path:
    path = write_case(case, Path(evals_dir) / CASES_FOLDER)
    if found.in_inbox and found.path.resolve() != path.resolve():
        found.path.unlink(missing_ok=True)
    return path

"""Drafts from the rules, with no model: one case per recorded regression that a rule can
turn into a test. Used without a Claude key, and always alongside Claude's drafts.

- a **quarantined batch** becomes a ``contract`` case: a mutation of a clean bundled batch
  that reproduces the broken rule (dollars for a unit change of ``amount_cents``, alpha-3
  country codes, a 47-value category set, a renamed column, a repeated key, the recorded
  bad value in a few rows, …), which the contract check must reject for the same field and
  rule. Each draft is run through the real check before it is kept (``contracts_dir``): a
  draft that does not reproduce its regression is not proposed;
- a **blocked promotion** becomes ``slice_metric`` cases: the failed comparison (PR-AUC, a
  slice's AUROC) as a floor at the champion's value minus the gate's tolerance;
- **triage tickets** and **failed cases** are listed for a person (and Claude): no rule
  turns a failed run into a case, and a failed case is a test already.

The requirement a draft tests is the one whose text shares the most words with the
regression (``amount_cents`` → "amounts … in cents"); with none in common it is left unset
for the reviewer, and such a draft cannot be approved until it is set.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from platform_assets.core.eval_suite.cases import Case
from platform_assets.core.eval_suite.regressions import Regression
from platform_assets.core.eval_suite.requirements import Requirement

RULES_NAME = "eval_suite.rules_drafting"
_STOPWORDS = {
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "to",
    "is",
    "are",
    "be",
    "by",
    "and",
    "or",
    "not",
    "must",
    "never",
    "at",
    "more",
    "than",
    "that",
    "whose",
    "its",
    "it",
    "for",
    "with",
    "as",
    "per",
    "each",
    "every",
    "set",
    "so",
    "no",
    "from",
    "into",
    "has",
    "have",
}


@dataclass
class DraftReport:
    """What one drafting pass produced: the drafts, what was left and why, and notes."""

    drafted: list[Case] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    batch_id: str | None = None
    pending: bool = False  # a Message Batch is still processing

    def merge(self, other: DraftReport) -> DraftReport:
        return DraftReport(
            self.drafted + other.drafted,
            self.skipped + other.skipped,
            self.notes + other.notes,
            other.batch_id or self.batch_id,
            self.pending or other.pending,
        )


def _words(text: str) -> set[str]:
    words = set()
    for word in re.findall(r"[a-z0-9]+", text.lower().replace("_", " ")):
        word = word[:-1] if len(word) > 3 and word.endswith("s") else word
        if word not in _STOPWORDS and len(word) > 1:
            words.add(word)
    return words


def match_requirement(text: str, requirements: list[Requirement]) -> Requirement | None:
    """The requirement sharing the most words with ``text`` (none when no word is shared)."""
    words = _words(text)
    best, best_score = None, 0
    for requirement in requirements:
        score = len(words & _words(requirement.text))
        if score > best_score:
            best, best_score = requirement, score
    return best


def slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "case"


def draft_id(requirement: str | None, name: str, body: dict) -> str:
    """``<requirement document>-<number>-<name>-<6 hex>``: readable and unique per content."""
    digest = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()[:6]
    prefix = requirement.replace("#", "-") if requirement else "unassigned"
    return f"{prefix}-{slug(name)}-{digest}"


def _contract_mutation(regression: Regression) -> tuple[dict, str] | None:
    """(mutation, what it does) reproducing a quarantined rule, or None."""
    column, rule, detail = (
        regression.details.get("field"),
        regression.details.get("rule"),
        regression.details.get("detail", ""),
    )
    if rule in ("logicalType", "unit_change", "type_change") and column == "amount_cents":
        return {"fault": {"amount_unit": "dollars"}}, "amounts sent in dollars"
    if rule in ("pattern", "maxLength", "minLength", "format_change") and column == "user_country":
        return {"fault": {"country_codes": "alpha3"}}, "alpha-3 country codes"
    if rule in ("enum", "category_set") and column == "merchant_category":
        return {"fault": {"category_count": 47}}, "a 47-category taxonomy"
    if rule in ("required", "renamed_column") and column:
        return {"fault": {"rename": {column: f"{column}_renamed"}}}, f"{column} renamed"
    if rule in ("primaryKey", "unique") and column:
        return {
            "sql": "SELECT * FROM batch UNION ALL SELECT * FROM batch WHERE __n = 1"
        }, f"a repeated {column}"
    if rule in ("nullValues", "null_spike") and column:
        return {"fault": {"null_rates": {column: 0.4}}}, f"40% nulls in {column}"
    if rule == "rowCount":
        return {"sql": "SELECT * FROM batch WHERE false"}, "an empty batch"
    example = re.search(r"e\.g\. (.+?)(?:;|$)", detail)
    if column and example:
        value = example.group(1).strip()
        if value.startswith("'") and value.endswith("'"):
            literal = "'" + value[1:-1].replace("'", "''") + "'"
        elif re.fullmatch(r"-?[0-9.]+(e-?[0-9]+)?", value):
            literal = value
        else:
            return None
        quoted = '"' + column.replace('"', '""') + '"'
        sql = (
            f"SELECT * REPLACE (CASE WHEN __n <= 5 THEN {literal} ELSE {quoted} END AS "
            f"{quoted}) FROM batch"
        )
        return {"sql": sql}, f"the recorded value {value} in {column}"
    return None


def _quarantine_draft(
    regression: Regression, requirements: list[Requirement], today: dt.date
) -> Case | None:
    found = _contract_mutation(regression)
    if found is None:
        return None
    mutation, what = found
    column, rule = regression.details.get("field"), regression.details.get("rule")
    requirement = match_requirement(f"{column} {rule} {what}", requirements)
    rid = requirement.id if requirement else None
    contract = {
        "table": regression.details.get("table") or "transactions",
        "mutation": mutation,
        "expect": {"verdict": "reject", "violations": [{"field": column, "rule": rule}]},
    }
    return Case.model_validate(
        {
            "id": draft_id(rid, f"{column or 'table'}-{rule}", {"c": repr(contract)}),
            "requirement": rid,
            "title": f"A batch with {what} is rejected ({column or 'table'}: {rule})",
            "description": f"Drafted from {regression.summary}",
            "kind": "contract",
            "status": "drafted",
            "drafted_by": {
                "kind": "rules",
                "name": RULES_NAME,
                "source": f"quarantine {regression.ref}",
            },
            "drafted_at": today,
            "contract": contract,
        }
    )


_SLICE_CHECK = re.compile(
    r"^slice (?P<column>[a-z_]+)=(?P<value>.+) (?P<metric>auroc|pr_auc|precision|recall)$"
)


def _blocked_drafts(
    regression: Regression, requirements: list[Requirement], today: dt.date
) -> list[Case]:
    drafts = []
    for check in regression.details.get("failed_checks", []):
        name, champion = str(check.get("check", "")), check.get("champion")
        allowed = str(check.get("allowed", ""))
        if not isinstance(champion, int | float) or isinstance(champion, bool):
            continue
        tolerance = re.search(r"− ([0-9.]+)", allowed)
        floor = round(float(champion) - (float(tolerance.group(1)) if tolerance else 0.0), 3)
        match = _SLICE_CHECK.match(name)
        if match:
            value = match.group("value").replace("'", "''")
            spec = {
                "filter": f"{match.group('column')} = '{value}'",
                "metric": match.group("metric"),
                "min": floor,
                "min_support": 10,
            }
            title = (
                f"{match.group('metric')} on {match.group('column')}={match.group('value')} "
                f"stays ≥ {floor}"
            )
        elif name in ("pr_auc", "auroc", "precision", "recall"):
            spec = {"metric": name, "min": floor, "min_support": 10}
            title = f"{name} on the holdout stays ≥ {floor}"
        else:
            continue
        requirement = match_requirement(title, requirements)
        rid = requirement.id if requirement else None
        drafts.append(
            Case.model_validate(
                {
                    "id": draft_id(rid, title, spec),
                    "requirement": rid,
                    "title": title,
                    "description": f"Drafted from {regression.summary}"[:600],
                    "kind": "slice_metric",
                    "status": "drafted",
                    "drafted_by": {
                        "kind": "rules",
                        "name": RULES_NAME,
                        "source": f"blocked promotion {regression.ref}",
                    },
                    "drafted_at": today,
                    "slice_metric": spec,
                }
            )
        )
    return drafts


def draft_from_regressions(
    regressions: list[Regression],
    requirements: list[Requirement],
    existing: list[Case],
    *,
    contracts_dir: str | Path | None = None,
    today: dt.date | None = None,
) -> DraftReport:
    """Drafts for ``regressions`` that no ``existing`` case (of any status) already tests."""
    today = today or dt.datetime.now(dt.UTC).date()
    report = DraftReport()
    seen = {c.fingerprint() for c in existing}
    for regression in regressions:
        if regression.source == "quarantine":
            draft = _quarantine_draft(regression, requirements, today)
            if draft is None:
                report.skipped.append(f"{regression.summary}: no rule turns this into a mutation")
                continue
            candidates = [draft]
        elif regression.source == "blocked_promotion":
            candidates = _blocked_drafts(regression, requirements, today)
            if not candidates:
                report.skipped.append(f"{regression.summary}: no failed metric to turn into a case")
                continue
        elif regression.source == "triage_ticket":
            report.skipped.append(
                f"triage ticket {regression.ref}: no case kind tests a failed run; left for a "
                f"person (or Claude)"
            )
            continue
        else:
            report.skipped.append(f"failed case {regression.ref}: already a test")
            continue
        for draft in candidates:
            if draft.fingerprint() in seen:
                report.skipped.append(
                    f"{regression.ref}: the suite already has a case testing this ({draft.title})"
                )
                continue
            if draft.kind == "contract" and contracts_dir is not None:
                problem = reproduces(draft, contracts_dir)
                if problem:
                    report.skipped.append(
                        f"{regression.ref}: the drafted mutation does not reproduce it ({problem})"
                    )
                    continue
            seen.add(draft.fingerprint())
            report.drafted.append(draft)
    return report


def reproduces(case: Case, contracts_dir: str | Path) -> str | None:
    """None when the contract case passes through the real check, else why not."""
    import pandas as pd

    from platform_assets.core.eval_suite.execution import ModelUnderTest, SuiteRunner

    with SuiteRunner(pd.DataFrame(), contracts_dir) as runner:
        outcome = runner.run(case, ModelUnderTest("none", None, b"", 0.5))
    return None if outcome.passed else outcome.detail

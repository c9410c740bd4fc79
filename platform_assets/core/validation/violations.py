"""What the contract check decides: broken rules (:class:`Violation`), the row predicates the
quarantine applies (:class:`RowRule`) and the decision about a batch (:class:`Verdict`).

Kept apart from the engine so that every part of the check (the rules in :mod:`.engine`,
semantic drift in :mod:`.semantic_drift`, Claude's review in :mod:`.semantic_llm`, the
quarantine) speaks the same types without importing one another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from platform_assets.core.validation.profile import BatchProfile


@dataclass(frozen=True)
class Violation:
    """One broken rule. ``field`` is the column, or None for the table."""

    field: str | None
    rule: str
    detail: str
    severity: str = "error"
    source: str = "rules"
    failing_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RowRule:
    """A rule that can be evaluated row by row: ``predicate`` is true where a row fails."""

    field: str | None
    rule: str
    predicate: str
    severity: str


@dataclass
class Verdict:
    """What the engine decided about a batch."""

    passes: bool
    violations: list[Violation]
    profile: BatchProfile
    row_count: int
    row_rules: list[RowRule] = field(default_factory=list)
    reference: str | None = None  # where the reference profile came from, if any
    decided_by: str = "rules"
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Violation]:
        return [v for v in self.violations if v.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {
            "passes": self.passes,
            "violations": [v.to_dict() for v in self.violations],
            "row_count": self.row_count,
            "reference": self.reference,
            "decided_by": self.decided_by,
            "notes": self.notes,
        }

"""Eval cases: one YAML file each, validated with a pydantic schema.

A case is tied to one requirement (``fraud_scoring#3``) and, once approved, to the hash of
that requirement's text at approval. Its ``status`` is ``drafted``, ``approved`` or
``rejected``; only approved cases are in the suite. ``drafted_by`` says who wrote it
(``claude`` with the model and the prompt's sha256, ``rules`` with the regression it came
from, or a ``person``); ``reviewed_by`` / ``reviewed_at`` say who approved or rejected it.

Four kinds, each with its own block named after the kind:

- ``scenario``: rows to score (explicit rows, each optionally starting from the typical
  holdout row of a segment, or a sample of holdout rows) and what each must get: a
  ``decision`` (``hold`` when P(fraud) ≥ the model's threshold, else ``approve``) or a
  ``score_between`` band;
- ``slice_metric``: a filter over the holdout and a bound on a metric (``precision``,
  ``recall``, ``false_positive_rate``, ``flag_rate``, ``auroc``, ``pr_auc``), or with
  ``group_by`` a bound on the largest gap between groups;
- ``latency``: the p-th percentile of single-row scoring time against a budget;
- ``contract``: a mutation of a clean bundled batch that the real contract check must
  reject (or a clean batch it must pass).

Example (``evals/cases/fraud_scoring-3-grocery-fpr.yaml``)::

    id: fraud_scoring-3-grocery-fpr
    requirement: fraud_scoring#3
    title: Card-present grocery under 20 USD is flagged at most 0.5% of the time
    kind: slice_metric
    status: approved
    drafted_by: {kind: person, name: helper}
    requirement_sha256: ddad1ffd16ec320b
    reviewed_by: helper
    reviewed_at: 2026-11-22
    slice_metric:
      filter: card_present = 1 AND merchant_category = 'grocery' AND amount_usd < 20
      metric: false_positive_rate
      max: 0.005
      min_support: 100

A file that does not validate is a :class:`CaseError` naming the file, the field and its line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from platform_assets.core.eval_suite.requirements import is_requirement_id
from platform_assets.core.yaml_lines import line_index

CASES_FOLDER = "cases"
KINDS = ("scenario", "slice_metric", "latency", "contract")
STATUSES = ("drafted", "approved", "rejected")
METRICS = ("precision", "recall", "false_positive_rate", "flag_rate", "auroc", "pr_auc")
CASE_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{2,99}$"

Value = str | float | int | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftedBy(_Strict):
    """Who wrote a case: ``claude`` (``name`` is the model, ``prompt_sha256`` the prompt's
    hash), ``rules`` (``source`` is the recorded regression) or a ``person`` (``name``)."""

    kind: Literal["claude", "rules", "person"]
    name: str | None = None
    prompt_sha256: str | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> DraftedBy:
        if self.kind == "claude" and not self.prompt_sha256:
            raise ValueError("a case drafted by claude records the prompt's sha256 (prompt_sha256)")
        if self.kind == "person" and not self.name:
            raise ValueError("a case written by a person records their name (name)")
        return self

    def describe(self) -> str:
        if self.kind == "claude":
            return f"claude ({self.name}, prompt {(self.prompt_sha256 or '')[:12]})"
        if self.kind == "rules":
            return f"rules ({self.source})" if self.source else "rules"
        return self.name or "person"


# --- scenario --------------------------------------------------------------------------


class ScenarioBase(_Strict):
    """Start each row from the typical holdout row of a segment: the median of every
    numeric feature and the most frequent value of every categorical one."""

    filter: str = Field("true", description="SQL condition over the holdout's columns")


class ScenarioSample(_Strict):
    """Score holdout rows instead of written rows: the generator recipe of a scenario."""

    filter: str = Field("true", description="SQL condition over the holdout's columns")
    rows: int = Field(1000, ge=1, le=1_000_000)
    seed: int = 0


class ScenarioExpect(_Strict):
    decision: Literal["hold", "approve"] | None = None
    score_between: tuple[float, float] | None = None
    min_share: float = Field(
        1.0, gt=0.0, le=1.0, description="share of rows that must meet the expectation"
    )

    @model_validator(mode="after")
    def _one(self) -> ScenarioExpect:
        if (self.decision is None) == (self.score_between is None):
            raise ValueError(
                "expect needs exactly one of decision (hold/approve) or score_between [low, high]"
            )
        if self.score_between is not None and self.score_between[0] > self.score_between[1]:
            raise ValueError(
                f"score_between {list(self.score_between)}: the low end is above the high end"
            )
        return self


class Scenario(_Strict):
    base: ScenarioBase | None = None
    rows: list[dict[str, Value]] | None = None
    sample: ScenarioSample | None = None
    expect: ScenarioExpect

    @model_validator(mode="after")
    def _rows_or_sample(self) -> Scenario:
        if (self.rows is None) == (self.sample is None):
            raise ValueError(
                "a scenario has either rows (optionally with a base) or a sample of the holdout"
            )
        if self.rows is not None and not self.rows:
            raise ValueError("rows is empty: write at least one row")
        if self.sample is not None and self.base is not None:
            raise ValueError("base applies to written rows, not to a sample")
        return self


# --- slice metric ----------------------------------------------------------------------


class SliceMetric(_Strict):
    filter: str | None = Field(None, description="SQL condition over the holdout; none: every row")
    metric: Literal["precision", "recall", "false_positive_rate", "flag_rate", "auroc", "pr_auc"]
    min: float | None = None
    max: float | None = None
    min_support: int = Field(
        30,
        ge=1,
        description="rows the metric's denominator needs (per group with "
        "group_by); fewer is an error, never a pass",
    )
    group_by: str | None = None
    gap_max: float | None = Field(None, ge=0.0)
    confidence: float | None = Field(
        None,
        gt=0.5,
        lt=1.0,
        description="with gap_max: fail only when the gap's lower confidence bound exceeds gap_max",
    )

    @model_validator(mode="after")
    def _bounded(self) -> SliceMetric:
        if self.group_by is None:
            if self.min is None and self.max is None:
                raise ValueError("a slice_metric needs a bound: min, max or both")
            if self.gap_max is not None or self.confidence is not None:
                raise ValueError("gap_max and confidence need group_by")
        elif self.gap_max is None and self.min is None and self.max is None:
            raise ValueError("with group_by, bound the gap (gap_max) or each group (min/max)")
        if self.confidence is not None and self.gap_max is None:
            raise ValueError("confidence applies to gap_max")
        return self


# --- latency ---------------------------------------------------------------------------


class Latency(_Strict):
    budget_ms: float = Field(gt=0)
    percentile: float = Field(99.0, ge=50.0, le=100.0)
    rows: int = Field(500, ge=10, le=100_000, description="holdout rows scored one at a time")


# --- contract --------------------------------------------------------------------------


class ContractBatch(_Strict):
    """A clean batch of the bundled source: deterministic for its date and size."""

    date: dt.date = dt.date(2026, 11, 2)
    rows: int = Field(default=2000, ge=10, le=1_000_000)


class ContractMutation(_Strict):
    """What to do to the clean batch: the bundled source's fault injection (``fault``, the
    fields of ``FaultInjection``) or a DuckDB ``SELECT`` over the view ``batch`` (``sql``;
    the view has a 1-based ``__n`` row number, dropped from the result)."""

    fault: dict[str, Any] | None = None
    sql: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ContractMutation:
        if (self.fault is None) == (self.sql is None):
            raise ValueError("a mutation is either fault or sql")
        if self.fault is not None:
            from platform_assets.core.ingestion.bundled import FaultInjection

            unknown = sorted(set(self.fault) - set(FaultInjection.__dataclass_fields__))
            if unknown:
                raise ValueError(
                    f"fault has unknown fields {unknown}; FaultInjection has "
                    f"{sorted(FaultInjection.__dataclass_fields__)}"
                )
            FaultInjection(**self.fault)  # its own checks name the field and the allowed values
        return self


class ExpectedViolation(_Strict):
    field: str | None = None
    rule: str | None = None
    detail_contains: str | None = None


class ContractExpect(_Strict):
    verdict: Literal["reject", "pass"]
    violations: list[ExpectedViolation] = Field(
        default_factory=list, description="error violations that must be among the verdict's"
    )


class ContractCase(_Strict):
    table: str = "transactions"
    batch: ContractBatch = Field(default_factory=ContractBatch)
    reference: Literal["previous_day", "none"] = Field(
        "previous_day",
        description="previous_day: the clean batch of the day before is the accepted reference, "
        "so semantic drift (unit changes, renames) is judged as in production",
    )
    mutation: ContractMutation | None = None
    expect: ContractExpect


# --- the case --------------------------------------------------------------------------


class Case(_Strict):
    id: str = Field(pattern=CASE_ID_PATTERN)
    requirement: str | None = None
    title: str = Field(min_length=3)
    description: str | None = None
    kind: Literal["scenario", "slice_metric", "latency", "contract"]
    status: Literal["drafted", "approved", "rejected"]
    drafted_by: DraftedBy
    drafted_at: dt.date | None = None
    requirement_sha256: str | None = None
    reviewed_by: str | None = None
    reviewed_at: dt.date | None = None
    review_note: str | None = None
    scenario: Scenario | None = None
    slice_metric: SliceMetric | None = None
    latency: Latency | None = None
    contract: ContractCase | None = None

    @field_validator("requirement")
    @classmethod
    def _requirement_id(cls, value: str | None) -> str | None:
        if value is not None and not is_requirement_id(value):
            raise ValueError(
                f"{value!r} is not a requirement id; write <document>#<number>, e.g. "
                "fraud_scoring#3"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Case:
        present = [kind for kind in KINDS if getattr(self, kind) is not None]
        if present != [self.kind]:
            others = [k for k in present if k != self.kind]
            if others:
                raise ValueError(f"kind is {self.kind} but the case has a {others[0]} block")
            raise ValueError(f"kind is {self.kind}: the case needs a {self.kind} block")
        if self.status == "approved":
            missing = [
                name
                for name in ("requirement", "requirement_sha256", "reviewed_by", "reviewed_at")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"an approved case records {', '.join(missing)}: approve it with "
                    f"`platform-assets evals review approve {self.id}`"
                )
        if self.status == "rejected" and not self.review_note:
            raise ValueError("a rejected case records why (review_note)")
        return self

    @property
    def spec(self) -> BaseModel:
        return getattr(self, self.kind)

    def fingerprint(self) -> str:
        """What makes two cases the same test: the requirement, the kind and what the case
        does to the model or the batch (rows, filter and metric, mutation), with whitespace
        and case in SQL and text collapsed. Bounds, expected violations, titles, ids and
        review fields do not count: two cases that differ only there test the same thing."""
        spec = self.spec.model_dump(mode="json", exclude_none=True)
        if self.kind == "slice_metric":
            spec = {k: spec.get(k) for k in ("filter", "metric", "group_by")}
        elif self.kind == "latency":
            spec = {"percentile": spec.get("percentile")}
        elif self.kind == "contract":
            spec = {**spec, "expect": {"verdict": spec["expect"]["verdict"]}}
        body = {"requirement": self.requirement, "kind": self.kind, "spec": _normalized(spec)}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json", exclude_none=True)
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def _normalized(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split()).lower()
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


# --- files -----------------------------------------------------------------------------


class CaseError(ValueError):
    """A case file that does not validate. ``problems`` name the field and its line."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = problems
        super().__init__(f"{self.path}: " + "; ".join(problems))


def _problems(exc: ValidationError, lines: dict[tuple, int]) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(
            p
            for p in error["loc"]
            if not (isinstance(p, str) and p.startswith(("function-", "literal[")))
        )
        where = ".".join(str(p) for p in loc) or "(case)"
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{where}{f' (line {line})' if line else ''}: {message}")
    return problems


def parse_case(text: str, path: str | Path, *, check_id: bool = True) -> Case:
    """A case from YAML ``text``; ``path`` names it in errors (and its stem must be the id).

    Raises:
        CaseError: not YAML, not a mapping, or not the schema (each problem with its field and
        line).
    """
    path = Path(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CaseError(
            path,
            [
                f"not valid YAML{f' (line {mark.line + 1})' if mark else ''}: "
                f"{getattr(exc, 'problem', exc)}"
            ],
        ) from None
    if not isinstance(data, dict):
        raise CaseError(
            path, ["a case is a YAML mapping (id, requirement, title, kind, status, ...)"]
        )
    lines = line_index(text)
    try:
        case = Case.model_validate(data)
    except ValidationError as exc:
        raise CaseError(path, _problems(exc, lines)) from None
    if check_id and case.id != path.stem:
        raise CaseError(
            path,
            [
                f"id (line {lines.get(('id',), 1)}): {case.id!r} differs from the file name; "
                f"name the file {case.id}.yaml"
            ],
        )
    return case


def load_case(path: str | Path) -> Case:
    path = Path(path)
    return parse_case(path.read_text(encoding="utf-8"), path)


def case_files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


def load_cases(folder: str | Path) -> list[Case]:
    """Every case file of ``folder`` (``<evals>/cases`` or the drafts inbox), by file name.

    Raises:
        CaseError: the first file that does not validate; every problem of that file is named.
    """
    return [load_case(path) for path in case_files(folder)]


def write_case(case: Case, folder: str | Path) -> Path:
    """Write ``case`` to ``<folder>/<id>.yaml`` (replacing it) and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case.id}.yaml"
    path.write_text(case.to_yaml(), encoding="utf-8")
    return path

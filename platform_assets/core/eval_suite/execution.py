"""Running cases: each approved case against one model (ONNX file and threshold) on a holdout.

- ``scenario``: the rows are scored with the model; ``hold`` means P(fraud) ≥ the model's
  threshold. Written rows start from the typical holdout row of their ``base`` segment (the
  median of each numeric feature, the most frequent value of each categorical one); the
  columns the feature SQL derives from others (``log_amount``, ``is_night``,
  ``amount_vs_user_mean_7d``, ``has_device_fingerprint``) are recomputed from what a row
  overrides, unless the row sets them itself.
- ``slice_metric``: the holdout rows the filter (DuckDB SQL) selects, scored once per model.
  Too few rows in the metric's denominator is an *error*, never a pass. With ``group_by``
  and ``confidence``, a gap fails only when its lower confidence bound (normal
  approximation of two proportions) is above ``gap_max``: a gate must not fail on noise.
- ``latency``: holdout rows scored one at a time (after a warm-up), the percentile against
  the budget.
- ``contract``: the real contract check (``core.validation.engine.check_batch``) on a clean
  bundled batch, which must pass, and on its mutation, which must be rejected with the
  expected violations. The result does not depend on the model, so it is computed once.

Every outcome is ``passed``, ``failed`` or ``error`` (the case could not be evaluated: a bad
filter, too little data, a missing contract), with what was measured and why.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from platform_assets.core.eval_suite.cases import Case, ContractCase, Latency, Scenario, SliceMetric

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

MAX_EXAMPLES = 5
LABEL = "is_fraud"


@dataclass(frozen=True)
class ModelUnderTest:
    """A model as the suite sees it: its ONNX file (path or bytes) and its threshold."""

    label: str  # champion, challenger, candidate
    version: int | None
    onnx: bytes | Path
    threshold: float

    def describe(self) -> str:
        return f"{self.label} " + (
            f"v{self.version}" if self.version is not None else "(unregistered candidate)"
        )


@dataclass
class CaseOutcome:
    case: str
    requirement: str | None
    kind: str
    status: str  # passed | failed | error
    detail: str
    measured: float | None = None
    examples: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return asdict(self)


class _CaseError(Exception):
    """The case cannot be evaluated (an ``error`` outcome, not a failure)."""


class SuiteRunner:
    """Runs cases on one holdout; scores and contract verdicts are computed once and reused.

    ``holdout`` is a frame of feature rows with ``is_fraud`` (the evaluation holdout);
    ``contracts_dir`` the ODCS contracts folder the ``contract`` cases check against.
    """

    def __init__(self, holdout: pd.DataFrame, contracts_dir: str | Path):
        self.holdout = holdout.reset_index(drop=True)
        self.contracts_dir = Path(contracts_dir)
        self._conn = duckdb.connect()
        self._conn.register("holdout", self.holdout.assign(__i=range(len(self.holdout))))
        self._scores: dict[ModelUnderTest, np.ndarray] = {}
        self._contract_outcomes: dict[str, CaseOutcome] = {}
        self._contract_cache: dict[tuple, Any] = {}

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SuiteRunner:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- entry points ------------------------------------------------------------------

    def run(self, case: Case, model: ModelUnderTest) -> CaseOutcome:
        """The outcome of ``case`` for ``model`` (never raises for a case that cannot run)."""
        try:
            if case.kind == "contract":
                return self._contract_outcome(case)
            handler = {
                "scenario": self._scenario,
                "slice_metric": self._slice_metric,
                "latency": self._latency,
            }
            status, detail, measured, examples = handler[case.kind](case.spec, model)
        except _CaseError as exc:
            status, detail, measured, examples = "error", str(exc), None, []
        return CaseOutcome(case.id, case.requirement, case.kind, status, detail, measured, examples)

    # -- shared ------------------------------------------------------------------------

    def _rows(self, condition: str | None, where: str) -> np.ndarray:
        """Positions of the holdout rows matching a SQL condition."""
        import numpy as np

        if not condition or not condition.strip():
            return np.arange(len(self.holdout))
        try:
            found = self._conn.execute(
                f"SELECT __i FROM holdout WHERE {condition} ORDER BY __i"
            ).fetchall()
        except duckdb.Error as exc:
            raise _CaseError(
                f"{where}: the condition {condition!r} does not run on the holdout: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        return np.array([row[0] for row in found], dtype=np.int64)

    def _scores_of(self, model: ModelUnderTest) -> np.ndarray:
        from platform_assets.core.training.scoring import scorer_for

        if model not in self._scores:
            self._scores[model] = scorer_for(model.onnx).score(self.holdout)
        return self._scores[model]

    def _labels(self) -> np.ndarray:
        return self.holdout[LABEL].to_numpy().astype(bool)

    # -- scenario ----------------------------------------------------------------------

    def _scenario(self, spec: Scenario, model: ModelUnderTest):
        import numpy as np
        import pandas as pd

        from platform_assets.core.training.scoring import scorer_for

        scorer = scorer_for(model.onnx)
        if spec.sample is not None:
            positions = self._rows(spec.sample.filter, "scenario.sample.filter")
            if len(positions) == 0:
                raise _CaseError(
                    f"scenario.sample.filter selects no holdout row ({spec.sample.filter!r})"
                )
            rng = np.random.default_rng(spec.sample.seed)
            if len(positions) > spec.sample.rows:
                positions = np.sort(rng.choice(positions, size=spec.sample.rows, replace=False))
            frame = self.holdout.iloc[positions].reset_index(drop=True)
            scores = self._scores_of(model)[positions]
        else:
            base = self._typical_row(spec.base.filter) if spec.base is not None else {}
            assert spec.rows is not None  # the model's validator: rows, or a sample
            records = [derive_columns(base, row) for row in spec.rows]
            missing = sorted(
                {name for r in records for name in scorer.input_names if name not in r}
            )
            if missing:
                raise _CaseError(
                    f"scenario.rows lack model inputs {missing}: set them or start from a base "
                    f"segment (base: {{filter: ...}})"
                )
            frame = pd.DataFrame(records)
            scores = np.array([scorer.score_one(r) for r in records], dtype=np.float64)
        expect = spec.expect
        if expect.decision is not None:
            held = scores >= model.threshold
            meets = held if expect.decision == "hold" else ~held
            wanted = (
                f"{expect.decision} (P(fraud) {'≥' if expect.decision == 'hold' else '<'} "
                f"threshold {model.threshold:.4f})"
            )
        else:
            assert expect.score_between is not None  # the model's validator: one of the two
            low, high = expect.score_between
            meets = (scores >= low) & (scores <= high) & np.isfinite(scores)
            wanted = f"P(fraud) in [{low:g}, {high:g}]"
        share = float(meets.mean())
        passed = share >= expect.min_share
        examples = []
        for i in np.flatnonzero(~meets)[:MAX_EXAMPLES]:
            row = {k: _plain(v) for k, v in frame.iloc[int(i)].items() if k in scorer.input_names}
            examples.append({"row": row, "score": round(float(scores[i]), 6)})
        detail = (
            f"{int(meets.sum())} of {len(scores)} rows get {wanted}"
            + ("" if expect.min_share == 1.0 else f"; needs {expect.min_share:.0%}")
            + ("" if passed else f"; e.g. P(fraud) {examples[0]['score']:.4f}" if examples else "")
        )
        return ("passed" if passed else "failed"), detail, share, examples

    def _typical_row(self, condition: str) -> dict[str, Any]:
        import pandas as pd

        positions = self._rows(condition, "scenario.base.filter")
        if len(positions) == 0:
            raise _CaseError(f"scenario.base.filter selects no holdout row ({condition!r})")
        segment = self.holdout.iloc[positions]
        row: dict[str, Any] = {}
        for column in segment.columns:
            values = segment[column]
            if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
                row[column] = float(values.median())
            elif pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
                modes = values.mode()
                row[column] = modes.iloc[0] if not modes.empty else None
        return row

    # -- slice metric ------------------------------------------------------------------

    def _slice_metric(self, spec: SliceMetric, model: ModelUnderTest):
        positions = self._rows(spec.filter, "slice_metric.filter")
        labels, scores = self._labels()[positions], self._scores_of(model)[positions]
        flagged = scores >= model.threshold
        name = spec.metric
        denominator = DENOMINATORS[name]
        if spec.group_by is None:
            value, support = metric_value(name, labels, scores, flagged)
            if support < spec.min_support:
                raise _CaseError(
                    f"the slice has {support} {denominator} rows; {name} needs min_support="
                    f"{spec.min_support} (the holdout has {len(self.holdout)} rows)"
                )
            ok, bound = _within(value, spec.min, spec.max)
            detail = f"{name} {value:.4f} on {support} {denominator} rows ({bound})"
            return ("passed" if ok else "failed"), detail, value, []
        if spec.group_by not in self.holdout.columns:
            raise _CaseError(f"slice_metric.group_by: the holdout has no column {spec.group_by!r}")
        groups = self.holdout[spec.group_by].iloc[positions].astype(str).to_numpy()
        measured: dict[str, tuple[float, int]] = {}
        for group in sorted(set(groups)):
            mask = groups == group
            value, support = metric_value(name, labels[mask], scores[mask], flagged[mask])
            if support >= spec.min_support:
                measured[group] = (value, support)
        needed = 2 if spec.gap_max is not None else 1
        if len(measured) < needed:
            raise _CaseError(
                f"only {len(measured)} {spec.group_by} group(s) have {spec.min_support}+ "
                f"{denominator} rows; the case needs {needed}"
            )
        problems = []
        for group, (value, _) in measured.items():
            ok, bound = _within(value, spec.min, spec.max)
            if not ok:
                problems.append(f"{spec.group_by}={group} {name} {value:.4f} ({bound})")
        gap = None
        summary = ""
        if spec.gap_max is not None:
            worst = min(measured, key=lambda g: measured[g][0])
            best = max(measured, key=lambda g: measured[g][0])
            (low, n_low), (high, n_high) = measured[worst], measured[best]
            gap = high - low
            summary = (
                f"largest {name} gap {gap:.4f} between {spec.group_by}={best} ({high:.4f}, "
                f"n={n_high}) and {worst} ({low:.4f}, n={n_low}) over {len(measured)} groups with "
                f"{spec.min_support}+ {denominator} rows"
            )
            judged = gap
            if spec.confidence is not None and name != "auroc" and name != "pr_auc":
                z = statistics.NormalDist().inv_cdf(spec.confidence)
                se = math.sqrt(high * (1 - high) / n_high + low * (1 - low) / n_low)
                judged = gap - z * se
                summary += f"; lower {spec.confidence:.0%} bound {judged:.4f}"
            if judged > spec.gap_max:
                problems.append(f"gap above {spec.gap_max}")
            else:
                summary += f" ≤ {spec.gap_max}"
        detail = (
            "; ".join([s for s in [summary] if s] + problems)
            or f"{len(measured)} groups within bounds"
        )
        return ("failed" if problems else "passed"), detail, gap, []

    # -- latency -----------------------------------------------------------------------

    def _latency(self, spec: Latency, model: ModelUnderTest):
        import numpy as np

        from platform_assets.core.training.scoring import scorer_for

        scorer = scorer_for(model.onnx)
        records = self.holdout.head(spec.rows).to_dict("records")
        if len(records) < min(spec.rows, 10):
            raise _CaseError(f"the holdout has {len(records)} rows; latency needs at least 10")
        scorer.score_one(records[0])  # warm-up: the first call builds the session's caches
        timings = []
        for record in records:
            started = time.perf_counter()
            scorer.score_one(record)
            timings.append((time.perf_counter() - started) * 1000.0)
        value = float(np.percentile(timings, spec.percentile))
        ok = value <= spec.budget_ms
        detail = (
            f"p{spec.percentile:g} single-row scoring {value:.3f} ms over {len(timings)} rows "
            f"({'≤' if ok else '>'} budget {spec.budget_ms:g} ms)"
        )
        return ("passed" if ok else "failed"), detail, value, []

    # -- contract ----------------------------------------------------------------------

    def _contract_outcome(self, case: Case) -> CaseOutcome:
        if case.id not in self._contract_outcomes:
            try:
                assert case.contract is not None  # the model's validator: kind contract has it
                status, detail = self._contract(case.contract)
            except _CaseError as exc:
                status, detail = "error", str(exc)
            self._contract_outcomes[case.id] = CaseOutcome(
                case.id, case.requirement, case.kind, status, detail
            )
        return self._contract_outcomes[case.id]

    def _contract(self, spec: ContractCase) -> tuple[str, str]:
        from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions
        from platform_assets.core.validation.contract import (
            ContractError,
            find_contract,
            load_contract,
        )

        try:
            contract = load_contract(find_contract(self.contracts_dir, spec.table))
        except (FileNotFoundError, ContractError) as exc:
            raise _CaseError(f"contract.table: {exc}") from None
        clean_key = ("clean", spec.table, spec.batch.date, spec.batch.rows, spec.reference)
        if clean_key not in self._contract_cache:
            reference = None
            if spec.reference == "previous_day":
                day_before = spec.batch.date - dt.timedelta(days=1)
                reference = self._check(
                    generate_transactions(day_before, spec.batch.rows), contract, None
                ).profile
            clean_verdict = self._check(
                generate_transactions(spec.batch.date, spec.batch.rows), contract, reference
            )
            self._contract_cache[clean_key] = (reference, clean_verdict)
        reference, clean_verdict = self._contract_cache[clean_key]
        if spec.mutation is None:
            verdict = clean_verdict
        else:
            if not clean_verdict.passes:
                raise _CaseError(
                    f"the clean batch of {spec.batch.date} itself fails the contract "
                    f"({_violations(clean_verdict)}): the mutation proves nothing"
                )
            if spec.mutation.fault is not None:
                table = generate_transactions(
                    spec.batch.date, spec.batch.rows, FaultInjection(**spec.mutation.fault)
                )
                verdict = self._check(table, contract, reference)
            else:
                clean = generate_transactions(spec.batch.date, spec.batch.rows)
                verdict = self._check(clean, contract, reference, mutation_sql=spec.mutation.sql)
        expected = spec.expect
        errors = verdict.errors
        if expected.verdict == "pass":
            if verdict.passes:
                return "passed", f"the contract passes the batch ({verdict.row_count} rows)"
            return "failed", f"the contract rejects a batch it must pass: {_violations(verdict)}"
        if verdict.passes:
            return (
                "failed",
                f"the contract passes a batch it must reject ({verdict.row_count} rows): it would "
                f"reach scoring",
            )
        missing = [
            e
            for e in expected.violations
            if not any(
                (e.field is None or v.field == e.field)
                and (e.rule is None or v.rule == e.rule)
                and (e.detail_contains is None or e.detail_contains in v.detail)
                for v in errors
            )
        ]
        if missing:
            wanted = ", ".join(
                f"{e.field or '*'}/{e.rule or '*'}"
                + (f" ~{e.detail_contains!r}" if e.detail_contains else "")
                for e in missing
            )
            return (
                "failed",
                f"rejected, but not for the expected reason: missing {wanted}; got "
                f"{_violations(verdict)}",
            )
        return "passed", f"rejected: {_violations(verdict)}"

    def _check(self, table, contract, reference, mutation_sql: str | None = None):
        from platform_assets.core.validation.batch import batch_from_sql, drop_batch
        from platform_assets.core.validation.engine import check_batch

        name = f"eval_clean_{id(table)}"
        self._conn.register(name, table)
        try:
            if mutation_sql is None:
                select = f"SELECT * FROM {name}"
            else:
                self._conn.execute(
                    f"CREATE OR REPLACE TEMP VIEW batch AS SELECT *, row_number() OVER () AS __n "
                    f"FROM {name}"
                )
                try:
                    columns = [
                        row[0] for row in self._conn.execute(f"DESCRIBE {mutation_sql}").fetchall()
                    ]
                except duckdb.Error as exc:
                    raise _CaseError(
                        f"contract.mutation.sql does not run: {str(exc).splitlines()[0]}"
                    ) from None
                select = (
                    f"SELECT * EXCLUDE (__n) FROM ({mutation_sql})"
                    if "__n" in columns
                    else mutation_sql
                )
            batch = batch_from_sql(self._conn, select, "eval case batch")
            try:
                return check_batch(
                    self._conn, batch, contract, reference, "the clean batch of the day before"
                )
            finally:
                drop_batch(self._conn, batch)
        finally:
            self._conn.unregister(name)


# What each metric's denominator counts: its support, which min_support bounds.
DENOMINATORS = {
    "precision": "flagged",
    "recall": "fraud",
    "false_positive_rate": "legitimate",
    "flag_rate": "scored",
    "auroc": "fraud",
    "pr_auc": "fraud",
}


def metric_value(
    name: str, labels: np.ndarray, scores: np.ndarray, flagged: np.ndarray
) -> tuple[float, int]:
    """``(value, support)`` of a metric on one slice: ``support`` is the size of the metric's
    denominator (:data:`DENOMINATORS`); the value is NaN when it is 0."""
    tp = int((flagged & labels).sum())
    if name == "precision":
        support, value = int(flagged.sum()), tp
    elif name == "recall":
        support, value = int(labels.sum()), tp
    elif name == "false_positive_rate":
        support, value = int((~labels).sum()), int((flagged & ~labels).sum())
    elif name == "flag_rate":
        support, value = len(labels), int(flagged.sum())
    else:
        from sklearn.metrics import average_precision_score, roc_auc_score

        positives = int(labels.sum())
        support = positives if positives < len(labels) else 0
        if not support:
            return float("nan"), 0
        fn = roc_auc_score if name == "auroc" else average_precision_score
        return float(fn(labels.astype(int), scores)), support
    return (value / support if support else float("nan")), support


def _within(value: float, low: float | None, high: float | None) -> tuple[bool, str]:
    parts = []
    ok = True
    if low is not None:
        ok &= value >= low
        parts.append(f"≥ {low:g}")
    if high is not None:
        ok &= value <= high
        parts.append(f"≤ {high:g}")
    return bool(ok), ("must be " + " and ".join(parts)) if parts else "no bound"


DERIVED = ("log_amount", "is_night", "amount_vs_user_mean_7d", "has_device_fingerprint")


def derive_columns(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied and the derived feature columns recomputed from
    the values a row sets (as ``core.features.transactions`` computes them), unless the row
    sets a derived column itself."""
    row = {**base, **overrides}
    if "amount_usd" in overrides and "log_amount" not in overrides:
        row["log_amount"] = math.log1p(float(row["amount_usd"]))
    if "hour_of_day" in overrides and "is_night" not in overrides:
        row["is_night"] = 1.0 if float(row["hour_of_day"]) < 5 else 0.0
    if "card_present" in overrides and "has_device_fingerprint" not in overrides:
        row["has_device_fingerprint"] = 0.0 if float(row["card_present"]) else 1.0
    if (
        {"amount_usd", "user_amount_mean_7d"} & set(overrides)
    ) and "amount_vs_user_mean_7d" not in overrides:
        mean = float(row.get("user_amount_mean_7d") or 0.0)
        row["amount_vs_user_mean_7d"] = float(row["amount_usd"]) / mean if mean > 0 else 1.0
    return row


def _violations(verdict) -> str:
    errors = verdict.errors
    if not errors:
        return "no error"
    return ", ".join(f"{v.field or '(table)'}/{v.rule}" for v in errors[:6]) + (
        f" and {len(errors) - 6} more" if len(errors) > 6 else ""
    )


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

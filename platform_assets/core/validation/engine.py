"""The contract engine: check a batch against its contract, in DuckDB SQL.

``check_batch`` compiles every structural rule of the contract into one aggregate query
(a ``count(*) FILTER (WHERE <row fails>)`` and an example value per rule), runs it together
with the exact part of the profile, then compares the profile with the last accepted
batch's (:mod:`.semantic_drift`). The result is a :class:`Verdict`.

Rules and what they tolerate:

- *Constraints* (``logicalType``, ``required``, ``unique``/``primaryKey``, the
  ``logicalTypeOptions``, ``enum``) are strict: one failing row fails the batch.
- *Quality metrics* (``nullValues``, ``missingValues``, ``invalidValues``,
  ``duplicateValues``, ``rowCount``, ``sql``) fail the batch only beyond their threshold. A
  ``nullValues``/``missingValues`` metric on a required column sets how many nulls that
  column tolerates.
- Either way, rows that fail a row-level rule are the ones the quarantine keeps.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb

from platform_assets.core.validation import semantic_drift, sql_rules
from platform_assets.core.validation.batch import Batch
from platform_assets.core.validation.contract import (
    KNOWN_FORMATS,
    ColumnSpec,
    Contract,
    QualityRule,
)
from platform_assets.core.validation.profile import (
    CATEGORICAL_MAX_DISTINCT,
    NUMERIC_FAMILIES,
    SAMPLE_ROWS,
    BatchProfile,
    ColumnProfile,
    apply_sample,
    jsonable,
    sample_profile_sql,
    sample_sql,
)
from platform_assets.core.validation.violations import RowRule, Verdict, Violation
from platform_assets.core.warehouse import duckdb_family, fetch_row, quote_ident

DEFAULT_MISSING_VALUES = ("", "N/A", "n/a", "NA", "null", "NULL", "None")

# Which delivered type families satisfy each ODCS logicalType.
COMPATIBLE_FAMILIES: dict[str, tuple[str, ...]] = {
    "string": ("text", "bigint", "double", "decimal", "bool", "date", "timestamp", "time"),
    "integer": ("bigint",),
    "number": ("bigint", "double", "decimal"),
    "boolean": ("bool",),
    "date": ("date",),
    "timestamp": ("timestamp",),
    "time": ("time",),
    "object": ("complex", "json"),
    "array": ("complex", "json"),
    "map": ("complex", "json"),
    "vector": ("complex", "json"),
}
TEMPORAL_FAMILIES = ("date", "timestamp", "time")

NO_REFERENCE_NOTE = "no accepted batch to compare with yet: semantic drift was not checked"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"{'TIMESTAMPTZ' if value.tzinfo else 'TIMESTAMP'} '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, dt.time):
        return f"TIME '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


class _Scan:
    """Collects aggregate expressions for one query and reads their results back by key."""

    def __init__(self) -> None:
        self.exprs: list[str] = []
        self.keys: dict[tuple, int] = {}

    def add(self, key: tuple, expr: str) -> None:
        self.keys[key] = len(self.exprs)
        self.exprs.append(expr)

    def run(self, conn: duckdb.DuckDBPyConnection, relation: str) -> dict[tuple, Any]:
        row = fetch_row(conn, f"SELECT {', '.join(self.exprs)} FROM {relation}")
        return {key: row[i] for key, i in self.keys.items()}


def _text(c: str) -> str:
    return f"CAST({c} AS VARCHAR)"


def _constraint_rules(
    spec: ColumnSpec, c: str, fam: str, tolerates_nulls: bool
) -> list[tuple[str, str, str]]:
    """(rule, predicate, expectation) for the column's strict constraints."""
    rules: list[tuple[str, str, str]] = []
    if spec.required and not tolerates_nulls:
        rules.append(("required", f"{c} IS NULL", "a value in every row"))
    numeric = fam in NUMERIC_FAMILIES
    if spec.pattern is not None:
        rules.append(
            (
                "pattern",
                f"{c} IS NOT NULL AND NOT regexp_full_match({_text(c)}, {_literal(spec.pattern)})",
                f"values matching {spec.pattern}",
            )
        )
    if spec.format in KNOWN_FORMATS and spec.logical_type in (None, "string"):
        regex = KNOWN_FORMATS[spec.format]
        rules.append(
            (
                "format",
                f"{c} IS NOT NULL AND NOT regexp_full_match({_text(c)}, {_literal(regex)})",
                f"{spec.format} values",
            )
        )
    if numeric or fam in TEMPORAL_FAMILIES:
        for rule, value, op, words in (
            ("minimum", spec.minimum, "<", ">="),
            ("maximum", spec.maximum, ">", "<="),
            ("exclusiveMinimum", spec.exclusive_minimum, "<=", ">"),
            ("exclusiveMaximum", spec.exclusive_maximum, ">=", "<"),
        ):
            # A number bounds a numeric column, a date / timestamp / time a temporal one.
            if value is not None and (fam in TEMPORAL_FAMILIES) == isinstance(
                value, dt.date | dt.time
            ):
                rules.append((rule, f"{c} {op} {_literal(value)}", f"values {words} {value}"))
    if fam == "complex":
        for rule, value, op, words in (
            ("minItems", spec.min_items, "<", ">="),
            ("maxItems", spec.max_items, ">", "<="),
        ):
            if value is not None:
                rules.append((rule, f"len({c}) {op} {value}", f"{words} {value} items"))
    for rule, value, op, words in (
        ("minLength", spec.min_length, "<", ">="),
        ("maxLength", spec.max_length, ">", "<="),
    ):
        if value is not None:
            rules.append((rule, f"length({_text(c)}) {op} {value}", f"length {words} {value}"))
    if spec.enum:
        allowed = ", ".join(_literal(str(v)) for v in spec.enum)
        rules.append(
            (
                "enum",
                f"{c} IS NOT NULL AND {_text(c)} NOT IN ({allowed})",
                f"one of {len(spec.enum)} values ({', '.join(map(str, spec.enum[:6]))}"
                f"{', …' if len(spec.enum) > 6 else ''})",
            )
        )
    return rules


def _metric_predicate(rule: QualityRule, c: str) -> str | None:
    """Row predicate for a column metric, or None when the metric is not row-level."""
    if rule.metric == "nullValues":
        return f"{c} IS NULL"
    if rule.metric == "missingValues":
        missing = rule.arguments.get("missingValues") or list(DEFAULT_MISSING_VALUES)
        listed = ", ".join(_literal(str(v)) for v in missing if v is not None)
        return f"({c} IS NULL OR {_text(c)} IN ({listed}))"
    if rule.metric == "invalidValues":
        if rule.arguments.get("validValues"):
            listed = ", ".join(_literal(str(v)) for v in rule.arguments["validValues"])
            return f"({c} IS NOT NULL AND {_text(c)} NOT IN ({listed}))"
        return (
            f"({c} IS NOT NULL AND NOT regexp_full_match({_text(c)}, "
            f"{_literal(rule.arguments['pattern'])}))"
        )
    return None


def _example(value: Any) -> str:
    text = repr(jsonable(value))
    return text if len(text) <= 60 else text[:57] + "…'"


_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_EXAMPLES = re.compile(r"\(e\.g\. [^)]*\)")


def _scrubbed(spec: ColumnSpec, detail: str) -> str:
    """A semantic-drift or type diagnosis with the values it quotes masked when the column
    is withheld (those messages quote examples and value lists as they find them)."""
    why = spec.withheld_because
    if why is None:
        return detail
    masked = _EXAMPLES.sub(f"(e.g. «withheld: {why}»)", detail)
    return _QUOTED.sub(f"«withheld: {why}»", masked)


def _without_values(contract: Contract, violations: list[Violation]) -> list[Violation]:
    out = []
    for v in violations:
        spec = contract.column(v.field) if v.field else None
        # A rename names columns, not values (and _unexpected_columns reads the name back).
        keep = spec is None or v.rule == "renamed_column"
        out.append(v if keep else replace(v, detail=_scrubbed(spec, v.detail)))
    return out


def _shown(spec: ColumnSpec, value: Any) -> str:
    """An example value as a violation quotes it; never a value of a withheld column
    (verdicts are stored, alerted and read back into prompts: see :mod:`.classification`)."""
    why = spec.withheld_because
    return f"«withheld: {why}»" if why is not None else _example(value)


def check_batch(
    conn: duckdb.DuckDBPyConnection,
    batch: Batch,
    contract: Contract,
    reference: BatchProfile | None = None,
    reference_label: str | None = None,
) -> Verdict:
    """Check ``batch`` against ``contract`` and, when given, the reference profile.

    The steps: profile the sample; compile the profile's exact part and every structural
    rule into one aggregate scan (:func:`_plan_scan`) and run it; judge the column rules,
    the keys and the table rules from its results; compare the profile with the reference
    (:mod:`.semantic_drift`); warn about columns the contract does not declare.

    Args:
        conn: the connection holding ``batch.relation``.
        batch: the batch (see :mod:`.batch`).
        contract: the parsed contract.
        reference: the profile of the last accepted batch; ``None`` checks structure only.
        reference_label: where the reference came from, for messages.

    Returns:
        A :class:`Verdict`; ``passes`` is false when any violation has severity ``error``.
    """
    rel = batch.relation
    profiles = {
        name: ColumnProfile(name=name, duckdb_type=dtype, family=duckdb_family(dtype))
        for name, dtype in batch.columns.items()
    }
    # Distributions come from the sample, value counts of categorical columns included:
    # every decision on them is about shares (new categories above 0.5% of rows, renamed
    # columns), and the enum rules count offending rows exactly in the full scan.
    sample_rows = _sample_distributions(conn, batch, profiles)
    _sample_value_counts(conn, batch, profiles, _categorical_columns(profiles, contract, reference))

    plan = _plan_scan(conn, batch, contract, profiles)
    results = plan.scan.run(conn, rel)
    row_count = int(results[("rows",)])
    _read_exact_profile(profiles, results, row_count)

    column_violations, column_row_rules = _judge_column_rules(
        conn, rel, plan.rules, results, row_count
    )
    key_violations, key_row_rules = _judge_keys(conn, rel, contract, results)
    violations = [
        *plan.violations,
        *column_violations,
        *key_violations,
        *_judge_table_rules(conn, contract, rel, row_count),
    ]
    row_rules = column_row_rules + key_row_rules

    profile = BatchProfile(
        row_count=row_count, columns=profiles, source=batch.source, sample_rows=sample_rows
    )
    notes: list[str] = []
    if reference is None:
        notes.append(NO_REFERENCE_NOTE)
    else:
        violations.extend(
            _without_values(
                contract,
                semantic_drift.compare(
                    profile, reference, contract, batch, reference_label, violations
                ),
            )
        )
    violations.extend(_unexpected_columns(batch, contract, violations))
    passes = not any(v.severity == "error" for v in violations)
    return Verdict(
        passes, violations, profile, row_count, row_rules, reference_label, "rules", notes
    )


@dataclass(frozen=True)
class _ColumnRule:
    """A column rule compiled into the scan; its failing count is read back under :attr:`key`.

    ``quality`` is None for a strict constraint (the key names the rule) and the ODCS
    quality entry for a metric (the key names its location). ``predicate`` is true where a
    row fails; it is empty for a metric that is not row-level.
    """

    spec: ColumnSpec
    rule: str
    predicate: str
    expectation: str = ""
    quality: QualityRule | None = None

    @property
    def key(self) -> tuple:
        return (
            self.spec.name,
            self.rule if self.quality is None else self.quality.location,
            "fail",
        )


@dataclass
class _Plan:
    """The one aggregate scan of a batch, the column rules to read back from it, and the
    violations found while compiling it (missing and mistyped columns)."""

    scan: _Scan
    rules: list[_ColumnRule] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)


def _plan_scan(conn, batch: Batch, contract: Contract, profiles: dict[str, ColumnProfile]) -> _Plan:
    """Compile the exact part of the profile (rows, non-null counts, min/max) and every
    structural rule of the contract into one aggregate scan."""
    plan = _Plan(_Scan())
    plan.scan.add(("rows",), "count(*)")
    for name, col in profiles.items():
        c = quote_ident(name)
        plan.scan.add((name, "count"), f"count({c})")
        if col.family in NUMERIC_FAMILIES or col.family in ("date", "timestamp", "time"):
            plan.scan.add((name, "min"), f"min({c})")
            plan.scan.add((name, "max"), f"max({c})")
    for spec in contract.columns:
        _plan_column(conn, batch, spec, plan, contract.primary_key)
    key = contract.primary_key
    if len(key) > 1 and all(name in batch.columns for name in key):
        # A composite key: the combination is unique, not each column.
        plan.scan.add((key, "unique", "fail"), _repeats_sql(key, hashed=True))
    return plan


def _plan_column(
    conn, batch: Batch, spec: ColumnSpec, plan: _Plan, primary_key: tuple[str, ...] = ()
) -> None:
    """Add one contract column's rules to the scan, or the reason they cannot run."""
    if spec.name not in batch.columns:
        if spec.required:
            plan.violations.append(
                Violation(
                    spec.name,
                    "required",
                    f"column {spec.name!r} is missing from the batch "
                    f"(it has: {', '.join(batch.columns) or 'no columns'})",
                )
            )
        return
    c = quote_ident(spec.name)
    dtype = batch.columns[spec.name]
    fam = duckdb_family(dtype)
    if spec.logical_type and fam not in COMPATIBLE_FAMILIES.get(spec.logical_type, (fam,)):
        parse = spec.text_parse if fam == "text" else None
        if parse is not None:
            # Text where the contract declares another type: the values that do not parse
            # are counted (with an example) and are the rows the quarantine holds back.
            checked = _ColumnRule(
                spec,
                "logicalType",
                f"{c} IS NOT NULL AND {parse.sql(c)} IS NULL",
                f"{spec.type_words} values",
            )
            plan.scan.add(checked.key, f"count(*) FILTER (WHERE {checked.predicate})")
            plan.rules.append(checked)
        else:
            plan.violations.append(
                Violation(
                    spec.name,
                    "logicalType",
                    _scrubbed(
                        spec,
                        semantic_drift.describe_type_mismatch(conn, batch.relation, spec, dtype),
                    ),
                )
            )
        # Value rules on a column of the wrong type would only repeat the type error.
        return
    tolerates_nulls = any(q.metric in ("nullValues", "missingValues") for q in spec.quality)
    for rule, predicate, expectation in _constraint_rules(spec, c, fam, tolerates_nulls):
        checked = _ColumnRule(spec, rule, predicate, expectation)
        plan.scan.add(checked.key, f"count(*) FILTER (WHERE {predicate})")
        plan.rules.append(checked)
    if spec.unique or (spec.primary_key and len(primary_key) == 1):
        plan.scan.add((spec.name, "unique", "fail"), _repeats_sql((spec.name,), hashed=True))
    for q in spec.quality:
        checked = _ColumnRule(spec, q.metric or "sql", _metric_predicate(q, c) or "", quality=q)
        if checked.predicate:
            plan.scan.add(checked.key, f"count(*) FILTER (WHERE {checked.predicate})")
        elif q.metric == "duplicateValues":
            plan.scan.add(checked.key, _repeats_sql((spec.name,), hashed=True))
        plan.rules.append(checked)


def _repeats_sql(names: tuple[str, ...], hashed: bool) -> str:
    """Rows whose key (one column or several, all non-null) repeats an earlier row's.

    ``hashed`` counts distinct 64-bit hashes instead of distinct values: the main scan's
    largest memory cost halves (a hash instead of the value per key). Hashes can only
    merge keys, never split them, so a hashed count of 0 is exact; any other count is
    recounted exactly (:func:`_exact_repeats`) before it is reported.
    """
    cols = [quote_ident(n) for n in names]
    present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
    key = (
        f"hash({', '.join(cols)})"
        if hashed
        else (
            cols[0]
            if len(cols) == 1
            else "struct_pack(" + ", ".join(f"{c} := {c}" for c in cols) + ")"
        )
    )
    return f"count(*) FILTER (WHERE {present}) - count(DISTINCT {key}) FILTER (WHERE {present})"


def _exact_repeats(conn, relation: str, names: tuple[str, ...], hashed_count: int) -> int:
    """The exact count behind a hashed count of repeats (see :func:`_repeats_sql`)."""
    if not hashed_count:
        return 0
    (exact,) = fetch_row(conn, f"SELECT {_repeats_sql(names, hashed=False)} FROM {relation}")
    return int(exact)


def _read_exact_profile(
    profiles: dict[str, ColumnProfile], results: dict[tuple, Any], row_count: int
) -> None:
    """Fill the exact part of the profiles from the scan's results."""
    for name, col in profiles.items():
        col.count = int(results[(name, "count")])
        col.nulls = row_count - col.count
        col.null_rate = round(col.nulls / row_count, 6) if row_count else 0.0
        col.min = jsonable(results.get((name, "min")))
        col.max = jsonable(results.get((name, "max")))


def _judge_column_rules(
    conn, rel: str, rules: list[_ColumnRule], results: dict[tuple, Any], row_count: int
) -> tuple[list[Violation], list[RowRule]]:
    """Violations of the column rules, and the row rules the quarantine applies."""
    violations: list[Violation] = []
    row_rules: list[RowRule] = []
    for checked in rules:
        spec, rule, predicate, q = checked.spec, checked.rule, checked.predicate, checked.quality
        failing = int(results[checked.key])
        if q is None:
            if rule == "logicalType":
                non_null = int(results[(spec.name, "count")])
                violations.append(
                    _text_type_violation(conn, rel, spec, checked, failing, row_count, non_null)
                )
                if failing:
                    row_rules.append(RowRule(spec.name, rule, predicate, "error"))
            elif failing:
                example = _shown(spec, _first_failing_value(conn, rel, spec.name, predicate))
                detail = (
                    f"{failing} of {row_count} rows break {rule}: expected {checked.expectation}"
                    + ("" if rule == "required" else f", e.g. {example}")
                )
                violations.append(Violation(spec.name, rule, detail, failing_rows=failing))
                row_rules.append(RowRule(spec.name, rule, predicate, "error"))
            continue
        if q.metric == "duplicateValues":
            failing = _exact_repeats(conn, rel, (spec.name,), failing)
        value = (
            _first_failing_value(conn, rel, spec.name, predicate) if failing and predicate else None
        )
        example = None if value is None else _shown(spec, value)
        violation = _metric_violation(q, failing, example, spec.name, row_count)
        if violation:
            violations.append(violation)
        # A null in an optional column is allowed, so it does not make the row a failing row.
        if predicate and (spec.required or q.metric == "invalidValues"):
            row_rules.append(RowRule(spec.name, q.metric or "quality", predicate, q.severity))
    return violations, row_rules


def _text_type_violation(
    conn,
    rel: str,
    spec: ColumnSpec,
    checked: _ColumnRule,
    failing: int,
    row_count: int,
    non_null: int,
) -> Violation:
    """A text column whose contract declares another type: the values that do not parse
    (count and an example), or, when every value parses, why the column is text at all."""
    why = _scrubbed(spec, semantic_drift.describe_type_mismatch(conn, rel, spec, "VARCHAR"))
    if not failing:
        return Violation(spec.name, "logicalType", why)
    example = _shown(spec, _first_failing_value(conn, rel, spec.name, checked.predicate))
    # The diagnosis helps where the values are a known encoding of the type (Yes/No flags).
    hint = why.split(": ", 1)[1] if "booleans sent as" in why and failing == non_null else ""
    detail = (
        f"{failing} of {row_count} rows do not parse as {spec.type_words}, e.g. {example}; the "
        "column is kept as text" + (f" ({hint})" if hint else "")
    )
    return Violation(spec.name, "logicalType", detail, failing_rows=failing)


def _judge_keys(
    conn, rel: str, contract: Contract, results: dict[tuple, Any]
) -> tuple[list[Violation], list[RowRule]]:
    """Violations of ``unique`` and ``primaryKey``, and the row rules that quarantine the
    repeats."""
    violations: list[Violation] = []
    row_rules: list[RowRule] = []
    keys = [
        ((spec.name,), "primaryKey" if spec.primary_key else "unique")
        for spec in contract.columns
        if (spec.name, "unique", "fail") in results
    ]
    if (contract.primary_key, "unique", "fail") in results:
        keys.append((contract.primary_key, "primaryKey"))
    for names, rule in keys:
        duplicates = _exact_repeats(
            conn,
            rel,
            names,
            int(results[(names[0] if len(names) == 1 else names, "unique", "fail")]),
        )
        if duplicates:
            label = ", ".join(names)
            what = f"a {label} value" if len(names) == 1 else f"a ({label}) combination"
            violations.append(
                Violation(
                    label,
                    rule,
                    f"{duplicates} rows repeat {what} already in the batch: "
                    f"expected every value once",
                    failing_rows=duplicates,
                )
            )
            row_rules.append(RowRule(label, rule, _duplicate_predicate(names), "error"))
    return violations, row_rules


def _judge_table_rules(conn, contract: Contract, rel: str, row_count: int) -> list[Violation]:
    """Violations of the table's quality rules (``rowCount`` and ``sql``)."""
    names = contract.table_names
    found = (_table_rule_violation(conn, q, rel, row_count, names) for q in contract.quality)
    return [violation for violation in found if violation]


def _unexpected_columns(
    batch: Batch, contract: Contract, violations: list[Violation]
) -> list[Violation]:
    """Warnings for delivered columns the contract does not declare, except those already
    reported as a contract column renamed upstream."""
    renamed = {semantic_drift.renamed_from(v) for v in violations if v.rule == "renamed_column"}
    return [
        Violation(
            name,
            "unexpected_column",
            f"column {name!r} is not in the contract {contract.id} "
            f"{contract.version}; it is kept but not checked",
            severity="warning",
        )
        for name in batch.columns
        if contract.column(name) is None and name not in renamed
    ]


def _duplicate_predicate(names: tuple[str, ...]) -> str:
    """True for every occurrence of a key (one column or several) after its first (by row
    position)."""
    cols = [quote_ident(n) for n in names]
    present = " AND ".join(f"{c} IS NOT NULL" for c in cols)
    return f"({present} AND row_number() OVER (PARTITION BY {', '.join(cols)} ORDER BY __row) > 1)"


def _measured(q: QualityRule, failing: float, row_count: int) -> float:
    if q.unit == "percent":
        return round(100.0 * failing / row_count, 4) if row_count else 0.0
    return failing


def _first_failing_value(conn, relation: str, column: str, predicate: str) -> Any:
    """An example value for a broken rule. Asked only for rules that failed, so a passing
    batch pays nothing for examples (a FILTER per example would evaluate every predicate
    twice in the main scan)."""
    row = fetch_row(conn, f"SELECT {quote_ident(column)} FROM {relation} WHERE {predicate} LIMIT 1")
    return None if row is None else row[0]


def _metric_violation(
    q: QualityRule, failing: int, example: str | None, column: str, row_count: int
) -> Violation | None:
    value = _measured(q, failing, row_count)
    if q.holds(value):
        return None
    unit = "%" if q.unit == "percent" else " rows"
    detail = (
        f"{q.metric} is {value}{unit} ({failing} of {row_count} rows); "
        f"the contract requires {q.expectation()}"
    )
    if example is not None:
        detail += f", e.g. {example}"
    if q.metric == "invalidValues" and q.arguments.get("validValues"):
        detail += f"; valid: {', '.join(map(str, q.arguments['validValues'][:8]))}"
    return Violation(column, q.metric or "quality", detail, q.severity, failing_rows=failing)


def _table_rule_violation(
    conn, q: QualityRule, rel: str, row_count: int, table_names: tuple[str, ...] = ()
) -> Violation | None:
    if q.metric == "rowCount":
        if q.holds(row_count):
            return None
        return Violation(
            None,
            "rowCount",
            f"the batch has {row_count} rows; the contract requires {q.expectation()}",
            q.severity,
        )
    if q.kind == "sql":
        result = sql_rules.run_rule(
            conn, rel, q.query or "", column=q.column, table_names=table_names
        )
        if result.error is not None:
            # A rule that was refused or could not run never passes the batch.
            return Violation(
                None,
                "sql",
                f"{q.location}: the SQL rule {result.error}; query: {q.query}",
                "error" if result.error.startswith("refused") else q.severity,
            )
        assert result.value is not None
        if q.holds(result.value):
            return None
        label = q.description or q.query
        shown = int(result.value) if result.value.is_integer() else result.value
        return Violation(
            None,
            "sql",
            f"{label}: the query returned {shown}; the contract requires {q.expectation()}",
            q.severity,
        )
    return None


def _sample_distributions(conn, batch: Batch, profiles: dict[str, ColumnProfile]) -> int:
    """Fill the sampled part of the profiles; returns how many rows the sample had."""
    sql, keys = sample_profile_sql(batch.relation, batch.columns, batch.row_count)
    if not sql:
        return 0
    apply_sample(profiles, keys, fetch_row(conn, sql))
    return min(batch.row_count, SAMPLE_ROWS)


def _sample_value_counts(
    conn, batch: Batch, profiles: dict[str, ColumnProfile], names: set[str]
) -> None:
    if not names:
        return
    ordered = sorted(names)
    hists = ", ".join(f"histogram(CAST({quote_ident(n)} AS VARCHAR))" for n in ordered)
    row = fetch_row(conn, f"SELECT {hists} FROM ({sample_sql(batch.relation, batch.row_count)})")
    for name, hist in zip(ordered, row, strict=True):
        profiles[name].values = {str(k): int(v) for k, v in (hist or {}).items()}
        profiles[name].distinct = len(profiles[name].values)


def _categorical_columns(
    profiles: dict[str, ColumnProfile], contract: Contract, reference: BatchProfile | None
) -> set[str]:
    """Text and boolean columns whose exact value counts are worth keeping: few distinct
    values in the sample, an enum in the contract, or categorical in the reference."""
    chosen = set()
    for name, col in profiles.items():
        if col.family not in ("text", "bool"):
            continue
        spec = contract.column(name)
        was_categorical = (
            reference is not None
            and name in reference.columns
            and reference.columns[name].is_categorical
        )
        wanted = (
            col.distinct <= CATEGORICAL_MAX_DISTINCT
            or was_categorical
            or (spec is not None and spec.enum)
        )
        # A column that exploded into thousands of values is not worth a full histogram.
        if wanted and col.distinct <= 4 * CATEGORICAL_MAX_DISTINCT:
            chosen.add(name)
    return chosen

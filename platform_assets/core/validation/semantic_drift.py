"""Semantic drift of a batch against the last accepted batch: what a schema check misses.

A batch can match its schema and still be wrong: amounts in dollars in a cents column,
ISO alpha-3 codes where alpha-2 were agreed, a taxonomy that grew from 12 to 47 values, a
column renamed upstream. These rules compare the batch's profile with the last accepted
batch's profile (and with the contract's own hints) and name the likely cause.

How a *unit change* is told apart from a *natural shift*: a unit change rescales every
value by the same factor, so the 10th, 50th and 90th percentiles all move by one ratio,
and that ratio sits near a conversion factor (10, 12, 60, 100, 1000, 3600, 1e6, or its
inverse). A natural shift moves quantiles by different amounts, or by a factor that is not
a conversion factor, and is reported as a warning, not an error.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence

from platform_assets.core.validation.batch import Batch
from platform_assets.core.validation.contract import ColumnSpec, Contract
from platform_assets.core.validation.profile import NUMERIC_FAMILIES, BatchProfile, ColumnProfile
from platform_assets.core.validation.violations import Violation
from platform_assets.core.warehouse import fetch_one, quote_ident

UNIT_FACTORS = (10, 12, 24, 60, 100, 1000, 3600, 1_000_000)
UNIT_FACTOR_TOLERANCE = 0.06  # in log10 units: within ~15% of the factor
QUANTILE_AGREEMENT = 0.12  # log10 spread allowed between the p10/p50/p90 ratios
SHIFT_WARNING_RATIO = 2.0
NULL_SPIKE_POINTS = 0.10
CATEGORY_NEW_SHARE = 0.005
SHAPE_OVERLAP_MIN = 0.5
RENAME_MIN_SCORE = 0.6


def describe_type_mismatch(conn, relation: str, spec: ColumnSpec, dtype: str) -> str:
    """Explain a column whose delivered type does not fit its logicalType, from its values."""
    c = quote_ident(spec.name)
    expected = spec.logical_type
    base = f"arrived as {dtype}, the contract says {expected}"
    upper = dtype.upper()
    if upper == "VARCHAR" and expected in ("integer", "number"):
        share, example = fetch_one(
            conn,
            f"SELECT avg(CASE WHEN TRY_CAST(trim({c}) AS DOUBLE) IS NOT NULL THEN 1.0 ELSE 0.0 "
            f"END), any_value({c}) FROM {relation} WHERE {c} IS NOT NULL",
        )
        if share is not None and share >= 0.95:
            return (
                f"{base}: {share:.0%} of values are numbers written as text (e.g. "
                f"{example!r}): numbers sent as text"
            )
        return (
            f"{base}: only {0 if share is None else share:.0%} of values parse as numbers "
            f"(e.g. {example!r})"
        )
    if upper == "VARCHAR" and expected == "boolean":
        values = [
            v
            for (v,) in conn.execute(
                f"SELECT DISTINCT {c} FROM {relation} WHERE {c} IS NOT NULL ORDER BY 1 LIMIT 6"
            ).fetchall()
        ]
        tokens = {"y", "n", "yes", "no", "t", "f", "true", "false", "0", "1"}
        if values and all(str(v).strip().lower() in tokens for v in values):
            return (
                f"{base}: values are text flags {values}: booleans sent as "
                f"{'/'.join(map(str, values))}"
            )
        return f"{base}: values such as {values[:3]} are not booleans"
    if expected in ("timestamp", "date") and upper in ("BIGINT", "INTEGER", "HUGEINT", "DOUBLE"):
        lo, hi = fetch_one(conn, f"SELECT min({c}), max({c}) FROM {relation}")
        for unit, scale in (("seconds", 1), ("milliseconds", 1_000), ("microseconds", 1_000_000)):
            if lo is not None and 946684800 * scale <= lo <= hi <= 4102444800 * scale:
                return (
                    f"{base}: values such as {lo} read as Unix epoch {unit}: timestamps sent as "
                    f"epoch integers"
                )
        return f"{base}: values range {lo}..{hi}"
    if (expected == "integer" and upper in ("DOUBLE", "FLOAT")) or upper.startswith("DECIMAL"):
        share, example = fetch_one(
            conn,
            f"SELECT avg(CASE WHEN {c} <> floor({c}) THEN 1.0 ELSE 0.0 END), "
            f"any_value({c}) FILTER (WHERE {c} <> floor({c})) FROM {relation}",
        )
        unit = spec.custom.get("unit")
        hint = (
            f"; the contract's unit is {unit}, so fractional values suggest another unit"
            if unit
            else ""
        )
        if share:
            return (
                f"{base}: {share:.0%} of values are fractional (e.g. {example}), expected "
                f"whole numbers{hint}"
            )
        return f"{base}: values are whole but typed {dtype}"
    if expected in ("timestamp", "date") and upper == "VARCHAR":
        share, example = fetch_one(
            conn,
            f"SELECT avg(CASE WHEN TRY_CAST({c} AS TIMESTAMP) IS NOT NULL THEN 1.0 ELSE 0.0 END), "
            f"any_value({c}) FROM {relation} WHERE {c} IS NOT NULL",
        )
        return (
            f"{base}: {0 if share is None else share:.0%} of values parse as timestamps (e.g. "
            f"{example!r}): dates sent as text"
        )
    return base


def compare(
    profile: BatchProfile,
    reference: BatchProfile,
    contract: Contract,
    batch: Batch,
    reference_label: str | None,
    structural: Sequence[Violation] = (),
) -> list[Violation]:
    """Violations of semantic drift between a batch's profile and the reference profile.

    ``structural`` are the violations the rules already found; a type change that the
    ``logicalType`` rule reported is not reported again.
    """
    mistyped = {v.field for v in structural if v.rule == "logicalType"}
    against = f" (reference: {reference_label})" if reference_label else ""
    violations: list[Violation] = []
    unexpected = [n for n in batch.columns if contract.column(n) is None]
    for spec in contract.columns:
        ref = reference.columns.get(spec.name)
        cur = profile.columns.get(spec.name)
        if cur is None:
            found = _rename_candidate(spec, ref, profile, unexpected)
            if found:
                violations.append(
                    Violation(spec.name, "renamed_column", f"'{found[0]}' {found[1]}{against}")
                )
            continue
        if ref is None:
            continue
        violations.extend(_column_drift(spec, cur, ref, against, spec.name in mistyped))
    ratio = profile.row_count / reference.row_count if reference.row_count else None
    if ratio is not None and (ratio < 0.2 or ratio > 5):
        violations.append(
            Violation(
                None,
                "volume",
                f"the batch has {profile.row_count} rows, the reference "
                f"{reference.row_count} (×{ratio:.2f}){against}",
                "warning",
            )
        )
    return violations


def renamed_from(violation: Violation) -> str | None:
    """The delivered column a ``renamed_column`` violation names (its detail starts with it,
    quoted, as :func:`compare` writes it)."""
    parts = violation.detail.split("'")
    return parts[1] if violation.rule == "renamed_column" and len(parts) > 2 else None


def _column_drift(
    spec: ColumnSpec, cur: ColumnProfile, ref: ColumnProfile, against: str, type_reported: bool
) -> list[Violation]:
    out: list[Violation] = []
    name = spec.name
    if cur.null_rate - ref.null_rate >= NULL_SPIKE_POINTS and cur.null_rate >= 2 * ref.null_rate:
        out.append(
            Violation(
                name,
                "null_spike",
                f"{cur.null_rate:.1%} of values are null, the reference had "
                f"{ref.null_rate:.1%}{against}",
                failing_rows=cur.nulls,
            )
        )
    both_numeric = cur.family in NUMERIC_FAMILIES and ref.family in NUMERIC_FAMILIES
    if cur.family != ref.family and not both_numeric:
        if not type_reported:
            out.append(
                Violation(
                    name,
                    "type_change",
                    f"values arrive as {cur.duckdb_type}, the reference batch "
                    f"had {ref.duckdb_type}{against}",
                )
            )
        return out
    if both_numeric:
        out.extend(_scale_drift(spec, cur, ref, against))
    elif cur.family == "text":
        shape_change = _shape_drift(name, cur, ref, against)
        out.extend(shape_change)
        if not shape_change and not spec.enum:
            out.extend(_category_drift(name, cur, ref, against))
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b


def _scale_drift(
    spec: ColumnSpec, cur: ColumnProfile, ref: ColumnProfile, against: str
) -> list[Violation]:
    ratios = [_ratio(cur.p10, ref.p10), _ratio(cur.p50, ref.p50), _ratio(cur.p90, ref.p90)]
    logs = [math.log10(r) for r in ratios if r is not None]
    if len(logs) < len(ratios):
        return []
    median_log = logs[1]
    if abs(median_log) < math.log10(SHIFT_WARNING_RATIO):
        return []
    consistent = max(logs) - min(logs) <= QUANTILE_AGREEMENT
    factor = min(UNIT_FACTORS, key=lambda f: abs(abs(median_log) - math.log10(f)))
    near_factor = abs(abs(median_log) - math.log10(factor)) <= UNIT_FACTOR_TOLERANCE
    direction = "1/" if median_log < 0 else "×"
    shown = f"{direction}{factor}" if near_factor else f"×{ratios[1]:.3g}"
    summary = f"median {cur.p50:.6g} vs {ref.p50:.6g}, p90 {cur.p90:.6g} vs {ref.p90:.6g}"
    if consistent and near_factor:
        unit = spec.custom.get("unit")
        fractional = ""
        if (ref.fractional_share or 0) < 0.01 and (cur.fractional_share or 0) > 0.5:
            fractional = f"; {cur.fractional_share:.0%} of values are now fractional, none were"
        hint = (
            f" The contract's unit is {unit}: the feed has probably changed unit." if unit else ""
        )
        return [
            Violation(
                spec.name,
                "unit_change",
                f"every value is about {shown} of the reference ({summary}){fractional}: a unit or "
                f"scale change, not a natural shift.{hint}{against}",
            )
        ]
    return [
        Violation(
            spec.name,
            "distribution_shift",
            f"values moved by {shown} ({summary}), unevenly across quantiles or not by a unit "
            f"factor: a natural shift, worth a look{against}",
            "warning",
        )
    ]


def _overlap(a: dict[str, float], b: dict[str, float]) -> float:
    return sum(min(a.get(k, 0.0), v) for k, v in b.items())


def _top(mapping: dict, n: int = 3) -> list:
    return [k for k, _ in sorted(mapping.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def _shape_drift(
    name: str, cur: ColumnProfile, ref: ColumnProfile, against: str
) -> list[Violation]:
    if not cur.shapes or not ref.shapes:
        return []
    overlap = _overlap(cur.shapes, ref.shapes)
    fixed_width = ref.min_length is not None and ref.min_length == ref.max_length
    width_changed = fixed_width and (cur.min_length, cur.max_length) != (
        ref.min_length,
        ref.max_length,
    )
    cur_min, cur_max, ref_min, ref_max = (
        cur.min_length,
        cur.max_length,
        ref.min_length,
        ref.max_length,
    )
    disjoint = (
        cur_min is not None
        and cur_max is not None
        and ref_min is not None
        and ref_max is not None
        and (cur_min > ref_max or cur_max < ref_min)
    )
    if overlap >= SHAPE_OVERLAP_MIN and not width_changed and not disjoint:
        return []
    examples_now = f" (e.g. {', '.join(map(repr, _top(cur.values)))})" if cur.values else ""
    examples_ref = f" (e.g. {', '.join(map(repr, _top(ref.values)))})" if ref.values else ""
    ref_form = f"{_describe_shape(_top(ref.shapes, 1)[0])}, {_lengths(ref)}"
    cur_form = f"{_describe_shape(_top(cur.shapes, 1)[0])}, {_lengths(cur)}"
    return [
        Violation(
            name,
            "format_change",
            f"values changed form: the reference had {ref_form}{examples_ref}, this batch has "
            f"{cur_form}{examples_now}: a different code standard or format{against}",
        )
    ]


def _describe_shape(shape: str) -> str:
    words = {"A": "capital letters", "a": "small letters", "9": "digits", "_": "symbols"}
    return " + ".join(words[ch] for ch in shape) or "empty strings"


def _lengths(col: ColumnProfile) -> str:
    if col.min_length == col.max_length:
        return f"{col.min_length} characters"
    return f"{col.min_length}-{col.max_length} characters"


def _category_drift(
    name: str, cur: ColumnProfile, ref: ColumnProfile, against: str
) -> list[Violation]:
    if cur.values is None or ref.values is None:
        return []
    new = {v: n for v, n in cur.values.items() if v not in ref.values}
    total = sum(cur.values.values()) or 1
    share = sum(new.values()) / total
    if not new or share < CATEGORY_NEW_SHARE:
        return []
    return [
        Violation(
            name,
            "category_set",
            f"{len(cur.values)} distinct values, the reference had {len(ref.values)}: {len(new)} "
            f"new (e.g. {', '.join(map(repr, _top(new, 4)))}) on {share:.1%} of rows{against}",
            failing_rows=sum(new.values()),
        )
    ]


def _rename_candidate(
    spec: ColumnSpec, ref: ColumnProfile | None, profile: BatchProfile, unexpected: list[str]
) -> tuple[str, str] | None:
    """The delivered column that most likely is ``spec`` under a new name, with the evidence."""
    best: tuple[float, str, str] | None = None
    for name in unexpected:
        cand = profile.columns[name]
        score, evidence = 0.0, []
        similarity = difflib.SequenceMatcher(None, spec.name.lower(), name.lower()).ratio()
        if similarity >= 0.5:
            score += 0.3 * similarity
            evidence.append(f"a similar name ({similarity:.0%})")
        if ref is not None:
            if cand.family == ref.family:
                score += 0.2
            if cand.values is not None and ref.values:
                total = sum(cand.values.values()) or 1
                share = sum(n for v, n in cand.values.items() if v in ref.values) / total
                score += 0.6 * share
                evidence.append(f"{share:.0%} of its values are reference values of {spec.name}")
            elif cand.family in NUMERIC_FAMILIES and ref.family in NUMERIC_FAMILIES:
                r = _ratio(cand.p50, ref.p50)
                if r is not None and abs(math.log10(r)) < 0.2:
                    score += 0.5
                    evidence.append(
                        f"the same distribution (median {cand.p50:.6g} vs {ref.p50:.6g})"
                    )
            elif cand.shapes and ref.shapes:
                overlap = _overlap(cand.shapes, ref.shapes)
                score += 0.5 * overlap
                evidence.append(f"{overlap:.0%} of its values have the reference's shapes")
        elif spec.enum and cand.values is not None:
            allowed = {str(v) for v in spec.enum}
            total = sum(cand.values.values()) or 1
            share = sum(n for v, n in cand.values.items() if v in allowed) / total
            score += 0.6 * share
            evidence.append(f"{share:.0%} of its values are in the contract's enum")
        if score >= RENAME_MIN_SCORE and (best is None or score > best[0]):
            best = (score, name, ", ".join(evidence))
    if best is None:
        return None
    return best[1], (
        f"(not in the contract) looks like {spec.name!r} renamed: {best[2]}. Map it back at the "
        f"source, or update the contract"
    )

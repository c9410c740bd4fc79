"""Why the features drifted: the drifted features with their effect sizes, and the upstream
evidence the platform already holds for the same days, ranked by rules.

Evidence, from the warehouse and from what the Dagster layer passes in:

- ``contract`` (from ``platform.batch_verdicts``): a contract error, or a semantic-drift warning
  (unit change, distribution shift, new categories)
- ``quarantine`` (from ``quarantine.rows``): rows quarantined on a day
- ``arrival`` (from ``platform.batch_manifest``): a column that arrived differently than the day
  before (new, missing, another type, another source)
- ``source_config`` (from the ingestion run's config, per day): the source or its settings changed
- ``promotion`` (from the registry's alias history): a model version promoted in between

Ranking: evidence about a source column of a drifted feature comes first, then evidence on
the drifted days themselves, then by kind (contract, arrival, source change, quarantine,
promotion), earliest day first. The headline names the biggest effect and the first piece
of evidence about its source columns: "amount_usd moved ×3 (median) from 2026-03-02, the day
the contract check warned about distribution_shift in amount_cents".

Claude (with a key) may write a narrative from these facts; it is kept apart, marked as
drafted, and the facts are never changed (:mod:`.explanation_llm`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from typing import cast

import duckdb
import pandas as pd

from platform_assets.core.features.transactions import FEATURE_SOURCE_COLUMNS

KIND_WEIGHT = {"contract": 5, "arrival": 4, "source_config": 3, "quarantine": 2, "promotion": 1}
LOOKBACK_DAYS = (
    7  # evidence from the week before the drifted window: a shift may have started earlier
)


@dataclass
class Effect:
    """How far one drifted feature moved. Numeric: the ratio of medians (current/reference)
    and the standardized mean difference; categorical: the total variation distance and the
    share of current rows in categories the reference never had."""

    feature: str
    kind: str  # numeric | categorical
    score: float  # Evidently's drift score for the column
    median_ratio: float | None = None
    standardized_mean_difference: float | None = None
    total_variation: float | None = None
    new_category_share: float | None = None
    new_categories: list[str] = field(default_factory=list)

    @property
    def size(self) -> float:
        """One comparable magnitude: |log10 median ratio|, |SMD| / 3, or the TV distance."""
        sizes = [abs(self.standardized_mean_difference or 0.0) / 3.0, self.total_variation or 0.0]
        if self.median_ratio and self.median_ratio > 0:
            sizes.append(abs(math.log10(self.median_ratio)))
        return max(sizes)

    def describe(self) -> str:
        if self.kind == "numeric":
            parts = []
            if self.median_ratio is not None:
                parts.append(f"median ×{self.median_ratio:.3g}")
            if self.standardized_mean_difference is not None:
                parts.append(f"mean moved {self.standardized_mean_difference:+.2f} reference SDs")
            return f"{self.feature}: " + (", ".join(parts) or "moved")
        new = (
            f", {self.new_category_share:.0%} of rows in {len(self.new_categories)} new categories "
            f"({', '.join(self.new_categories[:3])}{'…' if len(self.new_categories) > 3 else ''})"
            if self.new_categories
            else ""
        )
        return (
            f"{self.feature}: distribution moved by {self.total_variation:.2f} (total "
            f"variation){new}"
        )


@dataclass
class Evidence:
    kind: str
    day: str | None
    detail: str
    column: str | None = None
    severity: str | None = None
    related_features: list[str] = field(default_factory=list)
    rank_score: float = 0.0

    def line(self) -> str:
        day = f"{self.day}: " if self.day else ""
        about = f" (source of {', '.join(self.related_features)})" if self.related_features else ""
        return f"[{self.kind}] {day}{self.detail}{about}"


@dataclass
class DriftExplanation:
    window: tuple[str, str]
    drift_share: float
    effects: list[Effect]
    evidence: list[Evidence]
    headline: str
    narrative: str | None = None
    narrative_drafted_by: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self, evidence_lines: int = 3) -> str:
        """A few lines for an alert or a run tag: the headline, then the top evidence."""
        lines = [self.headline] + [f"- {e.line()}" for e in self.evidence[:evidence_lines]]
        return "\n".join(lines)

    def markdown(self) -> str:
        lines = [
            f"**{self.headline}**",
            "",
            "| drifted feature | effect | drift score |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {e.feature} | {e.describe().split(': ', 1)[1]} | {e.score:.3f} |"
            for e in self.effects
        ]
        lines += ["", "Upstream evidence, ranked:", ""]
        lines += [f"{i}. {e.line()}" for i, e in enumerate(self.evidence, 1)] or ["_none found_"]
        if self.narrative:
            lines += [
                "",
                f"_Drafted by {self.narrative_drafted_by}, not verified:_ {self.narrative}",
            ]
        return "\n".join(lines)


# --- effect sizes ---------------------------------------------------------------------------


def effect_sizes(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: dict[str, dict],
    categorical: tuple[str, ...],
) -> list[Effect]:
    """Effects of the drifted columns (``columns``: Evidently's per-column results), largest
    first."""
    effects = []
    for name, result in columns.items():
        if not result.get("drifted") or name not in reference or name not in current:
            continue
        ref, cur = cast(pd.Series, reference[name]), cast(pd.Series, current[name])  # columns
        if name in categorical:
            effects.append(_categorical_effect(name, result["score"], ref, cur))
        else:
            effects.append(_numeric_effect(name, result["score"], ref, cur))
    return sorted(effects, key=lambda e: e.size, reverse=True)


def _numeric_effect(name: str, score: float, ref: pd.Series, cur: pd.Series) -> Effect:
    ref = cast(pd.Series, pd.to_numeric(ref, errors="coerce")).dropna().astype(float)
    cur = cast(pd.Series, pd.to_numeric(cur, errors="coerce")).dropna().astype(float)
    ratio = None
    if len(ref) and len(cur) and ref.median() > 0 and cur.median() > 0:
        ratio = float(cur.median() / ref.median())
    smd = None
    if len(ref) > 1 and len(cur) and ref.std() > 0:
        smd = float((cur.mean() - ref.mean()) / ref.std())
    return Effect(
        name, "numeric", float(score), median_ratio=ratio, standardized_mean_difference=smd
    )


def _categorical_effect(name: str, score: float, ref: pd.Series, cur: pd.Series) -> Effect:
    ref_share = ref.astype(str).value_counts(normalize=True)
    cur_share = cur.astype(str).value_counts(normalize=True)
    ref_d, cur_d = ref_share.to_dict(), cur_share.to_dict()
    keys = set(ref_d) | set(cur_d)
    tv = 0.5 * sum(abs(cur_d.get(k, 0.0) - ref_d.get(k, 0.0)) for k in keys)
    new = sorted((str(k) for k in set(cur_d) - set(ref_d)), key=lambda k: -cur_d[k])
    return Effect(
        name,
        "categorical",
        float(score),
        total_variation=float(tv),
        new_category_share=float(cur_share[new].sum()) if new else 0.0,
        new_categories=list(new),
    )


# --- evidence ---------------------------------------------------------------------------------


def _days(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _has_table(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )


def contract_evidence(
    conn: duckdb.DuckDBPyConnection, table: str, days: list[str]
) -> list[Evidence]:
    """Contract errors and semantic-drift warnings of the days' verdicts."""
    if not _has_table(conn, "platform", "batch_verdicts"):
        return []
    rows = conn.execute(
        "SELECT partition_key, passes, violations FROM platform.batch_verdicts "
        "WHERE table_name = ? AND list_contains(?, partition_key) ORDER BY partition_key",
        [table, days],
    ).fetchall()
    found = []
    for day, _passes, violations in rows:
        for v in json.loads(violations):
            verb = "warned about" if v.get("severity") == "warning" else "failed on"
            found.append(
                Evidence(
                    "contract",
                    day,
                    f"the contract check {verb} {v['rule']} in "
                    f"{v.get('field') or '(table)'}: {_short(v.get('detail', ''))}",
                    column=v.get("field"),
                    severity=v.get("severity"),
                )
            )
    return found


def quarantine_evidence(
    conn: duckdb.DuckDBPyConnection, table: str, days: list[str]
) -> list[Evidence]:
    if not _has_table(conn, "quarantine", "rows"):
        return []
    rows = conn.execute(
        "SELECT partition_key, count(*) FROM quarantine.rows WHERE table_name = ? "
        "AND list_contains(?, partition_key) GROUP BY 1 ORDER BY 1",
        [table, days],
    ).fetchall()
    return [
        Evidence("quarantine", day, f"{count} rows quarantined") for day, count in rows if count
    ]


def arrival_evidence(
    conn: duckdb.DuckDBPyConnection, table: str, days: list[str]
) -> list[Evidence]:
    """Columns that arrived differently from the day before (``platform.batch_manifest``)."""
    if not _has_table(conn, "platform", "batch_manifest") or not days:
        return []
    before = (dt.date.fromisoformat(days[0]) - dt.timedelta(days=1)).isoformat()
    rows = conn.execute(
        "SELECT partition_key, columns, source FROM platform.batch_manifest WHERE table_name = ? "
        "AND list_contains(?, partition_key) ORDER BY partition_key",
        [table, [before, *days]],
    ).fetchall()
    found = []
    previous = None
    for day, columns, source in rows:
        arrived = {c["name"]: c for c in json.loads(columns)}
        if previous is not None and day in days:
            prev_day, prev_cols, prev_source = previous
            for name in sorted(set(arrived) - set(prev_cols)):
                found.append(
                    Evidence(
                        "arrival", day, f"column {name} arrived, absent on {prev_day}", column=name
                    )
                )
            for name in sorted(set(prev_cols) - set(arrived)):
                found.append(
                    Evidence(
                        "arrival",
                        day,
                        f"column {name} did not arrive (present on {prev_day})",
                        column=name,
                    )
                )
            for name in sorted(set(arrived) & set(prev_cols)):
                a, b = arrived[name], prev_cols[name]
                if (a.get("arrow_type"), a.get("stored_as")) != (
                    b.get("arrow_type"),
                    b.get("stored_as"),
                ):
                    found.append(
                        Evidence(
                            "arrival",
                            day,
                            f"column {name} arrived as {a.get('arrow_type')} "
                            f"(stored as {a.get('stored_as')}), was {b.get('arrow_type')} on "
                            f"{prev_day}",
                            column=name,
                        )
                    )
            if source != prev_source:
                found.append(
                    Evidence("arrival", day, f"the batch came from {source!r}, not {prev_source!r}")
                )
        previous = (day, arrived, source)
    return found


def source_config_evidence(configs: dict[str, dict], days: list[str]) -> list[Evidence]:
    """Days whose ingestion config differs from the previous known day's (``configs``: day →
    the settings the source ran with, as the Dagster layer read them from the runs)."""
    found = []
    known = sorted(configs)
    for i, day in enumerate(known):
        if i == 0 or day not in days:
            continue
        now, then = configs[day], configs[known[i - 1]]
        for key in sorted(set(now) | set(then)):
            old, new = then.get(key), now.get(key)
            if old == new:
                continue
            if isinstance(old, dict | None) and isinstance(new, dict | None):
                # a per-column setting (null rates, renames): one piece of evidence per column
                old, new = old or {}, new or {}
                for column in sorted(set(old) | set(new)):
                    if old.get(column) != new.get(column):
                        found.append(
                            Evidence(
                                "source_config",
                                day,
                                f"ingestion setting {key}[{column}] changed "
                                f"from {old.get(column)!r} to {new.get(column)!r}",
                                column=column,
                            )
                        )
                continue
            found.append(
                Evidence(
                    "source_config",
                    day,
                    f"ingestion setting {key} changed from {old!r} to {new!r}",
                    column=_config_column(key),
                )
            )
    return found


def _config_column(key: str) -> str | None:
    # The bundled source's settings name the column they change.
    return {
        "amount_unit": "amount_cents",
        "amount_scale": "amount_cents",
        "country_codes": "user_country",
        "category_count": "merchant_category",
    }.get(key)


def promotion_evidence(history: list[dict], since: str | None) -> list[Evidence]:
    """Champion promotions and rollbacks at or after ``since`` (an ISO date)."""
    found = []
    for entry in history:
        if entry.get("alias") != "champion" or entry.get("event") not in ("promote", "rollback"):
            continue
        day = str(entry.get("at", ""))[:10] or None
        if since and day and day < since:
            continue
        found.append(
            Evidence(
                "promotion",
                day,
                f"model v{entry.get('to')} became champion ({entry['event']} "
                f"from v{entry.get('from')}, by {entry.get('actor')})",
            )
        )
    return found


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- ranking and the headline -------------------------------------------------------------------


def rank(evidence: list[Evidence], effects: list[Effect], window_days: list[str]) -> list[Evidence]:
    """Score and sort the evidence (see the module docstring), most telling first."""
    drifted = [e.feature for e in effects]
    for item in evidence:
        item.related_features = [
            f for f in drifted if item.column and item.column in FEATURE_SOURCE_COLUMNS.get(f, ())
        ]
        item.rank_score = (
            KIND_WEIGHT.get(item.kind, 0)
            + (10 if item.related_features else 0)
            + (3 if item.day in window_days else 0)
            + (1 if item.severity == "error" else 0)
        )
    return sorted(evidence, key=lambda e: (-e.rank_score, e.day or "", e.detail))


def headline(effects: list[Effect], evidence: list[Evidence], window: tuple[str, str]) -> str:
    if not effects:
        return f"no feature drifted in {window[0]} .. {window[1]}"
    top = effects[0]
    moved = (
        f"moved ×{top.median_ratio:.3g} (median)"
        if top.median_ratio and abs(math.log10(top.median_ratio)) > 0.05
        else top.describe().split(": ", 1)[1]
    )
    related = [e for e in evidence if top.feature in e.related_features]
    start = min((e.day for e in related if e.day), default=window[0])
    text = f"{top.feature} {moved} from {start}"
    if related:
        first = min(related, key=lambda e: (e.day or "", -e.rank_score))
        text += f", the day {_clause(first)}"
    others = len(effects) - 1
    return text + (f"; {others} more feature(s) drifted" if others else "")


def _clause(evidence: Evidence) -> str:
    if evidence.kind == "contract":
        return evidence.detail.split(": ", 1)[0]
    return evidence.detail[0].lower() + evidence.detail[1:] if evidence.detail else evidence.kind


def explain(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    drift_columns: dict[str, dict],
    drift_share: float,
    window: tuple[str, str],
    conn: duckdb.DuckDBPyConnection,
    *,
    table: str,
    categorical: tuple[str, ...],
    source_configs: dict[str, dict] | None = None,
    registry_history: list[dict] | None = None,
    reference_end: str | None = None,
) -> DriftExplanation:
    """The explanation of a drift result (see the module docstring).

    Args:
        drift_columns: Evidently's per-column results (``DriftResult.columns``).
        window: the current window's first and last day (ISO).
        source_configs: the ingestion settings per day, as the runs recorded them.
        registry_history: the registry's alias history (promotions in between).
        reference_end: the last day of the champion's training data: promotions after it count.
    """
    effects = effect_sizes(reference, current, drift_columns, categorical)
    first, last = dt.date.fromisoformat(window[0]), dt.date.fromisoformat(window[1])
    days = _days(first - dt.timedelta(days=LOOKBACK_DAYS), last)
    window_days = _days(first, last)
    evidence = (
        contract_evidence(conn, table, days)
        + arrival_evidence(conn, table, days)
        + source_config_evidence(source_configs or {}, days)
        + quarantine_evidence(conn, table, days)
        + promotion_evidence(registry_history or [], reference_end or days[0])
    )
    ranked = rank(evidence, effects, window_days)
    return DriftExplanation(
        window=window,
        drift_share=drift_share,
        effects=effects,
        evidence=ranked,
        headline=headline(effects, ranked, window),
    )

"""Column profiles: what a batch looks like, stored for the accepted batch as the next reference.

A profile is built from at most three passes over the batch, whatever its size:

1. a fixed-size hashed sample (about ``SAMPLE_ROWS`` rows) gives the shape of the
   distribution: quantiles, the share of fractional values, string shapes, how many text
   values parse as numbers, booleans or epoch times, distinct-count estimates, and the
   value counts of low-cardinality columns (every decision on those is about shares);
2. the engine's single aggregate scan, shared with the structural rules, gives exact row
   and null counts and min/max.

Profiles are plain JSON-able dicts so they can be stored in DuckDB and sent (redacted) to
an LLM.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from platform_assets.core.warehouse import duckdb_family, quote_ident

SAMPLE_ROWS = 20_000
CATEGORICAL_MAX_DISTINCT = 64
TOP_SHAPES = 5
BOOLEAN_TOKENS = ("y", "n", "yes", "no", "t", "f", "true", "false", "0", "1")
NUMERIC_FAMILIES = ("bigint", "double", "decimal")


@dataclass
class ColumnProfile:
    name: str
    duckdb_type: str
    family: str
    count: int = 0  # non-null values
    nulls: int = 0
    null_rate: float = 0.0
    distinct: int = 0  # in the sample: an estimate, or len(values) for categorical columns
    min: Any = None
    max: Any = None
    # from the sample
    p10: float | None = None
    p50: float | None = None
    p90: float | None = None
    mean: float | None = None
    fractional_share: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    shapes: dict[str, float] = field(default_factory=dict)
    numeric_text_share: float | None = None
    boolean_token_share: float | None = None
    epoch_share: float | None = None
    # value counts in the sample (low-cardinality columns only)
    values: dict[str, int] | None = None

    @property
    def is_categorical(self) -> bool:
        return self.values is not None


@dataclass
class BatchProfile:
    row_count: int
    columns: dict[str, ColumnProfile]
    source: str = ""
    sample_rows: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "row_count": self.row_count,
            "source": self.source,
            "sample_rows": self.sample_rows,
            "columns": {name: asdict(col) for name, col in self.columns.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchProfile:
        return cls(
            row_count=data["row_count"],
            source=data.get("source", ""),
            sample_rows=data.get("sample_rows", 0),
            columns={name: ColumnProfile(**col) for name, col in data["columns"].items()},
        )


def shape_expression(column_sql: str) -> str:
    """SQL giving a value's character classes: A capital, a small, 9 digit, _ other.

    'US' -> 'A', 'tx_20261101_00000001' -> 'a9_', 'd_3fa9c1' -> 'a9_'. Classes, not
    per-character shapes: a hex id or a category name would otherwise have hundreds of
    shapes and every batch would look new. Width changes are seen through the lengths.
    """
    v = f"CAST({column_sql} AS VARCHAR)"
    return (
        "concat("
        f"CASE WHEN regexp_matches({v}, '[A-Z]') THEN 'A' ELSE '' END, "
        f"CASE WHEN regexp_matches({v}, '[a-z]') THEN 'a' ELSE '' END, "
        f"CASE WHEN regexp_matches({v}, '[0-9]') THEN '9' ELSE '' END, "
        f"CASE WHEN regexp_matches({v}, '[^A-Za-z0-9]') THEN '_' ELSE '' END)"
    )


def sample_profile_sql(
    relation: str, columns: dict[str, str], row_count: int
) -> tuple[str, list[tuple[str, str]]]:
    """One query over a seeded reservoir sample; returns SQL and (column, stat) per output."""
    parts: list[str] = []
    keys: list[tuple[str, str]] = []

    def add(column: str, stat: str, expr: str) -> None:
        parts.append(expr)
        keys.append((column, stat))

    for name, dtype in columns.items():
        c = quote_ident(name)
        fam = duckdb_family(dtype)
        add(name, "distinct", f"approx_count_distinct({c})")
        if fam in NUMERIC_FAMILIES:
            add(name, "quantiles", f"quantile_cont({c}, [0.1, 0.5, 0.9])")
            add(name, "mean", f"avg({c})")
            add(
                name,
                "fractional_share",
                f"avg(CASE WHEN {c} IS NULL THEN NULL "
                f"WHEN {c} <> floor({c}) THEN 1.0 ELSE 0.0 END)",
            )
            if fam == "bigint":
                add(
                    name,
                    "epoch_share",
                    f"avg(CASE WHEN {c} IS NULL THEN NULL WHEN ({c} BETWEEN 946684800 "
                    f"AND 4102444800) OR ({c} BETWEEN 946684800000 AND 4102444800000) "
                    f"THEN 1.0 ELSE 0.0 END)",
                )
        elif fam == "text":
            add(name, "min_length", f"min(length({c}))")
            add(name, "max_length", f"max(length({c}))")
            add(name, "shapes", f"histogram({shape_expression(c)})")
            add(
                name,
                "numeric_text_share",
                f"avg(CASE WHEN {c} IS NULL THEN NULL WHEN "
                f"TRY_CAST(trim({c}) AS DOUBLE) IS NOT NULL THEN 1.0 ELSE 0.0 END)",
            )
            tokens = ", ".join(f"'{t}'" for t in BOOLEAN_TOKENS)
            add(
                name,
                "boolean_token_share",
                f"avg(CASE WHEN {c} IS NULL THEN NULL WHEN "
                f"lower(trim({c})) IN ({tokens}) THEN 1.0 ELSE 0.0 END)",
            )
    if not parts:
        return "", []
    sql = f"SELECT {', '.join(parts)} FROM ({sample_sql(relation, row_count)})"
    return sql, keys


def sample_sql(relation: str, row_count: int) -> str:
    """A sample of about ``SAMPLE_ROWS`` rows: those whose hashed row number falls in one
    bucket of ``row_count / SAMPLE_ROWS``.

    Deterministic, cheap (a filter on the row number, where a reservoir sample copies every
    column), and, unlike every k-th row, blind to periodic data: a batch that repeats a
    block whose length is a multiple of k would give a systematic sample of one block.
    """
    step = max(1, -(-row_count // SAMPLE_ROWS))
    if step == 1:
        return f"SELECT * FROM {relation}"
    return f"SELECT * FROM {relation} WHERE hash(__row) % {step} = 0"


def apply_sample(
    profiles: dict[str, ColumnProfile], keys: list[tuple[str, str]], row: tuple
) -> None:
    for (name, stat), value in zip(keys, row, strict=True):
        col = profiles[name]
        if stat == "quantiles":
            if value is not None:
                col.p10, col.p50, col.p90 = (float(v) if v is not None else None for v in value)
        elif stat == "shapes":
            if value:
                total = sum(value.values())
                top = sorted(value.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_SHAPES]
                col.shapes = {shape: round(n / total, 4) for shape, n in top}
        elif value is not None:
            setattr(
                col,
                stat,
                int(value) if stat in ("min_length", "max_length", "distinct") else float(value),
            )


def jsonable(value: Any) -> Any:
    """Min/max values as JSON-friendly scalars."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)

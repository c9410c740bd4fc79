"""The one place that opens the DuckDB warehouse, and the tables the platform keeps in it.

Layout of the warehouse (schemas):

- ``raw``: what dlt landed, one table per source table, a ``partition_date`` column.
- ``validated``: rows that passed their contract, typed as the contract says.
- ``quarantine``: rows that failed, as JSON with their reasons, never dropped.
- ``platform``: the platform's own bookkeeping: batch manifests, verdicts, profiles.

DuckDB allows one writer per file. Writers in one process share nothing here: each opens,
works and closes; across processes, Dagster pools serialise them and ``connect`` retries
while another process holds the lock.

DuckDB's type knowledge lives here too: :func:`duckdb_family` maps a column type to its
family (``BIGINT`` -> ``bigint``), for ingestion (type changes) and validation (profiles).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

_LOCK_RETRY_SECONDS = 30.0
_text_tables = itertools.count()

PLATFORM_DDL = """
CREATE SCHEMA IF NOT EXISTS platform;
CREATE SCHEMA IF NOT EXISTS validated;
CREATE SCHEMA IF NOT EXISTS quarantine;
CREATE TABLE IF NOT EXISTS platform.batch_manifest (
    table_name VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    row_count BIGINT NOT NULL,
    columns JSON NOT NULL,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, partition_key)
);
CREATE TABLE IF NOT EXISTS platform.batch_verdicts (
    table_name VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    contract_id VARCHAR NOT NULL,
    contract_version VARCHAR,
    passes BOOLEAN NOT NULL,
    row_count BIGINT NOT NULL,
    violations JSON NOT NULL,
    profile JSON NOT NULL,
    reference_partition VARCHAR,
    decided_by VARCHAR NOT NULL,
    row_rules JSON NOT NULL DEFAULT '[]',
    checked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, partition_key)
);
CREATE TABLE IF NOT EXISTS platform.accepted_profiles (
    table_name VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    profile JSON NOT NULL,
    accepted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, partition_key)
);
CREATE TABLE IF NOT EXISTS quarantine.rows (
    table_name VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    row_number BIGINT NOT NULL,
    row_data JSON NOT NULL,
    reasons JSON NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


def connect(path: str | Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to 30 s while another process holds the write lock."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + _LOCK_RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


@contextmanager
def session(path: str | Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = connect(path, read_only=read_only)
    try:
        if not read_only:
            ensure_platform_tables(conn)
        yield conn
    finally:
        conn.close()


def ensure_platform_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(PLATFORM_DDL)


def fetch_row(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """The first row of a query, with the result drained.

    DuckDB 2.0 keeps a half-read result open and refuses the next query on the connection
    until it is drained, so ``execute(...).fetchone()`` is a trap; use this instead.
    """
    rows = conn.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB SQL (column names come from contracts and files)."""
    return '"' + name.replace('"', '""') + '"'


def table_columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """``{column: duckdb type}`` of a table, empty when it does not exist."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return {name: dtype for name, dtype in rows}


# --- type families ---------------------------------------------------------------------

_DUCKDB_FAMILIES = (
    ("BIGINT", "bigint"), ("INTEGER", "bigint"), ("SMALLINT", "bigint"), ("TINYINT", "bigint"),
    ("HUGEINT", "bigint"), ("UBIGINT", "bigint"), ("UINTEGER", "bigint"),
    ("DOUBLE", "double"), ("FLOAT", "double"), ("REAL", "double"), ("DECIMAL", "decimal"),
    ("VARCHAR", "text"), ("BOOLEAN", "bool"), ("TIMESTAMP", "timestamp"), ("DATE", "date"),
    ("TIME", "time"), ("BLOB", "binary"), ("JSON", "json"),
)


def duckdb_family(type_name: str) -> str:
    """The dlt data-type family of a DuckDB column type (``BIGINT`` -> ``bigint``)."""
    upper = type_name.upper()
    for prefix, family in _DUCKDB_FAMILIES:
        if upper.startswith(prefix):
            return family
    return "complex"


# --- reading files as written, then parsing what a contract declares -------------------

TEXT_FORMATS = (".csv", ".jsonl", ".ndjson")

# Text a strict parse accepts, per target type. DuckDB's own casts are lenient in ways a
# contract must not be: '1.5' casts to BIGINT 2, '0x10' to 16, '2026-11-01 10:00' to a
# DATE, 'Yes' to TRUE. A value outside these shapes does not parse (NULL), and the check
# reports it with its row count and an example.
_TEXT_SHAPES = {
    "BIGINT": r"[+-]?[0-9]+",
    "DOUBLE": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?",
    "DATE": r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    "TIMESTAMPTZ": r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
                   r"(Z|z| ?[+-][0-9]{2}(:?[0-9]{2})?)?",
    "TIME": r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?",
}
BOOLEAN_TEXT = {"true": True, "false": False, "t": True, "f": False, "1": True, "0": False}


@dataclass(frozen=True)
class TextParse:
    """How a value written as text becomes a declared type, strictly.

    ``duckdb_type`` is one of BIGINT, DOUBLE, BOOLEAN, DATE, TIMESTAMPTZ, TIME. Without a
    ``strptime`` format, numbers are plain decimals, booleans ``true``/``false``/``t``/``f``/
    ``1``/``0`` (any case), dates ``YYYY-MM-DD``, timestamps ISO 8601, times ``HH:MM[:SS]``.
    With one (a DuckDB ``strptime`` format), dates, timestamps and times must match it.
    """

    duckdb_type: str
    strptime: str | None = None

    def sql(self, text_sql: str) -> str:
        """SQL giving the parsed value of the text expression ``text_sql``, NULL where it does not parse."""
        v = f"trim({text_sql})"
        if self.duckdb_type == "BOOLEAN":
            cases = " ".join(f"WHEN '{k}' THEN {str(b).upper()}" for k, b in BOOLEAN_TEXT.items())
            return f"(CASE lower({v}) {cases} END)"
        if self.strptime is not None and self.duckdb_type in ("DATE", "TIMESTAMPTZ", "TIME"):
            fmt = self.strptime.replace("'", "''")
            if "%z" in self.strptime:  # DuckDB's %z takes +01:00 / +0100, not the 'Z' of UTC
                v = f"regexp_replace({v}, '[Zz]$', '+00:00')"
            return f"CAST(try_strptime({v}, '{fmt}') AS {self.duckdb_type})"
        shape = _TEXT_SHAPES.get(self.duckdb_type)
        if shape is None:
            return f"TRY_CAST({v} AS {self.duckdb_type})"
        return f"(CASE WHEN regexp_full_match({v}, '{shape}') THEN TRY_CAST({v} AS {self.duckdb_type}) END)"


def _as_parse(declared: TextParse | str) -> TextParse:
    return declared if isinstance(declared, TextParse) else TextParse(declared)


def read_csv_as_text(conn: duckdb.DuckDBPyConnection, source, name: str) -> duckdb.DuckDBPyRelation:
    """A CSV file (a path, or a binary file object) as a temp table of text columns, exactly
    as written: no type is guessed (``Yes`` stays ``Yes``, ``00123`` stays ``00123``), an
    empty field is NULL and a quoted ``""`` is the empty string.

    The header is read with Python's ``csv`` module and the dialect is fixed (comma, double
    quotes), so a truncated or ragged file fails with the line DuckDB stopped at instead of
    being mis-sniffed into other columns.

    Raises:
        duckdb.Error: the file is not well-formed CSV; the message has the line.
        ValueError: the file has no header line.
    """
    text = csv_text_relation(conn, source, name)
    # Read once into a temp table: a relation re-reads its source on every use.
    table = f"csv_text_{next(_text_tables)}"
    text.create(table)
    return conn.table(table)


def csv_text_relation(conn: duckdb.DuckDBPyConnection, source, name: str) -> duckdb.DuckDBPyRelation:
    """The CSV reader of :func:`read_csv_as_text`, not materialised: every use re-reads the file."""
    import csv
    import io

    if isinstance(source, str | Path):
        with open(source, newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle), None)
    else:
        data = source.read()
        header = next(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"))), None)
        source = io.BytesIO(data)
    if not header:
        raise ValueError(f"{name}: no header line")
    return conn.read_csv(source if isinstance(source, io.BytesIO) else str(source), header=True, auto_detect=False,
                         columns={column: "VARCHAR" for column in header}, sep=",", quotechar='"', escapechar='"',
                         strict_mode=True, allow_quoted_nulls=False)


def jsonl_text_relation(conn: duckdb.DuckDBPyConnection, source,
                        nested: Iterable[str] | None = None) -> duckdb.DuckDBPyRelation:
    """A JSON Lines file (a path, or a binary file object) as text columns, one per key
    found in any line (in order of first appearance): strings as written (``"00123"``
    stays ``00123``, ``"Yes"`` stays ``Yes``), numbers and booleans as their JSON text
    (``1.5``, ``true``), a missing key or ``null`` as NULL. Keys in ``nested`` stay JSON;
    with ``nested`` None, keys whose values are objects or arrays do.

    Raises:
        duckdb.Error: a line is not JSON; the message has the line.
    """
    import io

    if isinstance(source, str | Path):
        def again():
            return str(source)
    else:
        data = source.read()

        def again():
            return io.BytesIO(data)
    detected = conn.read_json(again(), format="newline_delimited", sample_size=-1)
    if nested is None:
        nested = [name for name, dtype in zip(detected.columns, detected.types, strict=True)
                  if str(dtype).startswith(("STRUCT", "MAP", "JSON")) or str(dtype).endswith("]")]
    keep = set(nested)
    return conn.read_json(again(), format="newline_delimited",
                          columns={name: "JSON" if name in keep else "VARCHAR" for name in detected.columns})


def read_jsonl_as_text(conn: duckdb.DuckDBPyConnection, source,
                       nested: Iterable[str] | None = None) -> duckdb.DuckDBPyRelation:
    """:func:`jsonl_text_relation`, read once into a temp table."""
    table = f"jsonl_text_{next(_text_tables)}"
    jsonl_text_relation(conn, source, nested).create(table)
    return conn.table(table)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def unparsable_counts(relation: duckdb.DuckDBPyRelation,
                      declared: Mapping[str, TextParse | str]) -> dict[str, tuple[int, str]]:
    """``{column: (values that do not parse, an example)}`` for the text columns of
    ``relation`` that ``declared`` types and that hold a value that does not parse."""
    present = [c for c in relation.columns if c in declared]
    if not present:
        return {}
    exprs = []
    for c in present:
        failing = f"{quote_ident(c)} IS NOT NULL AND {_as_parse(declared[c]).sql(quote_ident(c))} IS NULL"
        exprs.append(f"count(*) FILTER ({failing}), any_value({quote_ident(c)}) FILTER ({failing})")
    row = relation.aggregate(", ".join(exprs)).fetchall()[0]
    return {c: (int(row[2 * i]), row[2 * i + 1]) for i, c in enumerate(present) if row[2 * i]}


def typed_projection(columns: list[str], declared: Mapping[str, TextParse | str],
                     keep_text: Iterable[str] = ()) -> str:
    """The select list that parses each declared text column (strictly, see :class:`TextParse`)
    and keeps the others, and those in ``keep_text``, as written."""
    keep = set(keep_text)
    return ", ".join(
        f"{_as_parse(declared[c]).sql(quote_ident(c))} AS {quote_ident(c)}" if c in declared and c not in keep
        else quote_ident(c) for c in columns)


def cast_text_columns(conn: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation,
                      declared: Mapping[str, TextParse | str]
                      ) -> tuple[duckdb.DuckDBPyRelation, dict[str, tuple[int, str]]]:
    """Parse each text column that ``declared`` types (``{column: TextParse}``; a plain DuckDB
    type name means the default parse) when every value parses; leave it as text otherwise.

    Returns the relation and ``{column: (values that do not parse, an example)}`` for the
    columns left as text: the contract check reports them as type violations (row count
    and example) instead of anything converting them silently.
    """
    unparsable = unparsable_counts(relation, declared)
    return relation.project(typed_projection(relation.columns, declared, unparsable)), unparsable

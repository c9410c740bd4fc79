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
from collections.abc import Iterator
from contextlib import contextmanager
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


# --- reading delimited text as written ------------------------------------------------

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
    text = conn.read_csv(source if isinstance(source, io.BytesIO) else str(source), header=True, auto_detect=False,
                         columns={column: "VARCHAR" for column in header}, sep=",", quotechar='"', escapechar='"',
                         strict_mode=True, allow_quoted_nulls=False)
    # Read once into a temp table: a relation re-reads its source on every use.
    table = f"csv_text_{next(_text_tables)}"
    text.create(table)
    return conn.table(table)


def cast_text_columns(conn: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation,
                      declared: dict[str, str]) -> tuple[duckdb.DuckDBPyRelation, dict[str, tuple[int, str]]]:
    """Cast each text column that ``declared`` types (``{column: DuckDB type}``) when every
    value parses; leave it as text otherwise.

    Returns the relation and ``{column: (values that do not parse, an example)}`` for the
    columns left as text, so a caller reports them instead of converting them silently.
    """
    present = [c for c in relation.columns if c in declared]
    if not present:
        return relation, {}
    counts = ", ".join(
        f"count(*) FILTER ({quote_ident(c)} IS NOT NULL AND TRY_CAST({quote_ident(c)} AS {declared[c]}) IS NULL), "
        f"any_value({quote_ident(c)}) FILTER ({quote_ident(c)} IS NOT NULL "
        f"AND TRY_CAST({quote_ident(c)} AS {declared[c]}) IS NULL)" for c in present)
    row = relation.aggregate(counts).fetchall()[0]
    unparsable = {c: (int(row[2 * i]), row[2 * i + 1]) for i, c in enumerate(present) if row[2 * i]}
    select = ", ".join(
        f"CAST({quote_ident(c)} AS {declared[c]}) AS {quote_ident(c)}" if c in declared and c not in unparsable
        else quote_ident(c) for c in relation.columns)
    return relation.project(select), unparsable

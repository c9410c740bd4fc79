"""A batch to check: a DuckDB relation plus what we know of its columns as delivered.

A batch comes from a file (CSV, JSON Lines or Parquet, for the CLI and CI) or from one
partition of a raw table (for the Dagster checks, read back through the ingestion manifest
so that renamed, missing and type-changed columns appear as delivered). Either way its
relation has a ``__row`` column: the 1-based position of the row in the batch, which is
what error messages and the quarantine call "row".

How each is held, so that checking a big file does not copy it:

- **Parquet** is checked in place: the relation is a view over ``read_parquet`` whose
  ``__row`` is the file's own row number (``file_row_number``). Each query of the check
  reads the file again (projection pushdown keeps that cheap); nothing is copied.
- **CSV and JSON Lines** are read once as text into a temp table (a text file re-parsed by
  every query would cost more than the copy); the relation is a view over it that parses
  the contract's declared types (see ``warehouse.TextParse``), ``__row`` its row id.
- **A partition or any SELECT** is materialised as a temp table with ``row_number()``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from platform_assets.core.warehouse import (
    TextParse,
    fetch_one,
    fetch_row,
    quote_ident,
    read_csv_as_text,
    read_jsonl_as_text,
    reader_error_excerpt,
    table_columns,
    typed_projection,
    unparsable_counts,
)

ROW_COLUMN = "__row"
_counter = itertools.count()


class BatchError(ValueError):
    """A batch that cannot be read. The message names the file or partition and what to do."""


@dataclass(frozen=True)
class Batch:
    relation: str  # a temp table name holding the batch, with a __row column
    columns: dict[str, str]  # delivered column -> DuckDB type, in delivery order (no __row)
    source: str  # for messages: a file path or "raw.transactions partition 2026-11-01"
    row_count: int
    partition_key: str | None = None
    owned: tuple[str, ...] = ()  # temp views and tables to drop with the batch, in order


def _new_name(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}"


def _materialize(
    conn: duckdb.DuckDBPyConnection,
    select_sql: str,
    params: list | None,
    source: str,
    partition_key: str | None = None,
    hidden: tuple[str, ...] = (),
) -> Batch:
    name = _new_name("batch")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS "
        f"SELECT row_number() OVER () AS {ROW_COLUMN}, * FROM ({select_sql})",
        params or [],
    )
    return _described(conn, name, source, (name,), partition_key, hidden)


FILE_TYPES = {".parquet": "Parquet", ".csv": "CSV", ".jsonl": "JSON Lines", ".ndjson": "JSON Lines"}


def batch_from_file(
    conn: duckdb.DuckDBPyConnection,
    path: str | Path,
    parsed_types: Mapping[str, TextParse | str] | None = None,
    nested: tuple[str, ...] | None = None,
) -> Batch:
    """Load a CSV, JSON Lines or Parquet file as a batch.

    A text file (CSV, JSONL) is read as the contract says (``parsed_types``, see
    ``Contract.parsed_types``): declared strings and undeclared columns stay text exactly
    as written, declared numbers, booleans, dates and timestamps are parsed (dates with
    the contract's format); a column with a value that does not parse stays text, so the
    check reports those values with their row count and an example. Nothing is guessed
    from the values. ``nested`` columns of a JSONL file (the contract's objects and arrays)
    stay JSON; by default, keys holding objects or arrays do.
    A Parquet file keeps the types it carries and is checked in place (no copy).

    Raises:
        BatchError: the file is missing, empty, truncated, or not CSV/JSONL/Parquet; the
            message names the file and, where DuckDB says, the line.
    """
    path = Path(path)
    if not path.is_file():
        raise BatchError(f"{path}: file not found. Pass a CSV, JSON Lines or Parquet file.")
    if path.stat().st_size == 0:
        raise BatchError(f"{path}: the file is empty (0 bytes); a batch needs a header and rows.")
    suffix = path.suffix.lower()
    if suffix not in FILE_TYPES:
        raise BatchError(
            f"{path}: unsupported file type {suffix!r}; use .csv, .jsonl (.ndjson) or .parquet."
        )
    try:
        if suffix == ".parquet":
            return _parquet_in_place(conn, path)
        if suffix == ".csv":
            text = read_csv_as_text(conn, path, str(path))
        else:
            text = read_jsonl_as_text(conn, path, nested)
        return _typed_text(conn, text.alias, text, parsed_types or {}, str(path))
    except (duckdb.Error, ValueError) as exc:
        problem = reader_error_excerpt(exc).rstrip(".")
        raise BatchError(
            f"{path}: cannot be read as {FILE_TYPES[suffix]}: {problem}. "
            f"The file may be truncated or of another format."
        ) from None


def _literal_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _parquet_in_place(conn: duckdb.DuckDBPyConnection, path: Path) -> Batch:
    """A view over the Parquet file, its row number as ``__row``: no copy of the data."""
    source = f"read_parquet({_literal_path(path)}, file_row_number = true)"
    names = [
        r[0]
        for r in conn.execute(
            f"DESCRIBE SELECT * FROM read_parquet({_literal_path(path)})"
        ).fetchall()
    ]
    if "file_row_number" in names or ROW_COLUMN in names:  # the reader's own column names are taken
        return _materialize(
            conn, f"SELECT * FROM read_parquet({_literal_path(path)})", None, str(path)
        )
    name = _new_name("batch_file")
    conn.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT file_row_number + 1 AS {ROW_COLUMN}, "
        f"* EXCLUDE (file_row_number) FROM {source}"
    )
    return _described(conn, name, str(path), owned=(name,))


def _typed_text(
    conn: duckdb.DuckDBPyConnection,
    text_table: str,
    text: duckdb.DuckDBPyRelation,
    parsed_types: Mapping[str, TextParse | str],
    source: str,
) -> Batch:
    """A view parsing the declared columns of a text temp table; a column with a value that
    does not parse stays text."""
    unparsable = unparsable_counts(text, parsed_types)
    name = _new_name("batch_text")
    conn.execute(
        f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT rowid + 1 AS {ROW_COLUMN}, "
        f"{typed_projection(text.columns, parsed_types, unparsable)} FROM {text_table}"
    )
    return _described(conn, name, source, owned=(name, text_table))


def _described(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    source: str,
    owned: tuple[str, ...],
    partition_key: str | None = None,
    hidden: tuple[str, ...] = (),
) -> Batch:
    described = conn.execute(f"DESCRIBE {name}").fetchall()
    columns = {r[0]: r[1] for r in described if r[0] != ROW_COLUMN and r[0] not in hidden}
    (row_count,) = fetch_one(conn, f"SELECT count(*) FROM {name}")
    return Batch(name, columns, source, row_count, partition_key, owned)


def batch_from_partition(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    partition_key: str,
    schema: str = "raw",
    partition_column: str = "partition_date",
) -> Batch:
    """One partition of a raw table, columns as the ingestion manifest says they arrived."""
    stored = table_columns(conn, schema, table)
    if not stored:
        raise BatchError(
            f"{schema}.{table} does not exist yet: materialize the ingestion asset first."
        )
    manifest = fetch_row(
        conn,
        "SELECT columns, row_count FROM platform.batch_manifest WHERE table_name = ? AND "
        "partition_key = ?",
        [table, partition_key],
    )
    if manifest is None:
        raise BatchError(
            f"Partition {partition_key} of {schema}.{table} has not been ingested: materialize "
            f"{schema}/{table} for {partition_key} first."
        )
    arrivals = json.loads(manifest[0])
    select = (
        ", ".join(
            f"{quote_ident(a['stored_as'])} AS {quote_ident(a['name'])}"
            for a in arrivals
            if a["stored_as"] in stored
        )
        or "NULL AS __empty"
    )
    sql = (
        f"SELECT {select}, {quote_ident(partition_column)} FROM {schema}.{quote_ident(table)} "
        f"WHERE {quote_ident(partition_column)} = ? ORDER BY rowid"
    )
    # The partition column stays in the relation (SQL rules may use it) but is the
    # platform's, not the feed's, so the contract checks do not see it as a delivered column.
    return _materialize(
        conn,
        sql,
        [partition_key],
        f"{schema}.{table} partition {partition_key}",
        partition_key,
        hidden=(partition_column,),
    )


def drop_batch(conn: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    """Drop what holds the batch (its temp table, or its view and the text table under it)."""
    kinds = dict(
        conn.execute(
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = 'temp'"
        ).fetchall()
    )
    for name in batch.owned or (batch.relation,):
        if name in kinds:
            conn.execute(f"DROP {'VIEW' if kinds[name] == 'VIEW' else 'TABLE'} {name}")


def batch_from_sql(
    conn: duckdb.DuckDBPyConnection, select_sql: str, source: str, params: list | None = None
) -> Batch:
    """Any ``SELECT`` as a batch (e.g. over an Arrow table the caller registered on ``conn``),
    through the same temp table with ``__row`` that files and partitions become.

    ``source`` names the batch in messages, as a file path or partition would.
    """
    return _materialize(conn, select_sql, params, source)

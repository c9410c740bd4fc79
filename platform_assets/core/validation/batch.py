"""A batch to check: a DuckDB relation plus what we know of its columns as delivered.

A batch comes from a file (``CSV``/``Parquet``, for the CLI and CI) or from one partition
of a raw table (for the Dagster checks, read back through the ingestion manifest so that
renamed, missing and type-changed columns appear as delivered). Either way it becomes a
temporary table with a ``__row`` column: the 1-based position of the row in the batch,
which is what error messages and the quarantine call "row".
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from platform_assets.core.warehouse import cast_text_columns, fetch_row, quote_ident, read_csv_as_text, table_columns

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


def _new_name(prefix: str) -> str:
    return f"{prefix}_{next(_counter)}"


def _materialize(conn: duckdb.DuckDBPyConnection, select_sql: str, params: list | None,
                 source: str, partition_key: str | None = None, hidden: tuple[str, ...] = ()) -> Batch:
    name = _new_name("batch")
    conn.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS "
        f"SELECT row_number() OVER () AS {ROW_COLUMN}, * FROM ({select_sql})",
        params or [],
    )
    described = conn.execute(f"DESCRIBE {name}").fetchall()
    columns = {r[0]: r[1] for r in described if r[0] != ROW_COLUMN and r[0] not in hidden}
    (row_count,) = fetch_row(conn, f"SELECT count(*) FROM {name}")
    return Batch(name, columns, source, row_count, partition_key)


def batch_from_file(conn: duckdb.DuckDBPyConnection, path: str | Path,
                    parsed_types: dict[str, str] | None = None) -> Batch:
    """Load a CSV or Parquet file as a batch.

    A CSV is read as the contract says (``parsed_types``, see ``Contract.parsed_types``):
    declared strings and undeclared columns stay text exactly as written, declared numbers,
    booleans, dates and timestamps are parsed; a column with a value that does not parse
    stays text, so the contract's type rule reports it. Nothing is guessed from the values.

    Raises:
        BatchError: the file is missing, empty, truncated, or not CSV/Parquet; the message
            names the file and, where DuckDB says, the line.
    """
    path = Path(path)
    if not path.is_file():
        raise BatchError(f"{path}: file not found. Pass a CSV or Parquet file.")
    if path.stat().st_size == 0:
        raise BatchError(f"{path}: the file is empty (0 bytes); a batch needs a header and rows.")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise BatchError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet.")
    kind = "Parquet" if suffix == ".parquet" else "CSV"
    try:
        if suffix == ".parquet":
            literal = "'" + str(path).replace("'", "''") + "'"
            return _materialize(conn, f"SELECT * FROM read_parquet({literal})", None, str(path))
        text = read_csv_as_text(conn, path, str(path))
        typed, _ = cast_text_columns(conn, text, parsed_types or {})
        view = _new_name("typed_csv")
        typed.create_view(view)
        try:
            return _materialize(conn, f"SELECT * FROM {view}", None, str(path))
        finally:
            conn.execute(f"DROP VIEW IF EXISTS {view}")
            conn.execute(f"DROP TABLE IF EXISTS {text.alias}")
    except (duckdb.Error, ValueError) as exc:
        raise BatchError(f"{path}: cannot be read as {kind}: {_reader_message(exc).rstrip('.')}. The file may be truncated "
                         f"or of another format.") from None


def _reader_message(exc: Exception) -> str:
    """DuckDB's reader error, cut to what locates the problem (the line and the column count)."""
    head = str(exc).strip().split("\n\n")[0]  # DuckDB's "Possible fixes" and settings follow a blank line
    lines = [line.strip() for line in head.splitlines() if line.strip()]
    if lines and lines[0].startswith("Invalid Input Error: "):
        lines[0] = lines[0].removeprefix("Invalid Input Error: ")
    return "; ".join(lines) or type(exc).__name__


def batch_from_partition(conn: duckdb.DuckDBPyConnection, table: str, partition_key: str,
                         schema: str = "raw", partition_column: str = "partition_date") -> Batch:
    """One partition of a raw table, columns as the ingestion manifest says they arrived."""
    stored = table_columns(conn, schema, table)
    if not stored:
        raise BatchError(f"{schema}.{table} does not exist yet: materialize the ingestion asset first.")
    manifest = fetch_row(conn, 
        "SELECT columns, row_count FROM platform.batch_manifest WHERE table_name = ? AND partition_key = ?",
        [table, partition_key],
    )
    if manifest is None:
        raise BatchError(
            f"Partition {partition_key} of {schema}.{table} has not been ingested: materialize "
            f"{schema}/{table} for {partition_key} first."
        )
    arrivals = json.loads(manifest[0])
    select = ", ".join(
        f"{quote_ident(a['stored_as'])} AS {quote_ident(a['name'])}" for a in arrivals
        if a["stored_as"] in stored
    ) or "NULL AS __empty"
    sql = (f"SELECT {select}, {quote_ident(partition_column)} FROM {schema}.{quote_ident(table)} "
           f"WHERE {quote_ident(partition_column)} = ? ORDER BY rowid")
    # The partition column stays in the relation (SQL rules may use it) but is the
    # platform's, not the feed's, so the contract checks do not see it as a delivered column.
    return _materialize(conn, sql, [partition_key], f"{schema}.{table} partition {partition_key}",
                        partition_key, hidden=(partition_column,))


def drop_batch(conn: duckdb.DuckDBPyConnection, batch: Batch) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {batch.relation}")


def batch_from_sql(conn: duckdb.DuckDBPyConnection, select_sql: str, source: str,
                   params: list | None = None) -> Batch:
    """Any ``SELECT`` as a batch (e.g. over an Arrow table the caller registered on ``conn``),
    through the same temp table with ``__row`` that files and partitions become.

    ``source`` names the batch in messages, as a file path or partition would.
    """
    return _materialize(conn, select_sql, params, source)

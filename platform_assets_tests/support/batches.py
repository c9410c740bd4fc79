"""Contract-check batches from in-memory tables, through the package's public batch loader."""

from __future__ import annotations

import itertools

import duckdb
import pyarrow as pa

from platform_assets.core.validation.batch import Batch, batch_from_sql

_names = itertools.count()


def arrow_batch(
    conn: duckdb.DuckDBPyConnection,
    table: pa.Table,
    label: str = "test batch",
    sql: str = "SELECT * FROM src",
) -> Batch:
    """A batch from an Arrow table, through the same code path files and partitions use.

    ``sql`` may reshape the table first; it names the table ``src``.
    """
    name = f"arrow_source_{next(_names)}"
    conn.register(name, table)
    try:
        return batch_from_sql(conn, sql.replace("src", name), label)
    finally:
        conn.unregister(name)

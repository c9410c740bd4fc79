"""Land daily batches in DuckDB with dlt, one partition replaced at a time, nothing lost.

Three things here go beyond a plain ``pipeline.run``:

1. **Partition replacement.** The dlt resource uses ``merge`` with the ``delete-insert``
   strategy and ``merge_key="partition_date"``: loading a day deletes that day's rows and
   inserts the new batch, so re-materialising a partition never duplicates it. No
   ``primary_key`` is declared on purpose: dlt would de-duplicate on it and silently drop
   the duplicate keys the contract check exists to find.
2. **Type changes are kept, not coerced.** With Arrow batches dlt keeps the stored column
   type and lets DuckDB coerce, so dollars (``12.34``) arriving in the BIGINT
   ``amount_cents`` column would land as ``12``. Before a batch is yielded, every column
   whose type family differs from the stored one is renamed to dlt's own variant name
   ``<column>__v_<type>`` (``amount_cents__v_double``): the stored history keeps its type,
   the new batch keeps its values.
3. **A manifest per partition** (``platform.batch_manifest``) records what actually arrived:
   the delivered column names, their Arrow types and where each was stored. The contract
   check reads the batch back through it, so a renamed or missing column is seen as such
   rather than as a column of nulls.
4. **Landed data keeps its source.** The manifest also records which source a day came from;
   :func:`refuse_other_source` stops a load that would replace a day landed from another
   source (say, generated rows over a real landed file), unless asked to on purpose.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa

from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions
from platform_assets.core.warehouse import (
    TextParse,
    cast_text_columns,
    duckdb_family,
    quote_ident,
    read_csv_as_text,
    read_jsonl_as_text,
    replace_row,
    table_columns,
)

PARTITION_COLUMN = "partition_date"
RAW_SCHEMA = "raw"
PIPELINE_NAME = "platform_assets_raw"
TRANSACTIONS_TABLE = "transactions"
SUPPORTED_LANDING_FORMATS = (".csv", ".parquet", ".jsonl", ".ndjson")


class IngestionError(ValueError):
    """A batch that cannot be landed. The message names the file or partition and the fix."""


class BatchReader(Protocol):
    """Where daily batches come from. ``read`` returns one partition as an Arrow table."""

    name: str

    def read(self, partition_key: str) -> pa.Table: ...


@dataclass(frozen=True)
class BundledReader:
    """The bundled card-transaction generator (the default: no network, deterministic)."""

    rows_per_partition: int = 20_000
    faults: FaultInjection = field(default_factory=FaultInjection)
    name: str = "bundled"

    def read(self, partition_key: str) -> pa.Table:
        return generate_transactions(
            parse_partition_key(partition_key), self.rows_per_partition, self.faults
        )


@dataclass(frozen=True)
class LandingFolderReader:
    """Files dropped in a landing folder, local or ``s3://``, one folder per partition.

    Layout: ``<url>/<table>/partition_date=<YYYY-MM-DD>/*.{csv,parquet,jsonl}``. Files are
    listed with dlt's filesystem source (so S3 credentials come from dlt's usual config or
    the AWS environment variables). Every file of a partition must share one set of columns.

    CSV and JSONL keep their values: every field is read as the text it is (JSONL objects
    and arrays stay JSON), then the columns in ``parsed_types`` (``{column: TextParse}``,
    from ``Contract.parsed_types``) are parsed strictly, the same way ``platform-assets
    contracts check`` reads a file; an empty field is NULL. A column with a value that does
    not parse lands as text, for the contract check to report (row count and example).
    Parquet keeps the types it carries.
    """

    url: str
    table: str = "transactions"
    name: str = "landing"
    parsed_types: dict[str, TextParse | str] = field(default_factory=dict)

    def read(self, partition_key: str) -> pa.Table:
        from dlt.sources.filesystem import filesystem

        parse_partition_key(partition_key)
        folder = f"{self.url.rstrip('/')}/{self.table}/{PARTITION_COLUMN}={partition_key}"
        listing = filesystem(
            bucket_url=self.url, file_glob=f"{self.table}/{PARTITION_COLUMN}={partition_key}/*"
        )
        items = sorted(listing, key=lambda item: item["file_name"])
        if not items:
            raise IngestionError(
                f"No files for partition {partition_key} in {folder}/. Put CSV, Parquet or JSONL "
                f"files there, or materialize a partition that has landed."
            )
        tables = [self._read_file(item) for item in items]
        try:
            return pa.concat_tables(tables, promote_options="permissive")
        except pa.ArrowInvalid as exc:
            raise IngestionError(
                f"Files in {folder}/ do not share one set of column types: {exc}"
            ) from exc

    def _read_file(self, item) -> pa.Table:
        import pyarrow.parquet as pq

        name = item["file_url"]
        suffix = Path(item["file_name"]).suffix.lower()
        if suffix not in SUPPORTED_LANDING_FORMATS:
            raise IngestionError(
                f"{name}: unsupported file type {suffix!r}; the landing folder takes "
                f"{', '.join(SUPPORTED_LANDING_FORMATS)}."
            )
        if item.get("size_in_bytes") == 0:
            raise IngestionError(
                f"{name}: the file is empty (0 bytes). Re-deliver it or remove it."
            )
        try:
            with item.open() as handle:
                if suffix == ".parquet":
                    return pq.read_table(handle)
                return self._read_text(handle, name, suffix)
        except (pa.ArrowInvalid, OSError, ValueError, duckdb.Error) as exc:
            raise IngestionError(
                f"{name}: cannot be read as {suffix[1:].upper()} ({exc}). The file may be truncated "
                f"or of another format; nothing from this partition was loaded."
            ) from exc

    def _read_text(self, handle, name: str, suffix: str) -> pa.Table:
        """A CSV or JSONL file as written, then the contract's declared types parsed."""
        with duckdb.connect() as conn:
            conn.execute("SET TimeZone = 'UTC'")
            text = (
                read_csv_as_text(conn, handle, name)
                if suffix == ".csv"
                else read_jsonl_as_text(conn, handle)
            )
            typed, _ = cast_text_columns(conn, text, self.parsed_types)
            return typed.to_arrow_table()


@contextmanager
def surface_ingestion_errors() -> Iterator[None]:
    """Re-raise a reader's :class:`IngestionError` that dlt wrapped in its own step error.

    dlt reports an exception raised while extracting as ``PipelineStepFailed`` around a
    ``ResourceExtractionError``; the user needs the original message naming the file.
    """
    try:
        yield
    except IngestionError:
        raise
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, IngestionError):
                raise IngestionError(str(cause)) from exc
            cause = cause.__cause__ or cause.__context__
        raise


def parse_partition_key(partition_key: str) -> dt.date:
    try:
        return dt.date.fromisoformat(partition_key)
    except ValueError:
        raise IngestionError(
            f"Unknown partition {partition_key!r}: partitions are days written YYYY-MM-DD."
        ) from None


# --- type families ---------------------------------------------------------------------


def arrow_family(arrow_type: pa.DataType) -> str:
    """The dlt data-type family of an Arrow type (``int64`` -> ``bigint``)."""
    t = pa.types
    if t.is_integer(arrow_type):
        return "bigint"
    if t.is_floating(arrow_type):
        return "double"
    if t.is_decimal(arrow_type):
        return "decimal"
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_dictionary(arrow_type):
        return "text"
    if t.is_boolean(arrow_type):
        return "bool"
    if t.is_timestamp(arrow_type):
        return "timestamp"
    if t.is_date(arrow_type):
        return "date"
    if t.is_time(arrow_type):
        return "time"
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type):
        return "binary"
    if t.is_null(arrow_type):
        return "null"
    return "complex"


@dataclass(frozen=True)
class ColumnArrival:
    """One delivered column: its name in the batch, its Arrow type, where it was stored."""

    name: str
    arrow_type: str
    family: str
    stored_as: str


@dataclass
class BatchManifest:
    """What one partition's batch looked like on arrival."""

    partition_key: str
    row_count: int
    columns: list[ColumnArrival]
    source: str

    def to_row(self, table_name: str) -> list:
        return [
            table_name,
            self.partition_key,
            self.row_count,
            json.dumps([asdict(c) for c in self.columns]),
            self.source,
        ]


def harmonize(
    table: pa.Table, stored_types: dict[str, str]
) -> tuple[pa.Table, list[ColumnArrival]]:
    """Rename columns whose type family changed to dlt's variant name ``<col>__v_<family>``.

    Args:
        table: the batch as delivered.
        stored_types: ``{column: duckdb type}`` of the raw table so far (empty on first load).

    Returns:
        The batch ready to load, and one :class:`ColumnArrival` per delivered column.
    """
    arrivals: list[ColumnArrival] = []
    names: list[str] = []
    for arrow_field in table.schema:
        family = arrow_family(arrow_field.type)
        stored = stored_types.get(arrow_field.name)
        target = arrow_field.name
        if family == "null":
            # An all-null column of unknown type: store as text so it does not fix a type.
            family = "text"
        if stored is not None and duckdb_family(stored) != family:
            target = f"{arrow_field.name}__v_{family}"
        arrivals.append(ColumnArrival(arrow_field.name, str(arrow_field.type), family, target))
        names.append(target)
    table = table.rename_columns(names)
    for index, arrow_field in enumerate(table.schema):
        if pa.types.is_null(arrow_field.type):
            table = table.set_column(index, arrow_field.name, table.column(index).cast(pa.string()))
    return table, arrivals


def prepare_batch(
    table: pa.Table, partition_key: str, stored_types: dict[str, str], source: str
) -> tuple[pa.Table, BatchManifest]:
    """Harmonise types and add the partition column; the manifest says what arrived."""
    if PARTITION_COLUMN in table.column_names:
        raise IngestionError(
            f"Partition {partition_key}: the batch already has a column named {PARTITION_COLUMN!r}, "
            "which the platform reserves for the partition key. Rename it at the source."
        )
    table, arrivals = harmonize(table, stored_types)
    date_value = parse_partition_key(partition_key)
    table = table.append_column(
        pa.field(PARTITION_COLUMN, pa.date32(), nullable=False),
        pa.array([date_value] * table.num_rows, pa.date32()),
    )
    return table, BatchManifest(partition_key, table.num_rows, arrivals, source)


def transactions_source(
    reader: BatchReader | None = None,
    partition_keys: Sequence[str] = (),
    stored_types: dict[str, str] | None = None,
    manifests: list[BatchManifest] | None = None,
    table_name: str = "transactions",
):
    """The dlt source: one resource, ``transactions``, yielding one Arrow table per partition.

    Built with no arguments it yields nothing: that form only describes the asset.
    """
    import dlt

    reader = reader or BundledReader()
    stored = dict(stored_types or {})
    sink = manifests if manifests is not None else []

    @dlt.resource(
        name=table_name,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key=PARTITION_COLUMN,
    )
    def batches() -> Iterator[pa.Table]:
        for key in partition_keys:
            batch, manifest = prepare_batch(reader.read(key), key, stored, reader.name)
            sink.append(manifest)
            if batch.num_rows:
                yield batch

    @dlt.source(name="card_transactions", max_table_nesting=0)
    def card_transactions():
        return batches

    return card_transactions()


def _telemetry_off(dlt) -> None:
    """Turn dlt's telemetry off for this process. dlt starts it when it is imported, from the
    configuration it finds then (``RUNTIME__DLTHUB_TELEMETRY``, ``./.dlt/config.toml``,
    ``~/.dlt/config.toml``); so the setting is made and the tracker stopped, and dlt, which
    restarts telemetry lazily, finds it off."""
    from dlt.common.runtime.telemetry import is_telemetry_started, stop_telemetry

    if dlt.config.get("runtime.dlthub_telemetry") is False and not is_telemetry_started():
        return
    dlt.config["runtime.dlthub_telemetry"] = False
    if is_telemetry_started():
        stop_telemetry()


def _signals_to_dagster(dlt) -> None:
    """Leave SIGINT/SIGTERM to Dagster while dlt normalizes and loads. dlt's own handlers
    (``runtime.intercept_signals``, on by default) take the first signal, stop only at their
    checkpoints and forget it when the step ends, so a run told to stop mid-load carried on
    and succeeded. With them off, Dagster interrupts the step and the run ends CANCELED; the
    load is redone by the next run, as after a killed process."""
    dlt.config["runtime.intercept_signals"] = False


def build_pipeline(
    warehouse_path: str | Path,
    pipelines_dir: str | Path,
    dataset_name: str = RAW_SCHEMA,
    pipeline_name: str = PIPELINE_NAME,
):
    """The dlt pipeline that lands batches in the ``raw`` schema of the warehouse (or in
    ``dataset_name``: the late labels land in ``labels``, by a pipeline of their own).

    A DuckDB file gets dlt's ``duckdb`` destination. The production DuckLake
    (``ducklake:<schema>``) gets :func:`lake_destination`, and each process a working folder
    of its own: several runs land at once there, and dlt's folder holds one run's packages.

    dlt's anonymous telemetry is turned off first: it is on by default and would try to reach
    telemetry.scalevector.ai from every run, and the platform makes no network call it was
    not configured to make. ``.dlt/config.toml`` says so for the repository (dlt reads it from
    the working directory); :func:`_telemetry_off` holds whatever the working directory.
    """
    import os

    import dlt

    from platform_assets.core.warehouse import resolve_lake

    _telemetry_off(dlt)
    _signals_to_dagster(dlt)
    if resolve_lake(warehouse_path) is None:
        destination = dlt.destinations.duckdb(str(warehouse_path))
    else:
        destination = lake_destination(str(warehouse_path), dataset_name)
        pipelines_dir = Path(pipelines_dir) / f"process-{os.getpid()}"
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=destination,
        dataset_name=dataset_name,
        pipelines_dir=str(pipelines_dir),
    )


def lake_destination(warehouse_name: str, schema: str = RAW_SCHEMA):
    """dlt's destination for the DuckLake: each normalized Parquet file of a ``merge`` table
    replaces the partitions it holds (its ``merge_key`` values) in one transaction, through
    ``warehouse.connect`` (which retries what DuckLake asks to retry).

    Why not dlt's own ``ducklake`` destination: its merge stages every load in one shared
    ``raw_staging`` table per dataset and truncates it when a load starts, so two runs
    landing different days at once would read, or wipe, each other's staged rows; and its
    schema migration is not retried on DuckLake's optimistic conflicts. The semantics here
    are the same as with the ``duckdb`` destination: delete the partition, insert it.
    """
    import dlt

    replaced: dict[tuple[str, str], set] = {}

    @dlt.destination(
        name="ducklake",
        batch_size=0,
        loader_file_format="parquet",
        naming_convention="snake_case",
        skip_dlt_columns_and_tables=True,
        max_table_nesting=0,
    )
    def ducklake(items, table) -> None:
        from platform_assets.core import warehouse

        file, name = str(items), table["name"]
        target = f"{schema}.{quote_ident(name)}"
        keys = [c for c, hints in table.get("columns", {}).items() if hints.get("merge_key")]
        replace = table.get("write_disposition") == "merge" and keys
        load_id = dlt.current.load_package_state()["load_id"]
        with warehouse.session(warehouse_name) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            stored = table_columns(conn, schema, name)
            # Only new columns are added: an ALTER, even a no-op, conflicts with every insert.
            new_columns = [
                (c, t)
                for c, t, *_ in conn.execute(
                    "DESCRIBE SELECT * FROM read_parquet(?)", [file]
                ).fetchall()
                if c not in stored
            ]
            done = replaced.setdefault((load_id, name), set())
            values = (
                conn.execute(
                    f"SELECT DISTINCT {', '.join(quote_ident(k) for k in keys)} FROM read_parquet(?)",
                    [file],
                ).fetchall()
                if replace
                else []
            )
            conn.execute("BEGIN TRANSACTION")
            try:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM read_parquet(?) LIMIT 0",
                    [file],
                )
                for column, column_type in new_columns if stored else []:
                    conn.execute(
                        f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {quote_ident(column)} {column_type}"
                    )
                # A partition split over several files of one load is replaced once, by the first.
                for value in [v for v in values if v not in done]:
                    conn.execute(
                        f"DELETE FROM {target} WHERE "
                        + " AND ".join(f"{quote_ident(k)} = ?" for k in keys),
                        list(value),
                    )
                conn.execute(f"INSERT INTO {target} BY NAME SELECT * FROM read_parquet(?)", [file])
                conn.execute("COMMIT")
            except Exception:
                conn.execute("ROLLBACK")
                raise
            done.update(values)

    return ducklake()


def day_lineage(
    conn, days: Sequence[str], landing_url: str, table_name: str = TRANSACTIONS_TABLE
) -> list[dict]:
    """Where each of ``days`` came from: ``{"day", "source", "source_uri", "raw_rows"}`` from
    the batch manifest (a day never landed has ``source`` None). The bundled source's URI
    is ``bundled://<table>/<day>``; a landing folder's is the partition's folder."""
    landed = (
        table_columns(conn, "platform", "batch_manifest")
        and conn.execute(
            "SELECT partition_key, source, row_count FROM platform.batch_manifest "
            "WHERE table_name = ? AND list_contains(?, partition_key)",
            [table_name, list(days)],
        ).fetchall()
    )
    rows = {key: (source, count) for key, source, count in landed or []}
    out = []
    for day in days:
        source, count = rows.get(day, (None, None))
        if source == "landing":
            uri = f"{landing_url.rstrip('/')}/{table_name}/{PARTITION_COLUMN}={day}/"
        elif source is not None:
            uri = f"{source}://{table_name}/{day}"
        else:
            uri = None
        out.append({"day": day, "source": source, "source_uri": uri, "raw_rows": count})
    return out


def stored_column_types(conn, table_name: str = "transactions") -> dict[str, str]:
    return table_columns(conn, RAW_SCHEMA, table_name)


def landed_sources(conn, table_name: str, partition_keys: Sequence[str]) -> dict[str, str]:
    """``{partition: source}`` for the partitions among ``partition_keys`` that have landed."""
    if not partition_keys:
        return {}
    rows = conn.execute(
        "SELECT partition_key, source FROM platform.batch_manifest WHERE table_name = ? "
        "AND list_contains(?, partition_key)",
        [table_name, list(partition_keys)],
    ).fetchall()
    return dict(rows)


def refuse_other_source(conn, table_name: str, partition_keys: Sequence[str], source: str) -> None:
    """Raise when a partition about to be loaded from ``source`` landed from another source.

    Raises:
        IngestionError: naming each such partition and its source, and how to go on.
    """
    others = {
        key: landed
        for key, landed in landed_sources(conn, table_name, partition_keys).items()
        if landed != source
    }
    if others:
        listed = ", ".join(f"{key} (from {landed})" for key, landed in sorted(others.items()))
        raise IngestionError(
            f"raw.{table_name}: {listed} landed from another source than this run's ({source!r}); loading "
            f"would replace that data. Run with the source it landed from, or set "
            f"`replace_other_source: true` in the raw_transactions config to replace it on purpose."
        )


def record_manifests(conn, table_name: str, manifests: Iterable[BatchManifest]) -> None:
    """Write the manifests; clear the raw rows of partitions that arrived empty.

    dlt skips an empty batch entirely, so without this a re-delivered empty day would leave
    the old day's rows in place.
    """
    raw_columns = table_columns(conn, RAW_SCHEMA, table_name)
    for manifest in manifests:
        if manifest.row_count == 0 and raw_columns:
            conn.execute(
                f"DELETE FROM {RAW_SCHEMA}.{quote_ident(table_name)} WHERE {PARTITION_COLUMN} = ?",
                [manifest.partition_key],
            )
        name, key, row_count, columns, source = manifest.to_row(table_name)
        replace_row(
            conn,
            "platform.batch_manifest",
            {"table_name": name, "partition_key": key},
            {"row_count": row_count, "columns": columns, "source": source},
            now_columns=["loaded_at"],
        )


def ingest(
    reader: BatchReader,
    partition_keys: Sequence[str],
    warehouse_path: str | Path,
    pipelines_dir: str | Path,
    table_name: str = "transactions",
) -> list[BatchManifest]:
    """Land partitions without Dagster (benchmarks, scripts). The Dagster asset does the same."""
    from platform_assets.core import warehouse

    with warehouse.session(warehouse_path) as conn:
        stored = stored_column_types(conn, table_name)
    manifests: list[BatchManifest] = []
    pipeline = build_pipeline(warehouse_path, pipelines_dir)
    with surface_ingestion_errors():
        pipeline.run(transactions_source(reader, partition_keys, stored, manifests, table_name))
    with warehouse.session(warehouse_path) as conn:
        record_manifests(conn, table_name, manifests)
    return manifests

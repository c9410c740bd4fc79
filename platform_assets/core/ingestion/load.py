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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa

from platform_assets.core.ingestion.bundled import FaultInjection, generate_transactions
from platform_assets.core.validation.quarantine import invalidate_partitions
from platform_assets.core.warehouse import (
    TextParse,
    cast_text_columns,
    duckdb_family,
    quote_ident,
    read_csv_as_text,
    read_jsonl_as_text,
    reader_error_excerpt,
    replace_row,
    table_columns,
    writer_locks,
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

    @property
    def name(self) -> str: ...

    def read(self, partition_key: str) -> pa.Table: ...


def check_rows_per_partition(value: object, where: str) -> int:
    """``value`` when it is a positive whole number of rows, else an :class:`IngestionError`
    naming ``where`` it was set (0 used to mean "the default" without saying so). For run
    config and settings; ``BundledReader(0)`` itself is an empty day, on purpose."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise IngestionError(
            f"{where}: {value!r} is not a positive integer; the bundled source's rows a day must "
            f"be 1 or more (leave it out for the default)."
        )
    return value


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
    the AWS environment variables). Marker and hidden files (``_SUCCESS``, ``.DS_Store``:
    any name starting with ``_`` or ``.``) are skipped, and the manifest lists them. The files
    of a partition must agree on each column's type: two that do not (``int64`` in one,
    ``string`` in another) fail the partition naming both files, and nothing is replaced.

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
    parsed_types: Mapping[str, TextParse | str] = field(default_factory=dict)

    def read(self, partition_key: str) -> pa.Table:
        from dlt.sources.filesystem import filesystem

        parse_partition_key(partition_key)
        folder = f"{self.url.rstrip('/')}/{self.table}/{PARTITION_COLUMN}={partition_key}"
        listing = filesystem(
            bucket_url=self.url, file_glob=f"{self.table}/{PARTITION_COLUMN}={partition_key}/*"
        )
        listed = sorted(listing, key=lambda item: item["file_name"])
        skipped = [item["file_name"] for item in listed if is_marker_file(item["file_name"])]
        items = [item for item in listed if not is_marker_file(item["file_name"])]
        if not items:
            only = f" (only markers, skipped: {', '.join(skipped)})" if skipped else ""
            raise IngestionError(
                f"No files for partition {partition_key} in {folder}/{only}. Put CSV, Parquet or "
                f"JSONL files there, or materialize a partition that has landed."
            )
        with duckdb.connect() as conn:
            conn.execute("SET TimeZone = 'UTC'")
            # Named relative to the folder, which the messages name once.
            parts = [(item["file_name"], self._read_file(conn, item)) for item in items]
            # The text files of a day are parsed together, so a value that does not parse in
            # one file leaves the column text for the whole day (and the check names its rows)
            # instead of making the day's files disagree on the column's type.
            text_parts = [(name, t) for name, (is_text, t) in parts if is_text]
            tables = [(name, t) for name, (is_text, t) in parts if not is_text]
            if text_parts:
                text = _concat([t for _, t in text_parts], text_parts, folder)
                typed, _ = cast_text_columns(conn, conn.from_arrow(text), self.parsed_types)
                label = (
                    text_parts[0][0]
                    if len(text_parts) == 1
                    else f"the text files ({', '.join(n for n, _ in text_parts)})"
                )
                tables.insert(0, (label, typed.to_arrow_table()))
        day = _concat([t for _, t in tables], tables, folder)
        return day.replace_schema_metadata(
            {**(day.schema.metadata or {}), SKIPPED_FILES_KEY: json.dumps(skipped).encode()}
        )

    def _read_file(self, conn: duckdb.DuckDBPyConnection, item) -> tuple[bool, pa.Table]:
        """``(is_text, table)``: a Parquet file with its types, a CSV or JSONL file as text."""
        import pyarrow.parquet as pq

        name = item["file_url"]
        suffix = Path(item["file_name"]).suffix.lower()
        if suffix not in SUPPORTED_LANDING_FORMATS:
            raise IngestionError(
                f"{name}: unsupported file type {suffix!r}; the landing folder takes "
                f"{', '.join(SUPPORTED_LANDING_FORMATS)} (marker and hidden files, named _* or .*, "
                f"are skipped)."
            )
        if item.get("size_in_bytes") == 0:
            raise IngestionError(
                f"{name}: the file is empty (0 bytes). Re-deliver it or remove it."
            )
        try:
            with item.open() as handle:
                if suffix == ".parquet":
                    return False, pq.read_table(handle)
                text = (
                    read_csv_as_text(conn, handle, name)
                    if suffix == ".csv"
                    else read_jsonl_as_text(conn, handle)
                )
                return True, text.to_arrow_table()
        except (pa.ArrowInvalid, OSError, ValueError, duckdb.Error) as exc:
            raise IngestionError(
                f"{name}: cannot be read as {suffix[1:].upper()} ({reader_error_excerpt(exc)}). "
                f"The file may be truncated or of another format; nothing from this partition "
                f"was loaded."
            ) from None  # the reader's own error echoes the row's values: never pass it on


SKIPPED_FILES_KEY = b"platform_assets.skipped_files"


def is_marker_file(file_name: str) -> bool:
    """A marker or hidden file (``_SUCCESS``, ``_committed_123``, ``.DS_Store``, ``._x.csv``):
    written by Spark, Hadoop or a desktop next to the data, never data itself."""
    return Path(file_name).name.startswith(("_", "."))


def _concat(tables: list[pa.Table], named: list[tuple[str, pa.Table]], folder: str) -> pa.Table:
    """The files of one day as one table, or an :class:`IngestionError` naming the column
    and the two files whose types for it cannot be reconciled."""
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise IngestionError(
            _type_clash(named, folder)
            or (
                f"Files in {folder}/ do not share one set of column types ({exc}); nothing from "
                f"this partition was loaded."
            )
        ) from None  # the message says it all; a run's summary shows the innermost error


def _type_clash(named: list[tuple[str, pa.Table]], folder: str) -> str | None:
    first: dict[str, tuple[str, pa.Field]] = {}
    for name, table in named:
        for arrow_field in table.schema:
            if arrow_field.name not in first:
                first[arrow_field.name] = (name, arrow_field)
                continue
            first_name, first_field = first[arrow_field.name]
            try:
                pa.unify_schemas(
                    [pa.schema([first_field]), pa.schema([arrow_field])],
                    promote_options="permissive",
                )
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                return (
                    f"Files in {folder}/ disagree on column {arrow_field.name!r}: "
                    f"{first_field.type} in {first_name}, {arrow_field.type} in {name}. Nothing "
                    f"from this partition was loaded (its previous rows are kept); re-deliver the "
                    f"files with one type for {arrow_field.name!r}."
                )
    return None


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
    skipped_files: list[str] = field(default_factory=list)  # markers such as _SUCCESS

    def to_row(self, table_name: str) -> list:
        return [
            table_name,
            self.partition_key,
            self.row_count,
            json.dumps([asdict(c) for c in self.columns]),
            self.source,
            json.dumps(self.skipped_files),
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
            f"Partition {partition_key}: the batch already has a column named "
            f"{PARTITION_COLUMN!r}, "
            "which the platform reserves for the partition key. Rename it at the source."
        )
    skipped = json.loads((table.schema.metadata or {}).get(SKIPPED_FILES_KEY, b"[]"))
    table, arrivals = harmonize(table, stored_types)
    date_value = parse_partition_key(partition_key)
    table = table.append_column(
        pa.field(PARTITION_COLUMN, pa.date32(), nullable=False),
        pa.array([date_value] * table.num_rows, pa.date32()),
    )
    return table, BatchManifest(partition_key, table.num_rows, arrivals, source, skipped)


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


def build_pipeline(warehouse_path: str | Path, pipelines_dir: str | Path):
    """The dlt pipeline that lands batches in the ``raw`` schema of the warehouse.

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
        destination = lake_destination(str(warehouse_path))
        pipelines_dir = Path(pipelines_dir) / f"process-{os.getpid()}"
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=RAW_SCHEMA,
        pipelines_dir=str(pipelines_dir),
    )


def lake_destination(warehouse_name: str):
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

        file, name = str(items), table.get("name")
        assert name is not None  # dlt names every table it hands a destination
        target = f"{RAW_SCHEMA}.{quote_ident(name)}"
        keys = [c for c, hints in table.get("columns", {}).items() if hints.get("merge_key")]
        replace = table.get("write_disposition") == "merge" and keys
        load_id = dlt.current.load_package_state().get("load_id")
        assert load_id is not None  # dlt sets it for every load package it runs
        with warehouse.session(warehouse_name) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA}")
            stored = table_columns(conn, RAW_SCHEMA, name)
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
                    f"SELECT DISTINCT {', '.join(quote_ident(k) for k in keys)} FROM "
                    f"read_parquet(?)",
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
                        f"ALTER TABLE {target} ADD COLUMN IF NOT EXISTS {quote_ident(column)} "
                        f"{column_type}"
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
            f"raw.{table_name}: {listed} landed from another source than this run's ({source!r}); "
            f"loading "
            f"would replace that data. Run with the source it landed from, or set "
            f"`replace_other_source: true` in the raw_transactions config to replace it on purpose."
        )


def record_manifests(conn, table_name: str, manifests: Iterable[BatchManifest]) -> None:
    """Write the manifests; clear the raw rows of partitions that arrived empty; invalidate
    the validated and quarantined rows of every landed day until it is checked again.

    dlt skips an empty batch entirely, so without this a re-delivered empty day would leave
    the old day's rows in place.
    """
    manifests = list(manifests)
    invalidate_partitions(conn, table_name, [m.partition_key for m in manifests])
    raw_columns = table_columns(conn, RAW_SCHEMA, table_name)
    if "skipped_files" not in table_columns(conn, "platform", "batch_manifest"):
        # A warehouse made before the manifest listed skipped marker files.
        conn.execute("ALTER TABLE platform.batch_manifest ADD COLUMN skipped_files JSON")
    for manifest in manifests:
        if manifest.row_count == 0 and raw_columns:
            conn.execute(
                f"DELETE FROM {RAW_SCHEMA}.{quote_ident(table_name)} WHERE {PARTITION_COLUMN} = ?",
                [manifest.partition_key],
            )
        name, key, row_count, columns, source, skipped = manifest.to_row(table_name)
        replace_row(
            conn,
            "platform.batch_manifest",
            {"table_name": name, "partition_key": key},
            {
                "row_count": row_count,
                "columns": columns,
                "source": source,
                "skipped_files": skipped,
            },
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

    with landing_lock(warehouse_path, table_name, partition_keys):
        with warehouse.session(warehouse_path) as conn:
            stored = stored_column_types(conn, table_name)
        manifests: list[BatchManifest] = []
        pipeline = build_pipeline(warehouse_path, pipelines_dir)
        with surface_ingestion_errors():
            pipeline.run(transactions_source(reader, partition_keys, stored, manifests, table_name))
        with warehouse.session(warehouse_path) as conn:
            record_manifests(conn, table_name, manifests)
    return manifests


def landing_lock(warehouse_path, table_name: str, partition_keys: Sequence[str], log=None):
    """The write lock of ``raw.<table_name>`` for each of ``partition_keys``
    (:func:`platform_assets.core.warehouse.writer_locks`): held from the source check to the
    manifest, so two runs landing one day take turns and the day is stored once."""
    return writer_locks(warehouse_path, f"{RAW_SCHEMA}.{table_name}", partition_keys, log=log)

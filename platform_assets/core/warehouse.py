"""The one place that opens the DuckDB warehouse, and the tables the platform keeps in it.

Layout of the warehouse (schemas):

- ``raw``: what dlt landed, one table per source table, a ``partition_date`` column.
- ``validated``: rows that passed their contract, typed as the contract says.
- ``quarantine``: rows that failed, as JSON with their reasons, never dropped.
- ``platform``: the platform's own bookkeeping: batch manifests, verdicts, profiles.

Two engines, one set of names. :func:`connect` takes what ``Settings.warehouse`` says:

- **a DuckDB file** (the local profile). DuckDB allows one writer per file. Writers in one
  process share nothing here: each opens, works and closes; across processes, Dagster pools
  serialise them and ``connect`` retries while another process holds the lock.
- **a DuckLake** (``ducklake:<schema>``, the production profile): an in-memory DuckDB that
  loads the ``httpfs``, ``postgres`` and ``ducklake`` extensions from their PyPI packages
  (nothing is downloaded), creates the S3 secret (endpoint from ``AWS_ENDPOINT_URL``, keys
  from boto3's chain, so an ECS task role works), ATTACHes the lake (catalog in Postgres,
  Parquet under ``<s3 url>/warehouse/``) and ``USE``s it, so ``raw.transactions``,
  ``platform.batch_verdicts`` and every other name work unchanged. Many processes write it
  at once; see :class:`LakeConnection` for the two things that differ.

DuckDB's type knowledge lives here too: :func:`duckdb_family` maps a column type to its
family (``BIGINT`` -> ``bigint``), for ingestion (type changes) and validation (profiles).
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from platform_assets.core.redaction import redact
from platform_assets.core.settings import LAKE_PREFIX, LakeSettings, Settings

_LOCK_RETRY_SECONDS = 30.0
_log = logging.getLogger(__name__)
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
    skipped_files JSON,
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


def connect(path: str | Path | LakeSettings, *, read_only: bool = False):
    """Open the warehouse: a DuckDB file (waiting up to 30 s while another process holds
    its write lock), or the DuckLake that ``ducklake:<schema>`` or a :class:`LakeSettings`
    names (a :class:`LakeConnection`)."""
    lake = resolve_lake(path)
    if lake is not None:
        return LakeConnection(_open_lake(lake, read_only=read_only))
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
def session(
    path: str | Path | LakeSettings, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = connect(path, read_only=read_only)
    try:
        if not read_only:
            ensure_platform_tables(conn)
        yield conn
    finally:
        conn.close()


def ensure_platform_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(PLATFORM_DDL)


def exists(path: str | Path | LakeSettings) -> bool:
    """Whether the warehouse has been written: it has the platform's tables (the first writing
    session creates them). A DuckDB file can exist without them: a process killed while it
    opened the file leaves an empty one."""
    lake = resolve_lake(path)
    if lake is None and not Path(path).exists():
        return False
    try:
        with session(lake or path, read_only=True) as conn:
            return bool(table_columns(conn, "platform", "batch_manifest"))
    except duckdb.Error:
        if lake is None:
            raise
        return False  # a catalog that was never attached for writing cannot be read


def replace_row(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    key: dict[str, Any],
    values: dict[str, Any],
    now_columns: Sequence[str] = (),
) -> None:
    """Insert the row ``key | values`` in place of the row with that key, in one transaction:
    what ``INSERT OR REPLACE`` does on a keyed table, on both engines (DuckLake tables have
    no primary key). ``now_columns`` are set to ``now()``."""
    row = {**key, **values}
    columns = [*row, *now_columns]
    where = " AND ".join(f"{quote_ident(c)} = ?" for c in key)
    placeholders = ", ".join(["?"] * len(row) + ["now()"] * len(now_columns))
    own = not in_transaction(conn)
    if own:
        conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(f"DELETE FROM {table} WHERE {where}", list(key.values()))
        conn.execute(
            f"INSERT INTO {table} ({', '.join(quote_ident(c) for c in columns)}) VALUES "
            f"({placeholders})",
            list(row.values()),
        )
        if own:
            conn.execute("COMMIT")
    except Exception:
        if own:
            conn.execute("ROLLBACK")
        raise


def in_transaction(conn) -> bool:
    """Whether an explicit transaction is open on ``conn``. DuckDB has no flag for it, and a
    failed ``BEGIN`` aborts the open transaction; but in autocommit each statement is a
    transaction of its own, so two reads of ``txid_current()`` differ."""
    if isinstance(conn, LakeConnection):
        return conn.in_transaction
    first, second = (fetch_row(conn, "SELECT txid_current()")[0] for _ in range(2))
    return first == second


# --- the production warehouse: DuckLake -----------------------------------------------

#: The extensions a lake connection loads: (name in SQL, PyPI package, file name DuckDB
#: expects). DuckDB calls the postgres extension ``postgres_scanner`` (its entry point).
_LAKE_EXTENSIONS = (
    ("httpfs", "duckdb_extension_httpfs", "httpfs"),
    ("postgres", "duckdb_extension_postgres", "postgres_scanner"),
    ("ducklake", "duckdb_extension_ducklake", "ducklake"),
)
LAKE_ALIAS = "lake"
_LAKE_CONFLICT = "Transaction conflict"
_LAKE_ATTEMPTS = 30


def resolve_lake(target: str | Path | LakeSettings) -> LakeSettings | None:
    """The lake ``target`` names, or None for a DuckDB file. ``ducklake:<schema>`` is what
    ``Settings.warehouse`` returns in production; it resolves through the settings, so no
    secret ever travels in a resource's config or a run's metadata."""
    if isinstance(target, LakeSettings):
        return target
    if not str(target).startswith(LAKE_PREFIX):
        return None
    lake = Settings.from_env().lake
    if lake is None or lake.name != str(target):
        raise ValueError(
            f"{target}: the warehouse is a DuckLake, but the environment configures "
            f"{lake.name if lake else 'no lake'}; set PLATFORM_ASSETS_PROFILE=production with "
            f"PLATFORM_ASSETS_PG_URL and PLATFORM_ASSETS_S3_URL (and PLATFORM_ASSETS_LAKE_SCHEMA)"
        )
    return lake


def extension_directory(target: Path) -> Path:
    """An ``extension_directory`` for DuckDB whose files are links to the extensions that
    the ``duckdb-extension-*`` PyPI packages ship, laid out as DuckDB looks for them
    (``<dir>/<version>/<platform>/<name>.duckdb_extension``). Nothing is downloaded."""
    import importlib.util
    import os

    version = f"v{duckdb.__version__}"
    with duckdb.connect() as probe:
        (platform,) = probe.execute("PRAGMA platform").fetchall()[0]
    folder = Path(target) / version / platform
    folder.mkdir(parents=True, exist_ok=True)
    for _, package, file_name in _LAKE_EXTENSIONS:
        spec = importlib.util.find_spec(package)
        shipped = None
        if spec is not None and spec.submodule_search_locations:
            shipped = next(
                Path(spec.submodule_search_locations[0]).glob(
                    f"extensions/{version}/*.duckdb_extension"
                ),
                None,
            )
        if shipped is None:
            raise RuntimeError(
                "the DuckLake warehouse needs the "
                f"{package.replace('_', '-')}=={duckdb.__version__} package (duckdb "
                f"{duckdb.__version__}); install the project from requirements.lock"
            )
        link = folder / f"{file_name}.duckdb_extension"
        if not (link.is_symlink() and os.readlink(link) == str(shipped)):
            staging = folder / f".{file_name}.{os.getpid()}"
            staging.unlink(missing_ok=True)
            staging.symlink_to(shipped)
            os.replace(staging, link)  # atomic: another process may be linking the same file
    return Path(target)


def _sql_string(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def s3_secret_sql(lake: LakeSettings) -> str:
    """``CREATE SECRET`` for the lake's bucket: keys from boto3's credential chain (the
    standard AWS variables, a profile, or an ECS task role), the endpoint from
    ``AWS_ENDPOINT_URL`` (MinIO or a test server, path-style URLs)."""
    from urllib.parse import urlsplit

    import boto3

    session = boto3.Session()
    options = {
        "TYPE": "s3",
        "REGION": lake.s3_region or session.region_name or "us-east-1",
        "SCOPE": "s3://" + lake.data_path[len("s3://") :].split("/", 1)[0],
    }
    credentials = session.get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options.update(KEY_ID=frozen.access_key, SECRET=frozen.secret_key)
        if frozen.token:
            options["SESSION_TOKEN"] = frozen.token
    if lake.s3_endpoint_url:
        endpoint = urlsplit(lake.s3_endpoint_url)
        options.update(
            ENDPOINT=endpoint.netloc or endpoint.path,
            URL_STYLE="path",
            USE_SSL="true" if endpoint.scheme == "https" else "false",
        )
    rendered = ", ".join(
        f"{k} {v if k in ('TYPE', 'USE_SSL') else _sql_string(v)}" for k, v in options.items()
    )
    return f"CREATE OR REPLACE SECRET platform_assets_s3 ({rendered})"


def _open_lake(lake: LakeSettings, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(
        config={
            "extension_directory": str(extension_directory(lake.extension_dir)),
            "autoinstall_known_extensions": False,
        }
    )
    try:
        for name, _, _ in _LAKE_EXTENSIONS:
            conn.execute(f"LOAD {name}")
        conn.execute(s3_secret_sql(lake))
        options = [
            f"DATA_PATH {_sql_string(lake.data_path)}",
            f"METADATA_SCHEMA {_sql_string(lake.metadata_schema)}",
        ]
        if read_only:
            options.append("READ_ONLY")
        attach = (
            f"ATTACH {_sql_string('ducklake:postgres:' + lake.catalog_url)} AS {LAKE_ALIAS} "
            f"({', '.join(options)})"
        )
        for attempt in range(5):
            try:
                conn.execute(attach)
                break
            except duckdb.Error as exc:
                if _unreachable(exc):
                    raise WarehouseUnreachable(
                        f"cannot reach the warehouse catalog (Postgres, "
                        f"{redact(lake.catalog_url)}): {_reason(exc)}"
                    ) from None
                # Two processes attaching a new lake at once both create its catalog tables in
                # Postgres; the loser finds them there on the next attempt.
                if attempt == 4 or not any(
                    word in str(exc).lower()
                    for word in ("already exists", "duplicate key", "conflict")
                ):
                    raise without_secrets(exc) from None  # the message quotes the URL
                time.sleep(0.2 + random.random())
        conn.execute(f"USE {LAKE_ALIAS}")
        return conn
    except BaseException:
        conn.close()
        raise


class WarehouseUnreachable(RuntimeError):
    """The warehouse's catalog could not be reached (Postgres down, a wrong host or port):
    an outage, never an empty warehouse. The message names what, with no password."""


_UNREACHABLE = (
    "unable to connect",
    "could not connect",
    "connection refused",
    "connection to server",
    "could not translate host name",
    "timeout expired",
    "no route to host",
    "network is unreachable",
    "server closed the connection",
)


def _unreachable(exc: BaseException) -> bool:
    return any(phrase in str(exc).lower() for phrase in _UNREACHABLE)


def _reason(exc: BaseException) -> str:
    """The driver's own words for why (libpq's last line before its hint), secrets masked."""
    text = redact(str(exc)).strip()
    tail = text.rsplit("failed: ", 1)[-1]
    return (tail.splitlines() or [text])[0].strip()


_KEY_CONSTRAINT = re.compile(r",\s*PRIMARY\s+KEY\s*\([^)]*\)|\s+PRIMARY\s+KEY\b", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"\bCREATE\s+(OR\s+REPLACE\s+)?TABLE\b", re.IGNORECASE)


def without_key_constraints(sql: str) -> str:
    """``sql`` with the ``PRIMARY KEY`` clauses of its ``CREATE TABLE`` statements removed."""
    return _KEY_CONSTRAINT.sub("", sql) if _CREATE_TABLE.search(sql) else sql


def is_lake_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is DuckLake refusing a commit because a concurrent one changed the
    same table (e.g. one inserted where the other deleted): the client is to retry."""
    return isinstance(exc, duckdb.Error) and _LAKE_CONFLICT in str(exc)


class LakeConnection:
    """A DuckDB connection to the DuckLake; everything is the connection's own, except:

    1. **Commits that DuckLake asks to retry are retried.** DuckLake uses optimistic
       concurrency: two writers never block each other, and when their commits conflict
       (an insert into a table that a concurrent transaction deleted from, two creates of
       one table), the later commit fails and the client is to retry. Non-conflicting
       commits DuckLake retries itself. Here a statement outside a transaction is run
       again; a transaction (``BEGIN`` .. ``COMMIT``) is replayed from its ``BEGIN``, its
       statements recorded as they ran. Every writer of the platform replaces what it writes
       (delete the partition, insert it), so running it again is the same as running it
       once. Values read *inside* a transaction are those of its first attempt. No lock is
       taken anywhere: this is DuckLake's own protocol.
    2. **No key constraints.** DuckLake tables have no PRIMARY KEY; ``CREATE TABLE``
       statements lose theirs, and the platform's writers keep keys unique themselves
       (:func:`replace_row`).
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self._conn = conn
        self._transaction: list[tuple[str, Any]] | None = None

    def __getattr__(self, name: str):
        # Everything else is the connection's, results too: DuckDB keeps the last result on
        # the connection, so ``conn.execute(...).fetchall()`` reads it from there.
        return getattr(self._conn, name)

    def __enter__(self) -> LakeConnection:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def cursor(self) -> LakeConnection:
        cursor = self._conn.cursor()
        cursor.execute(f"USE {LAKE_ALIAS}")  # the default database is per connection
        return LakeConnection(cursor)

    @property
    def in_transaction(self) -> bool:
        return self._transaction is not None

    def begin(self) -> LakeConnection:
        return self.execute("BEGIN TRANSACTION")

    def commit(self) -> LakeConnection:
        return self.execute("COMMIT")

    def rollback(self) -> LakeConnection:
        return self.execute("ROLLBACK")

    def execute(self, query: str, parameters: Any = None):
        query = without_key_constraints(query)
        verb = query.lstrip().split(None, 1)[0].upper().rstrip(";") if query.strip() else ""
        if verb in ("BEGIN", "START"):
            self._conn.execute(query)
            self._transaction = []
            return self
        if verb in ("COMMIT", "END"):
            return self._commit(query)
        if verb in ("ROLLBACK", "ABORT"):
            self._transaction = None
            # A failed commit has rolled back already.
            with suppress(duckdb.TransactionException):
                self._conn.execute(query)
            return self
        if self._transaction is not None:
            self._transaction.append((query, parameters))
            self._conn.execute(query, parameters)
            return self
        for attempt in range(_LAKE_ATTEMPTS):
            try:
                self._conn.execute(query, parameters)
                return self
            except duckdb.Error as exc:
                if not is_lake_conflict(exc) or attempt == _LAKE_ATTEMPTS - 1:
                    raise without_secrets(exc) from None
                _log.warning(
                    "DuckLake commit conflict, running the statement again (attempt %d): %s",
                    attempt + 2,
                    _first_line(exc),
                )
                _back_off(attempt)
        raise AssertionError("unreachable")

    def _commit(self, query: str):
        statements, self._transaction = self._transaction or [], None
        for attempt in range(_LAKE_ATTEMPTS):
            try:
                self._conn.execute(query)
                return self
            except duckdb.Error as exc:
                if not is_lake_conflict(exc) or attempt == _LAKE_ATTEMPTS - 1:
                    raise without_secrets(exc) from None
                _log.warning(
                    "DuckLake commit conflict, replaying the transaction (%d statements, attempt "
                    "%d): %s",
                    len(statements),
                    attempt + 2,
                    _first_line(exc),
                )
            with suppress(duckdb.TransactionException):
                self._conn.execute("ROLLBACK")
            _back_off(attempt)
            self._conn.execute("BEGIN TRANSACTION")
            for statement, parameters in statements:
                self._conn.execute(statement, parameters)
        raise AssertionError("unreachable")


def _first_line(exc: BaseException) -> str:
    lines = [line for line in redact(str(exc)).splitlines() if _LAKE_CONFLICT in line]
    return lines[0] if lines else redact(str(exc)).splitlines()[0]


def without_secrets(exc: duckdb.Error) -> duckdb.Error:
    """``exc``, or the same kind of error with its message redacted when it quoted a secret
    (the lake's errors quote the catalog's URL, password included). Raise it ``from None``:
    the original would travel on as its cause into the run's event log."""
    message = str(exc)
    masked = redact(message)
    if masked == message:
        return exc
    return type(exc)(masked).with_traceback(exc.__traceback__)


def _back_off(attempt: int) -> None:
    # Jittered: two writers that collided once must not collide again in lockstep.
    time.sleep(min(0.05 * 1.6**attempt, 2.0) * (0.5 + random.random()))


def fetch_row(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None
) -> tuple | None:
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
    return dict(rows)


# --- type families ---------------------------------------------------------------------

_DUCKDB_FAMILIES = (
    ("BIGINT", "bigint"),
    ("INTEGER", "bigint"),
    ("SMALLINT", "bigint"),
    ("TINYINT", "bigint"),
    ("HUGEINT", "bigint"),
    ("UBIGINT", "bigint"),
    ("UINTEGER", "bigint"),
    ("DOUBLE", "double"),
    ("FLOAT", "double"),
    ("REAL", "double"),
    ("DECIMAL", "decimal"),
    ("VARCHAR", "text"),
    ("BOOLEAN", "bool"),
    ("TIMESTAMP", "timestamp"),
    ("DATE", "date"),
    ("TIME", "time"),
    ("BLOB", "binary"),
    ("JSON", "json"),
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
        """SQL giving the parsed value of the text expression ``text_sql``, NULL where it does not
        parse.
        """
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
        return (
            f"(CASE WHEN regexp_full_match({v}, '{shape}') THEN TRY_CAST({v} AS "
            f"{self.duckdb_type}) END)"
        )


def _as_parse(declared: TextParse | str) -> TextParse:
    return declared if isinstance(declared, TextParse) else TextParse(declared)


def reader_error_excerpt(exc: BaseException, limit: int = 200) -> str:
    """A reader's error cut to what locates the problem: DuckDB's "Possible fixes" and settings
    dropped, its ``Original Line:`` (the row's values, PII included) left out, each remaining
    line at most ``limit`` characters."""
    head = str(exc).strip().split("\n\n")[0].split("\nPossible fixes:")[0]
    lines = [
        line.strip()
        for line in head.splitlines()
        if line.strip() and not line.strip().startswith("Original Line:")
    ]
    if lines and lines[0].startswith("Invalid Input Error: "):
        lines[0] = lines[0].removeprefix("Invalid Input Error: ")
    cut = [line if len(line) <= limit else line[:limit] + "…" for line in lines]
    return "; ".join(cut) or type(exc).__name__


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
    # Read once into a temp table: a relation re-reads its source on every use.
    return _temp_table(
        conn, csv_text_relation(conn, source, name), f"csv_text_{next(_text_tables)}"
    )


def _temp_table(
    conn: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, table: str
) -> duckdb.DuckDBPyRelation:
    """``relation`` read once into the TEMP table ``table``. TEMP on both engines: in the lake
    a plain table would be a catalog entry and a Parquet file on S3."""
    conn.register(f"{table}_source", relation)
    try:
        conn.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {table}_source")
    finally:
        conn.unregister(f"{table}_source")
    return conn.table(table)


def csv_text_relation(
    conn: duckdb.DuckDBPyConnection, source, name: str
) -> duckdb.DuckDBPyRelation:
    """The CSV reader of :func:`read_csv_as_text`, not materialised: every use re-reads the file."""
    import csv
    import io

    try:
        if isinstance(source, str | Path):
            with open(source, newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle), None)
        else:
            data = source.read()
            text = io.StringIO(data.decode("utf-8-sig", errors="replace"))
            header = next(csv.reader(text), None)
            source = io.BytesIO(data)
    except csv.Error as exc:
        limit = csv.field_size_limit()
        raise ValueError(
            f"{name}: the header line cannot be read ({exc}): a column name over "
            f"{limit // 1024} KiB is not a header; check the file is CSV with a header line"
        ) from None
    if not header:
        raise ValueError(f"{name}: no header line")
    return conn.read_csv(
        source if isinstance(source, io.BytesIO) else str(source),
        header=True,
        auto_detect=False,
        columns=dict.fromkeys(header, "VARCHAR"),
        sep=",",
        quotechar='"',
        escapechar='"',
        strict_mode=True,
        allow_quoted_nulls=False,
    )


def jsonl_text_relation(
    conn: duckdb.DuckDBPyConnection, source, nested: Iterable[str] | None = None
) -> duckdb.DuckDBPyRelation:
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
        nested = [
            name
            for name, dtype in zip(detected.columns, detected.types, strict=True)
            if str(dtype).startswith(("STRUCT", "MAP", "JSON")) or str(dtype).endswith("]")
        ]
    keep = set(nested)
    return conn.read_json(
        again(),
        format="newline_delimited",
        columns={name: "JSON" if name in keep else "VARCHAR" for name in detected.columns},
    )


def read_jsonl_as_text(
    conn: duckdb.DuckDBPyConnection, source, nested: Iterable[str] | None = None
) -> duckdb.DuckDBPyRelation:
    """:func:`jsonl_text_relation`, read once into a temp table."""
    return _temp_table(
        conn, jsonl_text_relation(conn, source, nested), f"jsonl_text_{next(_text_tables)}"
    )


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def unparsable_counts(
    relation: duckdb.DuckDBPyRelation, declared: Mapping[str, TextParse | str]
) -> dict[str, tuple[int, str]]:
    """``{column: (values that do not parse, an example)}`` for the text columns of
    ``relation`` that ``declared`` types and that hold a value that does not parse."""
    present = [c for c in relation.columns if c in declared]
    if not present:
        return {}
    exprs = []
    for c in present:
        failing = (
            f"{quote_ident(c)} IS NOT NULL AND {_as_parse(declared[c]).sql(quote_ident(c))} IS NULL"
        )
        exprs.append(f"count(*) FILTER ({failing}), any_value({quote_ident(c)}) FILTER ({failing})")
    row = relation.aggregate(", ".join(exprs)).fetchall()[0]
    return {c: (int(row[2 * i]), row[2 * i + 1]) for i, c in enumerate(present) if row[2 * i]}


def typed_projection(
    columns: list[str], declared: Mapping[str, TextParse | str], keep_text: Iterable[str] = ()
) -> str:
    """The select list that parses each declared text column (strictly, see :class:`TextParse`)
    and keeps the others, and those in ``keep_text``, as written."""
    keep = set(keep_text)
    return ", ".join(
        f"{_as_parse(declared[c]).sql(quote_ident(c))} AS {quote_ident(c)}"
        if c in declared and c not in keep
        else quote_ident(c)
        for c in columns
    )


def cast_text_columns(
    conn: duckdb.DuckDBPyConnection,
    relation: duckdb.DuckDBPyRelation,
    declared: Mapping[str, TextParse | str],
) -> tuple[duckdb.DuckDBPyRelation, dict[str, tuple[int, str]]]:
    """Parse each text column that ``declared`` types (``{column: TextParse}``; a plain DuckDB
    type name means the default parse) when every value parses; leave it as text otherwise.

    Returns the relation and ``{column: (values that do not parse, an example)}`` for the
    columns left as text: the contract check reports them as type violations (row count
    and example) instead of anything converting them silently.
    """
    unparsable = unparsable_counts(relation, declared)
    return relation.project(typed_projection(relation.columns, declared, unparsable)), unparsable


def sandbox_connection(
    *, memory_limit: str = "256MB", threads: int = 1
) -> duckdb.DuckDBPyConnection:
    """A throwaway in-memory DuckDB for SQL that came from outside (a contract's SQL rule).

    It holds nothing but what the caller registers on it, cannot touch a file, a URL or an
    extension (``enable_external_access`` off, no extension auto-install or auto-load), and
    its configuration is locked after the limits are set, so the SQL cannot undo them.
    """
    conn = duckdb.connect(
        ":memory:",
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "memory_limit": memory_limit,
            "threads": threads,
            "max_temp_directory_size": "0B",
        },
    )
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET enable_progress_bar = false")
    conn.execute("SET lock_configuration = true")
    return conn

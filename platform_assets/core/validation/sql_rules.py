"""A contract's ``type: sql`` quality rules: what is accepted, and the sandbox they run in.

A contract arrives in a pull request, so its SQL is untrusted. Two guards, either enough
on its own for what it covers:

1. **The rule is parsed** (DuckDB's own parser counts and types the statements; sqlglot's
   DuckDB dialect walks the tree) and accepted only when it is one read-only ``SELECT``
   (CTEs, set operations and subqueries are fine) whose only tables are the batch:
   ``${object}`` (also written ``{object}``) or the table's own ``physicalName``/``name``,
   and the CTEs it defines. No table function that reads files or the network
   (``read_*``, ``glob``, ``*_scan``, ``query_table``, ...), no catalog function, no
   ``ATTACH``/``COPY``/``INSTALL``/``LOAD``/``PRAGMA``/``SET``/``CALL``/``EXPORT``, no
   second statement. :func:`query_problem` says why a rule is refused; ``contracts lint``
   refuses the contract with the rule's field and line, and the engine refuses it again
   before running anything (:func:`run_rule` reports a refused rule as a failed rule).
2. **An accepted rule runs in a sandbox**: a separate in-memory DuckDB
   (:func:`platform_assets.core.warehouse.sandbox_connection`) that holds only a copy of
   the batch (an Arrow table, the columns the rule names), with external access off,
   configuration locked, a memory limit, one thread, and a time limit
   (:data:`TIME_LIMIT_SECONDS`, enforced by ``interrupt()`` from a timer). The warehouse
   connection never sees the rule.
"""

from __future__ import annotations

import decimal
import logging
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from platform_assets.core.warehouse import quote_ident, sandbox_connection

if TYPE_CHECKING:
    from sqlglot import Expr

TIME_LIMIT_SECONDS = 10.0
MEMORY_LIMIT = "256MB"
MAX_QUERY_CHARS = 20_000
BATCH_NAME = "__contract_batch"
PLACEHOLDERS = ("${object}", "{object}")
COLUMN_PLACEHOLDERS = ("${property}", "{property}")
# Functions a rule may not call even inside the sandbox (which could not run most of them
# anyway): they read files, URLs, secrets, settings or the catalog.
_REFUSED_FUNCTIONS = re.compile(
    r"^(read_\w*|sniff_csv|glob|query|query_table|getenv|current_setting|which_secret"
    r"|duckdb_\w*|pragma_\w*|load_\w*|\w*_scan|\w*_metadata|iceberg_\w*|delta_\w*"
    r"|sqlite_\w*|postgres_\w*|mysql_\w*|ducklake_\w*|parquet_\w*|json_execute_serialized_sql"
    r"|from_substrait\w*|get_substrait\w*|http_\w*|url_\w*)$"
)
# Table functions that only make rows up (no file, no catalog) are fine.
_ALLOWED_TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
SAFE_RULE = "a SQL rule must be one read-only SELECT over ${object} (the batch)"

# sqlglot warns on the log when it falls back to a raw command; the refusal says it instead.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


@dataclass(frozen=True)
class RuleResult:
    """What a SQL rule returned (``value``), or why it did not run or failed (``error``)."""

    value: float | None = None
    error: str | None = None


def _a(word: str) -> str:
    return ("an " if word[:1] in "AEIOUaeiou" else "a ") + word


def substitute(query: str, column: str | None) -> str:
    """The rule with ``${object}`` as the batch's name and ``${property}`` as its column."""
    for placeholder in PLACEHOLDERS:
        query = query.replace(placeholder, BATCH_NAME)
    if column is not None:
        for placeholder in COLUMN_PLACEHOLDERS:
            query = query.replace(placeholder, quote_ident(column))
    return query


def _function_name(node: Expr) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return type(node).__name__.lower()


def _parse(query: str) -> tuple[Expr | None, str | None]:
    """The one statement of ``query`` as a sqlglot tree, or why it is refused."""
    # sqlglot is imported here, not at the top: it adds a second to the code location's load.
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    if len(query) > MAX_QUERY_CHARS:
        return None, f"the query is {len(query)} characters long (at most {MAX_QUERY_CHARS})"
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        return None, f"DuckDB cannot parse it ({str(exc).splitlines()[0]})"
    if len(statements) != 1:
        return None, f"it holds {len(statements)} statements; give exactly one SELECT"
    if statements[0].type != duckdb.StatementType.SELECT:
        return None, f"it is {_a(statements[0].type.name)} statement, not a SELECT"
    try:
        trees = [t for t in sqlglot.parse(query, read="duckdb") if t is not None]
    except SqlglotError as exc:
        return None, f"it cannot be read as DuckDB SQL ({str(exc).splitlines()[0][:120]})"
    if len(trees) != 1:
        return None, f"it holds {len(trees)} statements; give exactly one SELECT"
    tree = trees[0]
    # PRAGMA and SUMMARIZE/DESCRIBE are SELECTs to DuckDB; only a query expression is one here.
    if not isinstance(tree, exp.Select | exp.SetOperation | exp.Subquery):
        return None, f"it is {tree.key.upper()}, not a SELECT"
    return tree, None


def query_problem(query: str | None, table_names: tuple[str, ...] = ()) -> str | None:
    """Why a contract's SQL rule is refused, or None when it is a single read-only SELECT
    whose only tables are the batch (``${object}``, or one of ``table_names``: the table's
    ``physicalName`` and ``name``) and its own CTEs."""
    from sqlglot import exp

    if not query or not query.strip():
        return "the query is empty"
    tree, why = _parse(substitute(query, "column"))
    if tree is None:
        return f"{why}: {SAFE_RULE}"
    allowed = {BATCH_NAME.lower(), *(n.lower() for n in table_names if n)}
    ctes = {str(cte.alias_or_name).lower() for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, exp.Table):
            target = node.this
            if isinstance(target, exp.Func | exp.Anonymous):
                name = _function_name(target)
                if name not in _ALLOWED_TABLE_FUNCTIONS:
                    return f"it reads from the table function {name}(): {SAFE_RULE}"
                continue
            if node.args.get("db") or node.args.get("catalog"):
                return f"it reads {node.sql('duckdb')}, a table outside the batch: {SAFE_RULE}"
            name = str(node.name).lower()
            if name not in allowed and name not in ctes:
                return f"it reads {node.name!r}, a table outside the batch: {SAFE_RULE}"
        elif isinstance(node, exp.Func):
            name = _function_name(node)
            if _REFUSED_FUNCTIONS.match(name):
                return f"it calls {name}(), which reads outside the batch: {SAFE_RULE}"
        elif isinstance(node, exp.Command | exp.Pragma | exp.Set | exp.Copy | exp.Attach):
            return f"it holds a {node.key.upper()} command: {SAFE_RULE}"
    return None


def _columns_named(tree: Expr, available: list[str]) -> list[str]:
    """The batch columns a rule needs: all of them when it selects ``*``, else those it names."""
    from sqlglot import exp

    if any(isinstance(node, exp.Star) for node in tree.walk()):
        return available
    named = {str(col.name).lower() for col in tree.find_all(exp.Column)}
    return [c for c in available if c.lower() in named] or available[:1]


def run_rule(
    conn: duckdb.DuckDBPyConnection,
    relation: str,
    query: str,
    *,
    column: str | None = None,
    table_names: tuple[str, ...] = (),
    seconds: float = TIME_LIMIT_SECONDS,
    memory_limit: str = MEMORY_LIMIT,
) -> RuleResult:
    """Run one SQL rule over ``relation`` (on ``conn``) in the sandbox.

    The rule is checked again first (:func:`query_problem`); a refused rule never runs.
    Only a copy of the batch's columns the rule names reaches the sandbox, registered
    under ``${object}``'s name and the table's own names.
    """
    why = query_problem(query, table_names)
    if why is not None:
        return RuleResult(error=f"refused, not run: {why}")
    sql = substitute(query, column)
    tree, _ = _parse(sql)
    available = [str(r[0]) for r in conn.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    wanted = _columns_named(tree, available) if tree is not None else available
    batch = conn.execute(
        f"SELECT {', '.join(quote_ident(c) for c in wanted)} FROM {relation}"
    ).fetch_arrow_table()
    sandbox = sandbox_connection(memory_limit=memory_limit)
    timer = threading.Timer(seconds, sandbox.interrupt)
    try:
        for name in dict.fromkeys((BATCH_NAME, *(n for n in table_names if n))):
            sandbox.register(name, batch)
        timer.start()
        rows = sandbox.execute(sql).fetchmany(2)
    except duckdb.InterruptException:
        return RuleResult(error=f"ran longer than {seconds:g} s and was stopped")
    except duckdb.OutOfMemoryException:
        return RuleResult(error=f"needed more than {memory_limit} of memory and was stopped")
    except duckdb.Error as exc:
        return RuleResult(error=f"could not run ({str(exc).splitlines()[0]})")
    finally:
        timer.cancel()
        sandbox.close()
    if len(rows) != 1 or len(rows[0]) != 1:
        return RuleResult(error=f"must return one number, got {rows!r}"[:200])
    value = rows[0][0]
    if not isinstance(value, int | float | decimal.Decimal) or isinstance(value, bool):
        return RuleResult(error=f"must return one number, got {value!r}"[:200])
    return RuleResult(value=float(value))

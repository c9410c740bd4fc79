"""What a test asserts and pyright cannot know: narrowing helpers, so a test states "this is
there" once instead of an ``assert x is not None`` before every use."""

from __future__ import annotations

from typing import Any, TypeVar

import dagster as dg
import duckdb

T = TypeVar("T")


def present(value: T | None, what: str = "the value") -> T:
    """``value``, which the test expects to be there (an AssertionError naming it if not)."""
    assert value is not None, f"{what} is None"
    return value


def text(value: object) -> str:
    """A metadata value (or anything) the test expects to be a string."""
    assert isinstance(value, str), f"not text: {value!r}"
    return value


def number(value: object) -> float:
    """A metadata value (or anything) the test expects to be a number."""
    assert isinstance(value, int | float) and not isinstance(value, bool), (
        f"not a number: {value!r}"
    )
    return float(value)


def row(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple:
    """The one row of a query that returns one (an aggregate)."""
    return present(conn.execute(sql, params or []).fetchone(), f"a row of {sql!r}")


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Any:
    """The first column of the one row of a query."""
    return row(conn, sql, params)[0]


def skip_message(outcome: object) -> str:
    """The message of a sensor evaluation the test expects to be a SkipReason."""
    assert isinstance(outcome, dg.SkipReason), f"not a SkipReason: {outcome!r}"
    return outcome.skip_message or ""


def data(value: object) -> Any:
    """A JSON metadata value (a list or a mapping) the test reads into."""
    assert isinstance(value, list | dict), f"not JSON data: {value!r}"
    return value

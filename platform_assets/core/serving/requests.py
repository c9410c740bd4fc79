"""A scoring request checked with the contract's row rules, before any feature is computed.

The rules are the contract's own (:class:`~platform_assets.core.validation.contract.ColumnSpec`
of ``contracts/fct_transactions.odcs.yaml``): the declared ``logicalType``, ``required``,
``enum``, ``logicalTypeOptions`` (``pattern``, ``format``, ``minLength``/``maxLength``,
``minimum``/``maximum`` and their exclusive forms) and the column-level ``invalidValues``
rules with ``validValues`` or ``pattern``. Rules about a whole batch (``unique``,
``rowCount``, SQL) have no meaning for one transaction and are not run here. The label
(``is_fraud``) is not asked for; unknown fields are ignored.

A broken rule is a :class:`RequestProblem` naming the transaction's index, the field, the
rule and the value; the service answers 422 with every problem and scores nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from platform_assets.core.validation.contract import KNOWN_FORMATS, ColumnSpec, Contract

NOT_REQUESTED = ("is_fraud", "partition_date")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class RequestProblem:
    index: int
    field: str
    rule: str
    value: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def shown(value: Any, limit: int = 80) -> str:
    """A value as an error message shows it: ``repr``, control characters removed, capped."""
    text = _CONTROL.sub("?", repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_timestamp(value: str) -> dt.datetime:
    """ISO 8601 (``Z`` or an offset; none means UTC, as the contract's column is UTC)."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class TransactionRules:
    """The row rules of one contract, compiled once."""

    def __init__(self, contract: Contract):
        self.contract = contract
        self.columns: tuple[ColumnSpec, ...] = tuple(
            c for c in contract.columns if c.name not in NOT_REQUESTED
        )
        self._patterns: dict[str, re.Pattern] = {}
        self._valid_values: dict[str, tuple[set, str]] = {}
        self._value_patterns: dict[str, list[re.Pattern]] = {}
        for column in self.columns:
            if column.pattern:
                self._patterns[column.name] = re.compile(column.pattern)
            for rule in column.quality:
                if rule.metric != "invalidValues":
                    continue
                if "validValues" in rule.arguments:
                    self._valid_values[column.name] = (
                        set(rule.arguments["validValues"]),
                        rule.location,
                    )
                if "pattern" in rule.arguments:
                    self._value_patterns.setdefault(column.name, []).append(
                        re.compile(rule.arguments["pattern"])
                    )

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def check(self, index: int, item: Any) -> tuple[dict[str, Any] | None, list[RequestProblem]]:
        """``(row, problems)``: the transaction's contract columns (``event_ts`` parsed to an
        aware datetime) when every rule holds, else ``None`` and what broke."""
        if not isinstance(item, Mapping):
            return None, [
                RequestProblem(
                    index, "", "object", shown(item), f"transaction {index} is not a JSON object"
                )
            ]
        row: dict[str, Any] = {}
        problems: list[RequestProblem] = []
        for column in self.columns:
            value = item.get(column.name)
            problem = self._check_value(column, value)
            if problem is None:
                row[column.name] = value
                continue
            rule, why = problem
            problems.append(
                RequestProblem(
                    index,
                    column.name,
                    rule,
                    shown(value),
                    f"transaction {index}: field {column.name!r} breaks rule {rule} "
                    f"({why}); got {shown(value)}",
                )
            )
        if problems:
            return None, problems
        if "event_ts" in row:
            row["event_ts"] = parse_timestamp(row["event_ts"])
        return row, []

    def _check_value(self, column: ColumnSpec, value: Any) -> tuple[str, str] | None:
        if value is None:
            return ("required", "the contract requires a value") if column.required else None
        logical = column.logical_type
        if logical == "string" and not isinstance(value, str):
            return "logicalType", "must be a string"
        if logical == "integer" and (isinstance(value, bool) or not isinstance(value, int)):
            return "logicalType", "must be a whole number"
        if logical == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
            return "logicalType", "must be a number"
        if logical == "boolean" and not isinstance(value, bool):
            return "logicalType", "must be true or false"
        if logical in ("timestamp", "date"):
            if not isinstance(value, str):
                return "logicalType", f"must be an ISO 8601 {logical} string"
            try:
                parse_timestamp(value)
            except ValueError:
                return "logicalType", f"must be an ISO 8601 {logical}"
        if isinstance(value, str):
            pattern = self._patterns.get(column.name)
            if pattern is not None and not pattern.fullmatch(value):
                return "pattern", f"must match {column.pattern}"
            if column.format in KNOWN_FORMATS and not re.fullmatch(
                KNOWN_FORMATS[column.format], value
            ):
                return "format", f"must be {column.format}"
            if column.min_length is not None and len(value) < column.min_length:
                return "minLength", f"at least {column.min_length} characters"
            if column.max_length is not None and len(value) > column.max_length:
                return "maxLength", f"at most {column.max_length} characters"
        if column.enum is not None and value not in column.enum:
            return "enum", "one of " + ", ".join(str(v) for v in column.enum)
        if isinstance(value, int | float) and not isinstance(value, bool):
            if column.minimum is not None and value < column.minimum:
                return "minimum", f">= {column.minimum}"
            if column.maximum is not None and value > column.maximum:
                return "maximum", f"<= {column.maximum}"
            if column.exclusive_minimum is not None and value <= column.exclusive_minimum:
                return "exclusiveMinimum", f"> {column.exclusive_minimum}"
            if column.exclusive_maximum is not None and value >= column.exclusive_maximum:
                return "exclusiveMaximum", f"< {column.exclusive_maximum}"
        valid = self._valid_values.get(column.name)
        if valid is not None and value not in valid[0]:
            return "invalidValues", "one of " + ", ".join(sorted(map(str, valid[0])))
        for pattern in self._value_patterns.get(column.name, ()):
            if isinstance(value, str) and not pattern.fullmatch(value):
                return "invalidValues", f"must match {pattern.pattern}"
        return None

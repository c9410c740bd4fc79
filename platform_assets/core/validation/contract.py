"""ODCS v3 data contracts: validate against the standard, then lint what this platform runs.

Three outcomes, kept apart so a contract author knows which one to fix:

1. **Invalid ODCS**: the file breaks the standard's JSON schema (the schema shipped with
   ``open_data_contract_standard``, the one Bitol's own tests use). A :class:`ContractError`
   whose ``kind`` is ``"invalid ODCS"`` names each field and its YAML line.
2. **Valid ODCS the platform cannot check as written**: a ``pattern`` that is not a regular
   expression DuckDB (RE2) can run, ``minimum`` above ``maximum``, a bound that is not a
   number (or, for dates and times, not a date written in the column's format), a column
   declared twice. A :class:`ContractError` of kind ``"cannot be checked as written"``.
3. **Valid ODCS, parts not run by this platform**: ``custom`` and ``text`` quality rules
   (Soda, Great Expectations, …), relationships, nested properties, map and vector
   contents, SLAs, options with no rule here. The contract loads; each part is named in
   :attr:`Contract.not_run` (a warning, with its field and line) so nothing is skipped
   silently. A contract with no ``schema`` at all (servers, team, SLAs only) is valid and
   has nothing to check.

Date, timestamp and time columns take ``logicalTypeOptions.format`` as a date pattern
(``yyyy-MM-dd``, ``yyyy-MM-dd HH:mm:ssZ``, or a ``strptime`` format with ``%``) and their
``minimum``/``maximum``/``exclusive*`` bounds as dates written that way: files are parsed
with the pattern and the bounds are checked.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import yaml

from platform_assets.core.validation.classification import withheld_because
from platform_assets.core.warehouse import TextParse
from platform_assets.core.yaml_lines import MAX_YAML_BYTES, YamlLimitError, load_bounded

LOGICAL_TYPES = (
    "string",
    "integer",
    "number",
    "boolean",
    "date",
    "timestamp",
    "time",
    "object",
    "array",
    "map",
    "vector",
)
TEMPORAL_TYPES = ("date", "timestamp", "time")
LIBRARY_METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues", "rowCount")
OPERATORS = (
    "mustBe",
    "mustNotBe",
    "mustBeGreaterThan",
    "mustBeGreaterOrEqualTo",
    "mustBeLessThan",
    "mustBeLessOrEqualTo",
    "mustBeBetween",
    "mustNotBeBetween",
)
KNOWN_FORMATS = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "uri": r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$",
    "ipv4": r"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
}
# Severities as the platform acts on them; ODCS allows any word.
SEVERITY_WORDS = {
    "error": "error",
    "critical": "error",
    "blocker": "error",
    "high": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "low": "warning",
    "info": "info",
}
INVALID_ODCS = "invalid ODCS"
NOT_CHECKABLE = "cannot be checked as written"
AMBIGUOUS = "two contracts for one table"
# Options the checks run, per logicalType; any other option is named as not run.
RUN_OPTIONS = {
    "string": {"pattern", "minLength", "maxLength", "format"},
    "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
    "date": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "format"},
    "timestamp": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "format"},
    "time": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "format"},
    "array": {"minItems", "maxItems"},
}


class ContractError(ValueError):
    """A contract that cannot be used. ``problems`` lists each one with its location;
    ``kind`` says whether the file breaks the ODCS standard (:data:`INVALID_ODCS`) or is
    valid ODCS this platform cannot check as written (:data:`NOT_CHECKABLE`)."""

    def __init__(self, path: Path | str, problems: list[str], kind: str = INVALID_ODCS):
        self.path = Path(path)
        self.problems = problems
        self.kind = kind
        lines = "\n".join(f"  - {p}" for p in problems)
        what = {
            INVALID_ODCS: "invalid data contract: not valid ODCS",
            AMBIGUOUS: "more than one contract governs a table",
        }.get(kind, "valid ODCS, but this platform cannot check it as written")
        super().__init__(f"{self.path}: {what} ({len(problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class QualityRule:
    """One ODCS ``quality`` entry: a library metric or a SQL query, with its operator."""

    location: str  # e.g. "schema[0].properties[3].quality[0]"
    kind: str  # "library" or "sql"
    metric: str | None
    operator: str
    threshold: Any
    unit: str  # "rows" or "percent"
    arguments: dict[str, Any]
    query: str | None
    severity: str
    description: str | None
    column: str | None = None  # the property a column-level SQL rule belongs to

    def holds(self, value: float) -> bool:
        """Whether ``value`` satisfies the operator."""
        t = self.threshold
        return {
            "mustBe": lambda: value == t,
            "mustNotBe": lambda: value != t,
            "mustBeGreaterThan": lambda: value > t,
            "mustBeGreaterOrEqualTo": lambda: value >= t,
            "mustBeLessThan": lambda: value < t,
            "mustBeLessOrEqualTo": lambda: value <= t,
            "mustBeBetween": lambda: t[0] <= value <= t[1],
            "mustNotBeBetween": lambda: not (t[0] <= value <= t[1]),
        }[self.operator]()

    def expectation(self) -> str:
        words = {
            "mustBe": "=",
            "mustNotBe": "!=",
            "mustBeGreaterThan": ">",
            "mustBeGreaterOrEqualTo": ">=",
            "mustBeLessThan": "<",
            "mustBeLessOrEqualTo": "<=",
        }
        suffix = "%" if self.unit == "percent" else ""
        if self.operator == "mustBeBetween":
            return f"between {self.threshold[0]}{suffix} and {self.threshold[1]}{suffix}"
        if self.operator == "mustNotBeBetween":
            return f"outside {self.threshold[0]}{suffix}..{self.threshold[1]}{suffix}"
        return f"{words[self.operator]} {self.threshold}{suffix}"


# The DuckDB type each ODCS logicalType is stored and read as.
LOGICAL_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "time": "TIME",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One contract property, flattened to what the checks need.

    ``name`` is the column as it appears in the data (the property's ``physicalName`` when
    it has one). Bounds are numbers for numeric columns and ``date``/``datetime``/``time``
    values for temporal ones. ``strptime`` is the date pattern of ``format`` for a temporal
    column, as a DuckDB ``strptime`` format (None: ISO 8601).
    """

    name: str
    location: str
    logical_type: str | None
    physical_type: str | None
    required: bool
    unique: bool
    primary_key: bool
    pattern: str | None
    minimum: Any
    maximum: Any
    exclusive_minimum: Any
    exclusive_maximum: Any
    min_length: int | None
    max_length: int | None
    format: str | None
    enum: tuple[Any, ...] | None
    classification: str | None
    description: str | None
    custom: dict[str, Any]
    quality: tuple[QualityRule, ...]
    strptime: str | None = None
    min_items: int | None = None
    max_items: int | None = None
    primary_key_position: int = -1

    @property
    def withheld_because(self) -> str | None:
        """Why this column's values are withheld from Claude and from examples in
        violations, or None (the policy: :mod:`.classification`)."""
        return withheld_because(self.classification)

    @property
    def is_sensitive(self) -> bool:
        return self.withheld_because is not None

    @property
    def text_parse(self) -> TextParse | None:
        """How this column's values are parsed when a file writes them as text (CSV, JSONL);
        None for strings, nested types and undeclared types, which stay as written."""
        if self.logical_type in LOGICAL_DUCKDB_TYPES and self.logical_type != "string":
            return TextParse(LOGICAL_DUCKDB_TYPES[self.logical_type], self.strptime)
        return None

    @property
    def type_words(self) -> str:
        """The declared type in words, for messages: ``date written yyyy-MM-dd``."""
        if self.logical_type in TEMPORAL_TYPES and self.format:
            return f"{self.logical_type} written {self.format}"
        return self.logical_type or "any type"


@dataclass(frozen=True)
class Contract:
    """A parsed, linted contract for one table (``table`` is None when the contract
    describes none: nothing to check)."""

    path: Path
    id: str
    version: str
    name: str | None
    table: str | None  # the physical table name the contract governs
    description: dict[str, str]
    columns: tuple[ColumnSpec, ...]
    quality: tuple[QualityRule, ...]
    raw: Any = field(repr=False, compare=False, default=None)
    not_run: tuple[
        str, ...
    ] = ()  # valid ODCS this platform does not check, each with its field and line
    api_version: str = ""
    tables: tuple[str, ...] = ()  # every table the file describes, this one included

    def parsed_types(self) -> dict[str, TextParse]:
        """``{column: TextParse}`` of the declared columns whose text a reader must parse
        (numbers, booleans, dates, times); declared strings and undeclared columns stay text."""
        return {c.name: c.text_parse for c in self.columns if c.text_parse is not None}

    def nested_columns(self) -> tuple[str, ...]:
        """Columns declared as objects, arrays, maps or vectors: a JSON reader keeps them as
        JSON."""
        return tuple(
            c.name for c in self.columns if c.logical_type in ("object", "array", "map", "vector")
        )

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def primary_key(self) -> tuple[str, ...]:
        keyed = [c for c in self.columns if c.primary_key]
        return tuple(
            c.name
            for c in sorted(
                keyed, key=lambda c: (c.primary_key_position < 0, c.primary_key_position)
            )
        )

    @property
    def table_names(self) -> tuple[str, ...]:
        """The names a SQL rule may call the batch by: the table's ``physicalName`` and ``name``."""
        return tuple(sorted(_names_of(self) | ({self.table} if self.table else set())))

    @property
    def sensitive_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_sensitive)

    def withheld_columns(self) -> dict[str, str]:
        """``{column: why}`` for the declared columns whose values are withheld from Claude."""
        return {c.name: why for c in self.columns if (why := c.withheld_because)}

    @property
    def major_version(self) -> int | None:
        """The major number of ``version`` (``2`` for ``2.1.0``), None when it has none."""
        match = re.match(r"\s*v?(\d+)", str(self.version or ""))
        return int(match.group(1)) if match else None


def _location(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


def _read_document(path: Path) -> tuple[dict, dict[tuple, int]]:
    """The YAML mapping of a contract file and its line index.

    Raises:
        ContractError: the file is missing, is not YAML, or is not a mapping.
    """
    if not path.is_file():
        raise ContractError(path, [f"file not found (looked at {path.resolve()})"])
    if path.stat().st_size > MAX_YAML_BYTES:  # refused before it is read into memory
        raise ContractError(
            path,
            [f"refused: the file is {path.stat().st_size:,} bytes; at most {MAX_YAML_BYTES:,}"],
        )
    text = path.read_text(encoding="utf-8")
    try:
        document, lines = load_bounded(text)
    except YamlLimitError as exc:
        raise ContractError(path, [f"refused: {exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ContractError(
            path, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]
        ) from None
    if not isinstance(document, dict):
        raise ContractError(
            path,
            [
                "the file must hold a YAML mapping (an ODCS document), not "
                f"{type(document).__name__}"
            ],
        )
    return document, lines


def load_contract(path: str | Path, table: str | None = None) -> Contract:
    """Validate an ODCS v3 YAML contract and lint what this platform runs.

    Args:
        path: the contract file.
        table: which table of the contract (its ``physicalName`` or ``name``); default the first.

    Raises:
        ContractError: the file is missing, is not YAML, is not valid ODCS, or uses a rule
            in a way the checks cannot run. Each problem names the field and line.
    """
    contracts = load_contract_tables(path)
    if table is None:
        return contracts[0]
    for contract in contracts:
        if table == contract.table or table in _names_of(contract):
            return contract
    raise ContractError(
        path,
        [
            f"schema: no table {table!r}; the contract describes "
            f"{', '.join(c.table for c in contracts if c.table) or 'none'}"
        ],
        NOT_CHECKABLE,
    )


def _names_of(contract: Contract) -> set[str]:
    obj = _schema_object(contract)
    return {n for n in (getattr(obj, "name", None), getattr(obj, "physicalName", None)) if n}


def _schema_object(contract: Contract):
    if contract.raw is None or not contract.raw.schema_ or contract.table is None:
        return None
    return next(
        (o for o in contract.raw.schema_ if contract.table in (o.physicalName, o.name)), None
    )


def load_contract_tables(path: str | Path) -> list[Contract]:
    """Every table a contract describes, each as a :class:`Contract` (one, with ``table``
    None and no columns, when it describes none). Raises :class:`ContractError` as
    :func:`load_contract` does."""
    path = Path(path)
    document, lines = _read_document(path)
    problems = odcs_schema_problems(document, lines)
    if problems:
        raise ContractError(path, problems, INVALID_ODCS)
    model = _parse_model(path, document, lines)
    return _lint(path, model, lines, document)


@functools.cache
def _odcs_validator():
    import importlib.resources

    import jsonschema

    schema = json.loads(
        importlib.resources.files("open_data_contract_standard").joinpath("schema.json").read_text()
    )
    # jsonschema compares every pair of items for uniqueItems when they are objects (an
    # enum of {value: ...}): 5,000 values took a minute, 100,000 never ended. The same rule,
    # with the same JSON equality (1 == 1.0, true != 1), in one pass over a set.
    validator = jsonschema.validators.extend(
        jsonschema.Draft201909Validator, {"uniqueItems": _unique_items}
    )
    return validator(schema)


def _json_key(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal exactly when JSON Schema calls two equal."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)  # 1 and 1.0 hash and compare equal, as JSON Schema says
    if isinstance(value, dict):
        return ("object", frozenset((k, _json_key(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("array", tuple(_json_key(v) for v in value))
    return (type(value).__name__, value)


def _unique_items(validator, unique: bool, instance: Any, schema: dict):
    from jsonschema.exceptions import ValidationError

    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set = set()
    for item in instance:
        key = _json_key(item)
        if key in seen:
            yield ValidationError(f"{item!r} is listed more than once (uniqueItems)")
            return
        seen.add(key)


def odcs_schema_problems(document: dict, lines: dict[tuple, int]) -> list[str]:
    """What breaks the ODCS JSON schema, one line per problem: field path, YAML line, what is
    wrong."""
    from jsonschema.exceptions import best_match

    found: dict[tuple, list[tuple[str, tuple]]] = {}
    # YAML reads unquoted dates as date objects; the JSON schema sees the text a reader would.
    reduced, renumber = _plain_enums_reduced(json.loads(json.dumps(document, default=str)))
    for error in _odcs_validator().iter_errors(reduced):
        if error.context and not _valid_under_each(error):
            # anyOf / oneOf: the branch that came closest says what is wrong; a branch that
            # only misses its own key (another operator, another form) is not it.
            closest = [e for e in error.context if e.validator != "required"] or list(error.context)
            error = best_match(closest)
        at = _renumbered(tuple(error.absolute_path), renumber)
        message, at_line = _schema_message(error, at)
        found.setdefault(at, []).append((message, at_line))
    problems = []
    specific_at = [
        at for at, messages in found.items() if any(not _is_unknown_field(m) for m, _ in messages)
    ]
    for at, messages in sorted(
        found.items(), key=lambda kv: (_line_of(lines, kv[0]) or 0, str(kv[0]))
    ):
        # A rule that fails its own form also leaves its fields "unevaluated": that echo is noise.
        echo = any(other[: len(at)] == at for other in specific_at)
        keep = [m for m in messages if not (echo and _is_unknown_field(m[0]))]
        if len(keep) > 1:  # "more than one form" says less than the field that is missing
            keep = [m for m in keep if not m[0].startswith("matches more than one")] or keep
        for message, at_line in dict.fromkeys(keep):
            line = _line_of(lines, at_line)
            problems.append(
                f"{_location(at_line)}" + (f" (line {line})" if line else "") + f": {message}"
            )
    return problems


# What an enum entry is in nearly every contract: {value: <string, number, boolean or null>}.
_PLAIN_ENUM_VALUE = (str, int, float, bool, type(None))


def _plain_enums_reduced(document: Any) -> tuple[Any, dict[tuple, list[int]]]:
    """The document with every long ``enum`` cut to the entries the JSON schema needs to see.

    An entry ``{value: <scalar>}`` is valid ODCS by itself, so walking 100,000 of them
    through jsonschema ($ref, anyOf and all) only costs time. Kept: every other entry (it
    may be wrong), the first plain one (so the list keeps its form), and any entry that
    repeats an earlier one (so uniqueItems still fails). Returns the reduced document and,
    per enum path, the original index of each kept entry.
    """
    renumber: dict[tuple, list[int]] = {}
    stack: list[tuple[Any, tuple]] = [(document, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "enum" and isinstance(value, list) and len(value) > 16:
                    kept = _enum_entries_to_validate(value)
                    if len(kept) < len(value):
                        node[key] = [value[i] for i in kept]
                        renumber[(*path, key)] = kept
                    continue
                stack.append((value, (*path, key)))
        elif isinstance(node, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(node))
    return document, renumber


def _enum_entries_to_validate(entries: list) -> list[int]:
    kept: set[int] = set()
    first: dict[Any, int] = {}
    for i, entry in enumerate(entries):
        key = _json_key(entry)
        plain = (
            isinstance(entry, dict)
            and set(entry) == {"value"}
            and isinstance(entry["value"], _PLAIN_ENUM_VALUE)
        )
        if key in first:  # a repeat: both entries stay, so uniqueItems still sees it
            kept.update((first[key], i))
        elif not plain or not kept:
            kept.add(i)
        first.setdefault(key, i)
    return sorted(kept)


def _renumbered(at: tuple, renumber: dict[tuple, list[int]]) -> tuple:
    """An error path in the reduced document as a path in the contract as written."""
    for enum_path, kept in renumber.items():
        n = len(enum_path)
        if at[:n] == enum_path and len(at) > n and isinstance(at[n], int):
            return (*enum_path, kept[at[n]], *at[n + 1 :])
    return at


def _is_unknown_field(message: str) -> bool:
    return message.startswith("unknown ") and " field" in message.split("'")[0]


def _valid_under_each(error) -> bool:
    return "is valid under each of" in error.message


def _schema_message(error, at: tuple) -> tuple[str, tuple]:
    """A JSON schema error in the words of a contract author, and the path its line comes from."""
    kind = {"properties": "property ", "quality": "quality "}.get(
        next((p for p in reversed(at) if isinstance(p, str)), ""), ""
    )
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        keys = re.findall(r"'([^']+)'", error.message.split("(", 1)[-1])
        where = (*at, keys[0]) if keys else at
        return (
            f"unknown {kind}field {keys[0]!r}"
            if len(keys) == 1
            else f"unknown {kind}fields {', '.join(map(repr, keys))}"
        ), where
    if error.validator == "required":
        return f"{error.message.split(' is a required')[0]} is required here", at
    if error.validator == "enum":
        name = next((p for p in reversed(at) if isinstance(p, str)), "value")
        return (
            f"unknown {name} {error.instance!r}; use one of "
            f"{', '.join(map(str, error.validator_value))}",
            at,
        )
    if error.validator == "minItems" and error.validator_value == 1:
        return "must not be empty", at
    if error.validator == "oneOf" and _valid_under_each(error):
        hint = " (two operators in one rule: give one)" if "quality" in at else ""
        return f"matches more than one of its allowed forms{hint}", at
    if error.validator == "minItems":
        return f"needs at least {error.validator_value} item(s), got {len(error.instance)}", at
    if error.validator == "uniqueItems":
        return "lists the same value twice", at
    if error.validator == "not":
        return (
            "has a field that is not allowed here (e.g. 'from' on a property-level relationship)",
            at,
        )
    return error.message, at


def _parse_model(path: Path, document: dict, lines: dict[tuple, int]):
    """The document as the ``open_data_contract_standard`` model (after the JSON schema
    passed, this only fails on a model stricter than the schema)."""
    from open_data_contract_standard.model import OpenDataContractStandard
    from pydantic import ValidationError

    yaml_path = {"schema_": "schema"}
    try:
        return OpenDataContractStandard.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(yaml_path.get(p, p) if isinstance(p, str) else p for p in error["loc"])
            # pydantic appends union branch names (e.g. 'str', 'list[...]'); keep the document path.
            doc_loc = tuple(p for p in loc if isinstance(p, int) or p in _all_keys(document))
            line = _line_of(lines, doc_loc)
            problems.append(
                f"{_location(doc_loc)}" + (f" (line {line})" if line else "") + f": {error['msg']}"
            )
        raise ContractError(path, problems, INVALID_ODCS) from None


def _all_keys(document: Any) -> set[str]:
    keys: set[str] = set()
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys.update(k for k in node if isinstance(k, str))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return keys


def _custom(props) -> dict[str, Any]:
    return {p.property: p.value for p in (props or []) if p.property}


class _Findings:
    """Problems (the contract cannot be checked as written) and parts not run, each with its
    field and line, in the order they were found."""

    def __init__(self, lines: dict[tuple, int]):
        self.lines = lines
        self.problems: list[str] = []
        self.not_run: list[str] = []

    def _say(self, loc: tuple, message: str) -> str:
        line = _line_of(self.lines, loc)
        return f"{_location(loc)}" + (f" (line {line})" if line else "") + f": {message}"

    def problem(self, loc: tuple, message: str) -> None:
        self.problems.append(self._say(loc, message))

    def skip(self, loc: tuple, message: str) -> None:
        self.not_run.append(self._say(loc, message))


def _lint(path: Path, model, lines: dict[tuple, int], document: dict) -> list[Contract]:
    """Flatten each table of the contract for the checks, after finding what cannot be
    checked as written (raised together as one :class:`ContractError`) and what is valid
    but not run here (kept on each :class:`Contract`)."""
    found = _Findings(lines)
    _lint_document_parts(model, found)
    header_not_run = list(found.not_run)
    description = {}
    if model.description is not None:
        description = {
            k: v for k, v in model.description.model_dump().items() if isinstance(v, str) and v
        }
    tables = tuple(obj.physicalName or obj.name for obj in model.schema_ or [])
    built: list[tuple[Any, list[ColumnSpec], tuple[QualityRule, ...], list[str]]] = []
    for i, obj in enumerate(model.schema_ or []):
        found.not_run = []
        columns, quality = _lint_table(obj, ("schema", i), found)
        built.append((obj, columns, quality, list(found.not_run)))
    if found.problems:
        raise ContractError(path, found.problems, NOT_CHECKABLE)
    common = {
        "path": path,
        "id": model.id,
        "version": model.version,
        "name": model.name,
        "description": description,
        "raw": model,
        "api_version": str(model.apiVersion),
        "tables": tables,
    }
    if not built:
        return [
            Contract(table=None, columns=(), quality=(), not_run=tuple(header_not_run), **common)
        ]
    contracts = []
    for obj, columns, quality, not_run in built:
        also = (
            [
                f"schema: the contract describes {len(tables)} tables; a check covers one (--table "
                "NAME), the others are not checked with it"
            ]
            if len(tables) > 1
            else []
        )
        contracts.append(
            Contract(
                table=obj.physicalName or obj.name,
                columns=tuple(columns),
                quality=quality,
                not_run=tuple(header_not_run + also + not_run),
                **common,
            )
        )
    return contracts


def _lint_document_parts(model, found: _Findings) -> None:
    """Parts of the document outside the tables that describe something checkable but are not
    run."""
    if model.slaProperties:
        names = ", ".join(sorted({str(s.property) for s in model.slaProperties if s.property}))
        found.skip(("slaProperties",), f"service levels ({names}) are not checked by this platform")


def _lint_table(
    obj, obj_loc: tuple, found: _Findings
) -> tuple[list[ColumnSpec], tuple[QualityRule, ...]]:
    """One schema object: its columns and table rules, with problems and parts not run noted."""
    columns: list[ColumnSpec] = []
    seen: set[str] = set()
    for i, prop in enumerate(obj.properties or []):
        loc = (*obj_loc, "properties", i)
        if (prop.semanticType or "column") != "column":
            found.skip(
                (*loc, "semanticType"),
                f"{prop.name!r} is a {prop.semanticType} (computed by "
                f"transformLogic), not a column of the data: not checked",
            )
            continue
        spec = _column_spec(prop, loc, found)
        if spec.name in seen:
            found.problem((*loc, "name"), f"column {spec.name!r} is declared twice")
        seen.add(spec.name)
        columns.append(spec)
    if not obj.properties:
        found.skip(
            obj_loc,
            f"table {obj.physicalName or obj.name!r} lists no properties: no column is checked"
            + ("" if obj.quality else " (nothing to check)"),
        )
    if obj.relationships:
        found.skip(
            (*obj_loc, "relationships"),
            "relationships (foreign keys) are not checked by this platform",
        )
    table_quality = list(_quality_rules(obj.quality, obj_loc, found, column=None))
    _lint_sql_rules(obj, obj_loc, found)
    for (
        spec
    ) in columns:  # column-level SQL and rowCount rules are table rules with the column filled in
        table_quality += [q for q in spec.quality if q.kind == "sql" or q.metric == "rowCount"]
    columns = [_without_table_rules(spec) for spec in columns]
    return columns, tuple(table_quality)


def _lint_sql_rules(obj, obj_loc: tuple, found: _Findings) -> None:
    """Refuse every SQL rule of a table that is not one read-only SELECT over the batch
    (:func:`.sql_rules.query_problem`): a contract arrives in a pull request."""
    from platform_assets.core.validation.sql_rules import query_problem

    names = tuple(n for n in (obj.physicalName, obj.name) if n)
    entries = [((*obj_loc, "quality", j), q) for j, q in enumerate(obj.quality or [])]
    for i, prop in enumerate(obj.properties or []):
        loc = (*obj_loc, "properties", i, "quality")
        entries += [((*loc, j), q) for j, q in enumerate(prop.quality or [])]
    for loc, q in entries:
        if q.type == "sql" and (why := query_problem(q.query, names)):
            found.problem((*loc, "query"), f"SQL rule refused: {why}")


def _without_table_rules(spec: ColumnSpec) -> ColumnSpec:
    kept = tuple(q for q in spec.quality if not (q.kind == "sql" or q.metric == "rowCount"))
    return spec if kept == spec.quality else replace(spec, quality=kept)


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a contract's regular expression, or None.

    Checks run in DuckDB, whose regular expressions are RE2: lookarounds (``(?!…)``) and
    back-references (``\\1``), which Python accepts, would fail the check at run time.
    """
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"not a valid regular expression ({exc})"
    with duckdb.connect() as conn:
        try:
            conn.execute("SELECT regexp_full_match('', ?)", [pattern])
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0].removeprefix("Invalid Input Error: ")
            return (
                "the checks run in DuckDB, whose regular expressions (RE2) cannot run this one "
                f"({reason}); lookarounds and back-references are not supported"
            )
    return None


def _column_spec(prop, loc: tuple, found: _Findings) -> ColumnSpec:
    """One property as a :class:`ColumnSpec`, after checking its type, options and rules."""
    logical = prop.logicalType
    options = dict(prop.logicalTypeOptions or {})
    opt_loc = (*loc, "logicalTypeOptions")
    pattern = options.get("pattern")
    if pattern is not None and (why := regex_problem(str(pattern))):
        found.problem((*opt_loc, "pattern"), why)
    fmt = options.get("format")
    strptime = None
    if fmt is not None:
        fmt = str(fmt)
        if logical in TEMPORAL_TYPES:
            strptime = date_pattern_to_strptime(fmt)
            if strptime is None:
                found.skip(
                    (*opt_loc, "format"),
                    f"date pattern {fmt!r} has letters this platform cannot read "
                    f"(it reads y M d H h m s S a E X x Z and quoted text): values are "
                    f"read as ISO 8601 instead",
                )
        elif logical in (None, "string") and fmt not in KNOWN_FORMATS:
            found.skip(
                (*opt_loc, "format"),
                f"string format {fmt!r} is not checked (the checks know "
                f"{', '.join(KNOWN_FORMATS)})",
            )
        elif logical not in (None, "string"):
            found.skip(
                (*opt_loc, "format"), f"format {fmt!r} of {_a(logical)} column is not checked"
            )
    for key in sorted(set(options) - RUN_OPTIONS.get(logical or "string", set()) - {"format"}):
        found.skip(
            (*opt_loc, key),
            f"logicalTypeOptions.{key} of {_a(logical or 'untyped')} column is not "
            f"checked by this platform",
        )
    bounds = _bounds(options, logical, strptime, opt_loc, found)
    lengths = {
        key: _whole_number(options.get(key), (*opt_loc, key), found)
        for key in ("minLength", "maxLength", "minItems", "maxItems")
    }
    if logical in ("object", "array", "map", "vector") and (
        prop.properties or prop.items or prop.map
    ):
        found.skip(
            loc,
            f"the contents of {logical} column {prop.name!r} (its nested properties, items or "
            f"map keys and values) are not checked; the column itself is",
        )
    if prop.relationships:
        found.skip(
            (*loc, "relationships"),
            "relationships (foreign keys) are not checked by this platform",
        )
    enum_values = tuple(e.value for e in prop.enum) if prop.enum else None
    quality = tuple(
        _quality_rules(
            prop.quality, loc, found, column=prop.physicalName or prop.name, enum=enum_values
        )
    )
    return ColumnSpec(
        name=prop.physicalName or prop.name,
        location=_location(loc),
        logical_type=logical,
        physical_type=prop.physicalType,
        required=bool(prop.required),
        unique=bool(prop.unique),
        primary_key=bool(prop.primaryKey),
        pattern=pattern,
        minimum=bounds["minimum"],
        maximum=bounds["maximum"],
        exclusive_minimum=bounds["exclusiveMinimum"],
        exclusive_maximum=bounds["exclusiveMaximum"],
        min_length=lengths["minLength"],
        max_length=lengths["maxLength"],
        format=fmt,
        enum=enum_values,
        classification=prop.classification,
        description=prop.description,
        custom=_custom(prop.customProperties),
        quality=quality,
        strptime=strptime,
        min_items=lengths["minItems"],
        max_items=lengths["maxItems"],
        primary_key_position=prop.primaryKeyPosition if prop.primaryKeyPosition is not None else -1,
    )


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _whole_number(value: Any, loc: tuple, found: _Findings) -> int | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != int(value)
        or value < 0
    ):
        found.problem(loc, f"must be a whole number of 0 or more, got {value!r}")
        return None
    return int(value)


BOUND_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _bounds(
    options: dict, logical: str | None, strptime: str | None, opt_loc: tuple, found: _Findings
) -> dict[str, Any]:
    """The bounds of a column: numbers, or for a date, timestamp or time column values of
    that type written in its format (or ISO 8601). A bound that is neither is a problem and
    reads as unset."""
    bounds: dict[str, Any] = {}
    for key in BOUND_KEYS:
        value = options.get(key)
        if value is not None and logical in TEMPORAL_TYPES:
            parsed = parse_temporal(value, logical, strptime)
            if parsed is None:
                written = f"written {options.get('format')}" if strptime else "in ISO 8601"
                found.problem((*opt_loc, key), f"must be a {logical} {written}, got {value!r}")
            value = parsed
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            found.problem((*opt_loc, key), f"must be a number, got {value!r}")
            value = None
        bounds[key] = value
    low = next((bounds[k] for k in ("minimum", "exclusiveMinimum") if bounds[k] is not None), None)
    high = next((bounds[k] for k in ("maximum", "exclusiveMaximum") if bounds[k] is not None), None)
    if low is not None and high is not None and _comparable(low, high) and low > high:
        found.problem(opt_loc, f"the lower bound {low} is above the upper bound {high}")
    return bounds


def _comparable(a: Any, b: Any) -> bool:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return (a.tzinfo is None) == (b.tzinfo is None)
    return type(a) is type(b) or (isinstance(a, int | float) and isinstance(b, int | float))


def parse_temporal(value: Any, logical: str, strptime: str | None) -> Any:
    """A bound of a date, timestamp or time column as a Python value, parsed the way the
    column's text is (its format, else ISO 8601); None when it does not parse."""
    if isinstance(value, dt.datetime | dt.date | dt.time) and not isinstance(value, bool):
        value = value.isoformat()
    if not isinstance(value, str):
        return None
    parse = TextParse(LOGICAL_DUCKDB_TYPES[logical], strptime)
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        row = conn.execute(f"SELECT {parse.sql('$1')}", [value]).fetchall()
        if row[0][0] is None and strptime is not None:  # a bound may be written in ISO 8601 anyway
            row = conn.execute(
                f"SELECT {TextParse(LOGICAL_DUCKDB_TYPES[logical]).sql('$1')}", [value]
            ).fetchall()
    return row[0][0]


# Java/Spark date pattern letters (what ODCS examples use) and their strptime equivalents,
# by letter and run length.
_PATTERN_LETTERS = {
    "y": {1: "%Y", 2: "%y", 3: "%Y", 4: "%Y"},
    "u": {1: "%Y", 2: "%y", 4: "%Y"},
    "M": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "L": {1: "%-m", 2: "%m", 3: "%b", 4: "%B"},
    "d": {1: "%-d", 2: "%d"},
    "D": {1: "%-j", 3: "%j"},
    "H": {1: "%-H", 2: "%H"},
    "h": {1: "%-I", 2: "%I"},
    "m": {1: "%-M", 2: "%M"},
    "s": {1: "%-S", 2: "%S"},
    "S": {3: "%g", 6: "%f", 9: "%n"},
    "a": {1: "%p"},
    "E": {3: "%a", 4: "%A"},
    "X": {1: "%z", 2: "%z", 3: "%z"},
    "x": {1: "%z", 2: "%z", 3: "%z"},
    "Z": {1: "%z", 2: "%z", 3: "%z", 5: "%z"},
}


def date_pattern_to_strptime(pattern: str) -> str | None:
    """A date pattern (``yyyy-MM-dd HH:mm:ss``, Java/Spark letters, ``'T'`` quoted) as a
    DuckDB ``strptime`` format; a pattern with ``%`` is taken as strptime already. None
    when the pattern has letters this platform cannot read."""
    if "%" in pattern:
        return pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                return None
            out.append(pattern[i + 1 : end].replace("%", "%%") or "'")
            i = end + 1
        elif ch.isalpha():
            run = len(pattern) - i - len(pattern[i:].lstrip(ch))
            code = _PATTERN_LETTERS.get(ch, {}).get(run)
            if code is None:
                return None
            out.append(code)
            i += run
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _quality_rules(
    entries,
    parent: tuple,
    found: _Findings,
    *,
    column: str | None,
    enum: tuple[Any, ...] | None = None,
):
    """The quality entries the platform runs, as :class:`QualityRule`; the others are named as not
    run.
    """
    for j, q in enumerate(entries or []):
        loc = (*parent, "quality", j)
        kind = q.type or "library"
        if kind in ("custom", "text"):
            engine = f" (engine {q.engine})" if q.engine else ""
            what = q.description or q.name or ""
            found.skip(
                (*loc, "type"),
                f"quality rule of type {kind!r}{engine} is not run by this platform"
                + (f": {what.strip()[:80]}" if what else ""),
            )
            continue
        ops = [op for op in OPERATORS if getattr(q, op) is not None]
        metric = q.metric or q.rule
        arguments = dict(q.arguments or {})
        if kind == "library":
            if metric not in LIBRARY_METRICS:
                found.skip(
                    (*loc, "metric"),
                    f"metric {metric!r} is not run (this platform runs "
                    f"{', '.join(LIBRARY_METRICS)})",
                )
                continue
            if metric != "rowCount" and column is None:
                found.skip(
                    (*loc, "metric"),
                    f"{metric} on a whole table names no column: not run "
                    f"(put it under the property it is about)",
                )
                continue
            if metric == "invalidValues" and not (
                arguments.get("validValues") or arguments.get("pattern")
            ):
                if not enum:
                    found.skip(
                        (*loc, "arguments"),
                        "invalidValues with no validValues, pattern or enum on its "
                        "column has nothing to compare with: not run",
                    )
                    continue
                arguments["validValues"] = list(enum)
            if arguments.get("pattern") is not None and (
                why := regex_problem(str(arguments["pattern"]))
            ):
                found.problem((*loc, "arguments", "pattern"), why)
                continue
        if not ops:
            found.skip(loc, "quality rule with no operator (mustBe, mustBeLessThan, …) is not run")
            continue
        operator = ops[0]
        threshold = getattr(q, operator)
        if operator in ("mustBeBetween", "mustNotBeBetween"):
            if not (
                isinstance(threshold, list)
                and len(threshold) == 2
                and all(isinstance(v, int | float) for v in threshold)
            ):
                found.problem(
                    (*loc, operator),
                    f"{operator} takes two numbers [low, high], got {threshold!r}",
                )
                continue
            if threshold[0] > threshold[1]:
                found.problem(
                    (*loc, operator),
                    f"{operator} {threshold!r}: the low bound {threshold[0]} is above the high "
                    f"bound {threshold[1]}; write [low, high]",
                )
                continue
        elif isinstance(threshold, bool) or not isinstance(threshold, int | float):
            found.problem((*loc, operator), f"{operator} takes a number, got {threshold!r}")
            continue
        unit = (q.unit or "rows").lower()
        if unit not in ("rows", "percent"):
            found.skip(
                (*loc, "unit"),
                f"unit {q.unit!r} is not run (this platform counts 'rows' or 'percent')",
            )
            continue
        bounds = threshold if isinstance(threshold, list) else [threshold]
        if unit == "percent" and kind == "library" and any(not 0 <= v <= 100 for v in bounds):
            found.problem(
                (*loc, operator),
                f"{operator} {threshold!r} with unit percent: a percent of rows is between 0 "
                f"and 100",
            )
            continue
        severity = SEVERITY_WORDS.get((q.severity or "error").lower())
        if severity is None:
            found.skip(
                (*loc, "severity"),
                f"severity {q.severity!r} is not one this platform knows "
                f"({', '.join(SEVERITY_WORDS)}): it is treated as error",
            )
            severity = "error"
        yield QualityRule(
            location=_location(loc),
            kind=kind,
            metric=metric if kind == "library" else None,
            operator=operator,
            threshold=threshold,
            unit=unit,
            arguments=arguments,
            query=q.query,
            severity=severity,
            description=q.description,
            column=column,
        )


def _schema_entries(path: Path) -> list[dict]:
    """The schema entries of a contract file; none for a file that is not a bounded YAML
    mapping (loading it says why)."""
    try:
        document, _ = load_bounded(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, YamlLimitError, OSError, UnicodeDecodeError):
        return []
    schema = document.get("schema") if isinstance(document, dict) else None
    return [obj for obj in schema if isinstance(obj, dict)] if isinstance(schema, list) else []


def tables_governed(path: Path) -> set[str]:
    """The table names (``physicalName`` and ``name``) a contract file's schema lists."""
    return {
        str(name)
        for obj in _schema_entries(path)
        for name in (obj.get("physicalName"), obj.get("name"))
        if name
    }


def duplicate_tables(paths: list[Path]) -> list[tuple[str, list[Path]]]:
    """``(problem, files)`` per physical table (``physicalName``, else ``name``) that two or
    more of ``paths`` govern; the problem names every such file."""
    owners: dict[str, list[Path]] = {}
    for path in dict.fromkeys(paths):
        physical = {
            str(obj.get("physicalName") or obj.get("name"))
            for obj in _schema_entries(path)
            if obj.get("physicalName") or obj.get("name")
        }
        for table in physical:
            owners.setdefault(table, []).append(path)
    return [
        (
            f"table {table!r} is governed by {len(files)} contracts: "
            f"{' and '.join(str(f) for f in files)}; keep one contract per table",
            files,
        )
        for table, files in sorted(owners.items())
        if len(files) > 1
    ]


def find_contract(contracts_dir: Path, table: str) -> Path:
    """The contract file governing ``table`` in a contracts folder.

    Raises:
        FileNotFoundError: no file in the folder governs the table.
        ContractError: two or more files do (naming each): which one holds is not a
            question the alphabet should answer.
    """
    candidates = sorted(contracts_dir.glob("*.odcs.yaml")) + sorted(
        contracts_dir.glob("*.odcs.yml")
    )
    governing = [c for c in candidates if table in tables_governed(c)]
    if len(governing) > 1:
        raise ContractError(
            contracts_dir,
            [
                f"table {table!r} is governed by {len(governing)} contracts: "
                f"{' and '.join(str(c) for c in governing)}; keep one contract per table "
                f"(delete or rename the table in the others)"
            ],
            AMBIGUOUS,
        )
    if governing:
        return governing[0]
    raise FileNotFoundError(
        f"No contract in {contracts_dir} governs table {table!r}: add a *.odcs.yaml file whose "
        f"schema entry has physicalName: {table}."
    )

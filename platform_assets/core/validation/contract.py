"""ODCS v3 data contracts: parse with ``open_data_contract_standard``, then lint what it allows.

The ODCS pydantic model checks shapes (fields, types). It does not check meaning: a
``logicalType`` of ``intger``, a ``pattern`` that is not a regular expression, an
``invalidValues`` metric with nothing to compare against, ``mustBeBetween: [5]``. Those are
caught here. Every problem becomes a :class:`ContractError` naming the file, the field path
(``schema[0].properties[6].logicalTypeOptions.minimum``) and the YAML line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

LOGICAL_TYPES = ("string", "integer", "number", "boolean", "date", "timestamp", "time", "object", "array")
LIBRARY_METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues", "rowCount")
OPERATORS = (
    "mustBe", "mustNotBe", "mustBeGreaterThan", "mustBeGreaterOrEqualTo",
    "mustBeLessThan", "mustBeLessOrEqualTo", "mustBeBetween", "mustNotBeBetween",
)
SENSITIVE_CLASSIFICATIONS = ("pii", "restricted", "confidential", "sensitive", "secret")
KNOWN_FORMATS = {
    "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "uri": r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$",
    "ipv4": r"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
}


class ContractError(ValueError):
    """A contract that cannot be used. ``problems`` lists each one with its location."""

    def __init__(self, path: Path | str, problems: list[str]):
        self.path = Path(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: invalid data contract ({len(problems)} problem(s)):\n{lines}")


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
            "mustBe": "=", "mustNotBe": "!=", "mustBeGreaterThan": ">", "mustBeGreaterOrEqualTo": ">=",
            "mustBeLessThan": "<", "mustBeLessOrEqualTo": "<=",
        }
        suffix = "%" if self.unit == "percent" else ""
        if self.operator == "mustBeBetween":
            return f"between {self.threshold[0]}{suffix} and {self.threshold[1]}{suffix}"
        if self.operator == "mustNotBeBetween":
            return f"outside {self.threshold[0]}{suffix}..{self.threshold[1]}{suffix}"
        return f"{words[self.operator]} {self.threshold}{suffix}"


# The DuckDB type each ODCS logicalType is stored and read as.
LOGICAL_DUCKDB_TYPES = {
    "string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN",
    "date": "DATE", "timestamp": "TIMESTAMPTZ", "time": "TIME",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One contract property, flattened to what the checks need."""

    name: str
    location: str
    logical_type: str | None
    physical_type: str | None
    required: bool
    unique: bool
    primary_key: bool
    pattern: str | None
    minimum: float | None
    maximum: float | None
    exclusive_minimum: float | None
    exclusive_maximum: float | None
    min_length: int | None
    max_length: int | None
    format: str | None
    enum: tuple[Any, ...] | None
    classification: str | None
    description: str | None
    custom: dict[str, Any]
    quality: tuple[QualityRule, ...]

    @property
    def is_sensitive(self) -> bool:
        return (self.classification or "").lower() in SENSITIVE_CLASSIFICATIONS


@dataclass(frozen=True)
class Contract:
    """A parsed, linted contract for one table."""

    path: Path
    id: str
    version: str
    name: str | None
    table: str  # the physical table name the contract governs
    description: dict[str, str]
    columns: tuple[ColumnSpec, ...]
    quality: tuple[QualityRule, ...]
    raw: Any = field(repr=False, compare=False, default=None)

    def parsed_types(self) -> dict[str, str]:
        """``{column: DuckDB type}`` of the declared columns whose text a reader must parse
        (numbers, booleans, dates, times); declared strings and undeclared columns stay text."""
        return {c.name: LOGICAL_DUCKDB_TYPES[c.logical_type] for c in self.columns
                if c.logical_type in LOGICAL_DUCKDB_TYPES and c.logical_type != "string"}

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.primary_key)

    @property
    def sensitive_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.is_sensitive)


def _line_index(text: str) -> dict[tuple, int]:
    """Map YAML paths like ('schema', 0, 'properties', 3) to 1-based line numbers."""
    index: dict[tuple, int] = {}

    def walk(node, path: tuple) -> None:
        index[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                index[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index
    if root is not None:
        walk(root, ())
    return index


def _location(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


def load_contract(path: str | Path) -> Contract:
    """Parse and lint an ODCS v3 YAML contract.

    Raises:
        ContractError: the file is missing, is not YAML, does not follow ODCS v3, or uses a
            rule in a way the checks cannot run. Each problem names the field and line.
    """
    from open_data_contract_standard.model import OpenDataContractStandard
    from pydantic import ValidationError

    path = Path(path)
    if not path.is_file():
        raise ContractError(path, [f"file not found (looked at {path.resolve()})"])
    text = path.read_text(encoding="utf-8")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ContractError(path, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(document, dict):
        raise ContractError(path, ["the file must hold a YAML mapping (an ODCS document), not "
                                   f"{type(document).__name__}"])
    lines = _line_index(text)
    yaml_path = {"schema_": "schema"}
    try:
        model = OpenDataContractStandard.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(yaml_path.get(p, p) if isinstance(p, str) else p for p in error["loc"])
            # pydantic appends union branch names (e.g. 'str', 'list[...]'); keep the document path.
            doc_loc = tuple(p for p in loc if isinstance(p, int) or p in _all_keys(document))
            line = _line_of(lines, doc_loc)
            problems.append(f"{_location(doc_loc)}" + (f" (line {line})" if line else "")
                            + f": {error['msg']}")
        raise ContractError(path, problems) from None
    return _lint(path, model, lines, document)


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


def _lint(path: Path, model, lines: dict[tuple, int], document: dict) -> Contract:
    """Check what the ODCS model lets through and flatten the contract for the checks.

    The steps: field names the model ignores (:func:`_lint_unknown_fields`), the header
    (:func:`_lint_header`), each column (:func:`_column_spec`), then the table's rules.
    Every problem is collected before the :class:`ContractError` is raised, in that order.
    """
    problems: list[str] = []

    def problem(loc: tuple, message: str) -> None:
        line = _line_of(lines, loc)
        problems.append(f"{_location(loc)}" + (f" (line {line})" if line else "") + f": {message}")

    _lint_unknown_fields(document, problem)
    _lint_header(model, problem)
    if not model.schema_:
        raise ContractError(path, problems)

    obj = model.schema_[0]
    obj_loc: tuple = ("schema", 0)
    columns: list[ColumnSpec] = []
    seen: set[str] = set()
    for i, prop in enumerate(obj.properties or []):
        loc = obj_loc + ("properties", i)
        if not prop.name:
            problem(loc, "a property needs a 'name'")
            continue
        if prop.name in seen:
            problem(loc + ("name",), f"column {prop.name!r} is declared twice")
        seen.add(prop.name)
        columns.append(_column_spec(prop, loc, problem))
    if not columns:
        problem(obj_loc + ("properties",), "the table lists no columns: add entries under 'properties'")
    table_quality = tuple(_quality_rules(obj.quality, obj_loc, problem, column=None))
    if problems:
        raise ContractError(path, problems)
    description = {}
    if model.description is not None:
        description = {k: v for k, v in model.description.model_dump().items() if isinstance(v, str) and v}
    return Contract(
        path=path, id=model.id, version=model.version, name=model.name,
        table=obj.physicalName or obj.name, description=description, columns=tuple(columns),
        quality=table_quality, raw=model,
    )


def _lint_unknown_fields(document: dict, problem) -> None:
    """Name property and quality fields the ODCS model does not know.

    The model accepts unknown keys on properties, so a typo such as 'requird' would
    silently switch a rule off.
    """
    from open_data_contract_standard.model import DataQuality, SchemaProperty

    known = {"property": set(SchemaProperty.model_fields), "quality": set(DataQuality.model_fields)}
    for i, obj in enumerate(document.get("schema") or []):
        for j, prop in enumerate((obj or {}).get("properties") or []):
            for key in prop or {}:
                if key not in known["property"]:
                    problem(("schema", i, "properties", j, key), f"unknown property field {key!r}")
            for k, q in enumerate((prop or {}).get("quality") or []):
                for key in q or {}:
                    if key not in known["quality"]:
                        problem(("schema", i, "properties", j, "quality", k, key),
                                f"unknown quality field {key!r}")


def _lint_header(model, problem) -> None:
    """The document is an ODCS v3 data contract that describes a table."""
    if model.kind != "DataContract":
        problem(("kind",), f"must be 'DataContract', got {model.kind!r}")
    if not str(model.apiVersion).startswith("v3"):
        problem(("apiVersion",), f"this platform reads ODCS v3 contracts, got {model.apiVersion!r}")
    if not model.schema_:
        problem(("schema",), "the contract describes no table: add one entry under 'schema'")


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
            return (f"the checks run in DuckDB, whose regular expressions (RE2) cannot run this one ({reason}); "
                    f"lookarounds and back-references are not supported")
    return None


def _column_spec(prop, loc: tuple, problem) -> ColumnSpec:
    """One property as a :class:`ColumnSpec`, after checking its type, options and rules."""
    if prop.logicalType is not None and prop.logicalType not in LOGICAL_TYPES:
        problem(loc + ("logicalType",),
                f"unknown logicalType {prop.logicalType!r}; use one of {', '.join(LOGICAL_TYPES)}")
    options = dict(prop.logicalTypeOptions or {})
    opt_loc = loc + ("logicalTypeOptions",)
    pattern = options.get("pattern")
    if pattern is not None and (why := regex_problem(str(pattern))):
        problem(opt_loc + ("pattern",), why)
    fmt = options.get("format")
    if fmt is not None and fmt not in KNOWN_FORMATS:
        problem(opt_loc + ("format",),
                f"unknown format {fmt!r}; the checks know {', '.join(KNOWN_FORMATS)}")
    numeric = _numeric_options(options, opt_loc, problem)
    enum_values = tuple(e.value for e in prop.enum) if prop.enum else None
    quality = tuple(_quality_rules(prop.quality, loc, problem, column=prop.name))
    return ColumnSpec(
        name=prop.name, location=_location(loc), logical_type=prop.logicalType,
        physical_type=prop.physicalType, required=bool(prop.required), unique=bool(prop.unique),
        primary_key=bool(prop.primaryKey), pattern=pattern, minimum=numeric["minimum"],
        maximum=numeric["maximum"], exclusive_minimum=numeric["exclusiveMinimum"],
        exclusive_maximum=numeric["exclusiveMaximum"],
        min_length=None if numeric["minLength"] is None else int(numeric["minLength"]),
        max_length=None if numeric["maxLength"] is None else int(numeric["maxLength"]),
        format=fmt, enum=enum_values, classification=prop.classification,
        description=prop.description, custom=_custom(prop.customProperties), quality=quality,
    )


def _numeric_options(options: dict, opt_loc: tuple, problem) -> dict[str, float | None]:
    """The numeric ``logicalTypeOptions`` (bounds and lengths); a non-number is a problem and
    reads as unset."""
    numeric: dict[str, float | None] = {}
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            problem(opt_loc + (key,), f"must be a number, got {value!r}")
            value = None
        numeric[key] = value
    if (numeric["minimum"] is not None and numeric["maximum"] is not None
            and numeric["minimum"] > numeric["maximum"]):
        problem(opt_loc, f"minimum {numeric['minimum']} is above maximum {numeric['maximum']}")
    return numeric


def _quality_rules(entries, parent: tuple, problem, *, column: str | None):
    for j, q in enumerate(entries or []):
        loc = parent + ("quality", j)
        kind = q.type or ("library" if q.metric else None)
        if kind not in ("library", "sql"):
            problem(loc + ("type",), f"quality type {q.type!r} is not run by this platform "
                                     "(it runs 'library' metrics and 'sql')")
            continue
        ops = [op for op in OPERATORS if getattr(q, op) is not None]
        if len(ops) > 1:
            problem(loc, f"give one operator, not {', '.join(ops)}")
            continue
        metric = q.metric
        arguments = dict(q.arguments or {})
        if kind == "library":
            if metric not in LIBRARY_METRICS:
                problem(loc + ("metric",),
                        f"unknown metric {metric!r}; use one of {', '.join(LIBRARY_METRICS)}")
                continue
            if metric == "rowCount" and column is not None:
                problem(loc + ("metric",), "rowCount applies to the table: move it to the table's quality")
                continue
            if metric != "rowCount" and column is None:
                problem(loc + ("metric",), f"{metric} applies to a column: move it under that property")
                continue
            if metric == "invalidValues" and not (arguments.get("validValues") or arguments.get("pattern")):
                problem(loc + ("arguments",), "invalidValues needs arguments.validValues or arguments.pattern")
                continue
            if arguments.get("pattern") is not None and (why := regex_problem(str(arguments["pattern"]))):
                problem(loc + ("arguments", "pattern"), why)
                continue
            if metric == "rowCount" and not ops:
                problem(loc, "rowCount needs an operator, e.g. mustBeGreaterThan: 0")
                continue
        elif not q.query:
            problem(loc + ("query",), "a sql quality rule needs a 'query' that returns one number")
            continue
        elif not ops:
            problem(loc, "a sql quality rule needs an operator, e.g. mustBe: 0")
            continue
        operator = ops[0] if ops else "mustBe"
        threshold = getattr(q, operator) if ops else 0
        if operator in ("mustBeBetween", "mustNotBeBetween"):
            if not (isinstance(threshold, list) and len(threshold) == 2
                    and all(isinstance(v, int | float) for v in threshold)):
                problem(loc + (operator,), f"{operator} takes two numbers [low, high], got {threshold!r}")
                continue
        elif isinstance(threshold, bool) or not isinstance(threshold, int | float):
            problem(loc + (operator,), f"{operator} takes a number, got {threshold!r}")
            continue
        unit = (q.unit or "rows").lower()
        if unit not in ("rows", "percent"):
            problem(loc + ("unit",), f"unit must be 'rows' or 'percent', got {q.unit!r}")
            continue
        severity = (q.severity or "error").lower()
        if severity not in ("error", "warning", "info"):
            problem(loc + ("severity",), f"severity must be error, warning or info, got {q.severity!r}")
            continue
        yield QualityRule(
            location=_location(loc), kind=kind, metric=metric, operator=operator, threshold=threshold,
            unit=unit, arguments=arguments, query=q.query, severity=severity, description=q.description,
        )


def find_contract(contracts_dir: Path, table: str) -> Path:
    """The contract file governing ``table`` in a contracts folder."""
    candidates = sorted(contracts_dir.glob("*.odcs.yaml")) + sorted(contracts_dir.glob("*.odcs.yml"))
    for candidate in candidates:
        try:
            document = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            continue
        for obj in document.get("schema") or []:
            if isinstance(obj, dict) and table in (obj.get("physicalName"), obj.get("name")):
                return candidate
    raise FileNotFoundError(
        f"No contract in {contracts_dir} governs table {table!r}: add a *.odcs.yaml file whose "
        f"schema entry has physicalName: {table}."
    )

"""What changed between two versions of a contract, and whether it breaks the data's consumers.

A change is **breaking** when consumers lose something they use, or when data that honoured
the old contract may fail the new one:

- a table or column removed, or renamed (the same property ``id``; without ids, the one
  added column of the same type at the same position or with a close name);
- a type changed (``logicalType`` narrowed or otherwise changed, ``physicalType`` changed);
- ``required``, ``unique`` or ``primaryKey`` added, a required column added;
- ``enum`` or ``validValues`` shrunk or replaced, ``pattern`` or ``format`` changed;
- bounds (``minimum``/``maximum``/``exclusive*``, lengths, item counts) tightened;
- a quality rule added or its threshold tightened, a severity raised to error;
- ``classification`` relaxed (``pii`` → ``public``), a ``unit`` changed.

Not breaking: an optional column or a table added, descriptions and other documentation
changed, bounds widened, an enum extended, a constraint or quality rule removed or loosened.

The gate (:attr:`ContractDiff.passes`): no breaking change, or the contract's major
``version`` went up (1.4.0 → 2.0.0).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from platform_assets.core.validation.contract import (
    ColumnSpec,
    Contract,
    QualityRule,
    load_contract_tables,
)
from platform_assets.core.yaml_lines import line_index

# How much protection a classification asks for; a lower level in the new contract is relaxed.
CLASSIFICATION_LEVELS = {
    "public": 0,
    "internal": 1,
    "confidential": 2,
    "restricted": 2,
    "sensitive": 2,
    "pii": 3,
    "secret": 3,
}
# Narrowing: every value of the new type is a value of the old one, not the other way round.
NARROWER = {
    ("number", "integer"),
    ("string", "integer"),
    ("string", "number"),
    ("string", "boolean"),
    ("string", "date"),
    ("string", "timestamp"),
    ("string", "time"),
    ("timestamp", "date"),
}
DOCUMENTATION_KEYS = (
    "description",
    "businessName",
    "tags",
    "examples",
    "authoritativeDefinitions",
    "criticalDataElement",
    "transformLogic",
    "transformDescription",
    "transformSourceObjects",
    "synonyms",
    "customProperties",
    "encryptedName",
    "partitioned",
    "partitionKeyPosition",
    "primaryKeyPosition",
    "semanticType",
)


@dataclass(frozen=True)
class Change:
    """One difference between the two contracts."""

    table: str | None
    column: str | None
    change: str  # a short name: "column removed", "bounds tightened", ...
    breaking: bool
    detail: str
    location: str = (
        ""  # where to look: the field and line in the new file (the old one for removals)
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ContractDiff:
    old_path: str
    new_path: str
    old_version: str
    new_version: str
    changes: list[Change] = field(default_factory=list)

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.breaking]

    @property
    def major_bumped(self) -> bool:
        old, new = _major(self.old_version), _major(self.new_version)
        return old is not None and new is not None and new > old

    @property
    def passes(self) -> bool:
        """The CI gate: nothing breaking, or the major version went up."""
        return not self.breaking or self.major_bumped

    def to_json(self) -> dict[str, Any]:
        return {
            "old": {"file": self.old_path, "version": self.old_version},
            "new": {"file": self.new_path, "version": self.new_version},
            "changes": [c.to_dict() for c in self.changes],
            "breaking": len(self.breaking),
            "major_bumped": self.major_bumped,
            "passes": self.passes,
        }


def _major(version: str | None) -> int | None:
    match = re.match(r"\s*v?(\d+)", str(version or ""))
    return int(match.group(1)) if match else None


def diff_contracts(
    old_path: str | Path, new_path: str | Path, old_label: str | None = None
) -> ContractDiff:
    """Compare two contract files.

    Raises:
        ContractError: either file is not a contract this platform can read.
    """
    old_tables, new_tables = load_contract_tables(old_path), load_contract_tables(new_path)
    old_first, new_first = old_tables[0], new_tables[0]
    result = ContractDiff(
        old_label or str(old_path), str(new_path), old_first.version, new_first.version
    )
    where = _Where(Path(old_path), Path(new_path))
    old_by_table = {c.table: c for c in old_tables if c.table is not None}
    new_by_table = {c.table: c for c in new_tables if c.table is not None}
    for table in old_by_table:
        if table not in new_by_table:
            result.changes.append(
                Change(
                    table,
                    None,
                    "table removed",
                    True,
                    f"table {table} is no longer in the contract",
                    where.old("schema"),
                )
            )
    for table, new in new_by_table.items():
        old = old_by_table.get(table)
        if old is None:
            result.changes.append(
                Change(
                    table, None, "table added", False, f"table {table} is new", where.new("schema")
                )
            )
            continue
        result.changes += _table_changes(old, new, where)
    return result


class _Where:
    """Field paths with their lines, in the new file (or the old one, for what was removed)."""

    def __init__(self, old: Path, new: Path):
        self._lines = {
            "old": line_index(old.read_text(encoding="utf-8")),
            "new": line_index(new.read_text(encoding="utf-8")),
        }

    def _at(self, side: str, location: str) -> str:
        path = tuple(int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", location))
        lines = self._lines[side]
        while path and path not in lines:
            path = path[:-1]
        line = lines.get(path)
        return (
            location
            + (f" (line {line})" if line else "")
            + (" in the old file" if side == "old" else "")
        )

    def old(self, location: str) -> str:
        return self._at("old", location)

    def new(self, location: str) -> str:
        return self._at("new", location)


def _table_changes(old: Contract, new: Contract, where: _Where) -> list[Change]:
    table = new.table
    changes: list[Change] = []
    old_cols, new_cols = {c.name: c for c in old.columns}, {c.name: c for c in new.columns}
    renamed = _renames(old, new)
    for name, spec in old_cols.items():
        if name in new_cols:
            continue
        if name in renamed:
            target = new_cols[renamed[name]]
            changes.append(
                Change(
                    table,
                    name,
                    "column renamed",
                    True,
                    f"column {name} is now {target.name}: consumers reading {name} break",
                    where.new(target.location),
                )
            )
        else:
            changes.append(
                Change(
                    table,
                    name,
                    "column removed",
                    True,
                    f"column {name} is no longer in the contract",
                    where.old(spec.location),
                )
            )
    targets = set(renamed.values())
    for name, spec in new_cols.items():
        if name in old_cols or name in targets:
            continue
        if spec.required or spec.primary_key:
            changes.append(
                Change(
                    table,
                    name,
                    "required column added",
                    True,
                    f"column {name} is new and required: data without it now fails",
                    where.new(spec.location),
                )
            )
        else:
            changes.append(
                Change(
                    table,
                    name,
                    "optional column added",
                    False,
                    f"column {name} is new and optional",
                    where.new(spec.location),
                )
            )
    for old_name, spec in old_cols.items():
        new_name = old_name if old_name in new_cols else renamed.get(old_name)
        if new_name is not None:
            changes += _column_changes(table, spec, new_cols[new_name], where)
    changes += _quality_changes(table, None, old.quality, new.quality, where)
    return changes


def _renames(old: Contract, new: Contract) -> dict[str, str]:
    """``{old column: new column}`` for columns that were renamed, not replaced."""
    old_cols, new_cols = {c.name: c for c in old.columns}, {c.name: c for c in new.columns}
    removed = [c for c in old.columns if c.name not in new_cols]
    added = [c for c in new.columns if c.name not in old_cols]
    ids_old, ids_new = _property_ids(old), _property_ids(new)
    renames = {}
    for spec in removed:
        stable = ids_old.get(spec.name)
        match = next(
            (a for a in added if stable is not None and ids_new.get(a.name) == stable), None
        )
        if match is not None:
            renames[spec.name] = match.name
    # Without ids: the one added column of the same type at the same position, else the one
    # of the same type with a close name (currency -> currency_code).
    for gone in [c for c in removed if c.name not in renames]:
        free = [
            c
            for c in added
            if c.name not in renames.values() and c.logical_type == gone.logical_type
        ]
        same_place = [c for c in free if _index(c) == _index(gone)]
        close = [c for c in free if difflib.SequenceMatcher(None, gone.name, c.name).ratio() >= 0.6]
        for candidates in (same_place, close):
            if len(candidates) == 1:
                renames[gone.name] = candidates[0].name
                break
    return renames


def _index(spec: ColumnSpec) -> int:
    return int(re.findall(r"properties\[(\d+)\]", spec.location)[-1])


def _property_ids(contract: Contract) -> dict[str, str]:
    """``{column: property id}`` for the properties that carry a stable ``id``."""
    ids = {}
    for spec in contract.columns:
        prop = _raw_property(contract, spec)
        if prop is not None and getattr(prop, "id", None):
            ids[spec.name] = prop.id
    return ids


def _raw_property(contract: Contract, spec: ColumnSpec):
    schema, prop = (int(i) for i in re.findall(r"\[(\d+)\]", spec.location)[:2])
    try:
        return contract.raw.schema_[schema].properties[prop]
    except (AttributeError, IndexError, TypeError):
        return None


def _column_changes(
    table: str | None, old: ColumnSpec, new: ColumnSpec, where: _Where
) -> list[Change]:
    changes: list[Change] = []

    def add(change: str, breaking: bool, detail: str, field_name: str = "") -> None:
        loc = new.location + (f".{field_name}" if field_name else "")
        changes.append(Change(table, new.name, change, breaking, detail, where.new(loc)))

    if old.logical_type != new.logical_type:
        narrowed = (old.logical_type, new.logical_type) in NARROWER
        add(
            "type narrowed" if narrowed else "type changed",
            True,
            f"logicalType {old.logical_type} -> {new.logical_type}"
            + ("" if narrowed else ": consumers read another type"),
            "logicalType",
        )
    if (old.physical_type or "").upper() != (new.physical_type or "").upper() and old.physical_type:
        add(
            "physical type changed",
            True,
            f"physicalType {old.physical_type} -> {new.physical_type}",
            "physicalType",
        )
    for flag, word in (
        ("required", "required"),
        ("unique", "unique"),
        ("primary_key", "primaryKey"),
    ):
        before, after = getattr(old, flag), getattr(new, flag)
        if after and not before:
            add(f"{word} added", True, f"{word} added: data that passed may now fail", word)
        elif before and not after:
            add(f"{word} removed", False, f"{word} removed (loosened)", word)
    changes += _value_set_change(table, new, old.enum, new.enum, "enum", where)
    if old.pattern != new.pattern:
        add(
            "pattern changed"
            if old.pattern and new.pattern
            else ("pattern added" if new.pattern else "pattern removed"),
            new.pattern is not None,
            f"pattern {old.pattern!r} -> {new.pattern!r}",
            "logicalTypeOptions.pattern",
        )
    if old.format != new.format:
        add(
            "format changed",
            new.format is not None,
            f"format {old.format!r} -> {new.format!r}",
            "logicalTypeOptions.format",
        )
    for low, high, words in (
        ("minimum", "maximum", "bounds"),
        ("exclusive_minimum", "exclusive_maximum", "bounds"),
        ("min_length", "max_length", "lengths"),
        ("min_items", "max_items", "item counts"),
    ):
        changes += _range_changes(table, old, new, low, high, words, where)
    old_level, new_level = _level(old.classification), _level(new.classification)
    if old.classification != new.classification:
        relaxed = new_level < old_level
        add(
            "classification relaxed" if relaxed else "classification changed",
            relaxed,
            f"classification {old.classification or 'none'} -> {new.classification or 'none'}"
            + (": the data would be handled with less protection" if relaxed else ""),
            "classification",
        )
    if old.custom.get("unit") != new.custom.get("unit"):
        add(
            "unit changed",
            True,
            f"unit {old.custom.get('unit')} -> {new.custom.get('unit')}: values mean "
            f"something else",
            "customProperties",
        )
    if old.description != new.description:
        add("description changed", False, "description changed", "description")
    changes += _quality_changes(table, new, old.quality, new.quality, where)
    return changes


def _level(classification: str | None) -> int:
    return CLASSIFICATION_LEVELS.get((classification or "").lower(), 1 if classification else 0)


def _value_set_change(
    table: str | None,
    spec: ColumnSpec,
    before,
    after,
    word: str,
    where: _Where,
    location: str | None = None,
) -> list[Change]:
    old_set = None if before is None else {str(v) for v in before}
    new_set = None if after is None else {str(v) for v in after}
    if old_set == new_set:
        return []
    loc = where.new(location or f"{spec.location}.{word}")
    if new_set is None:
        return [
            Change(
                table,
                spec.name,
                f"{word} removed",
                False,
                f"{word} removed (any value allowed)",
                loc,
            )
        ]
    if old_set is None:
        return [
            Change(
                table,
                spec.name,
                f"{word} added",
                True,
                f"{word} added: only {', '.join(sorted(new_set))} allowed now",
                loc,
            )
        ]
    if new_set < old_set:
        return [
            Change(
                table,
                spec.name,
                f"{word} shrunk",
                True,
                f"{word} no longer allows {', '.join(sorted(old_set - new_set))}",
                loc,
            )
        ]
    if new_set > old_set:
        return [
            Change(
                table,
                spec.name,
                f"{word} extended",
                False,
                f"{word} now also allows {', '.join(sorted(new_set - old_set))}",
                loc,
            )
        ]
    return [
        Change(
            table,
            spec.name,
            f"{word} changed",
            True,
            f"{word} drops {', '.join(sorted(old_set - new_set))}, adds "
            f"{', '.join(sorted(new_set - old_set))}",
            loc,
        )
    ]


def _range_changes(
    table: str | None,
    old: ColumnSpec,
    new: ColumnSpec,
    low: str,
    high: str,
    words: str,
    where: _Where,
) -> list[Change]:
    changes = []
    for attr, tighter in ((low, lambda a, b: b > a), (high, lambda a, b: b < a)):
        before, after = getattr(old, attr), getattr(new, attr)
        if before == after:
            continue
        key = _ODCS_NAMES[attr]
        loc = where.new(f"{new.location}.logicalTypeOptions.{key}")
        if after is None:
            changes.append(
                Change(table, new.name, f"{words} widened", False, f"{key} {before} removed", loc)
            )
        elif before is None or _incomparable(before, after):
            changes.append(
                Change(
                    table, new.name, f"{words} tightened", True, f"{key} {before} -> {after}", loc
                )
            )
        elif tighter(before, after):
            changes.append(
                Change(
                    table,
                    new.name,
                    f"{words} tightened",
                    True,
                    f"{key} {before} -> {after}: data that passed may now fail",
                    loc,
                )
            )
        else:
            changes.append(
                Change(
                    table, new.name, f"{words} widened", False, f"{key} {before} -> {after}", loc
                )
            )
    return changes


_ODCS_NAMES = {
    "minimum": "minimum",
    "maximum": "maximum",
    "exclusive_minimum": "exclusiveMinimum",
    "exclusive_maximum": "exclusiveMaximum",
    "min_length": "minLength",
    "max_length": "maxLength",
    "min_items": "minItems",
    "max_items": "maxItems",
}


def _incomparable(a: Any, b: Any) -> bool:
    try:
        _ = a < b
        return False
    except TypeError:
        return True


def _rule_key(rule: QualityRule, with_column: bool) -> tuple:
    """What identifies a rule across versions: its kind, metric or query (and, among a
    table's rules, the column a column-level SQL rule came from)."""
    return (
        rule.column if with_column else None,
        rule.kind,
        rule.metric,
        rule.query.strip() if rule.query else None,
    )


def _quality_changes(
    table: str | None,
    spec: ColumnSpec | None,
    before: tuple[QualityRule, ...],
    after: tuple[QualityRule, ...],
    where: _Where,
) -> list[Change]:
    column = spec.name if spec else None
    changes = []
    old_rules = {_rule_key(r, spec is None): r for r in before}
    new_rules = {_rule_key(r, spec is None): r for r in after}
    for key, rule in old_rules.items():
        if key not in new_rules:
            changes.append(
                Change(
                    table,
                    column,
                    "quality rule removed",
                    False,
                    f"{_rule_name(rule)} removed (loosened)",
                    where.old(rule.location),
                )
            )
    for key, rule in new_rules.items():
        old_rule = old_rules.get(key)
        if old_rule is None:
            changes.append(
                Change(
                    table,
                    column,
                    "quality rule added",
                    True,
                    f"{_rule_name(rule)} {rule.expectation()} added: data that passed may now fail",
                    where.new(rule.location),
                )
            )
            continue
        if (old_rule.operator, old_rule.threshold, old_rule.unit) != (
            rule.operator,
            rule.threshold,
            rule.unit,
        ):
            tighter = _threshold_tighter(old_rule, rule)
            changes.append(
                Change(
                    table,
                    column,
                    "quality threshold tightened" if tighter else "quality threshold loosened",
                    tighter,
                    f"{_rule_name(rule)}: {old_rule.expectation()} -> {rule.expectation()}",
                    where.new(rule.location),
                )
            )
        if old_rule.severity != rule.severity:
            raised = rule.severity == "error"
            changes.append(
                Change(
                    table,
                    column,
                    "severity raised" if raised else "severity lowered",
                    raised,
                    f"{_rule_name(rule)}: severity {old_rule.severity} -> {rule.severity}",
                    where.new(rule.location),
                )
            )
        if spec is not None and rule.metric == "invalidValues":
            changes += _value_set_change(
                table,
                spec,
                old_rule.arguments.get("validValues"),
                rule.arguments.get("validValues"),
                "validValues",
                where,
                f"{rule.location}.arguments.validValues",
            )
            if old_rule.arguments.get("pattern") != rule.arguments.get("pattern"):
                changes.append(
                    Change(
                        table,
                        column,
                        "pattern changed",
                        True,
                        f"invalidValues pattern {old_rule.arguments.get('pattern')!r} -> "
                        f"{rule.arguments.get('pattern')!r}",
                        where.new(rule.location),
                    )
                )
    return changes


def _rule_name(rule: QualityRule) -> str:
    if rule.kind == "sql":
        return f"SQL rule {(rule.description or rule.query or '').strip()[:60]!r}"
    return f"{rule.metric}" + (f" on {rule.column}" if rule.column else "")


def _threshold_tighter(old: QualityRule, new: QualityRule) -> bool:
    """Whether the new threshold can fail a value the old one accepted (unknown: yes)."""
    if old.unit != new.unit or old.operator != new.operator:
        return True
    a, b = old.threshold, new.threshold
    if old.operator in ("mustBeLessThan", "mustBeLessOrEqualTo"):
        return b < a
    if old.operator in ("mustBeGreaterThan", "mustBeGreaterOrEqualTo"):
        return b > a
    if old.operator == "mustBeBetween":
        return b[0] > a[0] or b[1] < a[1]
    return True


def read_at_revision(path: Path, ref: str) -> tuple[str | None, str]:
    """The text of ``path`` at git revision ``ref`` (None when it did not exist there), and a
    label such as ``main:contracts/x.odcs.yaml``.

    Raises:
        ValueError: ``path`` is not in a git work tree, or ``ref`` is not a revision.
    """
    import subprocess

    path = Path(path).resolve()
    top = subprocess.run(
        ["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
    )
    if top.returncode != 0:
        raise ValueError(
            f"{path} is not in a git work tree: --against needs one ({top.stderr.strip()})"
        )
    relative = path.relative_to(Path(top.stdout.strip()).resolve()).as_posix()
    verified = subprocess.run(
        ["git", "-C", top.stdout.strip(), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if verified.returncode != 0:
        raise ValueError(f"{ref!r} is not a git revision of {top.stdout.strip()}")
    shown = subprocess.run(
        ["git", "-C", top.stdout.strip(), "show", f"{ref}:{relative}"],
        capture_output=True,
        text=True,
    )
    return (shown.stdout if shown.returncode == 0 else None), f"{ref}:{relative}"

"""The environment table the documentation shows is rendered from ``core/settings.py``'s
``VARIABLES``, so that declaration must name exactly the variables the module reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import platform_assets.core.settings as settings_module

VARIABLE = re.compile(r"^(?:PLATFORM_ASSETS|PLATFORM_CLAUDE|ANTHROPIC|AWS)_[A-Z0-9_]+$")


def _read_variables() -> set[str]:
    """Every variable name spelled as a string in the module's code, outside ``VARIABLES``
    (the declaration itself) and outside docstrings."""
    tree = ast.parse(Path(settings_module.__file__).read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skipped.add(id(first.value))
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "VARIABLES" for t in targets):
                skipped.update(id(n) for n in ast.walk(node))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and VARIABLE.match(node.value)
    }


def test_every_variable_read_is_declared_and_every_declared_one_is_read() -> None:
    read = _read_variables()
    declared = {variable.name for variable in settings_module.VARIABLES}
    assert read, "found no variable names in core/settings.py: the pattern is wrong"
    assert read - declared == set(), "read but not declared in VARIABLES"
    assert declared - read - settings_module.READ_BY_LIBRARIES == set(), "declared but never read"
    assert len(declared) == len(settings_module.VARIABLES), "a variable is declared twice"


def test_the_documentation_table_lists_every_variable_once() -> None:
    tables = settings_module.variables_markdown() + settings_module.variables_markdown("production")
    for variable in settings_module.VARIABLES:
        assert tables.count(f"| `{variable.name}` |") == 1, variable.name
    assert "(a secret: never printed)" in settings_module.variables_markdown("production")

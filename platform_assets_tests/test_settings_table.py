"""The environment table in ``core/settings.py``'s docstring is the documentation's (the docs
site renders it), so it must name exactly the variables the module reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import platform_assets.core.settings as settings_module

# Documented in the table for operators, but read by boto3's credential chain, not by the module.
READ_BY_BOTO3 = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
VARIABLE = re.compile(r"^(?:PLATFORM_ASSETS|PLATFORM_CLAUDE|ANTHROPIC|AWS)_[A-Z0-9_]+$")


def _read_variables() -> set[str]:
    """Every variable name spelled as a string in the module's code (not its docstrings)."""
    tree = ast.parse(Path(settings_module.__file__).read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and VARIABLE.match(node.value)
    }


def _documented_variables() -> set[str]:
    doc = settings_module.__doc__ or ""
    rows = [line for line in doc.splitlines() if line.startswith("| ``")]
    first_cells = [row.split("|")[1] for row in rows]
    return {name for cell in first_cells for name in re.findall(r"``([A-Z0-9_]+)``", cell)}


def test_every_variable_read_is_in_the_table_and_every_row_is_read() -> None:
    read, documented = _read_variables(), _documented_variables()
    assert read, "found no variable names in core/settings.py: the pattern is wrong"
    assert read - documented == set(), "read but not in the settings docstring's table"
    assert documented - read - READ_BY_BOTO3 == set(), "in the table but never read"

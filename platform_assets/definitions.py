"""The code location: everything under ``platform_assets/defs`` (see ``[tool.dg]``)."""

from pathlib import Path

import dagster as dg

_PACKAGE = Path(__file__).resolve().parent


def _project_root() -> Path:
    """Where the project's ``pyproject.toml`` (its ``[tool.dg]``) is: the source checkout, or
    the copy an installed wheel bundles (the image installs the wheel, not the checkout)."""
    checkout = _PACKAGE.parent
    return checkout if (checkout / "pyproject.toml").is_file() else _PACKAGE / "_bundled"


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=_project_root())

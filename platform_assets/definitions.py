"""The code location: everything under ``platform_assets/defs`` (see ``[tool.dg]``), with the
policies of ``defs/policies.py`` (owners, Markdown descriptions) applied once over it."""

from pathlib import Path

import dagster as dg

from platform_assets.defs.policies import apply_policies

_PACKAGE = Path(__file__).resolve().parent


def _project_root() -> Path:
    """Where the project's ``pyproject.toml`` (its ``[tool.dg]``) is: the source checkout, or
    the copy an installed wheel bundles (the image installs the wheel, not the checkout)."""
    checkout = _PACKAGE.parent
    return checkout if (checkout / "pyproject.toml").is_file() else _PACKAGE / "_bundled"


@dg.definitions
def defs() -> dg.Definitions:
    return apply_policies(dg.load_from_defs_folder(path_within_project=_project_root()))

"""A served home built once per session (a small real lifecycle); each test copies it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from platform_assets_tests.support.serving import build_served_home


@pytest.fixture(scope="session")
def served_home_template(tmp_path_factory) -> Path:
    """Never opened by a test: tests copy it (``served_home``)."""
    return build_served_home(tmp_path_factory.mktemp("served"))


@pytest.fixture
def served_home(served_home_template: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(served_home_template, home)
    # The copy's registry and artifacts moved with it; the candidate folders recorded in the
    # registry point at the template, which only the training assets read.
    return home

"""Fixtures for the browser test: a throwaway Dagster instance served by ``dagster dev``."""

from __future__ import annotations

import pytest

from platform_assets_tests.support.dagster_dev import CHROMIUM, dagster_dev


@pytest.fixture(scope="module")
def dagster_server(tmp_path_factory: pytest.TempPathFactory):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser test")
    with dagster_dev(tmp_path_factory.mktemp("dagster_ui")) as server:
        yield server

from __future__ import annotations

import dagster as dg
import pytest

from platform_assets_tests.support.dagster import offline_resources


@pytest.fixture
def env(tmp_path):
    """``(tmp_path, resources, instance)``: offline resources on ``tmp_path`` and a fresh
    instance."""
    with dg.instance_for_test() as instance:
        yield tmp_path, offline_resources(tmp_path), instance

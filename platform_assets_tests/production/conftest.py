"""Fixtures for the production profile: a real PostgreSQL and a real moto server, one of
each per test session, and per test a new database, a new bucket and a production
environment pointing at them (``production``)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.production import ProductionStack
from platform_assets_tests.support.servers import MotoS3, PostgresServer, postgres_bin_dir


@pytest.fixture(scope="session")
def postgres():
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb/pg_ctl; .ci/run installs Debian's postgresql "
            "package)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip(
            "running as root, and runuser (needed to start PostgreSQL as the postgres user) is "
            "missing"
        )
    server = PostgresServer(bin_dir).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto():
    pytest.importorskip("moto.server", reason="moto[server] (a dev dependency) is not installed")
    server = MotoS3().start()
    yield server
    server.stop()


@pytest.fixture
def production(postgres, moto, tmp_path: Path, monkeypatch) -> Iterator[ProductionStack]:
    """A production environment of its own: a new Postgres database (Dagster storage and the
    DuckLake catalog), a new bucket (warehouse data, registry, artifacts, compute logs), the
    instance of ``deploy/dagster.yaml``; set in this process too."""
    import s3fs

    stack = ProductionStack.create(postgres, moto, tmp_path, REPO / "deploy" / "dagster.yaml")
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # fsspec caches filesystems, not the endpoint
    yield stack
    s3fs.S3FileSystem.clear_instance_cache()

"""The production profile never keeps runs in a local SQLite: without ``DAGSTER_HOME``, or
with an instance whose storage is not Postgres, every command that would start a run
refuses in one line naming what to set (exit 2), and creates no instance."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import REPO

PRODUCTION = {
    "PLATFORM_ASSETS_PROFILE": "production",
    "PLATFORM_ASSETS_PG_URL": "postgresql://dagster@127.0.0.1:9/platform",
    "PLATFORM_ASSETS_S3_URL": "s3://no-such-bucket/platform",
}


def _cli(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = subprocess_env({**PRODUCTION, "PLATFORM_ASSETS_HOME": str(home), **env})
    environ.pop("DAGSTER_HOME", None)
    environ.update({k: v for k, v in env.items() if k == "DAGSTER_HOME"})
    return subprocess.run(
        [sys.executable, "-m", "platform_assets.cli", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_without_dagster_home_refuses_to_start(tmp_path):
    result = _cli(tmp_path / "home", "run", "--partition", "2026-11-02")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: PLATFORM_ASSETS_PROFILE=production needs DAGSTER_HOME: set it to a folder "
        "holding deploy/dagster.yaml (runs and events in Postgres); production runs are never "
        "kept in a local SQLite"
    ]
    assert not (tmp_path / "home" / "dagster_home").exists()
    assert not list(tmp_path.glob("**/*.db"))


def test_production_on_a_sqlite_instance_refuses_to_start(tmp_path):
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", dagster_home / "dagster.yaml")  # the local SQLite one
    result = _cli(
        tmp_path / "home",
        "backfill",
        "--select",
        "raw/transactions",
        "--start",
        "2026-11-02",
        "--end",
        "2026-11-02",
        DAGSTER_HOME=str(dagster_home),
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {dagster_home / 'dagster.yaml'}: PLATFORM_ASSETS_PROFILE=")
    assert "needs Postgres storage" in line and "DAGSTER_HOME" in line
    assert not list(tmp_path.glob("**/*.db"))


def test_the_local_profile_keeps_its_embedded_instance(tmp_path):
    environ = subprocess_env({"PLATFORM_ASSETS_HOME": str(tmp_path / "home")})
    environ.pop("DAGSTER_HOME", None)
    environ.pop("PLATFORM_ASSETS_PROFILE", None)
    result = subprocess.run(
        [sys.executable, "-c", "from platform_assets.runner import get_instance; get_instance()"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / "dagster_home" / "dagster.yaml").exists()

"""The production profile on real servers: environment, Dagster instance and warehouse of
one test, and the two-process backfill the issue's acceptance describes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from platform_assets.core.settings import Settings
from platform_assets_tests.support.environment import subprocess_env
from platform_assets_tests.support.paths import CONTRACTS_DIR, REPO
from platform_assets_tests.support.servers import MotoS3, PostgresServer

S3_PREFIX = "platform"


@dataclass
class ProductionStack:
    """``env`` is exactly what a production process gets: the profile, Postgres, the bucket,
    moto's endpoint with fake credentials, a data home and ``DAGSTER_HOME`` holding
    ``deploy/dagster.yaml``."""

    env: dict[str, str]
    pg_url: str
    bucket: str
    postgres: PostgresServer
    moto: MotoS3
    home: Path
    dagster_home: Path
    rows_per_partition: int = 2000
    processes: list = field(default_factory=list)

    @classmethod
    def create(
        cls, postgres, moto, tmp_path: Path, instance_yaml: Path, rows_per_partition: int = 2000
    ):
        pg_url = postgres.create_database("platform")
        bucket = moto.create_bucket()
        home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
        dagster_home.mkdir(parents=True)
        shutil.copyfile(instance_yaml, dagster_home / "dagster.yaml")
        env = {
            "PLATFORM_ASSETS_PROFILE": "production",
            "PLATFORM_ASSETS_PG_URL": pg_url,
            "PLATFORM_ASSETS_S3_URL": f"s3://{bucket}/{S3_PREFIX}",
            "PLATFORM_ASSETS_HOME": str(home),
            "PLATFORM_ASSETS_CONTRACTS_DIR": str(CONTRACTS_DIR),
            "PLATFORM_ASSETS_ROWS_PER_PARTITION": str(rows_per_partition),
            "DAGSTER_HOME": str(dagster_home),
            **moto.env(),
        }
        return cls(env, pg_url, bucket, postgres, moto, home, dagster_home, rows_per_partition)

    @property
    def database(self) -> str:
        return self.pg_url.rsplit("/", 1)[1]

    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def pg(self, sql: str) -> list[tuple]:
        """Rows of ``sql`` run in this stack's Postgres database."""
        return self.postgres.execute(sql, self.database)

    def s3_keys(self, folder: str) -> list[str]:
        return self.moto.keys(self.bucket, f"{S3_PREFIX}/{folder}")

    def start_cli(self, *args: str, home: Path | None = None) -> subprocess.Popen:
        """``platform-assets <args>`` in its own process, as an operator (or an ECS task) runs
        it."""
        env = subprocess_env(
            {
                **self.env,
                **({"PLATFORM_ASSETS_HOME": str(home)} if home else {}),
                "RUNTIME__LOG_LEVEL": "ERROR",
            }
        )
        return subprocess.Popen(
            [sys.executable, "-m", "platform_assets.cli", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str
    seconds: float


def run_together(processes: list[subprocess.Popen], timeout: float = 600) -> list[Finished]:
    """Wait for processes started together; each one's exit code, output and wall time."""
    started = time.monotonic()
    finished = []
    for process in processes:
        output, _ = process.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
        finished.append(Finished(process.returncode, output, time.monotonic() - started))
    return finished


def backfill_args(day: str) -> list[str]:
    return [
        "backfill",
        "--select",
        "raw/transactions",
        "--select",
        "validated/transactions",
        "--start",
        day,
        "--end",
        day,
    ]

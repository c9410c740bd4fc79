"""Where platform_assets keeps its data, read from the environment when asked, never at import.

Every path has an embedded default under one data directory, ``PLATFORM_ASSETS_HOME``
(default: ``.platform_assets`` in the working directory), so the platform runs on a laptop
with no configuration. Production overrides individual paths.

| variable | default | what it is |
| --- | --- | --- |
| ``PLATFORM_ASSETS_HOME`` | ``./.platform_assets`` | the data directory |
| ``PLATFORM_ASSETS_WAREHOUSE`` | ``$HOME/warehouse.duckdb`` | the DuckDB file |
| ``PLATFORM_ASSETS_CONTRACTS_DIR`` | ``./contracts`` if present, else the bundled copy | ODCS contracts |
| ``PLATFORM_ASSETS_LANDING_URL`` | ``$HOME/landing`` | landing folder, local path or ``s3://`` URL |
| ``PLATFORM_ASSETS_ROWS_PER_PARTITION`` | ``20000`` | rows per day of the bundled source |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _bundled(name: str) -> Path:
    """A file shipped with the project: the source checkout's copy, else the wheel's."""
    checkout = _PACKAGE_DIR.parent / name
    if checkout.exists():
        return checkout
    return _PACKAGE_DIR / "_bundled" / name


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_path: Path
    contracts_dir: Path
    landing_url: str
    rows_per_partition: int

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("PLATFORM_ASSETS_HOME", ".platform_assets")).expanduser().resolve()
        contracts_default = Path("contracts") if Path("contracts").is_dir() else _bundled("contracts")
        return cls(
            home=home,
            warehouse_path=Path(env.get("PLATFORM_ASSETS_WAREHOUSE", home / "warehouse.duckdb")),
            contracts_dir=Path(env.get("PLATFORM_ASSETS_CONTRACTS_DIR", contracts_default)).resolve(),
            landing_url=env.get("PLATFORM_ASSETS_LANDING_URL", str(home / "landing")),
            rows_per_partition=int(env.get("PLATFORM_ASSETS_ROWS_PER_PARTITION", "20000")),
        )

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    @property
    def dlt_pipelines_dir(self) -> Path:
        return self.home / "dlt"


def bundled_dagster_yaml() -> Path:
    return _bundled("dagster.yaml")

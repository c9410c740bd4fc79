"""Resources, built when the code location loads (not at import), from the environment.

``warehouse`` is the DuckDB file every stage reads and writes. DuckDB allows one writer
per file, so every asset that writes to it runs in the ``duckdb_warehouse`` pool (limit 1
in ``dagster.yaml``).
"""


from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from dagster_dlt import DagsterDltResource
from dagster_duckdb import DuckDBResource

from platform_assets.core import warehouse
from platform_assets.core.settings import Settings

WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(DuckDBResource):
    """The platform's DuckDB warehouse. Opens through ``platform_assets.core.warehouse``,
    the one place that opens DuckDB, so the platform tables exist and a held lock is waited
    for rather than failing the step."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.session(self.database) as conn:
            yield conn


class PlatformSettings(dg.ConfigurableResource):
    """Paths and defaults that are not the warehouse: contracts, landing folder, dlt state."""

    home: str
    contracts_dir: str
    landing_url: str
    rows_per_partition: int = 20_000

    @classmethod
    def from_settings(cls, settings: Settings) -> "PlatformSettings":
        return cls(home=str(settings.home), contracts_dir=str(settings.contracts_dir),
                   landing_url=settings.landing_url, rows_per_partition=settings.rows_per_partition)


def build_resources(settings: Settings | None = None, environ: dict[str, str] | None = None) -> dict[str, object]:
    """Every resource of the code location. Without ANTHROPIC_API_KEY (or Bedrock), the
    ``claude`` resource is disabled and makes no network call."""
    from platform_assets.defs.llm import ClaudeResource

    settings = settings or Settings.from_env(environ)
    return {
        "warehouse": WarehouseResource(database=str(settings.warehouse_path)),
        "platform": PlatformSettings.from_settings(settings),
        "dlt": DagsterDltResource(),
        "claude": ClaudeResource.from_env(environ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())

"""Every resource of the code location, built when it loads (not at import) from
:class:`~platform_assets.core.settings.Settings`, the one reader of the environment.

- ``warehouse``: what every stage reads and writes. Locally the DuckDB file: DuckDB allows
  one writer per file, so every asset that writes to it runs in the ``duckdb_warehouse``
  pool (limit 1 in ``dagster.yaml``). In production (``PLATFORM_ASSETS_PROFILE=production``)
  the DuckLake ``ducklake:<schema>`` (catalog in Postgres, Parquet on S3), which many runs
  write at once: ``deploy/dagster.yaml`` raises the pool's limit;
- ``platform``: contracts folder, landing folder, dlt state, bundled-source size;
- ``registry``: the model registry and the artifacts folder (candidates, cards, reports);
  in production the registry is ``<s3 url>/registry`` and reports are published to
  ``<s3 url>/artifacts`` (:meth:`ModelRegistryResource.publish_artifact`);
- ``claude``: how to reach Claude, disabled without a key;
- ``notifier``: where alerts go: ``platform.alerts`` and the run log always, a Slack
  incoming webhook when ``PLATFORM_ASSETS_SLACK_WEBHOOK_URL`` is set;
- ``dlt``: dagster-dlt's runner.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
import duckdb
from dagster_dlt import DagsterDltResource
from dagster_duckdb import DuckDBResource

from platform_assets.core import warehouse
from platform_assets.core.llm.client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT_SECONDS,
    ClaudeClient,
    ClaudeConfig,
)
from platform_assets.core.llm.pricing import DEFAULT_PRICES, ModelPrice
from platform_assets.core.settings import DEFAULT_CLAUDE_DEADLINE_SECONDS, ClaudeSettings, Settings
from platform_assets.defs.keys import FRAUD_MODEL
from platform_assets.defs.lineage import latest_metadata

if TYPE_CHECKING:
    import logging

    from platform_assets.core.operations.alerts import Alert
    from platform_assets.core.registry import ModelRegistry
    from platform_assets.core.training.candidate import Candidate
    from platform_assets.core.validation.contract import Contract

WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(DuckDBResource):
    """The platform's warehouse: ``database`` is the DuckDB file, or in production the
    DuckLake's name (``ducklake:<schema>``; its catalog URL stays in the environment).
    Opens through ``platform_assets.core.warehouse``, the one place that opens DuckDB, so
    the platform tables exist, a held file lock is waited for, and a DuckLake commit
    conflict is retried rather than failing the step."""

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.session(self.database) as conn:
            yield conn


class PlatformSettings(dg.ConfigurableResource):
    """Paths and defaults that are not the warehouse: contracts, landing folder, dlt state,
    the eval suite's folder."""

    home: str
    contracts_dir: str
    landing_url: str
    rows_per_partition: int = 20_000
    evals_dir: str = "evals"

    def load_contract(self, table: str) -> Contract:
        """The ODCS contract of ``table`` from the contracts folder."""
        from platform_assets.core.validation.contract import find_contract, load_contract

        return load_contract(find_contract(Path(self.contracts_dir), table), table)

    @classmethod
    def from_settings(cls, settings: Settings) -> PlatformSettings:
        return cls(
            home=str(settings.home),
            contracts_dir=str(settings.contracts_dir),
            landing_url=settings.landing_url,
            rows_per_partition=settings.rows_per_partition,
            evals_dir=str(settings.evals_dir),
        )


class ModelRegistryResource(dg.ConfigurableResource):
    """The model registry (a local folder or ``s3://bucket/prefix``) and the artifacts folder
    that training candidates, model cards and drift reports are written to."""

    url: str
    artifacts_dir: str
    artifacts_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistryResource:
        return cls(
            url=settings.registry_url,
            artifacts_dir=str(settings.artifacts_dir),
            artifacts_url=settings.artifacts_url,
        )

    def publish_artifact(self, path: Path) -> tuple[str, str]:
        """Make a file written under the artifacts folder outlive the run: in production it
        is copied to ``<artifacts_url>/<same relative path>`` (S3), since a run's disk goes
        with its ECS task. Returns ``(location, url)`` for the metadata: the S3 URI twice, or
        the local path and its ``file://`` URL."""
        from platform_assets.core.registry.store import store_from_url

        path = Path(path)
        if not self.artifacts_url or not self.artifacts_url.startswith("s3://"):
            return str(path), path.resolve().as_uri()
        key = path.resolve().relative_to(Path(self.artifacts_dir).resolve()).as_posix()
        uri = store_from_url(self.artifacts_url).put(key, path.read_bytes())
        return uri, uri

    def get_registry(self) -> ModelRegistry:
        from platform_assets.core.registry import registry_for

        return registry_for(self.url)

    @property
    def artifacts_path(self) -> Path:
        return Path(self.artifacts_dir)

    def current_candidate(self, instance: dg.DagsterInstance) -> Candidate:
        """The candidate folder of the latest ``model/fraud_model`` materialization."""
        from platform_assets.core.training.candidate import load_candidate

        path = latest_metadata(instance, FRAUD_MODEL).get("candidate_dir")
        if not path:
            raise dg.Failure(
                description="model/fraud_model has not been materialized: train a model first"
            )
        return load_candidate(path)


class ModelPriceConfig(dg.Config):
    """USD per million tokens for one model (cache writes 1.25x input, reads 0.1x)."""

    input_usd_per_mtok: float
    output_usd_per_mtok: float


class ClaudeResource(dg.ConfigurableResource):
    """How the platform reaches Claude: direct API (``api_key``, optional ``base_url``) or
    Amazon Bedrock (``use_bedrock``, ``aws_region``, AWS credentials from the usual chain).
    ``prices`` adds to or overrides the default price table; ``cache_batch_data`` also
    caches each batch's data (pays off only when re-runs of the same batch are common);
    ``degraded_blocks`` makes a failed Claude check fail the batch (the default).

    Nothing here imports ``anthropic``: the core client imports it on the first real call."""

    model: str = DEFAULT_MODEL
    api_key: str | None = None
    base_url: str | None = None
    use_bedrock: bool = False
    aws_region: str | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    deadline_seconds: float = DEFAULT_CLAUDE_DEADLINE_SECONDS
    degraded_blocks: bool = True
    cache_batch_data: bool = False
    prices: dict[str, ModelPriceConfig] = {}  # noqa: RUF012 (pydantic copies a field's default)

    @classmethod
    def from_settings(cls, settings: ClaudeSettings) -> ClaudeResource:
        """Built at load time. Secrets stay ``dg.EnvVar`` references (shown as such in the
        UI, read when a run starts), and only when set, so a missing key disables Claude
        instead of failing the load."""
        values: dict[str, Any] = {
            "model": settings.model or DEFAULT_MODEL,
            "use_bedrock": settings.use_bedrock,
        }
        if settings.deadline_seconds != DEFAULT_CLAUDE_DEADLINE_SECONDS:
            values["deadline_seconds"] = settings.deadline_seconds
        if settings.api_key:
            values["api_key"] = dg.EnvVar(ClaudeSettings.API_KEY_VARIABLE)
        if settings.base_url:
            values["base_url"] = dg.EnvVar(ClaudeSettings.BASE_URL_VARIABLE)
        if settings.aws_region_variable:
            values["aws_region"] = dg.EnvVar(settings.aws_region_variable)
        return cls(**values)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ClaudeResource:
        return cls.from_settings(ClaudeSettings.from_env(environ))

    def config(self) -> ClaudeConfig:
        prices: dict[str, ModelPrice] = dict(DEFAULT_PRICES)
        prices.update(
            {
                name: ModelPrice(p.input_usd_per_mtok, p.output_usd_per_mtok)
                for name, p in self.prices.items()
            }
        )
        return ClaudeConfig(
            model=self.model,
            api_key=self.api_key or None,
            base_url=self.base_url or None,
            use_bedrock=self.use_bedrock,
            aws_region=self.aws_region or None,
            max_retries=self.max_retries,
            timeout_seconds=self.timeout_seconds,
            deadline_seconds=self.deadline_seconds,
            cache_data=self.cache_batch_data,
            prices=prices,
        )

    def get_client(self) -> ClaudeClient:
        """The core client (disabled when neither a key nor Bedrock is configured)."""
        return ClaudeClient(self.config())

    def contract_reviewer(self, run_id: str | None = None, asset: str | None = None):
        """The reviewer ``service.check_partition`` takes: the semantic check, merged."""
        from platform_assets.core.validation.semantic_llm import make_reviewer

        return make_reviewer(
            self.get_client(), run_id=run_id, asset=asset, degraded_blocks=self.degraded_blocks
        )


class NotifierResource(dg.ConfigurableResource):
    """Where alerts go. The local sink always: a row of ``platform.alerts`` in the warehouse
    (which opens or joins a page, ``platform.pages``) and a WARNING line in the run's (or
    sensor's) log. And a Slack incoming webhook when
    ``slack_webhook_url`` is set (a ``dg.EnvVar``: the URL is a secret). A failed delivery is
    recorded with the alert and logged; it never fails the step that raised the alert."""

    database: str
    runbook_base_url: str
    slack_webhook_url: str | None = None
    # escalated pages also go to a PagerDuty Events API v2 compatible endpoint when set
    pagerduty_url: str | None = None
    pagerduty_routing_key: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> NotifierResource:
        values: dict[str, Any] = {
            "database": settings.warehouse,
            "runbook_base_url": settings.runbook_base_url,
        }
        if settings.slack_webhook_url:
            values["slack_webhook_url"] = dg.EnvVar(Settings.SLACK_WEBHOOK_VARIABLE)
        if settings.pagerduty_url:
            values["pagerduty_url"] = settings.pagerduty_url
        if settings.pagerduty_routing_key:
            values["pagerduty_routing_key"] = dg.EnvVar(Settings.PAGERDUTY_KEY_VARIABLE)
        return cls(**values)

    def notify(
        self,
        alert: Alert,
        log: logging.Logger | None = None,
        conn: duckdb.DuckDBPyConnection | None = None,
    ) -> Alert:
        """Deliver ``alert`` (its runbook link filled in) and record it; returns it with
        ``delivered_to`` and ``delivery_errors`` set. ``conn``: an open warehouse connection
        to record with (else one is opened)."""
        from platform_assets.core.operations.alerts import post_to_slack, record_alert, runbook_url
        from platform_assets.core.operations.pages import open_or_join

        alert.runbook_url = alert.runbook_url or runbook_url(alert.runbook, self.runbook_base_url)
        alert.delivered_to.append("platform.alerts")
        if log is not None:
            log.warning(alert.line())
            alert.delivered_to.append("run log")
        if self.slack_webhook_url:
            try:
                post_to_slack(self.slack_webhook_url, alert)
                alert.delivered_to.append("slack")
            except RuntimeError as exc:
                alert.delivery_errors.append(f"slack: {exc}")
                if log is not None:
                    log.warning(f"alert {alert.alert_id} not delivered to Slack: {exc}")

        def record(target: duckdb.DuckDBPyConnection) -> None:
            record_alert(target, alert)
            alert.page_id = open_or_join(target, alert).page_id

        try:
            if conn is not None:
                record(conn)
            else:
                with warehouse.session(self.database) as own:
                    record(own)
        except duckdb.Error as exc:  # e.g. another process held the warehouse lock for 30 s
            alert.delivered_to.remove("platform.alerts")
            alert.delivery_errors.append(f"platform.alerts: {exc}")
            if log is not None:
                log.warning(f"alert {alert.alert_id} not recorded in platform.alerts: {exc}")
        return alert


def build_resources(
    settings: Settings | None = None, environ: dict[str, str] | None = None
) -> dict[str, object]:
    """Every resource of the code location. Without ANTHROPIC_API_KEY (or Bedrock), the
    ``claude`` resource is disabled and makes no network call."""
    settings = settings or Settings.from_env(environ)
    return {
        "warehouse": WarehouseResource(database=settings.warehouse),
        "platform": PlatformSettings.from_settings(settings),
        "registry": ModelRegistryResource.from_settings(settings),
        "dlt": DagsterDltResource(),
        "claude": ClaudeResource.from_settings(settings.claude),
        "notifier": NotifierResource.from_settings(settings),
    }


def initialized_resources(settings: Settings | None = None) -> dict[str, Any]:
    """:func:`build_resources` with each resource's config resolved (its ``dg.EnvVar`` values
    read), for the code that runs outside Dagster: a CLI run's own triage, ``pages respond``."""
    return {
        name: resource.process_config_and_initialize()
        if isinstance(resource, dg.ConfigurableResource)
        else resource
        for name, resource in build_resources(settings).items()
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())

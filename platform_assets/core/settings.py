"""Where platform_assets keeps its data, read from the environment when asked, never at import.

Every path has an embedded default under one data directory, ``PLATFORM_ASSETS_HOME``
(default: ``.platform_assets`` in the working directory), so the platform runs on a laptop
with no configuration. Production overrides individual paths.

| variable | default | what it is |
| --- | --- | --- |
| ``PLATFORM_ASSETS_HOME`` | ``./.platform_assets`` | the data directory |
| ``PLATFORM_ASSETS_WAREHOUSE`` | ``$HOME/warehouse.duckdb`` | the DuckDB file |
| ``PLATFORM_ASSETS_CONTRACTS_DIR`` | ``./contracts`` if present, else the bundled copy | ODCS contracts |
| ``PLATFORM_ASSETS_EVALS_DIR`` | ``./evals`` if present, else the bundled copy | the eval suite: ``requirements/*.md``, ``cases/*.yaml`` |
| ``PLATFORM_ASSETS_LANDING_URL`` | ``$HOME/landing`` | landing folder, local path or ``s3://`` URL |
| ``PLATFORM_ASSETS_ROWS_PER_PARTITION`` | ``20000`` | rows per day of the bundled source |
| ``PLATFORM_ASSETS_REGISTRY_URL`` | ``$HOME/artifacts/registry`` | model registry, local path or ``s3://`` URL |
| ``PLATFORM_ASSETS_DRIFT_THRESHOLD`` | ``0.3`` | drift share at which the drift sensor asks for a retrain |
| ``PLATFORM_ASSETS_DRIFT_COOLDOWN_HOURS`` | ``24`` | quiet time after a drift-triggered retrain |
| ``PLATFORM_ASSETS_SLACK_WEBHOOK_URL`` | unset (alerts stay local) | a Slack incoming webhook every alert is also posted to |
| ``PLATFORM_ASSETS_RUNBOOK_BASE_URL`` | ``./runbooks`` (the bundled copy) | where alerts link runbooks: a folder, or e.g. the repository's ``…/blob/main/runbooks`` |
| ``PLATFORM_ASSETS_PRICE_VCPU_HOUR`` | ``0.04048`` | USD per vCPU-hour of step compute (AWS Fargate, Linux/x86, us-east-1) |
| ``PLATFORM_ASSETS_PRICE_GIB_HOUR`` | ``0.004445`` | USD per GiB-hour of step memory (same source) |
| ``PLATFORM_ASSETS_STEP_VCPU`` | ``1`` | vCPUs a step is billed for |
| ``PLATFORM_ASSETS_STEP_MEMORY_GIB`` | ``2`` | GiB a step is billed for |
| ``ANTHROPIC_API_KEY`` | unset (Claude off) | turns Claude on |
| ``ANTHROPIC_BASE_URL`` | the SDK's | another Messages API endpoint (a proxy, a test server) |
| ``PLATFORM_CLAUDE_MODEL`` | ``claude-sonnet-4-6`` | the model every Claude task uses |
| ``PLATFORM_CLAUDE_USE_BEDROCK`` | unset | ``1``/``true``: reach Claude through Amazon Bedrock |
| ``AWS_REGION``, else ``AWS_DEFAULT_REGION`` | unset | Bedrock's region |

This is the only module that reads these variables; everything else takes a
:class:`Settings` (or :class:`ClaudeSettings`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def _bundled(name: str) -> Path:
    """A file shipped with the project: the source checkout's copy, else the wheel's."""
    checkout = _PACKAGE_DIR.parent / name
    if checkout.exists():
        return checkout
    return _PACKAGE_DIR / "_bundled" / name


DEFAULT_DRIFT_THRESHOLD = 0.3
DEFAULT_DRIFT_COOLDOWN_HOURS = 24.0
# AWS Fargate on-demand, Linux/x86, us-east-1, per second with a one-minute minimum
# (https://aws.amazon.com/fargate/pricing/, read 2026-11): $0.04048 per vCPU-hour and
# $0.004445 per GB-hour. The platform bills a step for the seconds it ran.
DEFAULT_PRICE_VCPU_HOUR = 0.04048
DEFAULT_PRICE_GIB_HOUR = 0.004445
DEFAULT_STEP_VCPU = 1.0
DEFAULT_STEP_MEMORY_GIB = 2.0
TRUE_WORDS = ("1", "true", "yes")


@dataclass(frozen=True)
class ClaudeSettings:
    """How to reach Claude, as the environment says. ``*_variable`` name the variable a
    value came from, so the Dagster resource can reference it (``dg.EnvVar``) instead of
    copying a secret into its config."""

    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    use_bedrock: bool = False
    aws_region: str | None = None
    aws_region_variable: str | None = None

    API_KEY_VARIABLE = "ANTHROPIC_API_KEY"
    BASE_URL_VARIABLE = "ANTHROPIC_BASE_URL"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClaudeSettings:
        env = os.environ if environ is None else environ
        region_variable = next((name for name in ("AWS_REGION", "AWS_DEFAULT_REGION") if env.get(name)), None)
        return cls(
            model=env.get("PLATFORM_CLAUDE_MODEL") or None,
            api_key=env.get(cls.API_KEY_VARIABLE) or None,
            base_url=env.get(cls.BASE_URL_VARIABLE) or None,
            use_bedrock=env.get("PLATFORM_CLAUDE_USE_BEDROCK", "").lower() in TRUE_WORDS,
            aws_region=env.get(region_variable) if region_variable else None,
            aws_region_variable=region_variable,
        )


@dataclass(frozen=True)
class ComputePrices:
    """What a second of step compute costs: ``vcpu`` vCPUs at ``usd_per_vcpu_hour`` plus
    ``memory_gib`` GiB at ``usd_per_gib_hour``."""

    usd_per_vcpu_hour: float = DEFAULT_PRICE_VCPU_HOUR
    usd_per_gib_hour: float = DEFAULT_PRICE_GIB_HOUR
    vcpu: float = DEFAULT_STEP_VCPU
    memory_gib: float = DEFAULT_STEP_MEMORY_GIB

    @property
    def usd_per_second(self) -> float:
        return (self.vcpu * self.usd_per_vcpu_hour + self.memory_gib * self.usd_per_gib_hour) / 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ComputePrices:
        env = os.environ if environ is None else environ
        return cls(
            usd_per_vcpu_hour=float(env.get("PLATFORM_ASSETS_PRICE_VCPU_HOUR", DEFAULT_PRICE_VCPU_HOUR)),
            usd_per_gib_hour=float(env.get("PLATFORM_ASSETS_PRICE_GIB_HOUR", DEFAULT_PRICE_GIB_HOUR)),
            vcpu=float(env.get("PLATFORM_ASSETS_STEP_VCPU", DEFAULT_STEP_VCPU)),
            memory_gib=float(env.get("PLATFORM_ASSETS_STEP_MEMORY_GIB", DEFAULT_STEP_MEMORY_GIB)),
        )


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_path: Path
    contracts_dir: Path
    landing_url: str
    rows_per_partition: int
    registry_url: str
    drift_threshold: float = DEFAULT_DRIFT_THRESHOLD
    drift_cooldown_hours: float = DEFAULT_DRIFT_COOLDOWN_HOURS
    claude: ClaudeSettings = field(default_factory=ClaudeSettings)
    evals_dir: Path = field(default_factory=lambda: _default_dir("evals").resolve())
    slack_webhook_url: str | None = field(default=None, repr=False)  # the URL is the secret
    runbook_base_url: str = field(default_factory=lambda: str(_bundled("runbooks")))
    prices: ComputePrices = field(default_factory=ComputePrices)

    SLACK_WEBHOOK_VARIABLE = "PLATFORM_ASSETS_SLACK_WEBHOOK_URL"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("PLATFORM_ASSETS_HOME", ".platform_assets")).expanduser().resolve()
        contracts_default = Path("contracts") if Path("contracts").is_dir() else _bundled("contracts")
        return cls(
            home=home,
            warehouse_path=Path(env.get("PLATFORM_ASSETS_WAREHOUSE", home / "warehouse.duckdb")),
            contracts_dir=Path(env.get("PLATFORM_ASSETS_CONTRACTS_DIR", contracts_default)).resolve(),
            landing_url=env.get("PLATFORM_ASSETS_LANDING_URL", str(home / "landing")),
            rows_per_partition=int(env.get("PLATFORM_ASSETS_ROWS_PER_PARTITION", "20000")),
            registry_url=env.get("PLATFORM_ASSETS_REGISTRY_URL") or str(home / "artifacts" / "registry"),
            drift_threshold=float(env.get("PLATFORM_ASSETS_DRIFT_THRESHOLD", DEFAULT_DRIFT_THRESHOLD)),
            drift_cooldown_hours=float(env.get("PLATFORM_ASSETS_DRIFT_COOLDOWN_HOURS",
                                               DEFAULT_DRIFT_COOLDOWN_HOURS)),
            claude=ClaudeSettings.from_env(env),
            evals_dir=Path(env.get("PLATFORM_ASSETS_EVALS_DIR", _default_dir("evals"))).resolve(),
            slack_webhook_url=env.get(cls.SLACK_WEBHOOK_VARIABLE) or None,
            runbook_base_url=env.get("PLATFORM_ASSETS_RUNBOOK_BASE_URL") or str(_bundled("runbooks")),
            prices=ComputePrices.from_env(env),
        )

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    @property
    def dlt_pipelines_dir(self) -> Path:
        return self.home / "dlt"


def _default_dir(name: str) -> Path:
    """``./<name>`` when the working directory has one, else the bundled copy (the eval suite
    is found like the contracts folder)."""
    return Path(name) if Path(name).is_dir() else _bundled(name)


def bundled_dagster_yaml() -> Path:
    return _bundled("dagster.yaml")

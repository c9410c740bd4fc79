"""Where platform_assets keeps its data, read from the environment when asked, never at import.

Every path has an embedded default under one data directory, ``PLATFORM_ASSETS_HOME``
(default: ``.platform_assets`` in the working directory), so the platform runs on a laptop
with no configuration. Production (``PLATFORM_ASSETS_PROFILE=production``) overrides
individual paths: in production ``PLATFORM_ASSETS_REGISTRY_URL`` defaults to
``<s3 url>/registry`` and the landing folder to ``<s3 url>/landing``; both can still be set.
A production profile without its two required variables is an error at load time that names
them.

Every variable is declared once, in :data:`VARIABLES` (name, default, meaning, profile,
whether it holds a secret); the documentation's table is rendered from it
(:func:`variables_markdown`), and a test holds it to the names this module reads. This is
the only module that reads these variables; everything else takes a :class:`Settings` (or
:class:`ClaudeSettings`).

**Secrets.** :data:`SECRET_VARIABLES` (the declared secrets) and :data:`URL_VARIABLES` (URLs
whose password is the secret) feed :func:`secret_values`, the values as the environment holds
them, for :mod:`platform_assets.core.redaction`, which masks them in everything the platform
prints, logs, stores or sends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Variable:
    """One environment variable the platform reads: what the documentation's table says."""

    name: str
    default: str
    meaning: str
    profile: str = "any"  # "any", or "production" for the production profile's own
    secret: bool = False  # its value is redacted from everything the platform prints or sends


VARIABLES: tuple[Variable, ...] = (
    Variable("PLATFORM_ASSETS_HOME", "`./.platform_assets`", "the data directory"),
    Variable("PLATFORM_ASSETS_WAREHOUSE", "`$HOME/warehouse.duckdb`", "the DuckDB file"),
    Variable(
        "PLATFORM_ASSETS_CONTRACTS_DIR",
        "`./contracts` if present, else the bundled copy",
        "ODCS contracts",
    ),
    Variable(
        "PLATFORM_ASSETS_EVALS_DIR",
        "`./evals` if present, else the bundled copy",
        "the eval suite: `requirements/*.md`, `cases/*.yaml`",
    ),
    Variable(
        "PLATFORM_ASSETS_LANDING_URL",
        "`$HOME/landing`",
        "landing folder, local path or `s3://` URL",
    ),
    Variable("PLATFORM_ASSETS_ROWS_PER_PARTITION", "`20000`", "rows per day of the bundled source"),
    Variable(
        "PLATFORM_ASSETS_REGISTRY_URL",
        "`$HOME/artifacts/registry`",
        "model registry, local path or `s3://` URL",
    ),
    Variable(
        "PLATFORM_ASSETS_DRIFT_THRESHOLD",
        "`0.3`",
        "drift share at which the drift sensor asks for a retrain",
    ),
    Variable(
        "PLATFORM_ASSETS_DRIFT_COOLDOWN_HOURS", "`24`", "quiet time after a drift-triggered retrain"
    ),
    Variable(
        "PLATFORM_ASSETS_RETRAIN_CRON",
        "`0 0 * * 1`",
        "the scheduled retrain's cadence (UTC); not a cron string: the code location does not "
        "load, naming the variable",
    ),
    Variable(
        "PLATFORM_ASSETS_SLACK_WEBHOOK_URL",
        "unset (alerts stay local)",
        "a Slack incoming webhook every alert is also posted to",
        secret=True,
    ),
    Variable(
        "PLATFORM_ASSETS_PAGERDUTY_URL",
        "unset (escalations stay local and on Slack)",
        "a PagerDuty Events API v2 compatible endpoint escalated pages are sent to, e.g. "
        "`https://events.pagerduty.com/v2/enqueue`",
    ),
    Variable(
        "PLATFORM_ASSETS_PAGERDUTY_ROUTING_KEY",
        "unset",
        "the integration's routing key for `PLATFORM_ASSETS_PAGERDUTY_URL`",
        secret=True,
    ),
    Variable(
        "PLATFORM_ASSETS_RUNBOOK_BASE_URL",
        "`./runbooks` (the bundled copy)",
        "where alerts link runbooks: a folder, or e.g. the repository's `…/blob/main/runbooks`",
    ),
    Variable(
        "PLATFORM_ASSETS_PRICE_VCPU_HOUR",
        "`0.04048`",
        "USD per vCPU-hour of step compute (AWS Fargate, Linux/x86, us-east-1)",
    ),
    Variable(
        "PLATFORM_ASSETS_PRICE_GIB_HOUR",
        "`0.004445`",
        "USD per GiB-hour of step memory (same source)",
    ),
    Variable("PLATFORM_ASSETS_STEP_VCPU", "`1`", "vCPUs a step is billed for"),
    Variable("PLATFORM_ASSETS_STEP_MEMORY_GIB", "`2`", "GiB a step is billed for"),
    Variable("ANTHROPIC_API_KEY", "unset (Claude off)", "turns Claude on", secret=True),
    Variable(
        "ANTHROPIC_AUTH_TOKEN",
        "unset",
        "a bearer token the `anthropic` SDK reads instead of a key (read there, redacted here)",
        secret=True,
    ),
    Variable(
        "PLATFORM_CLAUDE_DEADLINE_SECONDS",
        "`25`",
        "seconds one Claude call may take in all (connect, every read, every retry); then it "
        "is abandoned and reported as degraded",
    ),
    Variable(
        "ANTHROPIC_BASE_URL", "the SDK's", "another Messages API endpoint (a proxy, a test server)"
    ),
    Variable("PLATFORM_CLAUDE_MODEL", "`claude-sonnet-4-6`", "the model every Claude task uses"),
    Variable(
        "PLATFORM_CLAUDE_USE_BEDROCK", "unset", "`1`/`true`: reach Claude through Amazon Bedrock"
    ),
    Variable("AWS_REGION", "unset", "Bedrock's region; the S3 region in production"),
    Variable("AWS_DEFAULT_REGION", "unset", "read when `AWS_REGION` is unset"),
    Variable(
        "AWS_BEARER_TOKEN_BEDROCK",
        "unset",
        "a Bedrock API key boto3 reads (read there, redacted here)",
        secret=True,
    ),
    Variable(
        "PLATFORM_ASSETS_PROFILE",
        "`local`",
        "`local` (one DuckDB file) or `production` (the variables below)",
    ),
    Variable(
        "PLATFORM_ASSETS_PG_URL",
        "required",
        "`postgresql://user:password@host:5432/db`: Dagster's run, event and schedule storage "
        "(`deploy/dagster.yaml`) and the warehouse's DuckLake catalog",
        profile="production",
        secret=True,
    ),
    Variable(
        "PLATFORM_ASSETS_S3_URL",
        "required",
        "`s3://bucket/prefix`: warehouse data (`<url>/warehouse/`, Parquet), model registry "
        "(`<url>/registry`), artifacts (`<url>/artifacts`), compute logs (`<url>/compute_logs`)",
        profile="production",
    ),
    Variable(
        "PLATFORM_ASSETS_LAKE_SCHEMA",
        "`platform_assets_lake`",
        "the Postgres schema that holds the DuckLake catalog",
        profile="production",
    ),
    Variable(
        "AWS_ENDPOINT_URL",
        "unset (AWS)",
        "another S3 endpoint: MinIO, a test server",
        profile="production",
    ),
    Variable(
        "AWS_ACCESS_KEY_ID",
        "the AWS chain",
        "read by boto3's credential chain (an ECS task role needs none), never by the platform",
        profile="production",
    ),
    Variable(
        "AWS_SECRET_ACCESS_KEY",
        "the AWS chain",
        "read by boto3's credential chain, never by the platform",
        profile="production",
        secret=True,
    ),
    Variable(
        "AWS_SESSION_TOKEN",
        "the AWS chain",
        "read by boto3's credential chain, never by the platform",
        profile="production",
        secret=True,
    ),
)
#: Declared for operators (and redacted when secret), but read by boto3's credential chain or
#: the anthropic SDK rather than by this module.
READ_BY_LIBRARIES = frozenset(
    {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_BEARER_TOKEN_BEDROCK",
        "ANTHROPIC_AUTH_TOKEN",
    }
)


def variables_markdown(profile: str = "any") -> str:
    """The documentation's table of the variables of one profile (``any`` or ``production``)."""
    rows = ["| variable | default | what it is |", "| --- | --- | --- |"]
    for v in VARIABLES:
        if v.profile == profile:
            secret = " (a secret: never printed)" if v.secret else ""
            rows.append(f"| `{v.name}` | {v.default} | {v.meaning}{secret} |")
    return "\n".join(rows)


def _bundled(name: str) -> Path:
    """A file shipped with the project: the source checkout's copy, else the wheel's."""
    checkout = _PACKAGE_DIR.parent / name
    if checkout.exists():
        return checkout
    return _PACKAGE_DIR / "_bundled" / name


LOCAL = "local"
PRODUCTION = "production"
PROFILES = (LOCAL, PRODUCTION)
DEFAULT_LAKE_SCHEMA = "platform_assets_lake"
#: How ``Settings.warehouse`` names the production warehouse (``warehouse.connect`` resolves it).
LAKE_PREFIX = "ducklake:"

DEFAULT_DRIFT_THRESHOLD = 0.3
DEFAULT_DRIFT_COOLDOWN_HOURS = 24.0
# Weekly, Mondays 00:00 UTC: the Monday ingestion at 00:30 then satisfies "deps updated since the
# tick".
DEFAULT_RETRAIN_CRON = "0 0 * * 1"
# AWS Fargate on-demand, Linux/x86, us-east-1, per second with a one-minute minimum
# (https://aws.amazon.com/fargate/pricing/, read 2026-11): $0.04048 per vCPU-hour and
# $0.004445 per GB-hour. The platform bills a step for the seconds it ran.
DEFAULT_PRICE_VCPU_HOUR = 0.04048
DEFAULT_PRICE_GIB_HOUR = 0.004445
DEFAULT_STEP_VCPU = 1.0
DEFAULT_STEP_MEMORY_GIB = 2.0
TRUE_WORDS = ("1", "true", "yes")


DEFAULT_CLAUDE_DEADLINE_SECONDS = 25.0
CLAUDE_DEADLINE_VARIABLE = "PLATFORM_CLAUDE_DEADLINE_SECONDS"

#: Variables that are URLs whose userinfo may carry a password (``PLATFORM_ASSETS_PG_URL``'s
#: does): the password is the secret, the host and database stay readable in errors.
URL_VARIABLES = (
    "PLATFORM_ASSETS_PG_URL",
    "ANTHROPIC_BASE_URL",
    "AWS_ENDPOINT_URL",
    "PLATFORM_ASSETS_LANDING_URL",
    "PLATFORM_ASSETS_REGISTRY_URL",
    "PLATFORM_ASSETS_RUNBOOK_BASE_URL",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "https_proxy",
    "http_proxy",
)
#: Variables whose whole value is a secret: the declared secrets that are not URLs.
SECRET_VARIABLES = tuple(v.name for v in VARIABLES if v.secret and v.name not in URL_VARIABLES)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secrets the environment holds: the value of each :data:`SECRET_VARIABLES` and the
    password of each :data:`URL_VARIABLES` URL (raw and URL-decoded). Read at each call, so a
    changed environment is seen."""
    from urllib.parse import unquote, urlsplit

    env = os.environ if environ is None else environ
    found = [env[name] for name in SECRET_VARIABLES if env.get(name)]
    for name in URL_VARIABLES:
        value = env.get(name)
        if not value or "@" not in value:
            continue
        try:
            password = urlsplit(value).password
        except ValueError:
            password = None
        if password:
            found += [password, unquote(password)]
    return found


def claude_deadline_from_env(environ: Mapping[str, str] | None = None) -> float:
    """``PLATFORM_CLAUDE_DEADLINE_SECONDS``: the total seconds one Claude call may take."""
    env = os.environ if environ is None else environ
    raw = (env.get(CLAUDE_DEADLINE_VARIABLE) or "").strip()
    if not raw:
        return DEFAULT_CLAUDE_DEADLINE_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise SettingsError(f"{CLAUDE_DEADLINE_VARIABLE}={raw!r}: expected a number of seconds > 0")
    return seconds


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
    deadline_seconds: float = DEFAULT_CLAUDE_DEADLINE_SECONDS

    API_KEY_VARIABLE = "ANTHROPIC_API_KEY"
    BASE_URL_VARIABLE = "ANTHROPIC_BASE_URL"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClaudeSettings:
        env = os.environ if environ is None else environ
        region_variable = next(
            (name for name in ("AWS_REGION", "AWS_DEFAULT_REGION") if env.get(name)), None
        )
        return cls(
            model=env.get("PLATFORM_CLAUDE_MODEL") or None,
            api_key=env.get(cls.API_KEY_VARIABLE) or None,
            base_url=env.get(cls.BASE_URL_VARIABLE) or None,
            use_bedrock=env.get("PLATFORM_CLAUDE_USE_BEDROCK", "").lower() in TRUE_WORDS,
            aws_region=env.get(region_variable) if region_variable else None,
            aws_region_variable=region_variable,
            deadline_seconds=claude_deadline_from_env(env),
        )


class SettingsError(ValueError):
    """The environment asks for something that cannot work; the message names the variable."""


def _positive_int(env: Mapping[str, str], variable: str, default: int) -> int:
    text = env.get(variable, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SettingsError(
            f"{variable}={text!r}: expected a positive integer (default {default}); unset it for "
            f"the default"
        )
    return value


def retrain_cron_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``PLATFORM_ASSETS_RETRAIN_CRON``, or weekly. Read alone (not through ``Settings``) by the
    automation conditions, which are built when the code location loads."""
    env = os.environ if environ is None else environ
    return (env.get("PLATFORM_ASSETS_RETRAIN_CRON") or DEFAULT_RETRAIN_CRON).strip()


@dataclass(frozen=True)
class LakeSettings:
    """The production warehouse: a DuckLake whose catalog is a schema in Postgres and whose
    data is Parquet on S3. ``catalog_url`` holds the Postgres password: never log it."""

    catalog_url: str = field(repr=False)
    data_path: str
    metadata_schema: str = DEFAULT_LAKE_SCHEMA
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    extension_dir: Path = Path(".platform_assets/duckdb_extensions")

    @property
    def name(self) -> str:
        """What ``Settings.warehouse`` and the ``warehouse`` resource show: no secret in it."""
        return LAKE_PREFIX + self.metadata_schema


def _split_s3_url(url: str, variable: str) -> str:
    if not url.startswith("s3://") or not url[len("s3://") :].strip("/"):
        raise SettingsError(f"{variable}={url!r}: expected s3://bucket or s3://bucket/prefix")
    return url.rstrip("/")


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
        return (
            self.vcpu * self.usd_per_vcpu_hour + self.memory_gib * self.usd_per_gib_hour
        ) / 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ComputePrices:
        env = os.environ if environ is None else environ
        return cls(
            usd_per_vcpu_hour=float(
                env.get("PLATFORM_ASSETS_PRICE_VCPU_HOUR", DEFAULT_PRICE_VCPU_HOUR)
            ),
            usd_per_gib_hour=float(
                env.get("PLATFORM_ASSETS_PRICE_GIB_HOUR", DEFAULT_PRICE_GIB_HOUR)
            ),
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
    retrain_cron: str = DEFAULT_RETRAIN_CRON
    claude: ClaudeSettings = field(default_factory=ClaudeSettings)
    evals_dir: Path = field(default_factory=lambda: _default_dir("evals").resolve())
    profile: str = LOCAL
    s3_url: str | None = None
    lake: LakeSettings | None = None
    slack_webhook_url: str | None = field(default=None, repr=False)  # the URL is the secret
    pagerduty_url: str | None = None
    pagerduty_routing_key: str | None = field(default=None, repr=False)
    runbook_base_url: str = field(default_factory=lambda: str(_bundled("runbooks")))
    prices: ComputePrices = field(default_factory=ComputePrices)

    SLACK_WEBHOOK_VARIABLE = "PLATFORM_ASSETS_SLACK_WEBHOOK_URL"
    PAGERDUTY_KEY_VARIABLE = "PLATFORM_ASSETS_PAGERDUTY_ROUTING_KEY"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home = Path(env.get("PLATFORM_ASSETS_HOME", ".platform_assets")).expanduser().resolve()
        if home.exists() and not home.is_dir():
            raise SettingsError(
                f"PLATFORM_ASSETS_HOME={str(home)!r} is a file, not a directory: point it at a "
                f"directory (created when missing) for the platform's data"
            )
        contracts_default = (
            Path("contracts") if Path("contracts").is_dir() else _bundled("contracts")
        )
        profile = (env.get("PLATFORM_ASSETS_PROFILE") or LOCAL).strip().lower()
        if profile not in PROFILES:
            raise SettingsError(
                f"PLATFORM_ASSETS_PROFILE={profile!r}: expected one of {', '.join(PROFILES)}"
            )
        s3_url = lake = None
        registry_default, landing_default = (
            str(home / "artifacts" / "registry"),
            str(home / "landing"),
        )
        if profile == PRODUCTION:
            missing = [
                name
                for name in ("PLATFORM_ASSETS_PG_URL", "PLATFORM_ASSETS_S3_URL")
                if not env.get(name)
            ]
            if missing:
                raise SettingsError(
                    f"PLATFORM_ASSETS_PROFILE=production needs {' and '.join(missing)} (Postgres "
                    f"for Dagster and the warehouse catalog, s3://bucket/prefix for data)"
                )
            s3_url = _split_s3_url(env["PLATFORM_ASSETS_S3_URL"], "PLATFORM_ASSETS_S3_URL")
            region_variable = next(
                (n for n in ("AWS_REGION", "AWS_DEFAULT_REGION") if env.get(n)), None
            )
            lake = LakeSettings(
                catalog_url=env["PLATFORM_ASSETS_PG_URL"],
                data_path=f"{s3_url}/warehouse/",
                metadata_schema=env.get("PLATFORM_ASSETS_LAKE_SCHEMA") or DEFAULT_LAKE_SCHEMA,
                s3_endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
                s3_region=env.get(region_variable) if region_variable else None,
                extension_dir=home / "duckdb_extensions",
            )
            registry_default, landing_default = f"{s3_url}/registry", f"{s3_url}/landing"
        return cls(
            home=home,
            warehouse_path=Path(env.get("PLATFORM_ASSETS_WAREHOUSE", home / "warehouse.duckdb")),
            contracts_dir=Path(
                env.get("PLATFORM_ASSETS_CONTRACTS_DIR", contracts_default)
            ).resolve(),
            landing_url=env.get("PLATFORM_ASSETS_LANDING_URL", landing_default),
            rows_per_partition=_positive_int(env, "PLATFORM_ASSETS_ROWS_PER_PARTITION", 20000),
            registry_url=env.get("PLATFORM_ASSETS_REGISTRY_URL") or registry_default,
            drift_threshold=float(
                env.get("PLATFORM_ASSETS_DRIFT_THRESHOLD", DEFAULT_DRIFT_THRESHOLD)
            ),
            drift_cooldown_hours=float(
                env.get("PLATFORM_ASSETS_DRIFT_COOLDOWN_HOURS", DEFAULT_DRIFT_COOLDOWN_HOURS)
            ),
            retrain_cron=retrain_cron_from_env(env),
            claude=ClaudeSettings.from_env(env),
            evals_dir=Path(env.get("PLATFORM_ASSETS_EVALS_DIR", _default_dir("evals"))).resolve(),
            profile=profile,
            s3_url=s3_url,
            lake=lake,
            slack_webhook_url=env.get(cls.SLACK_WEBHOOK_VARIABLE) or None,
            pagerduty_url=env.get("PLATFORM_ASSETS_PAGERDUTY_URL") or None,
            pagerduty_routing_key=env.get(cls.PAGERDUTY_KEY_VARIABLE) or None,
            runbook_base_url=env.get("PLATFORM_ASSETS_RUNBOOK_BASE_URL")
            or str(_bundled("runbooks")),
            prices=ComputePrices.from_env(env),
        )

    @property
    def warehouse(self) -> str:
        """What ``warehouse.connect`` opens: the DuckDB file, or in production the DuckLake's
        name (``ducklake:<schema>``, no secret in it)."""
        return self.lake.name if self.lake else str(self.warehouse_path)

    @property
    def artifacts_url(self) -> str:
        """Where artifacts that outlive a run are published: ``<s3 url>/artifacts`` in
        production (each run may be its own ECS task, its disk gone after it), else the
        local artifacts folder."""
        return f"{self.s3_url}/artifacts" if self.s3_url else str(self.artifacts_dir)

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

"""Dagster instance plugins for the production profile (``deploy/dagster.yaml``).

- :class:`S3UrlComputeLogManager`: compute logs on S3 configured by the same
  ``s3://bucket/prefix`` URL as everything else (``PLATFORM_ASSETS_S3_URL``), instead of a
  bucket and a prefix of their own.
- :class:`PlatformEcsRunLauncher`: Dagster's ``EcsRunLauncher``, whose run monitoring also
  understands the runs it did not launch: a CLI worker's run (``platform-assets run`` or
  ``backfill`` on an operator's machine or in a one-off task) has no ECS task ARN, so the
  plain launcher reported it UNKNOWN and the daemon failed it within seconds while it ran.
  Such a run is judged by its heartbeat instead (``platform_assets.operations_runs``): alive
  while it beats, ended once it stopped for ``HEARTBEAT_TIMEOUT_SECONDS``.
Loaded by the webserver, the daemon and each run worker from the instance config, never by
the code location.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import StringSource
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

COMPUTE_LOGS_FOLDER = "compute_logs"


class S3UrlComputeLogManager(S3ComputeLogManager):
    """Dagster's ``S3ComputeLogManager`` whose ``url`` (``s3://bucket/prefix``) places the
    logs under ``<prefix>/compute_logs/``. The endpoint comes from ``AWS_ENDPOINT_URL`` like
    every other S3 client of the platform; every other option is S3ComputeLogManager's."""

    @classmethod
    def config_type(cls):
        fields = {
            name: field
            for name, field in super().config_type().items()
            if name not in ("bucket", "prefix")
        }
        return {"url": StringSource, **fields}

    @classmethod
    def from_config_value(
        cls, inst_data, config_value: Mapping[str, Any]
    ) -> S3UrlComputeLogManager:
        config = dict(config_value)
        url = config.pop("url")
        if not url.startswith("s3://"):
            raise ValueError(f"compute_logs url {url!r}: expected s3://bucket/prefix")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        prefix = "/".join(part for part in (prefix.strip("/"), COMPUTE_LOGS_FOLDER) if part)
        return cls(inst_data=inst_data, bucket=bucket, prefix=prefix, **config)


class PlatformEcsRunLauncher(EcsRunLauncher):
    """``EcsRunLauncher`` whose worker health check leaves CLI runs to their heartbeat."""

    def check_run_worker_health(self, run):
        from platform_assets.operations_runs import PID_TAG, check_run_worker

        if PID_TAG in run.tags and "ecs/task_arn" not in run.tags:
            return check_run_worker(self._instance, run)
        return super().check_run_worker_health(run)

"""Dagster instance plugins for the production profile (``deploy/dagster.yaml``).

Only one today: compute logs on S3 configured by the same ``s3://bucket/prefix`` URL as
everything else (``PLATFORM_ASSETS_S3_URL``), instead of a bucket and a prefix of their own.
Loaded by the webserver, the daemon and each run worker from the instance config, never by
the code location.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import StringSource
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

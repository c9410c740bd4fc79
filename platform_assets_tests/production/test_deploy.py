"""``deploy/`` stays consistent: the compose stack's instance is the ECS one but for its run
launcher, the files it mounts exist, and its workspace reaches the image's code server."""

from __future__ import annotations

import re

import yaml

from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.typed import present

DEPLOY = REPO / "deploy"


def _yaml(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_the_compose_instance_is_the_production_instance_with_local_runs():
    ecs, compose = _yaml("dagster.yaml"), _yaml("dagster.compose.yaml")
    assert ecs.pop("run_launcher")["class"] == "PlatformEcsRunLauncher"
    assert compose.pop("run_launcher")["class"] == "DefaultRunLauncher"
    assert compose == ecs
    assert ecs["storage"]["postgres"]["postgres_url"] == {"env": "PLATFORM_ASSETS_PG_URL"}
    assert ecs["compute_logs"]["config"]["url"] == {"env": "PLATFORM_ASSETS_S3_URL"}
    assert ecs["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert ecs["concurrency"]["runs"]["tag_concurrency_limits"]
    assert ecs["concurrency"]["pools"]["default_limit"] > 1  # many warehouse writers at once


def test_the_compose_stack_runs_the_image_against_its_postgres_and_s3():
    compose = _yaml("docker-compose.yml")
    services = compose["services"]
    assert {"postgres", "minio", "code-server", "webserver", "daemon"} <= set(services)
    for name in ("code-server", "webserver", "daemon"):
        service = services[name]
        assert service["image"] == "platform-assets"
        environment = service["environment"]
        assert environment["PLATFORM_ASSETS_PROFILE"] == "production"
        assert (
            environment["PLATFORM_ASSETS_PG_URL"].startswith("postgresql://")
            and "@postgres:5432/" in environment["PLATFORM_ASSETS_PG_URL"]
        )
        assert environment["PLATFORM_ASSETS_S3_URL"].startswith("s3://")
        for volume in service.get("volumes", []):
            assert (DEPLOY / volume.split(":")[0]).exists(), volume
    (grpc,) = _yaml("workspace.yaml")["load_from"]
    dockerfile = (REPO / "Dockerfile").read_text()
    exposed = present(re.search(r"^EXPOSE (\d+)", dockerfile, re.MULTILINE)).group(1)
    assert (
        grpc["grpc_server"]["host"] == "code-server" and str(grpc["grpc_server"]["port"]) == exposed
    )

"""``deploy/`` stays consistent: the compose stack's instance is the ECS one but for its run
launcher, the files it mounts exist, and its workspace reaches the image's code server."""

from __future__ import annotations

import re

import yaml

from platform_assets_tests.support.paths import REPO

DEPLOY = REPO / "deploy"


def _yaml(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text())


def test_the_compose_instance_is_the_production_instance_with_local_runs():
    ecs, compose = _yaml("dagster.yaml"), _yaml("dagster.compose.yaml")
    assert ecs.pop("run_launcher")["class"] == "EcsRunLauncher"
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
        assert service["command"] == [name]  # the image's role (deploy/platform-role)
        assert service["healthcheck"]["test"] == ["CMD", "platform-role", "health", name]
    # The workspace reaches the code server at the image's defaults: the compose service's
    # name and the port the image exposes (ECS sets Cloud Map's name instead).
    (grpc,) = _yaml("workspace.yaml")["load_from"]
    assert grpc["grpc_server"]["host"] == {"env": "PLATFORM_ASSETS_CODE_SERVER_HOST"}
    assert grpc["grpc_server"]["port"] == {"env": "PLATFORM_ASSETS_CODE_SERVER_PORT"}
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "PLATFORM_ASSETS_CODE_SERVER_HOST=code-server" in dockerfile
    port = re.search(r"PLATFORM_ASSETS_CODE_SERVER_PORT=(\d+)", dockerfile).group(1)
    assert port in re.search(r"^EXPOSE (.+)$", dockerfile, re.MULTILINE).group(1).split()

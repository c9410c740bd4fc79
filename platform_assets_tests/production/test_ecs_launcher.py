"""``deploy/dagster.yaml``'s run launcher starts a run as an ECS task, against moto's ECS
API: the run task definition of ``deploy/ecs/`` (the image, the production environment,
the Postgres URL as a secret) with its command overridden by ``dagster api execute_run``."""

from __future__ import annotations

import json
import sys

import dagster as dg
import pytest

from platform_assets.dagster_internals import (
    InProcessCodeLocationOrigin,
    LaunchRunContext,
    LoadableTargetOrigin,
)
from platform_assets.defs.keys import MAIN_JOB
from platform_assets_tests.support.paths import REPO
from platform_assets_tests.support.typed import present

IMAGE = "registry.example.com/platform-assets:1.2.3"


@pytest.fixture
def ecs(production, monkeypatch):
    """moto's ECS with the cluster and the run task definition an operator registers."""
    client = production.moto.client("ecs")
    client.create_cluster(clusterName="platform-assets")
    definition = json.loads((REPO / "deploy" / "ecs" / "run-task-definition.json").read_text())
    (container,) = definition["containerDefinitions"]
    container["image"] = IMAGE
    registered = client.register_task_definition(**definition)["taskDefinition"]
    monkeypatch.setenv("PLATFORM_ASSETS_RUN_TASK_DEFINITION", registered["family"])
    # The network an operator puts in deploy/dagster.yaml in place of its placeholder IDs.
    ec2 = production.moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as AWS's default VPCs
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName="platform-assets-runs", Description="runs", VpcId=vpc
    )["GroupId"]
    instance_yaml = production.dagster_home / "dagster.yaml"
    text = instance_yaml.read_text()
    assert "subnet-0platformassets0" in text and "sg-0platformassets00" in text
    instance_yaml.write_text(
        text.replace("subnet-0platformassets0", subnet).replace("sg-0platformassets00", group)
    )
    client.network = (subnet, group)
    return client


def test_a_run_becomes_an_ecs_task_with_the_image_command_and_environment(production, ecs):
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable, module_name="platform_assets.definitions"
        ),
        container_image=IMAGE,
        location_name="platform_assets",
    )
    with (
        dg.DagsterInstance.from_config(str(production.dagster_home)) as instance,
        origin.create_location(instance) as location,
    ):
        (repository,) = location.get_repositories().values()
        remote_job = repository.get_full_job(MAIN_JOB)
        run = instance.create_run_for_job(
            job_def=location.get_reconstructable_job(repository.name, MAIN_JOB).get_definition(),
            remote_job_origin=remote_job.get_remote_origin(),
            job_code_origin=remote_job.get_python_origin(),
            tags={"dagster/partition": "2026-11-02"},
        )
        instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        run = present(instance.get_run_by_id(run.run_id))

    (task_arn,) = ecs.list_tasks(cluster="platform-assets")["taskArns"]
    assert run.tags["ecs/task_arn"] == task_arn  # the launcher can find (and monitor) its task
    (task,) = ecs.describe_tasks(cluster="platform-assets", tasks=[task_arn])["tasks"]
    assert task["launchType"] == "FARGATE"
    attachment = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    assert attachment["subnetId"] == ecs.network[0]
    (override,) = task["overrides"]["containerOverrides"]
    assert override["name"] == "run"
    assert override["command"][:3] == ["dagster", "api", "execute_run"]
    execute_args = json.loads(override["command"][3])
    assert execute_args["__class__"] == "ExecuteRunArgs" and run.run_id in override["command"][3]
    assert '"module": "platform_assets.definitions"' in override["command"][3]
    # The run worker opens the same instance: Postgres and S3 from its own environment (no
    # secret in the command).
    instance_ref = execute_args["instance_ref"]
    assert instance_ref["run_storage_data"]["class_name"] == "PostgresRunStorage"
    assert "env: PLATFORM_ASSETS_PG_URL" in instance_ref["run_storage_data"]["config_yaml"]
    assert production.pg_url not in override["command"][3]

    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])[
        "taskDefinition"
    ]
    assert definition["family"] == "platform-assets-run"
    (container,) = definition["containerDefinitions"]
    assert container["name"] == "run" and container["image"] == IMAGE
    environment = {item["name"]: item["value"] for item in container["environment"]}
    assert environment["PLATFORM_ASSETS_PROFILE"] == "production"
    assert environment["PLATFORM_ASSETS_S3_URL"].startswith("s3://")
    assert [secret["name"] for secret in container["secrets"]] == ["PLATFORM_ASSETS_PG_URL"]


def test_ecs_run_monitoring_leaves_a_live_cli_run_alone_and_ends_a_silent_one(production, ecs):
    """A CLI worker's run has no ECS task: the daemon's run monitoring judges it by its
    heartbeat, so a live CLI backfill is never failed ("worker status UNKNOWN"), and one
    whose worker went silent elsewhere is ended."""
    import time
    import uuid

    from platform_assets.dagster_internals import (
        EmptyWorkspaceTarget,
        MonitoringDaemon,
        create_test_daemon_workspace_context,
    )
    from platform_assets.instance import PlatformEcsRunLauncher
    from platform_assets.operations_runs import HEARTBEAT_TAG, HOST_TAG, owner_tags

    with dg.DagsterInstance.from_config(str(production.dagster_home)) as instance:
        assert isinstance(instance.run_launcher, PlatformEcsRunLauncher)

        def started_run(tags: dict[str, str]) -> dg.DagsterRun:
            return instance.add_run(
                dg.DagsterRun(
                    job_name="fake",
                    run_id=str(uuid.uuid4()),
                    status=dg.DagsterRunStatus.STARTED,
                    tags=tags,
                )
            )

        live = started_run(owner_tags())  # this process: a CLI run in progress
        silent = started_run(
            {**owner_tags(), HOST_TAG: "another-host", HEARTBEAT_TAG: f"{time.time() - 120:.0f}"}
        )
        assert instance.run_launcher.check_run_worker_health(live).status.value == "RUNNING"
        with create_test_daemon_workspace_context(EmptyWorkspaceTarget(), instance) as context:
            daemon = MonitoringDaemon(interval_seconds=1)
            for _ in range(3):
                list(daemon.run_iteration(context))
                time.sleep(1)
        assert present(instance.get_run_by_id(live.run_id)).status == dg.DagsterRunStatus.STARTED
        assert present(instance.get_run_by_id(silent.run_id)).status == dg.DagsterRunStatus.FAILURE

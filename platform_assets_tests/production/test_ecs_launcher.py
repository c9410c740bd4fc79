"""``deploy/dagster.yaml``'s run launcher starts a run as an ECS task, against moto's ECS
API: the run task definition of ``deploy/ecs/platform-assets.yaml`` (the image, the production
environment, the Postgres URL as a secret) with its command overridden by ``dagster api
execute_run``, in the cluster and network of the daemon's own task (found, as in ECS, through
the task metadata endpoint), without listing any secret."""

from __future__ import annotations

import http.server
import json
import sys
import threading

import dagster as dg
import pytest
from dagster._core.launcher import LaunchRunContext
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster_aws.ecs import EcsRunLauncher

from platform_assets.defs.keys import MAIN_JOB
from platform_assets_tests.support import cloudformation

IMAGE = "registry.example.com/platform-assets:1.2.3"
PG_URL_SECRET = "arn:aws:secretsmanager:us-east-1:000000000000:secret:platform-assets/pg-url"


@pytest.fixture
def ecs(production, monkeypatch):
    """moto's ECS with the template's cluster, run task definition and a running daemon task
    on its subnet and security group, and the daemon's task metadata endpoint on loopback."""
    client = production.moto.client("ecs")
    client.create_cluster(clusterName="platform-assets")
    ec2 = production.moto.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as AWS's default VPCs
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(
        GroupName="platform-assets-tasks", Description="tasks", VpcId=vpc
    )["GroupId"]
    template = cloudformation.load()
    values = cloudformation.stand_in_values(
        template,
        Image=IMAGE,
        BucketName=production.bucket,
        BucketPrefix="platform",
        PgUrlSecretArn=PG_URL_SECRET,
    )
    run_definition = cloudformation.task_definitions(values, template)["RunTaskDefinition"]
    registered = client.register_task_definition(**run_definition)["taskDefinition"]
    values["RunTaskDefinition"] = registered["taskDefinitionArn"]
    daemon_definition = cloudformation.task_definitions(values, template)["DaemonTaskDefinition"]
    daemon_family = client.register_task_definition(**daemon_definition)["taskDefinition"]
    (daemon,) = client.run_task(
        cluster="platform-assets",
        taskDefinition=daemon_family["taskDefinitionArn"],
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": [group],
                "assignPublicIp": "DISABLED",
            }
        },
    )["tasks"]
    (daemon_container,) = daemon_definition["containerDefinitions"]
    daemon_env = {item["name"]: item["value"] for item in daemon_container["environment"]}
    monkeypatch.setenv(
        "PLATFORM_ASSETS_RUN_TASK_DEFINITION", daemon_env["PLATFORM_ASSETS_RUN_TASK_DEFINITION"]
    )

    metadata = json.dumps({"Cluster": "platform-assets", "TaskARN": daemon["taskArn"]}).encode()

    class TaskMetadata(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            found = self.path == "/v4/task"
            self.send_response(200 if found else 404)
            self.end_headers()
            self.wfile.write(metadata if found else b"{}")

        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TaskMetadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "ECS_CONTAINER_METADATA_URI_V4", f"http://127.0.0.1:{server.server_address[1]}/v4"
    )
    client.network = (subnet, group)
    client.run_task_definition = registered
    yield client
    server.shutdown()
    server.server_close()


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
        # No secret is looked up by tag (that needs secretsmanager:ListSecrets on the daemon).
        launcher = instance.run_launcher
        assert isinstance(launcher, EcsRunLauncher) and launcher.secrets_tags == []
        run = instance.get_run_by_id(run.run_id)

    run_tasks = ecs.list_tasks(cluster="platform-assets", family="platform-assets-run")
    (task_arn,) = run_tasks["taskArns"]
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

"""``deploy/ecs/platform-assets.yaml``, checked offline: every name it refers to is its own
parameter or resource, it writes down no account, region, ARN, bucket or cluster, cfn-lint
finds nothing, each role has its own command, health check, log group and least-privilege
role, and its task definitions register on moto's ECS."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from platform_assets_tests.support import cloudformation
from platform_assets_tests.support.paths import REPO

TEMPLATE = cloudformation.load()
RESOURCES = TEMPLATE["Resources"]
SERVICE_ROLES = {
    # task definition: (role = container name and command, task role, log group)
    "WebserverTaskDefinition": ("webserver", "WebserverTaskRole", "WebserverLogGroup"),
    "DaemonTaskDefinition": ("daemon", "DaemonTaskRole", "DaemonLogGroup"),
    "CodeServerTaskDefinition": ("code-server", "CodeServerTaskRole", "CodeServerLogGroup"),
    "ScoringTaskDefinition": ("scoring", "ScoringTaskRole", "ScoringLogGroup"),
}
#: Actions that have no resource-level permission in IAM: the only ones allowed on "*".
UNSCOPED_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeNetworkInterfaces",
}


def _of_type(kind: str) -> dict[str, dict]:
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == kind}


def _statements(role: str) -> list[dict]:
    return [
        statement
        for policy in RESOURCES[role]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def test_every_reference_is_a_parameter_resource_or_pseudo_parameter():
    known = set(TEMPLATE["Parameters"]) | set(RESOURCES) | set(cloudformation.PSEUDO_PARAMETERS)
    references = list(cloudformation.intrinsic_references(TEMPLATE))
    assert len(references) > 50
    unknown = [(function, name, where) for function, name, where in references if name not in known]
    assert not unknown, f"references to nothing in the template: {unknown}"
    attributes = [
        name for function, name, _ in references if function == "GetAtt" and name not in RESOURCES
    ]
    assert not attributes
    # Every parameter is used.
    used = {name for _, name, _ in references}
    assert not set(TEMPLATE["Parameters"]) - used


def test_nothing_account_region_bucket_or_cluster_specific_is_written_down():
    # What the stack creates from (descriptions only explain).
    defaults = [parameter.get("Default") for parameter in TEMPLATE["Parameters"].values()]
    for text in cloudformation.literal_strings([RESOURCES, TEMPLATE["Outputs"], defaults]):
        assert not re.search(r"(?<!\d)\d{12}(?!\d)", text), f"an account id in {text!r}"
        assert not re.search(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d\b", text), (
            f"a region in {text!r}"
        )
        assert not re.search(r"arn:aws[a-z-]*:", text), f"a literal ARN in {text!r}"
        assert "s3://" not in text or "${BucketName}" in text, f"a bucket in {text!r}"
    # The cluster is the stack's own; runs get it from the daemon's task, not from a name.
    assert "ClusterName" not in RESOURCES["Cluster"].get("Properties", {})
    instance = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    launcher = instance["run_launcher"]["config"]
    assert launcher["use_current_ecs_task_config"] is True and "run_task_kwargs" not in launcher
    assert launcher["task_definition"] == {"env": "PLATFORM_ASSETS_RUN_TASK_DEFINITION"}
    assert launcher["secrets_tag"] is None  # no secretsmanager:ListSecrets needed


def test_cfn_lint_finds_nothing():
    beside = Path(sys.executable).with_name("cfn-lint")
    cfn_lint = str(beside) if beside.exists() else shutil.which("cfn-lint")
    if not cfn_lint:
        pytest.skip("cfn-lint (locked in requirements.lock, with moto) is not installed")
    lint = subprocess.run(
        [cfn_lint, str(cloudformation.TEMPLATE)], capture_output=True, text=True, timeout=300
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_each_role_has_its_own_command_health_check_log_group_and_task_role():
    for definition, (role, task_role, log_group) in SERVICE_ROLES.items():
        properties = RESOURCES[definition]["Properties"]
        (container,) = properties["ContainerDefinitions"]
        assert container["Name"] == role and container["Command"] == [role]
        assert container["Image"] == {"Ref": "Image"}
        assert container["HealthCheck"]["Command"] == ["CMD", "platform-role", "health", role]
        assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": log_group}
        assert RESOURCES[log_group]["Type"] == "AWS::Logs::LogGroup"
        assert properties["TaskRoleArn"] == {"Fn::GetAtt": [task_role, "Arn"]}
        assert properties["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
        assert {"Name": "PLATFORM_ASSETS_PG_URL", "ValueFrom": {"Ref": "PgUrlSecretArn"}} in (
            container["Secrets"]
        )
    # The run: no command (the launcher gives it), no health check, its own roles and logs.
    run = RESOURCES["RunTaskDefinition"]["Properties"]
    (container,) = run["ContainerDefinitions"]
    assert container["Name"] == "run" and "Command" not in container
    assert "HealthCheck" not in container
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "RunLogGroup"}
    assert run["TaskRoleArn"] == {"Fn::GetAtt": ["RunTaskRole", "Arn"]}
    assert run["ExecutionRoleArn"] == {"Fn::GetAtt": ["RunExecutionRole", "Arn"]}
    # Every role's script exists in the image (deploy/platform-role is its entrypoint).
    script = (REPO / "deploy" / "platform-role").read_text()
    for role, _, _ in SERVICE_ROLES.values():
        assert f"\n    {role}) " in script, f"platform-role has no health check for {role}"
    # One service per long-running role; the code server is found through Cloud Map; never two
    # daemons at once.
    services = _of_type("AWS::ECS::Service")
    assert {service["Properties"]["TaskDefinition"]["Ref"] for service in services.values()} == set(
        SERVICE_ROLES
    )
    registries = RESOURCES["CodeServerService"]["Properties"]["ServiceRegistries"]
    assert registries == [{"RegistryArn": {"Fn::GetAtt": ["CodeServerDiscovery", "Arn"]}}]
    deployment = RESOURCES["DaemonService"]["Properties"]["DeploymentConfiguration"]
    assert deployment == {"MaximumPercent": 100, "MinimumHealthyPercent": 0}
    for service in services.values():
        network = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert network["AssignPublicIp"] == "DISABLED"


def test_each_iam_role_is_least_privilege():
    roles = _of_type("AWS::IAM::Role")
    assert set(roles) == {
        "ExecutionRole",
        "RunExecutionRole",
        "RunTaskRole",
        "DaemonTaskRole",
        "WebserverTaskRole",
        "CodeServerTaskRole",
        "ScoringTaskRole",
    }
    for name in roles:
        for statement in _statements(name):
            actions = _as_list(statement["Action"])
            assert statement["Effect"] == "Allow"
            assert not [action for action in actions if "*" in action], (name, actions)
            if "*" in _as_list(statement["Resource"]):
                assert set(actions) <= UNSCOPED_ACTIONS, (name, actions)
            assert "secretsmanager:ListSecrets" not in actions
    daemon = _statements("DaemonTaskRole")
    (pass_role,) = [s for s in daemon if "iam:PassRole" in _as_list(s["Action"])]
    assert pass_role["Resource"] == [
        {"Fn::GetAtt": ["RunTaskRole", "Arn"]},
        {"Fn::GetAtt": ["RunExecutionRole", "Arn"]},
    ]
    (run_task,) = [s for s in daemon if "ecs:RunTask" in _as_list(s["Action"])]
    assert "task-definition/${AWS::StackName}-run:*" in run_task["Resource"]["Fn::Sub"]
    assert run_task["Condition"] == {
        "ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["Cluster", "Arn"]}}
    }
    # Only the run task writes the whole prefix; only the daemon and the webserver touch tasks.
    for name in roles:
        actions = {action for s in _statements(name) for action in _as_list(s["Action"])}
        if name not in ("RunTaskRole", "DaemonTaskRole"):
            assert "s3:DeleteObject" not in actions, name
        if name not in ("DaemonTaskRole", "WebserverTaskRole"):
            assert not {a for a in actions if a.startswith("ecs:")}, name
    scoring_writes = [
        s["Resource"]["Fn::Sub"]
        for s in _statements("ScoringTaskRole")
        if "s3:PutObject" in _as_list(s["Action"])
    ]
    assert scoring_writes == ["arn:${AWS::Partition}:s3:::${BucketName}/${BucketPrefix}/serving/*"]


def test_the_task_definitions_register_on_ecs(moto):
    client = moto.client("ecs")
    values = cloudformation.stand_in_values(
        TEMPLATE,
        Image="registry.example.com/platform-assets@sha256:" + "0" * 64,
        BucketName="team-bucket",
        PgUrlSecretArn="arn:aws:secretsmanager:us-east-1:000000000000:secret:pg",
    )
    definitions = cloudformation.task_definitions(values, TEMPLATE)
    assert set(definitions) == {"RunTaskDefinition", *SERVICE_ROLES}
    for name, definition in definitions.items():
        registered = client.register_task_definition(**definition)["taskDefinition"]
        role = SERVICE_ROLES[name][0] if name in SERVICE_ROLES else "run"
        assert registered["family"] == f"platform-assets-{role}"
        (container,) = registered["containerDefinitions"]
        assert container["image"] == values["Image"]
        environment = {item["name"]: item["value"] for item in container["environment"]}
        assert environment["PLATFORM_ASSETS_S3_URL"] == "s3://team-bucket/prod"
        assert container["logConfiguration"]["options"]["awslogs-group"].startswith(
            "/platform-assets/"
        )

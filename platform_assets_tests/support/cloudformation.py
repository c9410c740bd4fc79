"""``deploy/ecs/platform-assets.yaml`` read offline: the YAML with CloudFormation's short tags,
the names its intrinsic functions refer to, and its task definitions rendered into the
``register_task_definition`` arguments of boto3 for given parameter values (so a test can
register them on moto's ECS)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from platform_assets_tests.support.paths import REPO

TEMPLATE = REPO / "deploy" / "ecs" / "platform-assets.yaml"
PSEUDO_PARAMETERS = ("AWS::AccountId", "AWS::Region", "AWS::Partition", "AWS::StackName")
_TAGS = ("Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "FindInMap")


class _Loader(yaml.SafeLoader):
    pass


def _tag(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {"Ref" if name == "Ref" else f"Fn::{name}": value}

    return construct


for _name in _TAGS:
    _Loader.add_constructor(f"!{_name}", _tag(_name))


def load(path=TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_Loader)


def intrinsic_references(node: Any, where: str = "") -> Iterator[tuple[str, str, str]]:
    """``(function, name, where)`` for every Ref, GetAtt and ``${name}`` of a Sub in ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield "Ref", value, where
            elif key == "Fn::GetAtt":
                yield "GetAtt", value[0], where
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                for name in re.findall(r"\$\{([^}!]+)\}", text):
                    if name not in variables:
                        yield "Sub", name.split(".", 1)[0], where
                yield from intrinsic_references(variables, where)
            else:
                yield from intrinsic_references(value, f"{where}.{key}" if where else key)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from intrinsic_references(item, f"{where}[{index}]")


def literal_strings(node: Any) -> Iterator[str]:
    """Every plain string of ``node`` (the text of a Sub included: its ``${...}`` are names)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from literal_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from literal_strings(item)


def resolve(node: Any, values: Mapping[str, Any]) -> Any:
    """``node`` with Ref, Sub, GetAtt and Join evaluated: ``values`` maps parameter, pseudo
    parameter and resource names (``Name`` or ``Name.Attribute``) to what they stand for."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return values[node["Ref"]]
        if set(node) == {"Fn::GetAtt"}:
            return values[".".join(node["Fn::GetAtt"])]
        if set(node) == {"Fn::Sub"}:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            return re.sub(r"\$\{([^}!]+)\}", lambda match: str(values[match.group(1)]), text)
        if set(node) == {"Fn::Join"}:
            separator, items = node["Fn::Join"]
            return separator.join(str(item) for item in resolve(items, values))
        return {key: resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(item, values) for item in node]
    return node


def _boto_keys(node: Any, verbatim: bool = False) -> Any:
    """CloudFormation's PascalCase property names as the ECS API's camelCase (log driver
    options keep their own names)."""
    if isinstance(node, dict):
        return {
            (key if verbatim else key[0].lower() + key[1:]): _boto_keys(value, key == "Options")
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_boto_keys(item) for item in node]
    return node


def _as_shape(node: Any, shape: Any) -> Any:
    """``node`` with the scalars CloudFormation would coerce (``"1024"`` for an integer, as
    a parameter's value always is a string) typed as the API's ``shape`` wants."""
    if shape.type_name == "structure" and isinstance(node, dict):
        return {
            key: _as_shape(value, shape.members[key]) if key in shape.members else value
            for key, value in node.items()
        }
    if shape.type_name == "list" and isinstance(node, list):
        return [_as_shape(item, shape.member) for item in node]
    if shape.type_name == "integer" and isinstance(node, str):
        return int(node)
    if shape.type_name == "string" and isinstance(node, int | float):
        return str(node)
    return node


def task_definitions(values: Mapping[str, Any], template=None) -> dict[str, dict[str, Any]]:
    """Each ``AWS::ECS::TaskDefinition`` of the template as ``register_task_definition``'s
    keyword arguments, by resource name."""
    import botocore.session

    shape = (
        botocore.session.get_session()
        .get_service_model("ecs")
        .operation_model("RegisterTaskDefinition")
        .input_shape
    )
    template = template or load()
    return {
        name: _as_shape(_boto_keys(resolve(resource["Properties"], values)), shape)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    }


def stand_in_values(template: Mapping[str, Any], **parameters: Any) -> dict[str, Any]:
    """Values for every name of the template: ``parameters`` first, the parameters' defaults,
    the pseudo parameters of a made-up account, and for each resource a made-up physical id (an
    ARN for roles and log groups) — enough to render task definitions for moto."""
    account, region, partition, stack = "000000000000", "us-east-1", "aws", "platform-assets"
    values: dict[str, Any] = {
        "AWS::AccountId": account,
        "AWS::Region": region,
        "AWS::Partition": partition,
        "AWS::StackName": stack,
    }
    for name, parameter in template["Parameters"].items():
        if "Default" in parameter:
            values[name] = str(parameter["Default"])
    for name, resource in template["Resources"].items():
        kind = resource["Type"]
        if kind == "AWS::IAM::Role":
            arn = f"arn:{partition}:iam::{account}:role/{stack}-{name}"
            values[name] = f"{stack}-{name}"
            values[f"{name}.Arn"] = arn
        elif kind == "AWS::Logs::LogGroup":
            group = resolve(resource["Properties"]["LogGroupName"], values)
            values[name] = group
            values[f"{name}.Arn"] = f"arn:{partition}:logs:{region}:{account}:log-group:{group}:*"
        else:
            values[name] = f"{stack}-{name}"
            values[f"{name}.Arn"] = f"arn:{partition}:{kind.split('::')[1].lower()}:{name}"
    values.update(parameters)
    return values

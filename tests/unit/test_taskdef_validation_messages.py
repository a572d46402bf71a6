"""Task-definition problems word for word, at their boundaries: the path each one names, the label of
the container, the hint about strings, and the values at the edges of the ranges the ECS API reference
documents (issue 21: each assertion here failed on a mutant that survived the unit tier)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_taskdef_validate import problems, td, with_containers

APP: dict[str, Any] = {"name": "app", "image": "repo/app:1"}


def bridge(*containers: dict[str, Any]) -> dict[str, Any]:
    """An EC2 task definition in bridge mode: host ports need not equal container ports there."""
    return {"family": "svc", "networkMode": "bridge", "memory": "512", "containerDefinitions": list(containers)}


def test_botocore_problems_name_their_path_from_the_top_level() -> None:
    assert problems(td(cpu=256)) == [
        "cpu: Invalid type for parameter cpu, value: 256, type: <class 'int'>, valid types: <class 'str'> "
        '(ECS takes task-level cpu/memory as strings: write "cpu": "{{ cpu }}")']
    assert problems(td(memory=512)) == [
        "memory: Invalid type for parameter memory, value: 512, type: <class 'int'>, valid types: <class 'str'> "
        '(ECS takes task-level cpu/memory as strings: write "cpu": "{{ cpu }}")']
    assert problems(td(family=5)) == [
        "family: Invalid type for parameter family, value: 5, type: <class 'int'>, valid types: <class 'str'>"]
    [unknown] = problems(td(foo=1))
    assert unknown.startswith('foo: Unknown parameter in input: "foo", must be one of: family, ')
    assert problems(with_containers({**APP, "healthCheck": {}})) == [
        'containerDefinitions[0].healthCheck.command: Missing required parameter in '
        'containerDefinitions[0].healthCheck: "command"']


def test_a_task_level_cpu_outside_fargate_must_still_be_a_size() -> None:
    ec2 = {"family": "svc", "memory": "512", "containerDefinitions": [APP]}
    assert problems({**ec2, "cpu": "256"}) == [] and problems({**ec2, "cpu": "1 vCPU"}) == []
    assert problems({**ec2, "cpu": "lots"}) == [
        "cpu: 'lots' is not a CPU size (CPU units like \"256\", or \"0.25 vCPU\")"]


@pytest.mark.parametrize(("mapping", "want"), [
    ({"containerPort": 1, "hostPort": 0}, []),
    ({"containerPort": 65535, "hostPort": 65535}, []),
    ({"containerPort": 0}, ["containerDefinitions[0].portMappings[0].containerPort: 0 is not a port (1–65535) (app)"]),
    ({"containerPort": 65536},
     ["containerDefinitions[0].portMappings[0].containerPort: 65536 is not a port (1–65535) (app)"]),
    ({"containerPort": 80, "hostPort": 65536},
     ["containerDefinitions[0].portMappings[0].hostPort: 65536 is not a port (0–65535) (app)"]),
])
def test_ports_at_the_edges_of_their_range(mapping: dict[str, int], want: list[str]) -> None:
    assert problems(bridge({**APP, "portMappings": [mapping]})) == want


def test_a_container_without_a_name_gets_no_label() -> None:
    assert problems(with_containers({"image": "repo/app:1"})) == [
        "containerDefinitions[0].name: every container needs a name"]
    assert problems(bridge({"image": "x", "portMappings": [{"containerPort": 0}]})) == [
        "containerDefinitions[0].name: every container needs a name",
        "containerDefinitions[0].portMappings[0].containerPort: 0 is not a port (1–65535)"]


@pytest.mark.parametrize("first", ["CMD", "CMD-SHELL", "NONE"])
def test_every_health_check_command_form_ecs_takes(first: str) -> None:
    assert problems(with_containers({**APP, "healthCheck": {"command": [first, "true"]}})) == []


def test_ranges_name_the_field_and_the_container_and_take_their_edges() -> None:
    edges = {"interval": 5, "timeout": 60, "retries": 10, "startPeriod": 0}
    assert problems(with_containers({**APP, "healthCheck": {"command": ["CMD", "true"], **edges},
                                     "stopTimeout": 120, "startTimeout": 2})) == []
    assert problems(with_containers({**APP, "healthCheck": {"command": ["CMD", "true"], "interval": 4},
                                     "stopTimeout": 1})) == [
        "containerDefinitions[0].healthCheck.interval: 4 is out of range (5–300) (app)",
        "containerDefinitions[0].stopTimeout: 1 is out of range (2–120) (app)"]
    assert problems(with_containers({**APP, "healthCheck": {"command": ["CMD", "true"], "interval": 301}})) == [
        "containerDefinitions[0].healthCheck.interval: 301 is out of range (5–300) (app)"]


def test_port_mappings_without_a_container_port_are_not_the_load_balancers() -> None:
    app = {**APP, "portMappings": [{"protocol": "tcp"}, {"containerPort": 80}, {"containerPort": 443}]}
    assert problems(with_containers(app), lb_container="app", lb_port=80) == []
    assert problems(with_containers(app), lb_container="app", lb_port=8080) == [
        "containerDefinitions[0].portMappings: the load balancer targets app:8080, but the container maps 80, 443"]


def test_a_task_role_is_an_arn_or_a_role_name() -> None:
    assert problems(td(taskRoleArn="app-task-role")) == []
    assert problems(td(taskRoleArn="arn:aws:iam::123456789012:role/app")) == []
    assert problems(td(taskRoleArn="not a role")) == [
        "taskRoleArn: 'not a role' is neither an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME) nor a role name"]

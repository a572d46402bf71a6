"""The response shape check (tests/shape_check.py) on hand-made answers: it must catch what the local stack's
answers got wrong before issue 19 (missing members, JSON null, a missing required member) and wrong types
and enum values."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import botocore.session

from tests.shape_check import response_problems

SESSION = botocore.session.get_session()
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def op(service: str, name: str) -> Any:
    return SESSION.get_service_model(service).operation_model(name)


SERVICE = {"serviceName": "api", "status": "ACTIVE", "desiredCount": 1, "launchType": "FARGATE",
           "placementConstraints": [], "placementStrategy": [], "createdBy": "arn:aws:iam::1:root",
           "enableExecuteCommand": False, "roleArn": "arn:aws:iam::1:role/x"}


def test_a_complete_answer_passes() -> None:
    assert response_problems(op("ecs", "DescribeServices"), {"services": [SERVICE], "failures": []}, None) == []


def test_members_aws_always_returns_are_required() -> None:
    service = {k: v for k, v in SERVICE.items() if k not in ("placementStrategy", "roleArn")}
    problems = response_problems(op("ecs", "DescribeServices"), {"services": [service]}, None)
    assert problems == [
        "ecs.DescribeServices $.services[0].placementStrategy: missing (AWS always returns it for a Service)",
        "ecs.DescribeServices $.services[0].roleArn: missing (AWS always returns it for a Service)"]
    td = {"family": "app", "revision": 1}
    assert len(response_problems(op("ecs", "DescribeTaskDefinition"), {"taskDefinition": td}, None)) == 3
    lb = {"LoadBalancerName": "lb", "Type": "application"}
    assert response_problems(op("elbv2", "DescribeLoadBalancers"), {"LoadBalancers": [lb]}, None) == [
        "elbv2.DescribeLoadBalancers $.LoadBalancers[0].Scheme: missing (AWS always returns it for a LoadBalancer)"]


def test_conditional_members() -> None:
    fargate = {"taskArn": "t", "launchType": "FARGATE"}
    ec2 = {"taskArn": "t", "launchType": "EC2"}
    assert response_problems(op("ecs", "DescribeTasks"), {"tasks": [ec2]}, None) == []
    assert response_problems(op("ecs", "DescribeTasks"), {"tasks": [fargate]}, None) == [
        "ecs.DescribeTasks $.tasks[0].ephemeralStorage: missing (AWS always returns it for a Task)"]
    single = {"Type": "forward", "TargetGroupArn": "arn:tg"}
    listener = {"ListenerArn": "l", "DefaultActions": [single, {"Type": "fixed-response"}]}
    assert response_problems(op("elbv2", "DescribeListeners"), {"Listeners": [listener]}, None) == [
        "elbv2.DescribeListeners $.Listeners[0].DefaultActions[0].ForwardConfig: missing "
        "(AWS always returns it for a Action)"]


def test_required_members_nulls_types_and_enums() -> None:
    target = {"ServiceNamespace": "ecs", "ResourceId": "service/c/s", "ScalableDimension": "ecs:service:DesiredCount",
              "MinCapacity": 1, "MaxCapacity": 2, "CreationTime": NOW}
    body = json.dumps({"ScalableTargets": [{**target, "CreationTime": 1.0, "RoleARN": None}], "NextToken": None})
    problems = response_problems(op("application-autoscaling", "DescribeScalableTargets"),
                                 {"ScalableTargets": [target]}, body.encode())
    assert problems == [
        "application-autoscaling.DescribeScalableTargets $.ScalableTargets[0].RoleARN: required member of "
        "ScalableTarget missing",
        "application-autoscaling.DescribeScalableTargets $.ScalableTargets[0].RoleARN: null in the JSON body",
        "application-autoscaling.DescribeScalableTargets $.NextToken: null in the JSON body"]
    wrong = {**SERVICE, "desiredCount": "1", "launchType": "LAMBDA", "enableExecuteCommand": "false"}
    problems = response_problems(op("ecs", "DescribeServices"), {"services": [wrong]}, None)
    assert [p.split(": ", 1)[0] for p in problems] == [
        "ecs.DescribeServices $.services[0].desiredCount", "ecs.DescribeServices $.services[0].launchType",
        "ecs.DescribeServices $.services[0].enableExecuteCommand"]
    assert "'LAMBDA' is not one of LaunchType's values" in problems[1]


def test_error_answers_are_not_checked() -> None:
    assert response_problems(op("ecs", "DescribeServices"), {"Error": {"Code": "X"}}, None) == []

"""moto internals read or wrapped by the fixes the moto conformance suite asked for (issue 19): moto's own
EC2 placements and task sets in ECS, task tags, the members AWS always returns (ECS services and task
definitions, ELBv2 load balancers and forward actions, application-autoscaling scalable targets), stopped and
terminated instance targets.

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server).
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from pipeline_py.local import moto_ext
from pipeline_py.local.moto_ext import appautoscaling
from pipeline_py.local.moto_ext import ecs as moto_ecs

ACCOUNT, REGION = "123456789012", "us-east-1"
INSTANCE = {"instance_type": "m1.small", "is_instance_type_default": True, "region_name": REGION}


def _ecs_backend_with_instance(account: str) -> tuple[Any, Any]:
    from moto.ec2.models import ec2_backends
    from moto.ecs.models import EC2ContainerServiceBackend

    ec2 = ec2_backends[account][REGION]
    reservation = ec2.run_instances("ami-12c6146b", 1, None, [], **INSTANCE)
    backend = EC2ContainerServiceBackend(REGION, account)
    backend.create_cluster("c")
    instance = backend.register_container_instance("c", reservation.instances[0].id)
    return backend, instance


def test_ecs_container_instance_and_moto_task_shapes() -> None:
    moto_ext.install()
    backend, instance = _ecs_backend_with_instance("000000000043")
    assert instance.status == "ACTIVE" and ":container-instance/" in instance.container_instance_arn
    resources = {r["name"]: r for r in instance.remaining_resources}
    assert isinstance(resources["CPU"]["integerValue"], int) and isinstance(resources["MEMORY"]["integerValue"], int)
    assert isinstance(resources["PORTS"]["stringSetValue"], list)
    td = backend.register_task_definition("app", [{"name": "app", "image": "img", "cpu": 512, "memory": 256,
                                                   "portMappings": [{"containerPort": 80, "hostPort": 80}]}])
    need = backend._calculate_task_resource_requirements(td)
    assert (need["CPU"], need["MEMORY"], need["PORTS"]) == (512, 256, [80])
    [task] = backend.run_task("c", "app:1", 2, None, "me", None, "EC2")  # the second task's host port clashes
    assert task.container_instance_arn == instance.container_instance_arn and task.group == "family:app"
    assert task.last_status == "RUNNING" and callable(task.advance)
    assert backend.tasks["c"][task.task_arn] is task
    assert moto_ecs._missing_resource(instance, need) == "RESOURCE:PORTS"
    assert moto_ecs._missing_resource(instance, {"CPU": 10 ** 6, "MEMORY": 0, "PORTS": []}) == "RESOURCE:CPU"
    assert moto_ecs._missing_resource(instance, {"CPU": 0, "MEMORY": 10 ** 9, "PORTS": []}) == "RESOURCE:MEMORY"
    assert moto_ecs._missing_resource(instance, {"CPU": 0, "MEMORY": 0, "PORTS": [81]}) is None


def test_ecs_backend_methods_wrapped_for_tags_task_sets_and_task_definitions() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import DESCRIBE_TASKS_TAGS, EC2ContainerServiceResponse

    moto_ext.install()
    recorded = {(p.owner, p.name): p for p in moto_ext.patches()}
    for name in ("_get_resource", "create_task_set", "register_task_definition"):
        assert inspect.isfunction(recorded[(EC2ContainerServiceBackend, name)].original), name
    def params(name: str) -> list[str]:
        return list(inspect.signature(recorded[(EC2ContainerServiceBackend, name)].original).parameters)

    assert params("_get_resource") == ["self", "resource_arn", "parsed_arn"]
    assert params("create_task_set")[:3] == ["self", "service", "cluster_str"]
    assert inspect.isfunction(recorded[(EC2ContainerServiceResponse, "describe_clusters")].original)
    assert DESCRIBE_TASKS_TAGS == "DescribeTasksResponse.tasks.Task.tags"
    for name in ("_include_in_response", "_exclude_from_response"):
        assert callable(getattr(EC2ContainerServiceResponse, name)), name
    backend = EC2ContainerServiceBackend(REGION, ACCOUNT)
    parsed = backend._parse_resource_arn(f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/c/0123abcd")
    assert parsed["service"] == "task"
    td = backend.register_task_definition(
        "app", [{"name": "app", "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:1", "memory": 512,
                 "logConfiguration": {"logDriver": "awslogs"}}], network_mode="awsvpc",
        execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/exec", task_role_arn=f"arn:aws:iam::{ACCOUNT}:role/task")
    assert td.registered_by == f"arn:aws:iam::{ACCOUNT}:root" and td.registered_at.tzinfo is not None
    names = {a["name"] for a in td.requires_attributes}
    assert {"ecs.capability.task-eni", "ecs.capability.execution-role-awslogs",
            "ecs.capability.execution-role-ecr-pull", "com.amazonaws.ecs.capability.task-iam-role",
            "com.amazonaws.ecs.capability.logging-driver.awslogs"} <= names


def test_elbv2_load_balancer_scheme_and_forward_config() -> None:
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import ELBv2Backend, FakeAction

    moto_ext.install()
    account = "000000000044"
    ec2 = ec2_backends[account][REGION]
    vpc = ec2.create_vpc("10.7.0.0/16")
    subnets = [ec2.create_subnet(vpc.id, f"10.7.{i}.0/24", availability_zone=f"{REGION}{z}").id
               for i, z in ((1, "a"), (2, "b"))]
    backend = ELBv2Backend(REGION, account)
    lb = backend.create_load_balancer("lb", security_groups=[], subnet_ids=subnets, scheme=None)
    assert lb.scheme == "internet-facing"
    action = FakeAction({"Type": "forward", "TargetGroupArn": "arn:tg"})
    assert action.data["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": "arn:tg", "Weight": 1}]
    assert action.data["ForwardConfig"]["TargetGroupStickinessConfig"] == {"Enabled": False}
    assert action.type == "forward" and action.TargetGroupArn == "arn:tg"
    weighted = FakeAction({"Type": "forward",
                           "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": "a", "Weight": 3}]}})
    assert weighted.data["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": "a", "Weight": 3}]


def test_elbv2_stopped_and_terminated_instance_targets() -> None:
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import elbv2_backends

    account = "000000000045"  # the global backends (target health looks instances up in them): an account of its own
    ec2 = ec2_backends[account][REGION]
    vpc = ec2.create_vpc("10.6.0.0/16")
    backend = elbv2_backends[account][REGION]
    tg = backend.create_target_group("tg", vpc_id=vpc.id, protocol="HTTP", port=80, target_type="instance")
    instance = ec2.run_instances("ami-12c6146b", 1, None, [], **INSTANCE).instances[0]
    backend.register_targets(tg.arn, [{"Id": instance.id}])
    ec2.stop_instances([instance.id])
    [health] = backend.describe_target_health(tg.arn, [])
    assert (health.status, health.reason, health.description) == (
        "unused", "Target.InvalidState", "Target is in the stopped state")
    ec2.terminate_instances([instance.id])
    backend.notify_terminate_instances([instance.id])  # what moto's EC2 TerminateInstances response calls
    assert instance.id not in tg.targets
    assert backend.describe_target_health(tg.arn, []) == []


def test_application_autoscaling_describe_answers_json_with_nulls() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    moto_ext.install()
    recorded = {(p.owner, p.name): p for p in moto_ext.patches()}
    original = recorded[(ApplicationAutoScalingResponse, "describe_scalable_targets")].original
    assert inspect.isfunction(original) and list(inspect.signature(original).parameters) == ["self"]
    assert inspect.signature(original).return_annotation in ("str", str)
    assert appautoscaling._without_nulls({"a": None, "b": [{"c": None, "d": 1}]}) == {"b": [{"d": 1}]}
    assert appautoscaling.service_linked_role(ACCOUNT, "ecs") == (
        f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
        "AWSServiceRoleForApplicationAutoScaling_ECSService")
    assert json.loads(json.dumps({"NextToken": None})) == {"NextToken": None}  # what moto sends without a token

"""Operations moto lacks and attributes it reports back differently, which
pipeline_py.local.moto_ext.terraform_gaps fills (a plan right after an apply must show no changes).

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server).
"""

from __future__ import annotations

import inspect
from typing import Any

from pipeline_py.local import moto_ext
from tests.unit.moto_pins._helpers import REGION

ADDED_FOR_TERRAFORM = {
    ("moto.applicationautoscaling.responses", "ApplicationAutoScalingResponse"): [
        "list_tags_for_resource", "tag_resource", "untag_resource"],
    ("moto.budgets.responses", "BudgetsResponse"): [
        "describe_subscribers_for_notification", "list_tags_for_resource", "tag_resource", "untag_resource"],
}


WRAPPED_FOR_TERRAFORM = {
    ("moto.applicationautoscaling.responses", "ApplicationAutoScalingResponse"): ["register_scalable_target"],
    ("moto.budgets.responses", "BudgetsResponse"): ["create_budget"],
    ("moto.rds.responses", "RDSResponse"): ["describe_db_parameters"],
}


def _cls(module: str, name: str) -> Any:
    import importlib

    return getattr(importlib.import_module(module), name)


def test_terraform_operations_are_still_missing_from_moto() -> None:
    """Unpatched moto answers these with NotImplementedError (HTTP 500). When a release ships one,
    compare it with ours and drop or adapt our patch."""
    from moto.core.utils import camelcase_to_underscores, get_service_model

    moto_ext.install()
    recorded = {(p.owner, p.name): p for p in moto_ext.patches()}
    for (module, name), ops in ADDED_FOR_TERRAFORM.items():
        cls = _cls(module, name)
        service = "application-autoscaling" if "autoscaling" in module else "budgets"
        model = get_service_model(service)
        for op in ops:
            assert recorded[(cls, op)].original is None, f"moto now implements {service} {op}: compare with ours"
            assert not any(op in vars(base) for base in cls.__mro__[1:]), f"moto now implements {service} {op}"
            assert op in {camelcase_to_underscores(o) for o in model.operation_names}, op
    for (module, name), ops in WRAPPED_FOR_TERRAFORM.items():
        cls = _cls(module, name)
        for op in ops:
            original = recorded[(cls, op)].original
            assert inspect.isfunction(original) and list(inspect.signature(original).parameters) == ["self"], op


def test_moto_still_drops_what_terraform_reads_back() -> None:
    """The echo fixes are still needed: moto's own code still loses these attributes."""
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.budgets.responses import BudgetsResponse
    from moto.core.responses import BaseResponse
    from moto.ec2.models.security_groups import SecurityGroupRule
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.rds.models import DBParameterGroup
    from moto.rds.responses import RDSResponse

    moto_ext.install()
    recorded = {(p.owner, p.name): p for p in moto_ext.patches()}
    assert '"Tags"' not in inspect.getsource(recorded[(ApplicationAutoScalingResponse,
                                                       "register_scalable_target")].original)
    assert "ResourceTags" not in inspect.getsource(recorded[(BudgetsResponse, "create_budget")].original)
    create_service = recorded[(EC2ContainerServiceResponse, "create_service")].original
    assert "enableECSManagedTags" not in inspect.getsource(create_service)
    assert "availabilityZoneRebalancing" not in inspect.getsource(create_service)
    assert recorded[(EC2ContainerServiceResponse, "serialized")].original is None
    assert list(inspect.signature(BaseResponse.serialized).parameters) == ["self", "action_result"]
    assert "Source" not in inspect.getsource(recorded[(RDSResponse, "describe_db_parameters")].original)
    update = recorded[(DBParameterGroup, "update_parameters")].original
    assert list(inspect.signature(update).parameters) == ["self", "new_parameters"]
    assert "Source" not in inspect.getsource(update)
    description = recorded[(SecurityGroupRule, "description")].original
    assert isinstance(description, property)
    rule = SecurityGroupRule.__new__(SecurityGroupRule)
    rule.ip_range, rule.source_group = {}, {"GroupId": "sg-1", "Description": "from b"}
    assert description.fget(rule) is None, "moto now reports group rules' descriptions: drop our property"
    assert SecurityGroupRule.description.fget(rule) == "from b"


def test_terraform_gap_backend_shapes() -> None:
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend, FakeScalableTarget
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse
    from moto.budgets import exceptions as budget_errors
    from moto.budgets.models import BudgetsBackend
    from moto.budgets.responses import BudgetsResponse
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.rds.models import RDSBackend
    from moto.utilities.tagging_service import TaggingService

    account = "000000000045"
    ecs = EC2ContainerServiceBackend(REGION, account)
    ecs.create_cluster("c")
    ecs.register_task_definition("app", [{"name": "app", "image": "img", "memory": 64}])
    ecs.create_service("c", "api", 0, task_definition_str="app:1")
    aas = ApplicationAutoscalingBackend(REGION, account)
    aas.ecs_backend = ecs
    target = aas.register_scalable_target("ecs", "service/c/api", "ecs:service:DesiredCount", 1, 2, None, None)
    assert isinstance(target, FakeScalableTarget) and ":scalable-target/" in target.arn
    assert aas.targets["ecs:service:DesiredCount"]["service/c/api"] is target
    assert isinstance(ApplicationAutoScalingResponse.__dict__.get("applicationautoscaling_backend"), property)
    ecs.update_service({"cluster": "c", "service": "api", "availability_zone_rebalancing": "ENABLED"})
    assert ecs.services["c:api"].availability_zone_rebalancing == "ENABLED", \
        "moto's UpdateService no longer stores every field it gets"

    budgets = BudgetsBackend("aws", account)
    budgets.create_budget(account, {"BudgetName": "b", "BudgetLimit": {"Amount": "1", "Unit": "USD"},
                                    "BudgetType": "COST", "TimeUnit": "MONTHLY"},
                          [{"Notification": {"Threshold": 80}, "Subscribers": [{"Address": "a"}]}])
    [notification] = budgets.budgets[account]["b"].notifications
    assert (notification.details, notification.subscribers) == ({"Threshold": 80}, [{"Address": "a"}])
    assert isinstance(BudgetsResponse.__dict__.get("backend"), property)
    assert budget_errors.NotFoundException("x").error_type == "NotFoundException"

    rds = RDSBackend(REGION, account)
    rds.create_db_parameter_group({"db_parameter_group_name": "pg", "db_parameter_group_family": "postgres16",
                                   "description": "d"})
    group = rds.db_parameter_groups["pg"]
    group.update_parameters([{"ParameterName": "p", "ParameterValue": "1"}])
    assert group.parameters["p"]["ParameterValue"] == "1" and group.parameters["p"]["Source"] == "user"

    tags = TaggingService()
    tags.tag_resource("arn:x", [{"Key": "k", "Value": "v"}])
    assert tags.get_tag_dict_for_resource("arn:x") == {"k": "v"}
    assert tags.list_tags_for_resource("arn:x") == {"Tags": [{"Key": "k", "Value": "v"}]}
    tags.untag_resource_using_names("arn:x", ["k"])
    assert tags.get_tag_dict_for_resource("arn:x") == {}

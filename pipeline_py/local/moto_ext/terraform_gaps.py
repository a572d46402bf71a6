"""Terraform: operations moto lacks, attributes moto reports back differently."""


from __future__ import annotations

import json
import logging
import re
from typing import Any

from pipeline_py.local.moto_ext.core import original_of, patch_moto

log = logging.getLogger("pipeline_py.local")




# What terraform-provider-aws needs for the environment in terraform/ (a plan right after an apply
# must show no changes). Added, because moto answers them with a 500 (NotImplementedError):
#   application-autoscaling ListTagsForResource, TagResource, UntagResource (the provider reads the
#     tags of every aws_appautoscaling_target and retries a 500 forever); RegisterScalableTarget's
#     Tags are kept (moto drops them)
#   budgets DescribeSubscribersForNotification, ListTagsForResource, TagResource, UntagResource;
#     CreateBudget's ResourceTags are kept (moto drops them)
# Answered as AWS does (moto reports them back differently):
#   ECS CreateService: enableECSManagedTags and availabilityZoneRebalancing (moto's CreateService
#     drops them; its UpdateService stores every field it is given)
#   RDS: a parameter set by ModifyDBParameterGroup has Source "user", and DescribeDBParameters
#     filters by Source (moto returns parameters without Source and ignores the filter)
#   EC2 DescribeSecurityGroupRules: the Description of a rule that references a security group
#     (moto reads it from the CIDR range only)
#
# moto internals used here (pinned in tests/unit/moto_pins/):
#   moto.applicationautoscaling.responses.ApplicationAutoScalingResponse: applicationautoscaling_backend,
#     _get_param, register_scalable_target (wrapped; returns JSON with ScalableTargetARN)
#   ApplicationAutoscalingBackend.targets ({dimension: {resource_id: FakeScalableTarget}});
#     FakeScalableTarget.arn
#   moto.budgets.responses.BudgetsResponse: backend, _get_param, create_budget (wrapped)
#   BudgetsBackend.budgets ({account: {name: Budget}}); Budget.notifications[].details/.subscribers;
#     moto.budgets.exceptions.NotFoundException
#   moto.ecs.responses.EC2ContainerServiceResponse.serialized (inherited from BaseResponse; added on
#     the class); the moto Service behind section 2's ServiceView (``_service``)
#   moto.rds.models.DBParameterGroup.update_parameters (wrapped), .parameters ({name: dict});
#     moto.rds.responses.RDSResponse.describe_db_parameters (wrapped), .params, .backend
#   moto.ec2.models.security_groups.SecurityGroupRule: description (a property, replaced),
#     ip_range, source_group
#   moto.utilities.tagging_service.TaggingService; moto.core.exceptions.JsonRESTError

TAGS_ATTR = "pipeline_py_tags"
ECS_CREATE_ECHOES = {"enableECSManagedTags": "enable_ecs_managed_tags",
                     "availabilityZoneRebalancing": "availability_zone_rebalancing"}


def install() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as AAS
    from moto.budgets.responses import BudgetsResponse as B
    from moto.ec2.models.security_groups import SecurityGroupRule
    from moto.ecs.responses import EC2ContainerServiceResponse as ECS
    from moto.rds.models import DBParameterGroup
    from moto.rds.responses import RDSResponse

    patch_moto(AAS, "register_scalable_target", _aas_register_scalable_target)
    patch_moto(AAS, "list_tags_for_resource", _aas_list_tags_for_resource)
    patch_moto(AAS, "tag_resource", _aas_tag_resource)
    patch_moto(AAS, "untag_resource", _aas_untag_resource)
    patch_moto(B, "create_budget", _budgets_create_budget)
    patch_moto(B, "describe_subscribers_for_notification", _budgets_describe_subscribers_for_notification)
    patch_moto(B, "list_tags_for_resource", _budgets_list_tags_for_resource)
    patch_moto(B, "tag_resource", _budgets_tag_resource)
    patch_moto(B, "untag_resource", _budgets_untag_resource)
    patch_moto(ECS, "serialized", _ecs_serialized)
    patch_moto(DBParameterGroup, "update_parameters", _rds_update_parameters)
    patch_moto(RDSResponse, "describe_db_parameters", _rds_describe_db_parameters)
    patch_moto(SecurityGroupRule, "description", property(_sg_rule_description))


def _tags(backend: Any) -> Any:
    """Tags by ARN, kept on the moto backend (moto's reset rebuilds the backend, so they go too)."""
    from moto.utilities.tagging_service import TaggingService

    store = backend.__dict__.get(TAGS_ATTR)
    if store is None:
        store = backend.__dict__[TAGS_ATTR] = TaggingService()
    return store


def _not_found(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("ResourceNotFoundException", message)


# ---- application-autoscaling

def _aas_target(backend: Any, arn: str) -> Any:
    for by_resource in backend.targets.values():
        for target in by_resource.values():
            if target.arn == arn:
                return target
    raise _not_found(f"No scalable target found for ARN: {arn}")


def _aas_register_scalable_target(self: Any) -> str:
    backend = self.applicationautoscaling_backend
    existed = self._get_param("ResourceId") in backend.targets.get(self._get_param("ScalableDimension"), {})
    body = original_of(type(self), "register_scalable_target")(self)
    tags = self._get_param("Tags") or {}
    if tags and not existed:  # AWS applies Tags when it creates the target only
        arn = json.loads(body)["ScalableTargetARN"]
        _tags(backend).tag_resource(arn, [{"Key": k, "Value": v} for k, v in tags.items()])
    return body


def _aas_list_tags_for_resource(self: Any) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _aas_target(backend, arn)
    return json.dumps({"Tags": _tags(backend).get_tag_dict_for_resource(arn)})


def _aas_tag_resource(self: Any) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _aas_target(backend, arn)
    tags = self._get_param("Tags") or {}
    _tags(backend).tag_resource(arn, [{"Key": k, "Value": v} for k, v in tags.items()])
    return json.dumps({})


def _aas_untag_resource(self: Any) -> str:
    backend = self.applicationautoscaling_backend
    arn = self._get_param("ResourceARN")
    _aas_target(backend, arn)
    _tags(backend).untag_resource_using_names(arn, self._get_param("TagKeys") or [])
    return json.dumps({})


# ---- budgets

_BUDGET_ARN = re.compile(r"^arn:[a-z-]+:budgets::(?P<account>\d{12}):budget/(?P<name>.+)$")


def _budget(backend: Any, account: str, name: str, what: str) -> Any:
    from moto.budgets.exceptions import NotFoundException

    budget = backend.budgets[account].get(name)
    if budget is None:
        raise NotFoundException(f"Unable to {what} - the budget {name} doesn't exist.")
    return budget


def _budget_arn(self: Any) -> str:
    from moto.budgets.exceptions import NotFoundException

    arn = self._get_param("ResourceARN") or ""
    m = _BUDGET_ARN.match(arn)
    if m is None:
        raise NotFoundException(f"Unable to find resource {arn}")
    _budget(self.backend, m["account"], m["name"], "get tags")
    return arn


def _budgets_create_budget(self: Any) -> str:
    body = original_of(type(self), "create_budget")(self)
    tags = self._get_param("ResourceTags") or []
    if tags:
        name = (self._get_param("Budget") or {}).get("BudgetName")
        arn = f"arn:{self.partition}:budgets::{self._get_param('AccountId')}:budget/{name}"
        _tags(self.backend).tag_resource(arn, tags)
    return body


def _notification_key(n: dict[str, Any]) -> tuple[Any, ...]:
    return (n.get("NotificationType"), n.get("ComparisonOperator"), float(n.get("Threshold") or 0),
            n.get("ThresholdType") or "PERCENTAGE")


def _budgets_describe_subscribers_for_notification(self: Any) -> str:
    from moto.budgets.exceptions import NotFoundException

    name = self._get_param("BudgetName")
    budget = _budget(self.backend, self._get_param("AccountId"), name, "describe subscribers")
    wanted = _notification_key(self._get_param("Notification") or {})
    for notification in budget.notifications:
        if _notification_key(notification.details) == wanted:
            return json.dumps({"Subscribers": list(notification.subscribers or [])})
    raise NotFoundException(f"Unable to describe subscribers - the notification of budget {name} doesn't exist.")


def _budgets_list_tags_for_resource(self: Any) -> str:
    arn = _budget_arn(self)
    return json.dumps({"ResourceTags": _tags(self.backend).list_tags_for_resource(arn)["Tags"]})


def _budgets_tag_resource(self: Any) -> str:
    _tags(self.backend).tag_resource(_budget_arn(self), self._get_param("ResourceTags") or [])
    return json.dumps({})


def _budgets_untag_resource(self: Any) -> str:
    _tags(self.backend).untag_resource_using_names(_budget_arn(self), self._get_param("ResourceTagKeys") or [])
    return json.dumps({})


# ---- ECS, RDS, EC2: what moto reports back

def _ecs_serialized(self: Any, action_result: Any) -> Any:
    """CreateService's fields moto drops, stored on moto's Service before the answer is built (later
    DescribeServices answers read them from there, as they do after UpdateService)."""
    from moto.core.responses import BaseResponse

    result = getattr(action_result, "result", None)
    if self._get_action() == "CreateService" and isinstance(result, dict) and result.get("service") is not None:
        view = result["service"]
        service = view.__dict__.get("_service", view)
        for param, attr in ECS_CREATE_ECHOES.items():
            value = self._get_param(param)
            if value is not None:
                setattr(service, attr, value)
    return BaseResponse.serialized(self, action_result)


def _rds_update_parameters(self: Any, new_parameters: Any) -> None:
    """ModifyDBParameterGroup makes a parameter the user's (``Source: user``), as RDS reports it."""
    original_of(type(self), "update_parameters")(self, [{**p, "Source": "user"} for p in new_parameters])


def _rds_describe_db_parameters(self: Any) -> Any:
    result = original_of(type(self), "describe_db_parameters")(self)
    source = self.params.get("Source")
    if source:
        result.result["Parameters"] = [p for p in result.result["Parameters"] if p.get("Source") == source]
    return result


def _sg_rule_description(self: Any) -> str | None:
    if "Description" in self.ip_range:
        return self.ip_range["Description"]
    return (self.source_group or {}).get("Description")

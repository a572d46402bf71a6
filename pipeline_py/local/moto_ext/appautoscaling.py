"""application-autoscaling: ``DescribeScalableTargets`` in the shape botocore's model gives it.

moto answers with ``RoleARN``, ``SuspendedState`` and ``NextToken`` as JSON ``null`` when they have no value,
and without a role when ``RegisterScalableTarget`` named none. AWS always answers with ``RoleARN`` (the model
marks it required): the service-linked role Application Auto Scaling creates for the namespace on the first
registration (Application Auto Scaling user guide, "Service-linked roles"); members without a value are
left out, never ``null``. (RegisterScalableTarget's tags: see :mod:`.terraform_gaps`.)
"""

from __future__ import annotations

import json
from typing import Any

from pipeline_py.local.moto_ext.core import original_of, patch_moto

# moto internals used here (pinned in tests/unit/moto_pins/):
#   moto.applicationautoscaling.responses.ApplicationAutoScalingResponse: describe_scalable_targets (wrapped;
#     returns the JSON body as a string), current_account

# namespace -> (service principal prefix, role name suffix) of the service-linked role
SERVICE_LINKED_ROLES = {
    "ecs": ("ecs", "ECSService"),
    "dynamodb": ("dynamodb", "DynamoDBTable"),
    "rds": ("rds", "RDSCluster"),
    "ec2": ("ec2", "EC2SpotFleetRequest"),
    "appstream": ("appstream", "AppStreamFleet"),
    "lambda": ("lambda", "LambdaConcurrency"),
    "sagemaker": ("sagemaker", "SageMakerEndpoint"),
}


def install() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as AAS

    patch_moto(AAS, "describe_scalable_targets", _describe_scalable_targets)


def service_linked_role(account: str, namespace: str) -> str | None:
    known = SERVICE_LINKED_ROLES.get(namespace)
    if known is None:
        return None
    principal, suffix = known
    return (f"arn:aws:iam::{account}:role/aws-service-role/{principal}.application-autoscaling.amazonaws.com/"
            f"AWSServiceRoleForApplicationAutoScaling_{suffix}")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _describe_scalable_targets(self: Any) -> str:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse

    body = json.loads(original_of(ApplicationAutoScalingResponse, "describe_scalable_targets")(self))
    for target in body.get("ScalableTargets") or []:
        if not target.get("RoleARN"):
            target["RoleARN"] = service_linked_role(self.current_account, str(target.get("ServiceNamespace")))
    return json.dumps(_without_nulls(body))

"""What runs in ECS: the live revision of a service, a revision as register kwargs, and
registering only when something changed."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import error_code
from pipeline_py.errors import BadInput
from pipeline_py.taskdef.normalisation import normalise, strip_describe_only
from pipeline_py.taskdef.validation import register_keys

# What ECS answers for an unknown family and for a definition it will not accept.
_CLIENT_ERRORS = ("ClientException", "InvalidParameterException")


def _describe(ecs: Any, task_definition: str) -> tuple[str, str, dict[str, Any]]:
    """(arn, status, register-shaped dict) for a family, family:revision or ARN."""
    resp = ecs.describe_task_definition(taskDefinition=task_definition, include=["TAGS"])
    raw = resp["taskDefinition"]
    td, _ = strip_describe_only({"taskDefinition": raw, "tags": resp.get("tags") or []})
    keys = register_keys()
    td = {k: v for k, v in td.items() if k in keys}
    return raw["taskDefinitionArn"], raw.get("status", "ACTIVE"), normalise(td)


def from_live(ecs: Any, arn_or_family: str) -> dict[str, Any]:
    """A live revision (with its tags) as normalised ``register_task_definition`` kwargs."""
    return _describe(ecs, arn_or_family)[2]


def latest_active(ecs: Any, family: str) -> tuple[str, dict[str, Any]] | None:
    """The family's latest ACTIVE revision as (arn, register kwargs); None for a new family."""
    try:
        arn, status, td = _describe(ecs, family)
    except ClientError as exc:
        if error_code(exc) in _CLIENT_ERRORS:
            return None
        raise
    if status == "ACTIVE":
        return arn, td
    # Some implementations answer the newest revision even when it was deregistered.
    arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE", sort="DESC",
                                     maxResults=1).get("taskDefinitionArns") or []
    if not arns:
        return None
    arn, _, td = _describe(ecs, arns[0])
    return arn, td


def register(ecs: Any, td: dict[str, Any]) -> tuple[str, bool]:
    """Register ``td`` unless the family's latest ACTIVE revision is identical.

    Returns ``(arn, created)``: the new revision's ARN and True, or the existing one and False.
    """
    wanted = normalise(td)
    current = latest_active(ecs, wanted["family"])
    if current is not None and current[1] == wanted:
        return current[0], False
    try:
        resp = ecs.register_task_definition(**wanted)
    except ClientError as exc:
        if error_code(exc) in _CLIENT_ERRORS:  # ECS's words for "this definition is invalid"
            message = exc.response.get("Error", {}).get("Message", str(exc))
            raise BadInput(f"ECS rejected the task definition for family {wanted['family']}: {message}") from None
        raise
    return resp["taskDefinition"]["taskDefinitionArn"], True


def service_task_definition(ecs: Any, cluster: str | None, service: str) -> str | None:
    """The task definition the service's PRIMARY deployment runs; None when there is no such
    (active) service or cluster yet."""
    kwargs: dict[str, Any] = {"services": [service]}
    if cluster:
        kwargs["cluster"] = cluster
    try:
        resp = ecs.describe_services(**kwargs)
    except ClientError as exc:
        if error_code(exc) in ("ClusterNotFoundException", "ServiceNotFoundException"):
            return None
        raise
    for svc in resp.get("services") or []:
        if svc.get("status") == "INACTIVE":
            continue
        for dep in svc.get("deployments") or []:
            if dep.get("status") == "PRIMARY" and dep.get("taskDefinition"):
                return str(dep["taskDefinition"])
        if svc.get("taskDefinition"):
            return str(svc["taskDefinition"])
    return None

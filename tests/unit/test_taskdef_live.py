"""The live-side logic against a recording fake ECS client (the moto-backed paths are covered in
tests/integration/test_render_register.py)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipeline_py import taskdef
from pipeline_py.errors import BadInput

TD = {
    "family": "svc-prod",
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "256",
    "memory": "512",
    "containerDefinitions": [{"name": "app", "image": "repo:1"}],
}


def client_error(code: str, message: str = "boom") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Op")


class FakeEcs:
    def __init__(self, services: list[dict[str, Any]] | None = None, reject: str | None = None) -> None:
        self.revisions: list[dict[str, Any]] = []
        self.services = services or []
        self.reject = reject
        self.calls: list[str] = []

    def _arn(self, n: int) -> str:
        return f"arn:aws:ecs:us-east-1:123456789012:task-definition/svc-prod:{n}"

    def describe_task_definition(self, taskDefinition: str, include: list[str]) -> dict[str, Any]:
        self.calls.append("describe_task_definition")
        assert include == ["TAGS"]
        if not self.revisions:
            raise client_error("ClientException", "Unable to describe task definition.")
        if taskDefinition == "svc-prod":
            n = len(self.revisions)  # the newest, whatever its status (as moto answers)
        else:
            n = int(taskDefinition.rsplit(":", 1)[1])
        rev = self.revisions[n - 1]
        body = {k: v for k, v in rev.items() if k != "tags"}
        return {"taskDefinition": {**body, "taskDefinitionArn": self._arn(n), "revision": n,
                                   "compatibilities": ["EC2", "FARGATE"]}, "tags": rev.get("tags", [])}

    def list_task_definitions(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("list_task_definitions")
        active = [self._arn(i + 1) for i, r in enumerate(self.revisions) if r["status"] == "ACTIVE"]
        return {"taskDefinitionArns": list(reversed(active))[: kw.get("maxResults", 100)]}

    def register_task_definition(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("register_task_definition")
        if self.reject:
            raise client_error(self.reject, "Invalid 'executionRoleArn'")
        self.revisions.append({**kw, "status": "ACTIVE"})
        return {"taskDefinition": {"taskDefinitionArn": self._arn(len(self.revisions))}}

    def describe_services(self, **kw: Any) -> dict[str, Any]:
        if kw.get("cluster") == "missing":
            raise client_error("ClusterNotFoundException", "Cluster not found.")
        return {"services": self.services}


def test_register_creates_then_reuses() -> None:
    ecs = FakeEcs()
    arn, created = taskdef.register(ecs, TD)
    assert created and arn.endswith(":1")
    assert taskdef.register(ecs, dict(TD)) == (arn, False)
    assert ecs.calls.count("register_task_definition") == 1


def test_register_skips_a_deregistered_newest_revision() -> None:
    ecs = FakeEcs()
    taskdef.register(ecs, TD)
    taskdef.register(ecs, {**TD, "memory": "1024"})
    ecs.revisions[1]["status"] = "INACTIVE"
    assert taskdef.register(ecs, TD) == (ecs._arn(1), False)
    assert taskdef.register(ecs, {**TD, "memory": "1024"})[1] is True  # differs from the ACTIVE one


def test_tags_are_part_of_identity() -> None:
    ecs = FakeEcs()
    taskdef.register(ecs, TD)
    arn, created = taskdef.register(ecs, {**TD, "tags": [{"key": "team", "value": "a"}]})
    assert created and arn.endswith(":2")
    assert taskdef.from_live(ecs, arn)["tags"] == [{"key": "team", "value": "a"}]


@pytest.mark.parametrize("code", ["ClientException", "InvalidParameterException"])
def test_ecs_rejection_is_bad_input(code: str) -> None:
    with pytest.raises(BadInput, match=r"ECS rejected the task definition for family svc-prod: Invalid"):
        taskdef.register(FakeEcs(reject=code), TD)


def test_other_aws_errors_propagate() -> None:
    with pytest.raises(ClientError):
        taskdef.register(FakeEcs(reject="AccessDeniedException"), TD)


def test_service_task_definition_is_the_primary_deployment() -> None:
    svc = {"status": "ACTIVE", "taskDefinition": "td:1", "deployments": [
        {"status": "ACTIVE", "taskDefinition": "td:1"}, {"status": "PRIMARY", "taskDefinition": "td:2"}]}
    assert taskdef.service_task_definition(FakeEcs([svc]), "c", "s") == "td:2"
    assert taskdef.service_task_definition(FakeEcs([{**svc, "deployments": []}]), "c", "s") == "td:1"
    assert taskdef.service_task_definition(FakeEcs([{**svc, "status": "INACTIVE"}]), "c", "s") is None
    assert taskdef.service_task_definition(FakeEcs([]), "c", "s") is None
    assert taskdef.service_task_definition(FakeEcs([svc]), "missing", "s") is None

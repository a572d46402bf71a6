"""The *services* port: what the deploy engine asks of ECS, ELBv2 and CloudWatch alarms.

Thin wrappers over boto3 clients from the one factory, returning small typed views so that the
strategies read top to bottom. Batching (``describe_services`` takes up to 10 services,
``describe_tasks`` up to 100) lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code
from pipeline_py.errors import BadInput

DESCRIBE_SERVICES_BATCH = 10
DESCRIBE_TASKS_BATCH = 100


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def short_id(arn_or_id: str | None) -> str:
    """``arn:…:task/cluster/1a2b3c4d…`` → ``1a2b3c4d`` (the way the ECS console shows tasks)."""
    if not arn_or_id:
        return "-"
    return arn_or_id.rsplit("/", 1)[-1][:8]


def td_label(arn: str | None) -> str:
    """``arn:…:task-definition/family:12`` → ``family:12``."""
    if not arn:
        return "-"
    return arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Deployment:
    id: str
    status: str
    task_definition: str
    desired: int
    pending: int
    running: int
    failed: int
    rollout_state: str | None
    rollout_reason: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> Deployment:
        return cls(
            id=d["id"],
            status=d.get("status", ""),
            task_definition=d.get("taskDefinition", ""),
            desired=int(d.get("desiredCount", 0)),
            pending=int(d.get("pendingCount", 0)),
            running=int(d.get("runningCount", 0)),
            failed=int(d.get("failedTasks", 0)),
            rollout_state=d.get("rolloutState"),
            rollout_reason=d.get("rolloutStateReason"),
            created_at=d.get("createdAt"),
            updated_at=d.get("updatedAt"),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "task_definition": self.task_definition,
            "desired": self.desired,
            "running": self.running,
            "pending": self.pending,
            "failed": self.failed,
            "rollout_state": self.rollout_state,
            "rollout_reason": self.rollout_reason,
        }


@dataclass(frozen=True)
class LoadBalancer:
    target_group_arn: str | None
    container_name: str | None
    container_port: int | None


@dataclass(frozen=True)
class ServiceView:
    cluster: str
    name: str
    arn: str
    status: str
    desired: int
    running: int
    pending: int
    task_definition: str
    deployments: tuple[Deployment, ...]
    events: tuple[dict[str, Any], ...]
    load_balancers: tuple[LoadBalancer, ...]
    controller: str
    deployment_configuration: dict[str, Any] = field(default_factory=dict)
    network_configuration: dict[str, Any] | None = None
    launch_type: str | None = None
    capacity_provider_strategy: tuple[dict[str, Any], ...] = ()
    platform_version: str | None = None
    health_check_grace_period: int | None = None
    tags: tuple[dict[str, str], ...] = ()

    @classmethod
    def from_api(cls, cluster: str, s: dict[str, Any]) -> ServiceView:
        return cls(
            cluster=cluster,
            name=s["serviceName"],
            arn=s["serviceArn"],
            status=s.get("status", ""),
            desired=int(s.get("desiredCount", 0)),
            running=int(s.get("runningCount", 0)),
            pending=int(s.get("pendingCount", 0)),
            task_definition=s.get("taskDefinition", ""),
            deployments=tuple(Deployment.from_api(d) for d in s.get("deployments", [])),
            events=tuple(s.get("events", [])),
            load_balancers=tuple(
                LoadBalancer(lb.get("targetGroupArn"), lb.get("containerName"), lb.get("containerPort"))
                for lb in s.get("loadBalancers", [])
            ),
            controller=(s.get("deploymentController") or {}).get("type", "ECS"),
            deployment_configuration=s.get("deploymentConfiguration") or {},
            network_configuration=s.get("networkConfiguration"),
            launch_type=s.get("launchType"),
            capacity_provider_strategy=tuple(s.get("capacityProviderStrategy") or ()),
            platform_version=s.get("platformVersion"),
            health_check_grace_period=s.get("healthCheckGracePeriodSeconds"),
            tags=tuple(s.get("tags") or ()),
        )

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

    def deployment(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)

    @property
    def target_groups(self) -> list[str]:
        return [lb.target_group_arn for lb in self.load_balancers if lb.target_group_arn]

    @property
    def circuit_breaker(self) -> dict[str, Any]:
        return self.deployment_configuration.get("deploymentCircuitBreaker") or {}


@dataclass(frozen=True)
class StoppedTask:
    arn: str
    task_definition: str
    started_by: str | None
    last_status: str
    stop_code: str | None
    stopped_reason: str | None
    containers: tuple[dict[str, Any], ...]
    stopped_at: datetime | None

    @classmethod
    def from_api(cls, t: dict[str, Any]) -> StoppedTask:
        return cls(
            arn=t["taskArn"],
            task_definition=t.get("taskDefinitionArn", ""),
            started_by=t.get("startedBy"),
            last_status=t.get("lastStatus", ""),
            stop_code=t.get("stopCode"),
            stopped_reason=t.get("stoppedReason"),
            containers=tuple(
                {k: c.get(k) for k in ("name", "exitCode", "reason", "lastStatus", "healthStatus") if k in c}
                for c in t.get("containers", [])
            ),
            stopped_at=t.get("stoppedAt"),
        )

    def describe(self) -> str:
        parts = [f"task {short_id(self.arn)} stopped"]
        if self.stop_code:
            parts.append(f"[{self.stop_code}]")
        parts.append(f": {self.stopped_reason or 'no reason given'}")
        text = " ".join(parts[:-1]) + parts[-1]
        for c in self.containers:
            bits = []
            if c.get("exitCode") is not None:
                bits.append(f"exit code {c['exitCode']}")
            if c.get("reason"):
                bits.append(str(c["reason"]))
            if bits:
                text += f"; container {c.get('name')}: {', '.join(bits)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.arn,
            "task_definition": self.task_definition,
            "started_by": self.started_by,
            "stop_code": self.stop_code,
            "stopped_reason": self.stopped_reason,
            "containers": list(self.containers),
        }


class EcsServices:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    @property
    def ecs(self) -> Any:
        return self.aws.client("ecs")

    def describe(self, cluster: str, names: Iterable[str]) -> dict[str, ServiceView]:
        """Views of the named services that exist (missing ones are absent from the map)."""
        out: dict[str, ServiceView] = {}
        for batch in _chunks(list(dict.fromkeys(names)), DESCRIBE_SERVICES_BATCH):
            try:
                resp = self.ecs.describe_services(cluster=cluster, services=batch, include=["TAGS"])
            except ClientError as exc:
                if error_code(exc) == "ClusterNotFoundException":
                    raise BadInput(f"ECS cluster {cluster!r} not found") from None
                raise
            for s in resp.get("services", []):
                if s.get("status") == "INACTIVE":
                    continue
                out[s["serviceName"]] = ServiceView.from_api(cluster, s)
        return out

    def get(self, cluster: str, name: str) -> ServiceView:
        found = self.describe(cluster, [name])
        if name not in found:
            raise BadInput(f"ECS service {name!r} not found in cluster {cluster!r}")
        return found[name]

    def update(self, cluster: str, name: str, **kwargs: Any) -> ServiceView:
        resp = self.ecs.update_service(cluster=cluster, service=name, **kwargs)
        return ServiceView.from_api(cluster, resp["service"])

    def task_definition_exists(self, arn: str) -> dict[str, Any] | None:
        try:
            return self.ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        except ClientError as exc:
            if error_code(exc) in ("ClientException", "InvalidParameterException"):
                return None
            raise

    def list_task_arns(self, cluster: str, *, started_by: str | None = None, service: str | None = None,
                       family: str | None = None, desired_status: str = "RUNNING") -> list[str]:
        kwargs: dict[str, Any] = {"cluster": cluster, "desiredStatus": desired_status}
        if started_by:
            kwargs["startedBy"] = started_by
        elif service:
            kwargs["serviceName"] = service
        if family:
            kwargs["family"] = family
        arns: list[str] = []
        while True:
            resp = self.ecs.list_tasks(**kwargs)
            arns.extend(resp.get("taskArns", []))
            token = resp.get("nextToken")
            if not token:
                return arns
            kwargs["nextToken"] = token

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        for batch in _chunks(arns, DESCRIBE_TASKS_BATCH):
            tasks.extend(self.ecs.describe_tasks(cluster=cluster, tasks=batch).get("tasks", []))
        return tasks

    def stopped_tasks(self, cluster: str, deployment_id: str) -> list[StoppedTask]:
        arns = self.list_task_arns(cluster, started_by=deployment_id, desired_status="STOPPED")
        if not arns:
            return []
        return [StoppedTask.from_api(t) for t in self.describe_tasks(cluster, arns)]

    def running_tasks(self, cluster: str, deployment_id: str) -> list[dict[str, Any]]:
        arns = self.list_task_arns(cluster, started_by=deployment_id, desired_status="RUNNING")
        return self.describe_tasks(cluster, arns) if arns else []


def task_ip(task: dict[str, Any]) -> str | None:
    for att in task.get("attachments", []):
        for d in att.get("details", []):
            if d.get("name") == "privateIPv4Address":
                return d.get("value")
    for c in task.get("containers", []):
        for ni in c.get("networkInterfaces", []):
            if ni.get("privateIpv4Address"):
                return ni["privateIpv4Address"]
    return None


@dataclass(frozen=True)
class TargetState:
    id: str
    port: int | None
    state: str
    reason: str | None
    description: str | None


class Targets:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def health(self, target_group_arn: str) -> list[TargetState]:
        resp = self.aws.client("elbv2").describe_target_health(TargetGroupArn=target_group_arn)
        out = []
        for d in resp.get("TargetHealthDescriptions", []):
            th = d.get("TargetHealth", {})
            out.append(
                TargetState(
                    id=d["Target"]["Id"],
                    port=d["Target"].get("Port"),
                    state=th.get("State", "unknown"),
                    reason=th.get("Reason"),
                    description=th.get("Description"),
                )
            )
        return out

    def deregistration_delay(self, target_group_arn: str) -> float | None:
        try:
            attrs = self.aws.client("elbv2").describe_target_group_attributes(TargetGroupArn=target_group_arn)
        except ClientError:
            return None
        for a in attrs.get("Attributes", []):
            if a.get("Key") == "deregistration_delay.timeout_seconds":
                try:
                    return float(a["Value"])
                except (TypeError, ValueError):
                    return None
        return None


class Alarms:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def states(self, names: list[str]) -> dict[str, dict[str, Any]]:
        if not names:
            return {}
        resp = self.aws.client("cloudwatch").describe_alarms(AlarmNames=names)
        out = {}
        for a in [*resp.get("MetricAlarms", []), *resp.get("CompositeAlarms", [])]:
            out[a["AlarmName"]] = {"state": a.get("StateValue"), "reason": a.get("StateReason")}
        return out

    def check_exist(self, names: list[str]) -> None:
        missing = sorted(set(names) - set(self.states(names)))
        if missing:
            raise BadInput(f"configured alarms not found in CloudWatch: {', '.join(missing)}")

    def firing(self, names: list[str]) -> list[tuple[str, str]]:
        return [(n, s.get("reason") or "") for n, s in self.states(names).items() if s.get("state") == "ALARM"]

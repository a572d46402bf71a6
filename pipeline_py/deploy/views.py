"""What the deploy engine reads about ECS and ELB, as small immutable views built from API answers.

Pure data: no AWS access. The adapters (``deploy/adapters``) build them from boto3 answers and the
in-memory fakes of the tests build them from dicts of the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
    advanced: dict[str, Any] | None = field(default=None, compare=False)
    """``advancedConfiguration`` (ECS-native blue/green): alternateTargetGroupArn, productionListenerRule,
    testListenerRule, roleArn."""


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
    current_service_deployment: str | None = None

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
                LoadBalancer(lb.get("targetGroupArn"), lb.get("containerName"), lb.get("containerPort"),
                             lb.get("advancedConfiguration"))
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
            current_service_deployment=s.get("currentServiceDeployment"),
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
class LifecycleHook:
    """One entry of a service deployment's ``lifecycleHookDetails``."""

    id: str
    target_type: str
    status: str
    expires_at: datetime | None = None
    timeout_action: str | None = None

    @classmethod
    def from_api(cls, h: dict[str, Any]) -> LifecycleHook:
        return cls(id=h.get("hookId", ""), target_type=h.get("targetType", ""), status=h.get("status", ""),
                   expires_at=h.get("expiresAt"), timeout_action=h.get("timeoutAction"))


@dataclass(frozen=True)
class ServiceDeploymentView:
    """``DescribeServiceDeployments``: one service deployment, with the lifecycle stage and hooks of an
    ECS-native blue/green, linear or canary deployment."""

    arn: str
    status: str
    status_reason: str | None = None
    lifecycle_stage: str | None = None
    hooks: tuple[LifecycleHook, ...] = ()
    rollback: dict[str, Any] | None = None
    target_revision: str | None = None
    source_revisions: tuple[str, ...] = ()
    production_weight: float | None = None
    """``targetServiceRevision.requestedProductionTrafficWeight`` (percent on the new revision)."""
    test_weight: float | None = None
    strategy: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> ServiceDeploymentView:
        target = d.get("targetServiceRevision") or {}
        return cls(
            arn=d.get("serviceDeploymentArn", ""),
            status=d.get("status", ""),
            status_reason=d.get("statusReason"),
            lifecycle_stage=d.get("lifecycleStage"),
            hooks=tuple(LifecycleHook.from_api(h) for h in d.get("lifecycleHookDetails") or []),
            rollback=d.get("rollback"),
            target_revision=target.get("arn") or d.get("targetServiceRevisionArn"),
            source_revisions=tuple(r.get("arn", "") for r in d.get("sourceServiceRevisions") or []),
            production_weight=target.get("requestedProductionTrafficWeight"),
            test_weight=target.get("requestedTestTrafficWeight"),
            strategy=(d.get("deploymentConfiguration") or {}).get("strategy"),
            created_at=d.get("createdAt"),
            finished_at=d.get("finishedAt"),
        )

    @property
    def awaiting(self) -> LifecycleHook | None:
        """The PAUSE hook waiting for ``ContinueServiceDeployment``, if any."""
        return next((h for h in self.hooks if h.status == "AWAITING_ACTION"), None)

    @property
    def ongoing(self) -> bool:
        return self.status in ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS",
                               "STOP_REQUESTED")

    @property
    def rolling_back(self) -> bool:
        return self.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")


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

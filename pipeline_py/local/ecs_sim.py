"""The ECS rollout simulator: services, deployments, tasks and their targets, on injected time.

This is the state and the rules; moto is not imported here. ``moto_ext`` feeds it API calls
(``create_service``, ``update_service``, ``run_task`` …) and calls :meth:`EcsSim.advance` from the
simulation loop with ``time.monotonic()``; unit tests call the same methods with a fake ``now``.
What the outside world holds (target groups, ECR images, ENIs) is asked of a :class:`World`; what a
task's containers do is asked of a :class:`~pipeline_py.local.task_sim.TaskRuntime`.

Modelled after the rolling-update (``ECS``) deployment controller:

- a new task definition, ``forceNewDeployment`` or a changed network/load-balancer configuration
  makes a new PRIMARY deployment; the old PRIMARY turns ACTIVE and is INACTIVE (and leaves the
  ``deployments`` list) once its last task stopped; a desired-count change only rescales PRIMARY;
- the scheduler starts PRIMARY tasks while tasks with desired status RUNNING stay within
  ``maximumPercent`` and stops other deployments' tasks while the healthy ones stay at or above
  ``minimumHealthyPercent`` (not-yet-healthy old tasks go first);
- a task is healthy when RUNNING, its essential container's health check (if any) is HEALTHY and
  all its targets are ``healthy``; unhealthy targets / containers get the task replaced once the
  service's ``healthCheckGracePeriodSeconds`` has passed;
- tasks leaving a load balancer are deregistered and drained before they stop;
- the circuit breaker counts consecutive failed tasks of a deployment in progress (reset when a
  task of it becomes healthy) and trips at ``min(max(ceil(0.5 × desiredCount), 3), 200)``;
  with rollback, a new PRIMARY deployment with the last COMPLETED deployment's task definition
  takes over that deployment's tasks (ECS's "rolling back to deployment …") and the failed one
  turns ACTIVE/FAILED and is drained; without rollback the FAILED deployment stays PRIMARY and,
  as AWS documents, launches no new tasks (``retry_failed_deployments`` in the timing model makes
  it retry with ECS's back-off instead);
- tasks that fail to reach RUNNING make ECS throttle launches (doubling delays up to 27 minutes,
  scaled) and write "is unable to consistently start tasks successfully".
"""

from __future__ import annotations

import math
import random
import string
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from pipeline_py.local import ecs_native
from pipeline_py.local import scenario as scenarios
from pipeline_py.local.elb_sim import (
    DRAINING,
    HEALTHY,
    HEALTHY_PROBE,
    UNAVAILABLE,
    UNHEALTHY,
    ElbSim,
    Probe,
    Target,
    TargetGroupConfig,
)
from pipeline_py.local.scenario import Scenario
from pipeline_py.local.task_sim import EXITED, PULL_FAILED, RUNNING, SimulatedRuntime, TaskRuntime
from pipeline_py.local.timing import TimingModel

PROVISIONING = "PROVISIONING"
PENDING = "PENDING"
ACTIVATING = "ACTIVATING"
DEACTIVATING = "DEACTIVATING"
STOPPING = "STOPPING"
DEPROVISIONING = "DEPROVISIONING"
STOPPED = "STOPPED"
STARTING_STATES = (PROVISIONING, PENDING, ACTIVATING)

PRIMARY, ACTIVE, INACTIVE, DRAINING_SERVICE = "PRIMARY", "ACTIVE", "INACTIVE", "DRAINING"
IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"

# service-deployment statuses (ListServiceDeployments / DescribeServiceDeployments)
SD_IN_PROGRESS, SD_SUCCESSFUL, SD_STOPPED = "IN_PROGRESS", "SUCCESSFUL", "STOPPED"
SD_ROLLBACK_IN_PROGRESS, SD_ROLLBACK_SUCCESSFUL, SD_ROLLBACK_FAILED = (
    "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
SD_ONGOING = (SD_IN_PROGRESS, SD_ROLLBACK_IN_PROGRESS)

CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."
ESSENTIAL_EXITED = "Essential container in task exited"
USER_STOPPED = "Task stopped by user"
EVENTS_KEPT = 100  # "we only show the 100 most recent events" (ECS developer guide)
EVENT_SPACING = 0.001  # the API's timestamps have millisecond precision
FARGATE_PLATFORM_VERSION = "1.4.0"


def circuit_breaker_threshold(desired_count: int) -> int:
    """ECS: minimum 3, maximum 200, otherwise half the desired count (rounded up)."""
    return min(max(math.ceil(0.5 * desired_count), 3), 200)


# --------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class ContainerDef:
    name: str
    image: str
    essential: bool = True
    environment: tuple[tuple[str, str], ...] = ()
    container_ports: tuple[int, ...] = ()
    health_check: dict[str, Any] | None = None
    cpu: int | None = None
    memory: int | None = None
    memory_reservation: int | None = None
    # the whole container definition as registered (what a real container runtime needs)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ContainerDef:
        env = tuple((str(e.get("name")), str(e.get("value", ""))) for e in data.get("environment") or [])
        ports = tuple(int(p["containerPort"]) for p in data.get("portMappings") or [] if "containerPort" in p)
        return cls(name=str(data.get("name")), image=str(data.get("image", "")), essential=data.get("essential", True),
                   environment=env, container_ports=ports, health_check=data.get("healthCheck"),
                   cpu=data.get("cpu"), memory=data.get("memory"), memory_reservation=data.get("memoryReservation"),
                   raw=dict(data))


@dataclass(frozen=True)
class TaskDefinition:
    arn: str
    family: str
    revision: int
    containers: tuple[ContainerDef, ...]
    network_mode: str = "awsvpc"
    compatibilities: tuple[str, ...] = ("EC2", "FARGATE")
    cpu: str | None = None
    memory: str | None = None

    @property
    def essential(self) -> ContainerDef:
        return next((c for c in self.containers if c.essential), self.containers[0])

    def container(self, name: str) -> ContainerDef | None:
        return next((c for c in self.containers if c.name == name), None)


@dataclass(frozen=True)
class LoadBalancerRef:
    target_group_arn: str
    container_name: str
    container_port: int
    advanced: tuple[tuple[str, str], ...] = ()
    """``advancedConfiguration`` (ECS-native blue/green; see :mod:`~pipeline_py.local.ecs_native`)."""

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> LoadBalancerRef:
        adv = data.get("advancedConfiguration") or {}
        return cls(str(data.get("targetGroupArn", "")), str(data.get("containerName", "")),
                   int(data.get("containerPort") or 0), tuple(sorted((str(k), str(v)) for k, v in adv.items())))

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"targetGroupArn": self.target_group_arn, "containerName": self.container_name,
                               "containerPort": self.container_port}
        if self.advanced:
            out["advancedConfiguration"] = dict(self.advanced)
        return out


@dataclass(frozen=True)
class DeploymentConfig:
    """``deploymentConfiguration``: what the simulator acts on, plus the rest (alarms, strategy,
    bake time …) kept verbatim so ``DescribeServices`` echoes what was set."""

    maximum_percent: int = 200
    minimum_healthy_percent: int = 100
    circuit_breaker: bool = False
    rollback: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    _MODELLED = ("maximumPercent", "minimumHealthyPercent", "deploymentCircuitBreaker")

    def merged(self, data: dict[str, Any] | None) -> DeploymentConfig:
        if not data:
            return self
        cb = data.get("deploymentCircuitBreaker") or {}
        return DeploymentConfig(
            maximum_percent=int(data.get("maximumPercent", self.maximum_percent)),
            minimum_healthy_percent=int(data.get("minimumHealthyPercent", self.minimum_healthy_percent)),
            circuit_breaker=bool(cb.get("enable", self.circuit_breaker)),
            rollback=bool(cb.get("rollback", self.rollback)),
            extra={**self.extra, **{k: v for k, v in data.items() if k not in self._MODELLED}},
        )

    def to_api(self) -> dict[str, Any]:
        return {"strategy": "ROLLING", **self.extra,
                "deploymentCircuitBreaker": {"enable": self.circuit_breaker, "rollback": self.rollback},
                "maximumPercent": self.maximum_percent, "minimumHealthyPercent": self.minimum_healthy_percent}


@dataclass(frozen=True)
class ServiceSpec:
    """A ``CreateService`` after validation, as the simulator needs it."""

    arn: str
    name: str
    cluster_arn: str
    task_definition: TaskDefinition
    desired_count: int = 1
    launch_type: str | None = "FARGATE"
    capacity_provider_strategy: tuple[dict[str, Any], ...] = ()
    platform_version: str | None = None
    network_configuration: dict[str, Any] | None = None
    load_balancers: tuple[LoadBalancerRef, ...] = ()
    deployment_config: DeploymentConfig = field(default_factory=DeploymentConfig)
    health_check_grace_period: int = 0
    placement_error: str | None = None


@dataclass(frozen=True)
class Eni:
    id: str
    private_ip: str
    subnet_id: str
    mac: str = ""
    private_dns: str = ""
    availability_zone: str = ""


# --------------------------------------------------------------------------------------------
# the world outside ECS


class World(Protocol):
    def target_group(self, arn: str) -> TargetGroupConfig | None: ...

    def resolve_image(self, image: str, account: str, region: str) -> tuple[str | None, str | None]:
        """(CannotPullContainerError message or None, image digest if known)."""

    def attach_eni(self, task: Task) -> Eni | None: ...

    def release_eni(self, task: Task) -> None: ...

    def targets_changed(self, added: list[Target], removed: list[Target]) -> None: ...


class StaticWorld:
    """A world of given target groups where every image pulls (unit tests, standalone use)."""

    def __init__(self, target_groups: Iterable[TargetGroupConfig] = (), image_errors: dict[str, str] | None = None):
        self.target_groups = {tg.arn: tg for tg in target_groups}
        self.image_errors = dict(image_errors or {})
        self.registered: dict[tuple[str, str, int], Target] = {}
        self._ip = 10

    def target_group(self, arn: str) -> TargetGroupConfig | None:
        return self.target_groups.get(arn)

    def resolve_image(self, image: str, account: str, region: str) -> tuple[str | None, str | None]:
        return self.image_errors.get(image), None

    def attach_eni(self, task: Task) -> Eni | None:
        self._ip += 1
        subnets = ((task.network or {}).get("awsvpcConfiguration") or {}).get("subnets") or ["subnet-local"]
        return Eni(f"eni-{self._ip:017x}", f"10.0.{self._ip // 250}.{self._ip % 250 + 4}", subnets[0],
                   availability_zone="us-east-1a")

    def release_eni(self, task: Task) -> None:
        pass

    def targets_changed(self, added: list[Target], removed: list[Target]) -> None:
        for t in added:
            self.registered[t.key] = t
        for t in removed:
            self.registered.pop(t.key, None)


# --------------------------------------------------------------------------------------------
# state


@dataclass
class ContainerState:
    name: str
    image: str
    arn: str
    runtime_id: str
    essential: bool = True
    last_status: str = PENDING
    exit_code: int | None = None
    reason: str | None = None
    health_status: str = "UNKNOWN"
    image_digest: str | None = None


@dataclass
class Task:
    arn: str
    id: str
    cluster_arn: str
    task_definition: TaskDefinition
    scenario: Scenario
    created_at: float
    account: str = ""
    region: str = ""
    launch_type: str | None = "FARGATE"
    capacity_provider: str | None = None
    platform_version: str | None = FARGATE_PLATFORM_VERSION
    group: str = ""
    started_by: str = ""
    service_arn: str | None = None
    deployment_id: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    network: dict[str, Any] | None = None
    eni: Eni | None = None
    attachment_id: str = ""
    containers: list[ContainerState] = field(default_factory=list)
    last_status: str = PROVISIONING
    desired_status: str = "RUNNING"
    health_status: str = "UNKNOWN"
    phase_until: float = 0.0
    pull_started_at: float | None = None
    pull_stopped_at: float | None = None
    started_at: float | None = None
    stopping_at: float | None = None
    execution_stopped_at: float | None = None
    stopped_at: float | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    image_error: str | None = None
    image_digest: str | None = None
    launched: bool = False
    healthy_at: float | None = None
    scheduler_stop: bool = False
    container_health: dict[str, Any] = field(default_factory=dict)
    runtime_state: dict[str, Any] = field(default_factory=dict)
    version: int = 1

    @property
    def one_off(self) -> bool:
        return self.service_arn is None

    @property
    def live(self) -> bool:
        return self.desired_status == "RUNNING"


@dataclass
class Deployment:
    id: str
    task_definition: TaskDefinition
    desired_count: int
    created_at: float
    updated_at: float
    revision_arn: str
    service_deployment_arn: str
    status: str = PRIMARY
    rollout_state: str = IN_PROGRESS
    rollout_state_reason: str = ""
    failed_tasks: int = 0
    launch_type: str | None = "FARGATE"
    capacity_provider_strategy: tuple[dict[str, Any], ...] = ()
    platform_version: str | None = None
    network_configuration: dict[str, Any] | None = None
    is_rollback: bool = False
    target_groups: tuple[LoadBalancerRef, ...] | None = None
    """Where its tasks register when not the service's ``loadBalancers`` (services with advancedConfiguration)."""


@dataclass
class Revision:
    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: TaskDefinition
    launch_type: str | None
    capacity_provider_strategy: tuple[dict[str, Any], ...]
    platform_version: str | None
    load_balancers: tuple[LoadBalancerRef, ...]
    network_configuration: dict[str, Any] | None
    created_at: float


@dataclass
class ServiceDeploymentRecord:
    arn: str
    service_arn: str
    cluster_arn: str
    deployment_id: str
    target_revision_arn: str
    source_deployment_ids: tuple[str, ...]
    source_revision_arns: tuple[str, ...]
    created_at: float
    deployment_config: DeploymentConfig
    status: str = SD_IN_PROGRESS
    status_reason: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    stopped_at: float | None = None
    updated_at: float | None = None
    rollback: dict[str, Any] | None = None
    breaker_status: str = "MONITORING"
    rollback_deployment_id: str | None = None
    lifecycle: Any = None
    """The ECS-native rollout (:class:`~pipeline_py.local.ecs_native.Rollout`) of this service deployment."""


@dataclass
class Event:
    id: str
    created_at: float
    message: str


@dataclass
class Service:
    arn: str
    name: str
    cluster_arn: str
    account: str
    region: str
    desired_count: int
    launch_type: str | None
    capacity_provider_strategy: tuple[dict[str, Any], ...]
    platform_version: str | None
    network_configuration: dict[str, Any] | None
    load_balancers: tuple[LoadBalancerRef, ...]
    deployment_config: DeploymentConfig
    health_check_grace_period: int
    created_at: float
    placement_error: str | None = None
    status: str = "ACTIVE"
    deployments: list[Deployment] = field(default_factory=list)
    history: dict[str, Deployment] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    revisions: dict[str, Revision] = field(default_factory=dict)
    service_deployments: dict[str, ServiceDeploymentRecord] = field(default_factory=dict)
    last_completed: str | None = None
    steady: bool = False
    start_failures: int = 0
    throttle_level: int = 0
    next_launch_at: float = 0.0
    throttle_announced: bool = False
    placement_announced: bool = False
    pending_notes: dict[str, Any] = field(default_factory=dict)
    native: Any = None
    """The latest ECS-native rollout (:class:`~pipeline_py.local.ecs_native.Rollout`), if any."""

    @property
    def primary(self) -> Deployment:
        return self.deployments[0]

    def tasks_of(self, deployment_id: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.deployment_id == deployment_id]

    def live_tasks(self) -> list[Task]:
        return [t for t in self.tasks.values() if t.live]

    def current_service_deployment(self) -> ServiceDeploymentRecord | None:
        if not self.deployments:
            return None
        return self.service_deployments.get(self.primary.service_deployment_arn)


# --------------------------------------------------------------------------------------------
# the simulator


class EcsSim:
    """All simulated ECS services and standalone tasks of the process, plus their targets."""

    def __init__(self, timing: TimingModel | None = None, world: World | None = None,
                 runtime: TaskRuntime | None = None, *, epoch: tuple[float, datetime] | None = None,
                 seed: int | None = None) -> None:
        self.timing = timing or TimingModel()
        self.world: World = world or StaticWorld()
        self.runtime: TaskRuntime = runtime or SimulatedRuntime(self.timing)
        self.elb = ElbSim(self.timing)
        self.epoch = epoch or (0.0, datetime(2026, 1, 1, tzinfo=timezone.utc))
        self.rng = random.Random(seed)
        self.services: dict[str, Service] = {}
        self.standalone: dict[str, Task] = {}
        self._index: dict[str, Task] = {}
        self.native_world: ecs_native.NativeWorld = ecs_native.InMemoryNativeWorld()

    # ---- configuration / lifecycle

    def set_timing(self, timing: TimingModel) -> None:
        self.timing = timing
        self.elb.timing = timing
        if isinstance(self.runtime, SimulatedRuntime):
            self.runtime.timing = timing

    def reset(self) -> None:
        self.services.clear()
        self.standalone.clear()
        self._index.clear()
        self.elb.targets.clear()

    def wall(self, at: float | None) -> datetime | None:
        if at is None:
            return None
        mono, wall = self.epoch
        return wall + timedelta(seconds=at - mono)

    def tick(self, now: float) -> None:
        self.advance(now)

    # ---- ids

    def _hex(self, n: int = 32) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _digits(self, n: int = 19) -> str:
        return str(self.rng.randrange(10 ** (n - 1), 10 ** n))

    def _sd_id(self) -> str:
        alphabet = string.ascii_letters + string.digits + "-_"
        return "".join(self.rng.choice(alphabet) for _ in range(20))

    # ---- services

    def create_service(self, spec: ServiceSpec, now: float) -> Service:
        old = self.services.pop(spec.arn, None)
        if old is not None:
            self._discard(old)
        account, region = _account_region(spec.arn)
        svc = Service(arn=spec.arn, name=spec.name, cluster_arn=spec.cluster_arn, account=account, region=region,
                      desired_count=spec.desired_count, launch_type=spec.launch_type,
                      capacity_provider_strategy=spec.capacity_provider_strategy,
                      platform_version=spec.platform_version, network_configuration=spec.network_configuration,
                      load_balancers=spec.load_balancers, deployment_config=spec.deployment_config,
                      health_check_grace_period=spec.health_check_grace_period, created_at=now,
                      placement_error=spec.placement_error)
        self.services[svc.arn] = svc
        self._new_deployment(svc, spec.task_definition, now)
        return svc

    def update_service(self, arn: str, now: float, *, task_definition: TaskDefinition | None = None,
                       desired_count: int | None = None, force_new_deployment: bool = False,
                       deployment_configuration: dict[str, Any] | None = None,
                       network_configuration: dict[str, Any] | None = None,
                       load_balancers: Iterable[LoadBalancerRef] | None = None,
                       health_check_grace_period: int | None = None, platform_version: str | None = None,
                       launch_type: str | None = None,
                       capacity_provider_strategy: Iterable[dict[str, Any]] | None = None) -> Service:
        svc = self.services[arn]
        svc.deployment_config = svc.deployment_config.merged(deployment_configuration)
        if health_check_grace_period is not None:
            svc.health_check_grace_period = int(health_check_grace_period)
        rescaled = desired_count is not None and int(desired_count) != svc.desired_count
        if desired_count is not None:
            svc.desired_count = int(desired_count)
            if svc.deployments:
                svc.primary.desired_count = svc.desired_count
                svc.primary.updated_at = now
        primary = svc.primary
        new_deployment = bool(force_new_deployment)
        if task_definition is not None and task_definition.arn != primary.task_definition.arn:
            new_deployment = True
        if network_configuration is not None and network_configuration != svc.network_configuration:
            svc.network_configuration = network_configuration
            new_deployment = True
        if load_balancers is not None and tuple(load_balancers) != svc.load_balancers:
            svc.load_balancers = tuple(load_balancers)
            new_deployment = True
        if platform_version is not None and platform_version != svc.platform_version:
            svc.platform_version = platform_version
            new_deployment = True
        if launch_type is not None and launch_type != svc.launch_type:
            svc.launch_type = launch_type
            new_deployment = True
        if capacity_provider_strategy is not None:
            cps = tuple(capacity_provider_strategy)
            if cps != svc.capacity_provider_strategy:
                svc.capacity_provider_strategy = cps
                new_deployment = True
        if new_deployment:
            ecs_native.supersede(self, svc, now)
            dep = self._new_deployment(svc, task_definition or primary.task_definition, now)
            if ecs_native.is_native(svc):
                ecs_native.start(self, svc, dep, now)
        svc.steady = svc.steady and not new_deployment and not rescaled
        return svc

    def delete_service(self, arn: str, now: float) -> Service | None:
        svc = self.services.get(arn)
        if svc is None:
            return None
        svc.status = DRAINING_SERVICE
        svc.desired_count = 0
        for dep in svc.deployments:
            dep.desired_count = 0
            dep.updated_at = now
        return svc

    def _discard(self, svc: Service) -> None:
        """A service replaced under the same ARN: its leftovers vanish at once."""
        for task in svc.tasks.values():
            for target in self.elb.owned_by(task.arn):
                self.elb.targets.pop(target.key, None)
                self.world.targets_changed([], [target])
            if task.eni is not None and task.last_status != STOPPED:
                self.world.release_eni(task)

    def _new_deployment(self, svc: Service, task_definition: TaskDefinition, now: float, *,
                        rollback_of: Deployment | None = None, rollback_to: Deployment | None = None,
                        reason: str | None = None) -> Deployment:
        dep_id = f"ecs-svc/{self._digits()}"
        if rollback_to is not None:
            revision_arn = rollback_to.revision_arn
        else:
            revision_arn = self._service_arn_for(svc, "service-revision", self._digits())
            svc.revisions[revision_arn] = Revision(
                arn=revision_arn, service_arn=svc.arn, cluster_arn=svc.cluster_arn, task_definition=task_definition,
                launch_type=svc.launch_type, capacity_provider_strategy=svc.capacity_provider_strategy,
                platform_version=svc.platform_version, load_balancers=svc.load_balancers,
                network_configuration=svc.network_configuration, created_at=now)
        if rollback_of is not None:
            sd_arn = rollback_of.service_deployment_arn
        else:
            sd_arn = self._service_arn_for(svc, "service-deployment", self._sd_id())
        dep = Deployment(id=dep_id, task_definition=task_definition, desired_count=svc.desired_count,
                         created_at=now, updated_at=now, revision_arn=revision_arn, service_deployment_arn=sd_arn,
                         rollout_state_reason=reason or f"ECS deployment {dep_id} in progress.",
                         launch_type=svc.launch_type, capacity_provider_strategy=svc.capacity_provider_strategy,
                         platform_version=svc.platform_version, network_configuration=svc.network_configuration,
                         is_rollback=rollback_of is not None)
        if rollback_of is None:
            for old in svc.deployments:
                record = svc.service_deployments.get(old.service_deployment_arn)
                if record is not None and record.status in SD_ONGOING:
                    record.status = SD_STOPPED
                    record.status_reason = "Service deployment stopped: a new service deployment started."
                    record.stopped_at = record.updated_at = now
                    record.breaker_status = "MONITORING_COMPLETE" if record.breaker_status == "MONITORING" \
                        else record.breaker_status
            sources = [d for d in svc.deployments if svc.tasks_of(d.id)]
            svc.service_deployments[sd_arn] = ServiceDeploymentRecord(
                arn=sd_arn, service_arn=svc.arn, cluster_arn=svc.cluster_arn, deployment_id=dep.id,
                target_revision_arn=revision_arn, source_deployment_ids=tuple(d.id for d in sources),
                source_revision_arns=tuple(d.revision_arn for d in sources), created_at=now, started_at=now,
                updated_at=now, deployment_config=svc.deployment_config,
                breaker_status="MONITORING" if svc.deployment_config.circuit_breaker else "DISABLED")
        for old in svc.deployments:
            old.status = ACTIVE
            old.updated_at = now
        svc.deployments.insert(0, dep)
        svc.history[dep.id] = dep
        dep.target_groups = rollback_to.target_groups if rollback_to is not None else \
            ecs_native.production_lbs(self, svc)
        svc.steady = False
        svc.start_failures = svc.throttle_level = 0
        svc.next_launch_at = 0.0
        svc.throttle_announced = False
        return dep

    def _service_arn_for(self, svc: Service, kind: str, ident: str) -> str:
        cluster = svc.cluster_arn.rsplit("/", 1)[-1]
        return f"arn:aws:ecs:{svc.region}:{svc.account}:{kind}/{cluster}/{svc.name}/{ident}"

    # ---- standalone tasks

    def run_task(self, cluster_arn: str, task_definition: TaskDefinition, now: float, *, count: int = 1,
                 overrides: dict[str, Any] | None = None, network: dict[str, Any] | None = None,
                 launch_type: str | None = "FARGATE", capacity_provider: str | None = None,
                 started_by: str = "", group: str | None = None, tags: list[dict[str, str]] | None = None,
                 platform_version: str | None = None) -> list[Task]:
        tasks = []
        for _ in range(max(1, count)):
            task = self._new_task(cluster_arn, task_definition, now, overrides=overrides or {}, network=network,
                                  launch_type=launch_type, capacity_provider=capacity_provider,
                                  started_by=started_by or "", group=group or f"family:{task_definition.family}",
                                  tags=tags or [], platform_version=platform_version)
            self.standalone[task.arn] = task
            tasks.append(task)
        return tasks

    def stop_task(self, task: Task, now: float, reason: str | None = None) -> Task:
        if task.live:
            self._request_stop(task, now, "UserInitiated", reason or USER_STOPPED)
        return task

    def find_task(self, ref: str, cluster_arn: str | None = None) -> Task | None:
        task = self._index.get(ref)
        if task is not None and (cluster_arn is None or task.cluster_arn == cluster_arn):
            return task
        task_id = ref.rsplit("/", 1)[-1]
        for task in self.all_tasks():
            if (task.arn == ref or task.id == task_id) and (cluster_arn is None or task.cluster_arn == cluster_arn):
                return task
        return None

    def all_tasks(self) -> Iterable[Task]:
        yield from self.standalone.values()
        for svc in self.services.values():
            yield from svc.tasks.values()

    def list_tasks(self, cluster_arn: str, *, service_name: str | None = None, family: str | None = None,
                   desired_status: str | None = "RUNNING", started_by: str | None = None,
                   launch_type: str | None = None) -> list[Task]:
        out = []
        for task in self.all_tasks():
            if task.cluster_arn != cluster_arn:
                continue
            if service_name is not None and task.group != f"service:{service_name.rsplit('/', 1)[-1]}":
                continue
            if family is not None and task.task_definition.family != family:
                continue
            if desired_status is not None and task.desired_status != desired_status:
                continue
            if started_by is not None and task.started_by != started_by:
                continue
            if launch_type is not None and task.launch_type != launch_type:
                continue
            out.append(task)
        return sorted(out, key=lambda t: (t.created_at, t.arn))

    def _new_task(self, cluster_arn: str, td: TaskDefinition, now: float, *, overrides: dict[str, Any],
                  network: dict[str, Any] | None, launch_type: str | None, capacity_provider: str | None,
                  started_by: str, group: str, tags: list[dict[str, str]], platform_version: str | None,
                  service: Service | None = None, deployment: Deployment | None = None) -> Task:
        task_id = self._hex()
        account, region = _account_region(cluster_arn)
        cluster_name = cluster_arn.rsplit("/", 1)[-1]
        arn = f"arn:aws:ecs:{region}:{account}:task/{cluster_name}/{task_id}"
        fargate = launch_type == "FARGATE" or capacity_provider is not None
        task = Task(arn=arn, id=task_id, cluster_arn=cluster_arn, task_definition=td,
                    scenario=_scenario_for(td, overrides), created_at=now, account=account, region=region,
                    launch_type=launch_type, capacity_provider=capacity_provider,
                    platform_version=(platform_version if platform_version not in (None, "LATEST")
                                      else FARGATE_PLATFORM_VERSION) if fargate else None,
                    group=group, started_by=started_by, overrides=overrides, tags=list(tags), network=network,
                    service_arn=service.arn if service else None,
                    deployment_id=deployment.id if deployment else None,
                    attachment_id=self._uuid(), phase_until=now + self.timing.provisioning)
        for c in td.containers:
            task.containers.append(ContainerState(name=c.name, image=c.image, essential=c.essential,
                                                  arn=f"arn:aws:ecs:{region}:{account}:container/{cluster_name}/"
                                                      f"{task_id}/{self._uuid()}",
                                                  runtime_id=f"{task_id}-{self.rng.randrange(10 ** 9, 10 ** 10)}"))
        if task.scenario.pull_error:
            task.image_error = _pull_error_message(td.essential.image)
        else:
            for c in td.containers:
                error, digest = self.world.resolve_image(c.image, account, region)
                if c is td.essential:
                    task.image_digest = digest
                if error and task.image_error is None:
                    task.image_error = error
        for state in task.containers:
            state.image_digest = task.image_digest if state.name == td.essential.name else None
        if td.network_mode == "awsvpc":
            task.eni = self.world.attach_eni(task)
        self._index[task.arn] = task
        return task

    # ---- the loop

    def advance(self, now: float) -> None:
        """Move every task, target and deployment to where it is at ``now``."""
        cache: dict[str, TargetGroupConfig | None] = {}

        def config_of(arn: str) -> TargetGroupConfig | None:
            if arn not in cache:
                cache[arn] = self.world.target_group(arn)
            return cache[arn]

        for _ in range(6):
            moved = False
            for task in list(self.all_tasks()):
                moved |= self._progress(task, now, config_of)
            gone = self.elb.advance(now, config_of, self._probe)
            if gone:
                self.world.targets_changed([], gone)
                moved = True
            for svc in list(self.services.values()):
                moved |= self._schedule(svc, now, config_of)
                self._flush(svc, now)
            if not moved:
                break
        self._prune()

    def _probe(self, target: Target, at: float) -> Probe:
        if target.owner is None:
            return HEALTHY_PROBE
        task = self._index.get(target.owner)
        if task is None or not task.launched:
            return Probe(False, None)
        return self.runtime.probe(task, at)

    def _progress(self, task: Task, now: float, config_of: Callable[[str], TargetGroupConfig | None]) -> bool:
        moved = False
        for _ in range(10):
            step = self._step(task, now, config_of)
            if not step:
                break
            moved = True
            task.version += 1
        return moved

    def _step(self, task: Task, now: float, config_of: Callable[[str], TargetGroupConfig | None]) -> bool:
        status = task.last_status
        if status == PROVISIONING:
            if not task.live:
                return self._to_deprovisioning(task, task.stopping_at or now)
            if now < task.phase_until:
                return False
            at = task.phase_until
            self.runtime.launch(task, at)
            task.launched = True
            task.last_status = PENDING
            task.pull_started_at = at
            return True
        if status in (PENDING, ACTIVATING, "RUNNING"):
            obs = self.runtime.observe(task, now)
            if obs.phase == PULL_FAILED:
                task.pull_stopped_at = obs.since
                for c in task.containers:
                    c.reason = obs.reason if c.name == task.task_definition.essential.name else None
                if self._stopped_by_itself(task, obs.since, "TaskFailedToStart",
                                           obs.reason or "CannotPullContainerError"):
                    self._task_failed(task, obs.since, start_failure=True)
                return True
            if obs.phase == EXITED:
                reached_running = task.started_at is not None
                task.pull_stopped_at = task.pull_stopped_at or obs.since
                if self._stopped_by_itself(task, obs.since, "EssentialContainerExited", ESSENTIAL_EXITED):
                    self._task_failed(task, obs.since, start_failure=not reached_running)
                return True
            if not task.live:
                return self._begin_teardown(task, now)
            if status == PENDING:
                if obs.phase != RUNNING:
                    return False
                task.pull_stopped_at = obs.since
                for c in task.containers:
                    c.last_status = "RUNNING"
                task.last_status = ACTIVATING
                task.phase_until = obs.since + self.timing.activating
                self._register_targets(task, obs.since, config_of)
                return True
            if status == ACTIVATING:
                if now < task.phase_until:
                    return False
                task.last_status = "RUNNING"
                task.started_at = task.phase_until
                svc = self.services.get(task.service_arn or "")
                if svc is not None:
                    svc.start_failures = svc.throttle_level = 0
                    svc.next_launch_at = 0.0
                    svc.throttle_announced = False
                return True
            return self._container_health(task, now)
        if status == DEACTIVATING:
            if self.elb.owned_by(task.arn):
                return False
            self._note_stopped(task)
            self.runtime.terminate(task, now)
            task.last_status = STOPPING
            task.phase_until = now
            return True
        if status == STOPPING:
            if not task.launched:
                return self._to_deprovisioning(task, now)
            obs = self.runtime.observe(task, now)
            if obs.phase not in (EXITED, PULL_FAILED):
                return False
            # a container that exited on its own while its targets drained stops no earlier than the drain
            return self._to_deprovisioning(task, max(obs.since, task.phase_until), obs.exit_code)
        if status == DEPROVISIONING:
            if now < task.phase_until:
                return False
            task.last_status = STOPPED
            task.stopped_at = task.phase_until
            return True
        return False

    def _to_deprovisioning(self, task: Task, at: float, exit_code: int | None = None) -> bool:
        task.execution_stopped_at = task.execution_stopped_at or at
        for c in task.containers:
            if c.last_status == "RUNNING" and c.exit_code is None:
                c.exit_code = exit_code
            c.last_status = STOPPED
        task.last_status = DEPROVISIONING
        task.phase_until = at + self.timing.deprovisioning
        if task.eni is not None:
            self.world.release_eni(task)
        for target in self.elb.owned_by(task.arn):
            if target.state != DRAINING:
                self._deregister(task, target, at)
        return True

    def _stopped_by_itself(self, task: Task, at: float, code: str, reason: str) -> bool:
        """The essential container exited or never started: ECS records why and tears down.
        Returns False when the task was already being stopped on request (not a failure)."""
        unrequested = task.live
        task.desired_status = "STOPPED"
        task.stopping_at = task.stopping_at or at
        task.stop_code = task.stop_code or code
        task.stopped_reason = task.stopped_reason or reason
        obs = self.runtime.observe(task, at)
        for c in task.containers:
            if c.name == task.task_definition.essential.name and obs.phase == EXITED:
                c.exit_code = obs.exit_code
                c.reason = obs.reason or c.reason
            elif c.last_status == "RUNNING":
                c.exit_code = 137 if c.exit_code is None else c.exit_code
        for target in self.elb.owned_by(task.arn):
            if target.state != DRAINING:
                self._deregister(task, target, at)
        self._to_deprovisioning(task, at, obs.exit_code if obs.phase == EXITED else None)
        return unrequested

    def _request_stop(self, task: Task, at: float, code: str, reason: str, scheduler: bool = False) -> None:
        if not task.live:
            return
        task.desired_status = "STOPPED"
        task.stopping_at = at
        task.stop_code = code
        task.stopped_reason = reason
        task.scheduler_stop = scheduler
        task.version += 1

    def _begin_teardown(self, task: Task, now: float) -> bool:
        targets = [t for t in self.elb.owned_by(task.arn) if t.state != DRAINING]
        if targets and task.last_status in ("RUNNING", ACTIVATING):
            svc = self.services.get(task.service_arn or "")
            if svc is not None:
                svc.pending_notes.setdefault("draining", []).append(task.id)
            for target in targets:
                self._deregister(task, target, now)
            task.last_status = DEACTIVATING
            return True
        if task.last_status in ("RUNNING", ACTIVATING):
            self._note_stopped(task)
        self.runtime.terminate(task, now)
        task.last_status = STOPPING
        task.phase_until = now
        return True

    def _note_stopped(self, task: Task) -> None:
        svc = self.services.get(task.service_arn or "")
        if svc is not None and task.scheduler_stop and task.started_at is not None:
            svc.pending_notes.setdefault("stopped", []).append(task.id)

    def _deregister(self, task: Task, target: Target, at: float) -> None:
        tg = self.world.target_group(target.target_group_arn)
        self.elb.deregister(target.target_group_arn, target.id, target.port, at,
                            tg.deregistration_delay if tg else 0.0)
        svc = self.services.get(task.service_arn or "")
        if svc is not None:
            notes = svc.pending_notes.setdefault("deregistered", {})
            notes[target.target_group_arn] = notes.get(target.target_group_arn, 0) + 1

    def _register_targets(self, task: Task, at: float, config_of: Callable[[str], TargetGroupConfig | None]) -> None:
        svc = self.services.get(task.service_arn or "")
        if svc is None or task.eni is None:
            return
        added = []
        for lb in ecs_native.lbs_of(svc, svc.history.get(task.deployment_id or "")):
            tg = config_of(lb.target_group_arn)
            if tg is None:
                continue
            added.append(self.elb.register(tg, task.eni.private_ip, lb.container_port, at, owner=task.arn,
                                           availability_zone=task.eni.availability_zone or None))
            notes = svc.pending_notes.setdefault("registered", {})
            notes[lb.target_group_arn] = notes.get(lb.target_group_arn, 0) + 1
        if added:
            self.world.targets_changed(added, [])

    def _container_health(self, task: Task, now: float) -> bool:
        """Docker-style health check of the essential container, if the task definition has one."""
        hc = task.task_definition.essential.health_check
        if not hc or not task.live or task.started_at is None:
            return False
        reported = getattr(self.runtime, "container_health", None)
        if reported is not None:  # a runtime whose containers run their own health checks says what they found
            return self._reported_health(task, reported(task, now))
        state = task.container_health
        interval = self.timing.aws(float(hc.get("interval", 30)))
        if "next" not in state:
            state.update(next=task.started_at + interval,
                         start_period_end=task.started_at + self.timing.aws(float(hc.get("startPeriod", 0))),
                         failures=0)
        moved = False
        while state["next"] <= now:
            at = state["next"]
            ok = self.runtime.probe(task, at).ok
            essential = next(c for c in task.containers if c.name == task.task_definition.essential.name)
            if ok:
                state["failures"] = 0
                status = "HEALTHY"
            else:
                if at >= state["start_period_end"]:
                    state["failures"] += 1
                status = "UNHEALTHY" if state["failures"] >= int(hc.get("retries", 3)) else essential.health_status
            if status != essential.health_status:
                essential.health_status = status
                task.health_status = status
                moved = True
            state["next"] = at + max(interval, 1e-3)
        return moved

    @staticmethod
    def _reported_health(task: Task, statuses: dict[str, str]) -> bool:
        moved = False
        for c in task.containers:
            status = statuses.get(c.name)
            if status and status != c.health_status:
                c.health_status = status
                moved = True
        essential = statuses.get(task.task_definition.essential.name)
        if essential and essential != task.health_status:
            task.health_status = essential
            moved = True
        return moved

    # ---- the service scheduler

    def _healthy(self, task: Task) -> bool:
        if task.last_status != "RUNNING" or not task.live:
            return False
        if task.task_definition.essential.health_check and task.health_status != "HEALTHY":
            return False
        svc = self.services.get(task.service_arn or "")
        if svc is None:
            return True
        targets = {t.target_group_arn: t for t in self.elb.owned_by(task.arn)}
        for lb in ecs_native.lbs_of(svc, svc.history.get(task.deployment_id or "")):
            target = targets.get(lb.target_group_arn)
            if target is None or target.state not in (HEALTHY, UNAVAILABLE):
                return False
        return True

    def _schedule(self, svc: Service, now: float, config_of: Callable[[str], TargetGroupConfig | None]) -> bool:
        if svc.status == INACTIVE or not svc.deployments:
            return False
        moved = False
        for task in svc.live_tasks():
            if task.last_status != "RUNNING":
                continue
            if self._healthy(task):
                if task.healthy_at is None:
                    task.healthy_at = now
                    dep = svc.history.get(task.deployment_id or "")
                    if dep is not None and dep.rollout_state == IN_PROGRESS and dep.failed_tasks:
                        dep.failed_tasks = 0
                        dep.updated_at = now
                continue
            grace_end = (task.started_at or now) + self.timing.grace_period(svc.health_check_grace_period)
            if now < grace_end:
                continue
            moved |= self._replace_if_unhealthy(svc, task, now)
        if svc.status == DRAINING_SERVICE:
            return self._drain_service(svc, now) or moved
        if svc.native is not None and svc.native.active:
            return ecs_native.schedule(self, svc, now) or moved
        moved |= self._roll(svc, now)
        moved |= self._settle_deployments(svc, now)
        return moved

    def _replace_if_unhealthy(self, svc: Service, task: Task, now: float) -> bool:
        for target in self.elb.owned_by(task.arn):
            if target.state == UNHEALTHY:
                self._emit(svc, now, f"(service {svc.name}) (task {task.id}) (port {target.port}) is unhealthy in "
                                     f"(target-group {target.target_group_arn}) due to "
                                     f"(reason {target.description}).")
                self._request_stop(task, now, "ServiceSchedulerInitiated",
                                   f"Task failed ELB health checks in (target-group {target.target_group_arn})",
                                   scheduler=True)
                self._task_failed(task, now, start_failure=False)
                return True
        if task.task_definition.essential.health_check and task.health_status == "UNHEALTHY":
            self._emit(svc, now, f"(service {svc.name}) (task {task.id}) failed container health checks.")
            self._request_stop(task, now, "ServiceSchedulerInitiated", "Task failed container health checks",
                               scheduler=True)
            self._task_failed(task, now, start_failure=False)
            return True
        return False

    def _drain_service(self, svc: Service, now: float) -> bool:
        moved = False
        for task in svc.live_tasks():
            self._request_stop(task, now, "ServiceSchedulerInitiated",
                               f"Scaling activity initiated by (deployment {task.deployment_id})", scheduler=True)
            moved = True
        if not any(t.last_status != STOPPED for t in svc.tasks.values()):
            svc.status = INACTIVE
            for dep in svc.deployments:
                dep.status = INACTIVE
            svc.deployments = []
            moved = True
        return moved

    def _roll(self, svc: Service, now: float) -> bool:
        moved = False
        primary = svc.primary
        cfg = svc.deployment_config
        desired = svc.desired_count
        max_total = desired * cfg.maximum_percent // 100
        min_healthy = math.ceil(desired * cfg.minimum_healthy_percent / 100)
        live = svc.live_tasks()
        healthy = sum(1 for t in live if self._healthy(t))
        old = [t for t in live if t.deployment_id != primary.id]
        old.sort(key=lambda t: (self._healthy(t), t.created_at))
        for task in old:
            if self._healthy(task):
                if healthy - 1 < min_healthy:
                    continue
                healthy -= 1
            self._request_stop(task, now, "ServiceSchedulerInitiated",
                               f"Scaling activity initiated by (deployment {primary.id})", scheduler=True)
            moved = True
        mine = [t for t in svc.live_tasks() if t.deployment_id == primary.id]
        excess = len(mine) - primary.desired_count
        if excess > 0:
            mine.sort(key=lambda t: (self._healthy(t), -t.created_at))
            for task in mine[:excess]:
                self._request_stop(task, now, "ServiceSchedulerInitiated",
                                   f"Scaling activity initiated by (deployment {primary.id})", scheduler=True)
            moved = True
        need = primary.desired_count - len([t for t in svc.live_tasks() if t.deployment_id == primary.id])
        room = max_total - len(svc.live_tasks())
        launch = min(need, room)
        if launch <= 0:
            return moved
        if primary.rollout_state == FAILED and not self.timing.retry_failed_deployments:
            return moved
        if svc.placement_error:
            if not svc.placement_announced:
                self._emit(svc, now, f"(service {svc.name}) was unable to place a task because no container "
                                     f"instance met all of its requirements. Reason: {svc.placement_error}")
                svc.placement_announced = True
            return moved
        if now < svc.next_launch_at:
            return moved
        self._start_service_tasks(svc, primary, launch, now)
        return True

    def _start_service_tasks(self, svc: Service, dep: Deployment, count: int, now: float) -> None:
        """Start ``count`` tasks of a service deployment (noted for the service's "has started" event)."""
        started = []
        for _ in range(count):
            task = self._new_task(svc.cluster_arn, dep.task_definition, now, overrides={},
                                  network=dep.network_configuration, launch_type=dep.launch_type,
                                  capacity_provider=_capacity_provider(dep.capacity_provider_strategy),
                                  started_by=dep.id, group=f"service:{svc.name}", tags=[],
                                  platform_version=dep.platform_version, service=svc, deployment=dep)
            svc.tasks[task.arn] = task
            started.append(task.id)
        svc.pending_notes.setdefault("started", []).extend(started)

    def _settle_deployments(self, svc: Service, now: float) -> bool:
        moved = False
        primary = svc.primary
        for dep in list(svc.deployments[1:]):
            tasks = svc.tasks_of(dep.id)
            live = sum(1 for t in tasks if t.live)
            if dep.desired_count != live:
                dep.desired_count = live
                dep.updated_at = now
            if all(t.last_status == STOPPED for t in tasks):
                dep.status = INACTIVE
                dep.updated_at = now
                svc.deployments.remove(dep)
                moved = True
        mine = [t for t in svc.live_tasks() if t.deployment_id == primary.id]
        steady = (len(svc.deployments) == 1 and len(mine) == primary.desired_count
                  and all(self._healthy(t) for t in mine))
        if steady and primary.rollout_state == IN_PROGRESS:
            primary.rollout_state = COMPLETED
            primary.rollout_state_reason = f"ECS deployment {primary.id} completed."
            primary.updated_at = now
            svc.last_completed = primary.id
            self._emit(svc, now, f"(service {svc.name}) (deployment {primary.id}) deployment completed.")
            record = svc.service_deployments.get(primary.service_deployment_arn)
            if record is not None and record.status in SD_ONGOING:
                record.status = SD_ROLLBACK_SUCCESSFUL if primary.is_rollback else SD_SUCCESSFUL
                record.finished_at = record.updated_at = now
                if record.breaker_status == "MONITORING":
                    record.breaker_status = "MONITORING_COMPLETE"
            moved = True
        if steady and not svc.steady:
            self._emit(svc, now, f"(service {svc.name}) has reached a steady state.")
            moved = True
        svc.steady = steady
        return moved

    def _task_failed(self, task: Task, at: float, *, start_failure: bool) -> None:
        svc = self.services.get(task.service_arn or "")
        if svc is None or svc.status != "ACTIVE":
            return
        dep = svc.history.get(task.deployment_id or "")
        if dep is not None and dep.rollout_state == IN_PROGRESS:
            dep.failed_tasks += 1
            dep.updated_at = at
            if (svc.deployment_config.circuit_breaker and dep is svc.primary
                    and dep.failed_tasks >= circuit_breaker_threshold(dep.desired_count)):
                self._trip(svc, dep, at)
        throttled = start_failure or (dep is not None and dep.rollout_state == FAILED
                                      and self.timing.retry_failed_deployments)
        if throttled:
            svc.start_failures += 1
            if svc.start_failures >= self.timing.throttle_after:
                svc.throttle_level += 1
                svc.next_launch_at = at + self.timing.throttle_delay(svc.throttle_level)
                if not svc.throttle_announced:
                    svc.throttle_announced = True
                    self._emit(svc, at, f"(service {svc.name}) is unable to consistently start tasks successfully.")

    def _trip(self, svc: Service, dep: Deployment, at: float) -> None:
        if ecs_native.breaker(self, svc, dep, at, CIRCUIT_BREAKER_REASON):
            return
        dep.rollout_state = FAILED
        dep.rollout_state_reason = CIRCUIT_BREAKER_REASON
        dep.updated_at = at
        self._emit(svc, at, f"(service {svc.name}) (deployment {dep.id}) deployment failed: tasks failed to start.")
        record = svc.service_deployments.get(dep.service_deployment_arn)
        if record is not None:
            record.breaker_status = "TRIGGERED"
            record.updated_at = at
        if dep.is_rollback:
            if record is not None:
                record.status = SD_ROLLBACK_FAILED
                record.status_reason = CIRCUIT_BREAKER_REASON
                record.finished_at = at
            return
        target = svc.history.get(svc.last_completed or "")
        if svc.deployment_config.rollback and target is not None and target is not dep:
            self._rollback(svc, dep, target, at, CIRCUIT_BREAKER_REASON)
        elif record is not None:
            record.status = SD_STOPPED
            record.status_reason = CIRCUIT_BREAKER_REASON
            record.stopped_at = record.finished_at = at

    def _rollback(self, svc: Service, failed: Deployment, target: Deployment, at: float, reason: str) -> Deployment:
        """ECS's rollback: a new PRIMARY with the last completed deployment's task definition that
        takes over that deployment's tasks; the failed deployment turns ACTIVE and is drained."""
        rollback = self._new_deployment(
            svc, target.task_definition, at, rollback_of=failed, rollback_to=target,
            reason=f"ECS deployment circuit breaker: rolling back to deploymentId {target.id}.")
        rollback.network_configuration = target.network_configuration
        rollback.launch_type = target.launch_type
        rollback.capacity_provider_strategy = target.capacity_provider_strategy
        rollback.platform_version = target.platform_version
        if target in svc.deployments:
            for task in svc.tasks_of(target.id):
                task.deployment_id = rollback.id
            target.status = INACTIVE
            svc.deployments.remove(target)
        self._emit(svc, at, f"(service {svc.name}) rolling back to deployment {target.id}.")
        record = svc.service_deployments.get(failed.service_deployment_arn)
        if record is not None:
            record.status = SD_ROLLBACK_IN_PROGRESS
            record.status_reason = reason
            record.rollback = {"reason": reason, "startedAt": at, "serviceRevisionArn": target.revision_arn}
            record.rollback_deployment_id = rollback.id
            record.updated_at = at
        return rollback

    def stop_service_deployment(self, record: ServiceDeploymentRecord, now: float) -> None:
        """``StopServiceDeployment`` with ``stopType=ROLLBACK``."""
        svc = self.services[record.service_arn]
        if record.lifecycle is not None:
            ecs_native.stop(self, svc, now, "Service deployment rolled back because of a stop request.")
            return
        dep = svc.history.get(record.deployment_id)
        if record.status not in SD_ONGOING or dep is None or dep is not svc.primary:
            raise ValueError(f"service deployment {record.arn} is {record.status}; only an ongoing one can be stopped")
        target = svc.history.get(svc.last_completed or "")
        if target is None or target is dep:
            raise ValueError("there is no completed service revision to roll back to")
        dep.rollout_state = FAILED
        dep.rollout_state_reason = "Service deployment rolled back because of a stop request."
        dep.updated_at = now
        self._rollback(svc, dep, target, now, "Service deployment rolled back because of a stop request.")

    # ---- events

    def _emit(self, svc: Service, at: float, message: str) -> None:
        self._flush(svc, at)
        self._push(svc, at, message)

    def _push(self, svc: Service, at: float, message: str) -> None:
        """Newest first, with strictly increasing timestamps (1 ms apart at least) so that readers
        sorting by ``createdAt`` see events in the order ECS wrote them."""
        if svc.events:
            at = max(at, svc.events[0].created_at + EVENT_SPACING)
        svc.events.insert(0, Event(self._uuid(), at, message))
        del svc.events[EVENTS_KEPT:]

    def _flush(self, svc: Service, at: float) -> None:
        notes, svc.pending_notes = svc.pending_notes, {}
        if not notes:
            return
        name = svc.name
        lines = []
        if notes.get("started"):
            ids = notes["started"]
            lines.append(f"(service {name}) has started {len(ids)} tasks: {_task_list(ids)}.")
        for tg, n in (notes.get("registered") or {}).items():
            lines.append(f"(service {name}) registered {n} targets in (target-group {tg})")
        if notes.get("draining"):
            lines.append(f"(service {name}) has begun draining connections on {len(notes['draining'])} tasks.")
        for tg, n in (notes.get("deregistered") or {}).items():
            lines.append(f"(service {name}) deregistered {n} targets in (target-group {tg})")
        if notes.get("stopped"):
            ids = notes["stopped"]
            lines.append(f"(service {name}) has stopped {len(ids)} running tasks: {_task_list(ids)}.")
        for line in lines:
            self._push(svc, at, line)

    # ---- housekeeping

    def _prune(self) -> None:
        keep = self.timing.stopped_tasks_kept
        dropped: list[str] = []
        for svc in self.services.values():
            dropped += _drop_oldest_stopped(svc.tasks, keep)
        by_cluster: dict[str, dict[str, Task]] = {}
        for arn, task in self.standalone.items():
            by_cluster.setdefault(task.cluster_arn, {})[arn] = task
        for tasks in by_cluster.values():
            for arn in _drop_oldest_stopped(tasks, keep):
                self.standalone.pop(arn, None)
                dropped.append(arn)
        for arn in dropped:
            self._index.pop(arn, None)

    # ---- views (AWS API shapes)

    def task_view(self, task: Task, include_tags: bool = False) -> dict[str, Any]:
        w = self.wall
        containers = []
        for c in task.containers:
            item: dict[str, Any] = {"containerArn": c.arn, "taskArn": task.arn, "name": c.name, "image": c.image,
                                    "runtimeId": c.runtime_id, "lastStatus": c.last_status,
                                    "networkBindings": [], "healthStatus": c.health_status}
            if c.image_digest:
                item["imageDigest"] = c.image_digest
            if c.exit_code is not None:
                item["exitCode"] = c.exit_code
            if c.reason:
                item["reason"] = c.reason
            if task.eni is not None:
                item["networkInterfaces"] = [{"attachmentId": task.attachment_id,
                                              "privateIpv4Address": task.eni.private_ip}]
            cd = task.task_definition.container(c.name)
            if cd is not None:
                if cd.cpu is not None:
                    item["cpu"] = str(cd.cpu)
                if cd.memory is not None:
                    item["memory"] = str(cd.memory)
                if cd.memory_reservation is not None:
                    item["memoryReservation"] = str(cd.memory_reservation)
            containers.append(item)
        out: dict[str, Any] = {
            "taskArn": task.arn, "clusterArn": task.cluster_arn, "taskDefinitionArn": task.task_definition.arn,
            "lastStatus": task.last_status, "desiredStatus": task.desired_status, "healthStatus": task.health_status,
            "group": task.group, "containers": containers, "createdAt": w(task.created_at),
            "overrides": {"containerOverrides": (task.overrides or {}).get("containerOverrides", []),
                          "inferenceAcceleratorOverrides": []},
            "version": task.version, "enableExecuteCommand": False, "connectivity": "CONNECTED",
            "connectivityAt": w(task.pull_started_at), "attributes": [{"name": "ecs.cpu-architecture",
                                                                       "value": "x86_64"}],
        }
        optional = {
            "startedBy": task.started_by or None, "launchType": task.launch_type,
            "capacityProviderName": task.capacity_provider, "platformVersion": task.platform_version,
            "platformFamily": "Linux" if task.platform_version else None,
            "cpu": task.task_definition.cpu, "memory": task.task_definition.memory,
            "pullStartedAt": w(task.pull_started_at), "pullStoppedAt": w(task.pull_stopped_at),
            "startedAt": w(task.started_at), "stoppingAt": w(task.stopping_at),
            "executionStoppedAt": w(task.execution_stopped_at), "stoppedAt": w(task.stopped_at),
            "stopCode": task.stop_code, "stoppedReason": task.stopped_reason,
            "availabilityZone": task.eni.availability_zone if task.eni and task.eni.availability_zone else None,
            # Fargate tasks get 20 GiB of ephemeral storage unless the task definition asks for more
            "ephemeralStorage": {"sizeInGiB": 20} if task.platform_version else None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        if task.eni is not None:
            status = ("PRECREATED" if task.last_status == PROVISIONING
                      else "DELETED" if task.last_status == STOPPED
                      else "DETACHED" if task.last_status == DEPROVISIONING else "ATTACHED")
            out["attachments"] = [{
                "id": task.attachment_id, "type": "ElasticNetworkInterface", "status": status,
                "details": [{"name": "subnetId", "value": task.eni.subnet_id},
                            {"name": "networkInterfaceId", "value": task.eni.id},
                            {"name": "macAddress", "value": task.eni.mac},
                            {"name": "privateDnsName", "value": task.eni.private_dns},
                            {"name": "privateIPv4Address", "value": task.eni.private_ip}],
            }]
        else:
            out["attachments"] = []
        if include_tags:
            out["tags"] = list(task.tags)
        return out

    def deployment_view(self, svc: Service, dep: Deployment) -> dict[str, Any]:
        tasks = svc.tasks_of(dep.id)
        out: dict[str, Any] = {
            "id": dep.id, "status": dep.status, "taskDefinition": dep.task_definition.arn,
            "desiredCount": dep.desired_count,
            "pendingCount": sum(1 for t in tasks if t.live and t.last_status in STARTING_STATES),
            "runningCount": sum(1 for t in tasks if t.last_status == "RUNNING"),
            "failedTasks": dep.failed_tasks, "createdAt": self.wall(dep.created_at),
            "updatedAt": self.wall(dep.updated_at), "rolloutState": dep.rollout_state,
            "rolloutStateReason": dep.rollout_state_reason,
        }
        if dep.launch_type:
            out["launchType"] = dep.launch_type
        if dep.capacity_provider_strategy:
            out["capacityProviderStrategy"] = list(dep.capacity_provider_strategy)
        if dep.launch_type == "FARGATE" or dep.capacity_provider_strategy:
            out["platformVersion"] = (dep.platform_version if dep.platform_version not in (None, "LATEST")
                                      else FARGATE_PLATFORM_VERSION)
            out["platformFamily"] = "Linux"
        if dep.network_configuration:
            out["networkConfiguration"] = dep.network_configuration
        return out

    def service_overrides(self, svc: Service) -> dict[str, Any]:
        """The ``Service`` fields the simulator owns (the rest comes from moto's model)."""
        deployments = [self.deployment_view(svc, d) for d in svc.deployments]
        out: dict[str, Any] = {
            "status": svc.status,
            "desiredCount": svc.desired_count,
            "runningCount": sum(d["runningCount"] for d in deployments),
            "pendingCount": sum(d["pendingCount"] for d in deployments),
            "taskDefinition": (svc.primary.task_definition.arn if svc.deployments
                               else svc.history[max(svc.history, key=lambda k: svc.history[k].created_at)]
                               .task_definition.arn),
            "deployments": deployments,
            "events": [{"id": e.id, "createdAt": self.wall(e.created_at), "message": e.message} for e in svc.events],
            "deploymentConfiguration": svc.deployment_config.to_api(),
            "deploymentController": {"type": "ECS"},
            "loadBalancers": [lb.to_api() for lb in svc.load_balancers],
            "healthCheckGracePeriodSeconds": svc.health_check_grace_period,
            "createdAt": self.wall(svc.created_at),
            "schedulingStrategy": "REPLICA",
            "launchType": svc.launch_type,
            "capacityProviderStrategy": list(svc.capacity_provider_strategy) or None,
        }
        if svc.network_configuration:
            out["networkConfiguration"] = svc.network_configuration
        if svc.launch_type == "FARGATE" or svc.capacity_provider_strategy:
            out["platformVersion"] = svc.platform_version or "LATEST"
            out["platformFamily"] = "Linux"
        current = svc.current_service_deployment()
        if current is not None:
            out["currentServiceDeployment"] = current.arn
        revisions = []
        for dep in svc.deployments:
            tasks = svc.tasks_of(dep.id)
            revisions.append({"arn": dep.revision_arn, "requestedTaskCount": dep.desired_count,
                              "runningTaskCount": sum(1 for t in tasks if t.last_status == "RUNNING"),
                              "pendingTaskCount": sum(1 for t in tasks if t.live and t.last_status in STARTING_STATES)})
        out["currentServiceRevisions"] = revisions
        return out

    def _revision_summary(self, svc: Service, revision_arn: str, deployment_ids: Iterable[str]) -> dict[str, Any]:
        ids = set(deployment_ids)
        tasks = [t for t in svc.tasks.values() if t.deployment_id in ids]
        requested = sum(d.desired_count for d in svc.deployments if d.id in ids)
        return {"arn": revision_arn, "requestedTaskCount": requested,
                "runningTaskCount": sum(1 for t in tasks if t.last_status == "RUNNING"),
                "pendingTaskCount": sum(1 for t in tasks if t.live and t.last_status in STARTING_STATES)}

    def service_deployment_view(self, record: ServiceDeploymentRecord, brief: bool = False) -> dict[str, Any]:
        svc = self.services[record.service_arn]
        w = self.wall
        out: dict[str, Any] = {"serviceDeploymentArn": record.arn, "serviceArn": record.service_arn,
                               "clusterArn": record.cluster_arn, "createdAt": w(record.created_at),
                               "startedAt": w(record.started_at), "status": record.status}
        if record.finished_at is not None:
            out["finishedAt"] = w(record.finished_at)
        if record.status_reason:
            out["statusReason"] = record.status_reason
        if brief:
            out["targetServiceRevisionArn"] = record.target_revision_arn
            return out
        dep = svc.history.get(record.deployment_id)
        target_ids = [record.deployment_id]
        out["targetServiceRevision"] = self._revision_summary(svc, record.target_revision_arn, target_ids)
        sources = []
        for dep_id, rev in zip(record.source_deployment_ids, record.source_revision_arns, strict=True):
            ids = [dep_id]
            if record.rollback_deployment_id and rev == (record.rollback or {}).get("serviceRevisionArn"):
                ids.append(record.rollback_deployment_id)
            sources.append(self._revision_summary(svc, rev, ids))
        out["sourceServiceRevisions"] = sources
        out["updatedAt"] = w(record.updated_at)
        if record.stopped_at is not None:
            out["stoppedAt"] = w(record.stopped_at)
        out["deploymentConfiguration"] = record.deployment_config.to_api()
        if record.rollback:
            out["rollback"] = {**record.rollback, "startedAt": w(record.rollback["startedAt"])}
        failures = dep.failed_tasks if dep is not None else 0
        out["deploymentCircuitBreaker"] = {
            "status": record.breaker_status, "failureCount": failures,
            "threshold": circuit_breaker_threshold(dep.desired_count if dep is not None else 0)}
        weights = ecs_native.revision_weights(record)
        if weights is not None:
            out["targetServiceRevision"].update(requestedProductionTrafficWeight=weights[0],
                                                requestedTestTrafficWeight=weights[1])
            for source in out["sourceServiceRevisions"]:
                source.update(requestedProductionTrafficWeight=100.0 - weights[0],
                              requestedTestTrafficWeight=100.0 - weights[1])
            out.update(ecs_native.view(self, record))
        return out

    def revision_view(self, revision: Revision) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceRevisionArn": revision.arn, "serviceArn": revision.service_arn,
            "clusterArn": revision.cluster_arn, "taskDefinition": revision.task_definition.arn,
            "loadBalancers": [lb.to_api() for lb in revision.load_balancers],
            "containerImages": [{"containerName": c.name, "image": c.image}
                                for c in revision.task_definition.containers],
            "createdAt": self.wall(revision.created_at),
        }
        if revision.launch_type:
            out["launchType"] = revision.launch_type
        if revision.capacity_provider_strategy:
            out["capacityProviderStrategy"] = list(revision.capacity_provider_strategy)
        if revision.launch_type == "FARGATE" or revision.capacity_provider_strategy:
            out["platformVersion"] = revision.platform_version or "LATEST"
            out["platformFamily"] = "Linux"
        if revision.network_configuration:
            out["networkConfiguration"] = revision.network_configuration
        return out

    def find_service_deployment(self, arn: str) -> ServiceDeploymentRecord | None:
        for svc in self.services.values():
            if arn in svc.service_deployments:
                return svc.service_deployments[arn]
        return None

    def find_revision(self, arn: str) -> Revision | None:
        for svc in self.services.values():
            if arn in svc.revisions:
                return svc.revisions[arn]
        return None

    def status(self) -> dict[str, Any]:
        services = []
        for svc in self.services.values():
            view = self.service_overrides(svc)
            services.append({
                "serviceArn": svc.arn, "serviceName": svc.name, "clusterArn": svc.cluster_arn,
                "status": svc.status, "steady": svc.steady, "desiredCount": svc.desired_count,
                "runningCount": view["runningCount"], "pendingCount": view["pendingCount"],
                "deployments": [{k: d[k] for k in ("id", "status", "taskDefinition", "desiredCount", "runningCount",
                                                   "pendingCount", "failedTasks", "rolloutState")}
                                for d in view["deployments"]],
                "lastEvent": svc.events[0].message if svc.events else None,
            })
        tasks = list(self.all_tasks())
        return {"services": services,
                "tasks": {"running": sum(1 for t in tasks if t.last_status == "RUNNING"),
                          "starting": sum(1 for t in tasks if t.live and t.last_status in STARTING_STATES),
                          "stopped": sum(1 for t in tasks if t.last_status == STOPPED),
                          "total": len(tasks)},
                "targets": [{"targetGroupArn": t.target_group_arn, "id": t.id, "port": t.port, "state": t.state,
                             "task": t.owner} for t in self.elb.targets.values()]}


# --------------------------------------------------------------------------------------------
# helpers


def _account_region(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return (parts[4], parts[3]) if len(parts) > 5 else ("123456789012", "us-east-1")


def _task_list(ids: list[str]) -> str:
    return " ".join(f"(task {i})" for i in ids)


def _capacity_provider(strategy: tuple[dict[str, Any], ...]) -> str | None:
    if not strategy:
        return None
    best = max(strategy, key=lambda s: (int(s.get("base", 0) or 0), int(s.get("weight", 0) or 0)))
    return str(best.get("capacityProvider"))


def _pull_error_message(image: str) -> str:
    return (f"CannotPullContainerError: pull image manifest has been retried 1 time(s): "
            f"failed to resolve ref {image}: {image}: not found")


def _scenario_for(td: TaskDefinition, overrides: dict[str, Any]) -> Scenario:
    essential = td.essential
    env = [{"name": k, "value": v} for k, v in essential.environment]
    for override in (overrides or {}).get("containerOverrides") or []:
        if override.get("name") == essential.name:
            extra = {e.get("name"): e.get("value") for e in override.get("environment") or []}
            env = [e for e in env if e["name"] not in extra] + [{"name": k, "value": v} for k, v in extra.items()]
    try:
        return scenarios.from_container_environment(env)
    except scenarios.ScenarioError as exc:
        # the sample app refuses to start with a bad APP_SCENARIO (exit code 2); so does the simulation
        return Scenario(crash=True, exit_code=2, text=f"invalid: {exc}")


def _drop_oldest_stopped(tasks: dict[str, Task], keep: int) -> list[str]:
    stopped = sorted((t for t in tasks.values() if t.last_status == STOPPED), key=lambda t: t.stopped_at or 0.0)
    dropped = [t.arn for t in stopped[: max(0, len(stopped) - keep)]]
    for arn in dropped:
        tasks.pop(arn, None)
    return dropped

"""The ports of the deploy engine: what it asks of AWS, as protocols.

The engine (strategies, watch, verify, analysis, rollback) talks to AWS only through these. The
AWS adapters (``deploy/adapters``) implement them on boto3 clients from the one factory; the
tests implement them in memory (``tests/fakes``). The local stack is just another endpoint of the
AWS adapters, never a third implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pipeline_py.clock import Clock
from pipeline_py.deploy.views import ServiceDeploymentView, ServiceView, StoppedTask, TargetState
from pipeline_py.report import Reporter

if TYPE_CHECKING:
    from pipeline_py.config import BlueGreenConfig
    from pipeline_py.deploy.analysis import Sample
    from pipeline_py.deploy.locking import Holder, LockInfo
    from pipeline_py.deploy.topology import Topology
    from pipeline_py.deploy.watch import DeploymentWatcher, EventLog


class Services(Protocol):
    """ECS services, task definitions and tasks."""

    def describe(self, cluster: str, names: Iterable[str]) -> dict[str, ServiceView]:
        """Views of the named services that exist and are not INACTIVE (missing ones are absent)."""

    def get(self, cluster: str, name: str) -> ServiceView:
        """The service's view; ``BadInput`` when it does not exist."""

    def update(self, cluster: str, name: str, *, task_definition: str | None = None,
               desired_count: int | None = None, force_new_deployment: bool = False,
               deployment_configuration: dict[str, Any] | None = None,
               load_balancers: list[dict[str, Any]] | None = None) -> ServiceView:
        """``UpdateService``; the answer's view (its PRIMARY deployment is the new one, if any).
        ``deployment_configuration`` and ``load_balancers`` are the API's ``deploymentConfiguration``
        (strategy, lifecycle hooks …) and ``loadBalancers`` (with ``advancedConfiguration``)."""

    def service_deployments(self, cluster: str, service: str, statuses: Iterable[str] = ()) -> list[str]:
        """``ListServiceDeployments``: ARNs of the service's deployments (in ``statuses``), newest first."""

    def describe_service_deployments(self, arns: list[str]) -> list[ServiceDeploymentView]:
        """``DescribeServiceDeployments`` (the ones that exist)."""

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        """``ContinueServiceDeployment`` of a PAUSE hook: ``CONTINUE`` or ``ROLLBACK``."""

    def stop_service_deployment(self, arn: str, stop_type: str = "ROLLBACK") -> None:
        """``StopServiceDeployment``."""

    def task_definition(self, arn: str) -> dict[str, Any] | None:
        """The revision as ECS describes it; None when it does not exist."""

    def live_task_definition(self, arn: str) -> dict[str, Any]:
        """A revision as normalised ``RegisterTaskDefinition`` kwargs (for diffs)."""

    def register(self, task_definition: dict[str, Any]) -> tuple[str, bool]:
        """Register unless identical to the family's latest ACTIVE revision: (arn, created)."""

    def family_revisions(self, family: str) -> list[str]:
        """ARNs of the family's ACTIVE revisions, newest first."""

    def tag(self, arn: str, tags: dict[str, str]) -> None: ...

    def untag(self, arn: str, keys: Iterable[str]) -> None: ...

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]: ...

    def stopped_tasks(self, cluster: str, deployment_id: str) -> list[StoppedTask]: ...

    def running_tasks(self, cluster: str, deployment_id: str) -> list[dict[str, Any]]: ...

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        """``RunTask`` with the API's own keyword arguments; its answer."""

    def stop_task(self, cluster: str, task: str, reason: str) -> None: ...


class Targets(Protocol):
    """Target health of ELB target groups."""

    def health(self, target_group_arn: str) -> list[TargetState]: ...

    def deregistration_delay(self, target_group_arn: str) -> float | None: ...


class Alarms(Protocol):
    """CloudWatch alarms by name."""

    def states(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """name → {"state", "reason", "updated"} for the alarms that exist."""

    def check_exist(self, names: list[str]) -> None:
        """``BadInput`` naming the configured alarms that do not exist."""

    def firing(self, names: list[str]) -> list[tuple[str, str]]:
        """(name, reason) of the named alarms in ALARM."""


class TrafficRouter(Protocol):
    """The weights of one listener (or listener rule) between the blue and green target groups.

    Weights are read from AWS every time, never from local state."""

    topology: Topology

    def weights(self) -> dict[str, int]:
        """Percent per colour (normalised when the listener's weights do not sum to 100)."""

    def set_weights(self, weights: dict[str, int]) -> None:
        """One call carrying both target groups' weights."""

    def point_test_listener(self, colour: str) -> None: ...

    def test_listener_colour(self) -> str | None: ...

    def load_balancer_arn(self) -> str: ...


class Scaling(Protocol):
    """Application Auto Scaling bounds of an ECS service (``ecs:service:DesiredCount``)."""

    def bounds(self, cluster: str, service: str) -> tuple[int, int] | None:
        """(min, max); None when the service has no scalable target."""

    def set_bounds(self, cluster: str, service: str, minimum: int, maximum: int) -> None: ...


class Metrics(Protocol):
    """ALB request metrics per target group over a window."""

    def sample(self, target_groups: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]: ...


class Locks(Protocol):
    """Leases with compare-and-set semantics (see ``deploy/locking.py``)."""

    def acquire(self, key: str, holder: Holder, ttl: float, now: datetime) -> LockInfo:
        """Take ``key`` when it is free or expired; ``LockHeld`` naming the holder otherwise."""

    def renew(self, lease: LockInfo, ttl: float, now: datetime) -> LockInfo:
        """Extend our lease; ``LockLost`` when it is no longer ours."""

    def release(self, lease: LockInfo) -> None:
        """Give it back if it is still ours (never someone else's)."""

    def describe(self, key: str) -> LockInfo | None: ...

    def break_lock(self, key: str, lock_id: str) -> bool:
        """Delete the lock if it still has ``lock_id``; whether it did."""


RouterFactory = Callable[["BlueGreenConfig", str], TrafficRouter]
TopologyRouterFactory = Callable[["Topology"], TrafficRouter]
MetricsFactory = Callable[[str, int], Metrics]


@dataclass
class Ports:
    """The bundle a strategy runs with: the ports, narration, the clock and the event log."""

    services: Services
    targets: Targets
    alarms: Alarms
    scaling: Scaling
    locks: Locks
    reporter: Reporter
    clock: Clock
    router_for: RouterFactory
    """Resolves a blue/green configuration (names or ARNs) into a router for that topology."""
    metrics_for: MetricsFactory
    """Metrics of one load balancer (its ARN) at a CloudWatch period."""
    api_calls: Callable[[], dict[str, Any]] = field(default=lambda: {"total": 0, "by_operation": {}})
    topology_router: TopologyRouterFactory | None = None
    """A router for a topology already resolved to ARNs (the ECS-native strategies read the listener rule
    ECS moves)."""
    log: EventLog = field(init=False)

    def __post_init__(self) -> None:
        from pipeline_py.deploy.watch import EventLog

        self.log = EventLog(self.reporter)

    @property
    def watcher(self) -> DeploymentWatcher:
        from pipeline_py.deploy.watch import DeploymentWatcher

        return DeploymentWatcher(self.services, self.targets, self.reporter, self.clock, self.log)

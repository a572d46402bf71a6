"""Every extension we make to moto lives in this module.

moto's internals change between releases. Everything we touch is listed in the sections below and
checked by ``tests/unit/test_moto_pins.py``, which fails loudly when the installed moto is outside
:data:`MOTO_RANGE` or an internal we rely on changed shape.

Sections:

1. **core** — :class:`Fidelity` (the handle the server holds: one lock, the clock, a list of
   tickers advanced by ``tick()``, the ``/_pipeline_py/<route>`` control routes), the patch
   registry, :func:`install`, and moto's global reset also resetting the simulations.
2. **ECS** — the rollout simulator (:mod:`pipeline_py.local.ecs_sim`) wired into moto's ECS
   responses: ``CreateService``/``UpdateService``/``DeleteService``/``DescribeServices`` answer
   from the simulator, ``RunTask``/``StopTask``/``ListTasks``/``DescribeTasks`` serve simulated
   tasks, and ``ListServiceDeployments``/``DescribeServiceDeployments``/
   ``DescribeServiceRevisions``/``StopServiceDeployment`` (which moto lacks) are added.
3. **ELBv2** — target health from :mod:`pipeline_py.local.elb_sim`: ``DescribeTargetHealth``,
   ``RegisterTargets``, ``DeregisterTargets`` (draining).
4. **CloudWatch** — metrics answered from :mod:`pipeline_py.local.cloudwatch_sim` (moto keeps each
   value as an object, ignores ``ExtendedStatistics``, fails on percentile ``Stat``s and ignores the
   namespace when dimensions are given): ``PutMetricData`` stores there, ``GetMetricStatistics``,
   ``GetMetricData``, ``ListMetrics`` read from there; metric alarms are evaluated from the data
   (``PutMetricAlarm`` keeps an existing alarm's state, ``SetAlarmState`` holds until the next
   evaluation); ``DescribeAlarmHistory`` (which moto lacks) is added.
5. **Traffic** — :mod:`pipeline_py.local.traffic_sim` fed from moto's listeners and the simulated
   target health, publishing ALB metrics into section 4's stores; the ``traffic`` control route.
6. **Faults** — the ``faults`` control route and the ELBv2 wrappers that obey it
   (``elbv2.ignore_weight_changes``).
7. **Terraform** — what terraform-provider-aws needs and moto lacks (application-autoscaling and
   budgets tags, budgets ``DescribeSubscribersForNotification``) or reports back differently from
   AWS (ECS ``CreateService`` fields, RDS user parameters, descriptions of security-group rules
   that reference a group), so that a plan right after an apply shows no changes.

New sections go below: patch with :func:`_patch`, add a ticker with ``Fidelity.add_ticker`` and
control routes with ``Fidelity.add_route``.

Threading: moto serves requests on werkzeug threads while the simulation loop ticks. Every patched
action and every tick runs under ``Fidelity.lock`` (re-entrant), so simulator state and the moto
objects it mirrors into (ENIs, target-group registrations) change under one lock.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from pipeline_py.local import cloudwatch_sim as cw
from pipeline_py.local import ecs_sim
from pipeline_py.local.ecs_sim import (
    ContainerDef,
    DeploymentConfig,
    EcsSim,
    Eni,
    LoadBalancerRef,
    ServiceSpec,
    Task,
    TaskDefinition,
)
from pipeline_py.local.elb_sim import HEALTHY, UNAVAILABLE, UNHEALTHY, Target, TargetGroupConfig
from pipeline_py.local.timing import TimingModel
from pipeline_py.local.traffic_sim import Backend, Behaviour, Group, MetricPoint, Route, Topology, TrafficSim

log = logging.getLogger("pipeline_py.local")

# The moto releases this module was tested with (also the `local`/`dev` extras in pyproject.toml).
MOTO_RANGE = (">=5.2.1", "<5.3")


# ============================================================================================
# 1. core
# ============================================================================================


class Ticker(Protocol):
    """A simulation advanced by the loop: pure in ``now``; ``reset`` when moto resets."""

    def tick(self, now: float) -> None: ...

    def reset(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


ControlRoute = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class Patch:
    owner: type
    name: str
    original: Any
    replacement: Any


_PATCHES: list[Patch] = []


def _patch(owner: type, name: str, replacement: Callable[..., Any]) -> None:
    """Replace (or add, when moto lacks it) ``owner.name``; the original stays reachable."""
    original = owner.__dict__.get(name)
    _PATCHES.append(Patch(owner, name, original, replacement))
    setattr(owner, name, replacement)


def _original(owner: type, name: str) -> Any:
    for p in _PATCHES:
        if p.owner is owner and p.name == name:
            return p.original
    raise KeyError(f"{owner.__name__}.{name} is not patched")


def patches() -> list[Patch]:
    return list(_PATCHES)


class Fidelity:
    """The handle the server holds: ``tick()`` advances simulations; ``control`` serves /_pipeline_py/."""

    def __init__(self, timing: dict[str, Any] | None = None, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.wall = wall
        self.configured_timing = TimingModel.from_dict(timing)
        self.timing = self.configured_timing
        self.world = MotoWorld()
        self.ecs = EcsSim(self.timing, self.world, epoch=(clock(), wall()))
        self.metrics = CloudWatchWorld(self)
        self.traffic = TrafficWorld(self)
        self.faults = Faults()
        # order matters: target health moves first, then requests flow, then alarms look at the data
        self.tickers: list[Ticker] = [self.ecs, self.traffic, self.metrics]
        self.routes: dict[str, ControlRoute] = {}
        self.add_route("status", self._route_status)
        self.add_route("timing", self._route_timing)
        self.add_route("traffic", self.traffic.route)
        self.add_route("faults", self.faults.route)

    @property
    def elb(self) -> Any:
        return self.ecs.elb

    def now(self) -> float:
        return self.clock()

    def wall_seconds(self) -> float:
        """Epoch seconds of the wall clock: metrics carry real UTC timestamps, because clients
        query CloudWatch with windows on their own (real) clock."""
        return self.wall().timestamp()

    def advance_metrics(self) -> None:
        """Bring target health, traffic and alarms to now (API calls that read or change what
        they depend on call this, so answers are never a tick old)."""
        with self.lock:
            now = self.clock()
            self.ecs.advance(now)
            self.traffic.tick(now)
            self.metrics.tick(now)

    def add_ticker(self, ticker: Ticker) -> None:
        with self.lock:
            self.tickers.append(ticker)

    def add_route(self, name: str, handler: ControlRoute) -> None:
        self.routes[name] = handler

    def tick(self) -> None:
        now = self.clock()
        with self.lock:
            for ticker in list(self.tickers):
                try:
                    ticker.tick(now)
                except Exception:  # one broken simulation must not stop the others
                    log.exception("simulation tick of %s failed", type(ticker).__name__)

    def reset(self) -> None:
        """moto was reset: forget all simulated state and return to the configured timing."""
        with self.lock:
            for ticker in self.tickers:
                ticker.reset()
            self.faults.clear()
            self.set_timing(self.configured_timing)

    def configure(self, timing: dict[str, Any] | None) -> None:
        with self.lock:
            self.configured_timing = TimingModel.from_dict(timing)
            self.set_timing(self.configured_timing)

    def set_timing(self, timing: TimingModel) -> None:
        with self.lock:
            self.timing = timing
            for ticker in self.tickers:
                setter = getattr(ticker, "set_timing", None)
                if setter is not None:
                    setter(timing)

    def control(self, route: str, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        handler = self.routes[route]
        with self.lock:
            return handler(method, payload)

    def _route_status(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        import moto

        out: dict[str, Any] = {"ok": True, "moto": moto.__version__, "timing": self.timing.to_dict()}
        for ticker in self.tickers:
            out.update(ticker.status())
        return out

    def _route_timing(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method == "POST":
            self.set_timing(self.timing.merged(payload))
        elif method == "PUT":
            self.set_timing(TimingModel.from_dict(payload))
        elif method == "DELETE":
            self.set_timing(self.configured_timing)
        elif method != "GET":
            raise ValueError(f"timing: method {method} not allowed (GET, POST merges, PUT replaces, DELETE restores)")
        return {"timing": self.timing.to_dict()}

    # ---- helpers for the patched actions

    def service_view(self, service: Any) -> Any:
        sim = self.ecs.services.get(getattr(service, "arn", ""))
        if sim is None:
            return service
        return ServiceView(service, self.ecs.service_overrides(sim))


class ServiceView:
    """moto's ``Service`` with the simulator's fields on top, for moto's response serializer
    (which looks attributes up by the API's camelCase name and its snake_case form)."""

    def __init__(self, service: Any, overrides: dict[str, Any]) -> None:
        self.__dict__["_service"] = service
        self.__dict__["_overrides"] = overrides

    def __getattr__(self, name: str) -> Any:
        overrides = self.__dict__["_overrides"]
        if name in overrides:
            return overrides[name]
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
        if camel in overrides:
            return overrides[camel]
        return getattr(self.__dict__["_service"], name)


_installed: Fidelity | None = None
_install_lock = threading.Lock()


def install(timing: dict[str, Any] | None = None) -> Fidelity:
    """Patch moto (once per process) and return the process's :class:`Fidelity`."""
    global _installed
    with _install_lock:
        if _installed is None:
            _warn_if_untested_moto()
            fidelity = Fidelity(timing)
            _install_core()
            _install_ecs()
            _install_elbv2()
            _install_cloudwatch()
            _install_faults()
            _install_terraform_gaps()
            _installed = fidelity
        elif timing is not None:
            _installed.configure(timing)
        return _installed


def installed() -> Fidelity | None:
    return _installed


def _install_core() -> None:
    """moto resets every backend through ``BackendDict.reset`` (``/moto-api/reset``, ``mock_aws``);
    the simulations are reset right after, once moto's backend lock is released."""
    from moto.core.base_backend import BackendDict

    original = BackendDict.__dict__["reset"]

    def reset(cls: type) -> None:
        original.__func__(cls)
        if _installed is not None:
            _installed.reset()

    _patch(BackendDict, "reset", classmethod(reset))


def _fid() -> Fidelity:
    if _installed is None:  # pragma: no cover - patches are only applied by install()
        raise RuntimeError("moto_ext.install() was not called")
    return _installed


def _warn_if_untested_moto() -> None:
    import moto

    if not moto_version_supported(moto.__version__):
        log.warning("moto %s is outside the tested range %s; the local stack may misbehave",
                     moto.__version__, ",".join(MOTO_RANGE))


def moto_version_supported(version: str) -> bool:
    def parse(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v)[:3])

    low, high = parse(MOTO_RANGE[0]), parse(MOTO_RANGE[1])
    return low <= parse(version) < high


# ============================================================================================
# 2. ECS
# ============================================================================================
# moto internals used here (pinned in tests/unit/test_moto_pins.py):
#   moto.ecs.responses.EC2ContainerServiceResponse: ecs_backend, _get_param, _get_int_param and the
#     action methods create_service, update_service, delete_service, describe_services, run_task,
#     describe_tasks, list_tasks, stop_task (wrapped or replaced)
#   EC2ContainerServiceBackend: _get_cluster, _get_service, describe_task_definition, services,
#     tasks, container_instances, list_tasks
#   Cluster: arn, name, default_capacity_provider_strategy; Service: arn, name, status, desired_count
#   TaskDefinition: arn, family, revision, container_definitions, network_mode, compatibilities, cpu, memory
#   moto.ecs.exceptions: ECSException, EcsClientException, InvalidParameterException,
#     ServiceNotFoundException
#   moto.core.responses.ActionResult(.result), EmptyResult


def _install_ecs() -> None:
    from moto.ecs.responses import EC2ContainerServiceResponse as R

    _patch(R, "create_service", _ecs_create_service)
    _patch(R, "update_service", _ecs_update_service)
    _patch(R, "delete_service", _ecs_delete_service)
    _patch(R, "describe_services", _ecs_describe_services)
    _patch(R, "run_task", _ecs_run_task)
    _patch(R, "describe_tasks", _ecs_describe_tasks)
    _patch(R, "list_tasks", _ecs_list_tasks)
    _patch(R, "stop_task", _ecs_stop_task)
    _patch(R, "list_service_deployments", _ecs_list_service_deployments)
    _patch(R, "describe_service_deployments", _ecs_describe_service_deployments)
    _patch(R, "describe_service_revisions", _ecs_describe_service_revisions)
    _patch(R, "stop_service_deployment", _ecs_stop_service_deployment)


def _ecs_errors() -> Any:
    from moto.ecs import exceptions

    return exceptions


def _invalid(message: str) -> Exception:
    return _ecs_errors().InvalidParameterException(message)


def _client_error(message: str) -> Exception:
    return _ecs_errors().EcsClientException(message)


def _error(code: str, message: str) -> Exception:
    return _ecs_errors().ECSException(code, message)


def taskdef_from_moto(td: Any) -> TaskDefinition:
    return TaskDefinition(
        arn=td.arn, family=td.family, revision=int(td.revision),
        containers=tuple(ContainerDef.from_api(c) for c in td.container_definitions),
        network_mode=td.network_mode or "bridge", compatibilities=tuple(td.compatibilities or ()),
        cpu=td.cpu, memory=td.memory)


def _is_fargate(launch_type: str | None, strategy: tuple[dict[str, Any], ...]) -> bool:
    if strategy:
        return any(str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategy)
    return launch_type == "FARGATE"


def _launch_settings(cluster: Any, launch_type: str | None,
                     strategy: list[dict[str, Any]] | None) -> tuple[str | None, tuple[dict[str, Any], ...]]:
    """ECS: an explicit launch type or capacity provider strategy, else the cluster's default
    strategy, else the EC2 launch type."""
    if strategy:
        return None, tuple(strategy)
    if launch_type:
        return launch_type, ()
    default = getattr(cluster, "default_capacity_provider_strategy", None)
    if default:
        return None, tuple(default)
    return "EC2", ()


def _placement_error(backend: Any, cluster: Any, launch_type: str | None,
                     strategy: tuple[dict[str, Any], ...]) -> str | None:
    if _is_fargate(launch_type, strategy) or launch_type == "EXTERNAL":
        return None
    if backend.container_instances.get(cluster.name):
        return None
    return "No Container Instances were found in your cluster."


def _validate_launch(td: TaskDefinition, launch_type: str | None, strategy: tuple[dict[str, Any], ...],
                     network: dict[str, Any] | None, account: str, region: str) -> None:
    if _is_fargate(launch_type, strategy) and "FARGATE" not in td.compatibilities:
        raise _client_error("Task definition does not support launch_type FARGATE.")
    if td.network_mode == "awsvpc":
        if not network or not (network.get("awsvpcConfiguration") or {}).get("subnets"):
            raise _invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
        _validate_network(network, account, region)


def _validate_network(network: dict[str, Any], account: str, region: str) -> None:
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account][region]
    conf = network.get("awsvpcConfiguration") or {}
    for subnet in conf.get("subnets") or []:
        try:
            ec2.get_subnet(subnet)
        except Exception:
            raise _invalid(f"Error retrieving subnet information for [{subnet}]: The subnet ID '{subnet}' "
                           f"does not exist (ErrorCode: InvalidSubnetID.NotFound)") from None
    known = {sg.id for sgs in ec2.groups.values() for sg in sgs.values()}
    for sg in conf.get("securityGroups") or []:
        if sg not in known:
            raise _invalid(f"Error retrieving security group information for [{sg}]: The security group "
                           f"'{sg}' does not exist (ErrorCode: InvalidGroup.NotFound)")


def _validate_load_balancers(td: TaskDefinition, lbs: list[LoadBalancerRef], world: MotoWorld) -> None:
    for lb in lbs:
        if not lb.target_group_arn:
            continue
        tg = world.target_group(lb.target_group_arn)
        if tg is None:
            raise _invalid("Unable to assume role and validate the specified targetGroupArn. Please verify that "
                           "the ECS service role being passed has the proper permissions.")
        if not tg.in_use:
            raise _invalid(f"The target group with targetGroupArn {lb.target_group_arn} does not have an "
                           f"associated load balancer.")
        container = td.container(lb.container_name)
        if container is None:
            raise _invalid(f"The container {lb.container_name} does not exist in the task definition.")
        if lb.container_port not in container.container_ports:
            raise _invalid(f"The container {lb.container_name} did not have a container port "
                           f"{lb.container_port} defined.")
        if td.network_mode == "awsvpc" and tg.target_type != "ip":
            raise _invalid(f"The provided target group {lb.target_group_arn} has target type {tg.target_type}, "
                           f"which is incompatible with the awsvpc network mode specified in the task definition.")


def _account_region(resp: Any) -> tuple[str, str]:
    return resp.current_account, resp.region


def _ecs_create_service(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        backend = self.ecs_backend
        controller = (self._get_param("deploymentController") or {}).get("type", "ECS")
        scheduling = self._get_param("schedulingStrategy") or "REPLICA"
        td_str = self._get_param("taskDefinition")
        if controller != "ECS" or scheduling != "REPLICA" or not td_str:
            return _original(type(self), "create_service")(self)
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        name = self._get_param("serviceName")
        existing = backend.services.get(f"{cluster.name}:{name}")
        if existing is not None and existing.status == "ACTIVE":
            raise _invalid("Creation of service was not idempotent.")
        if existing is not None:
            sim_old = fid.ecs.services.get(existing.arn)
            if sim_old is not None and sim_old.status == ecs_sim.DRAINING_SERVICE:
                raise _invalid("Unable to Start a service that is still Draining.")
        td = taskdef_from_moto(backend.describe_task_definition(td_str))
        account, region = _account_region(self)
        launch_type, strategy = _launch_settings(cluster, self._get_param("launchType"),
                                                 self._get_param("capacityProviderStrategy"))
        network = self._get_param("networkConfiguration")
        _validate_launch(td, launch_type, strategy, network, account, region)
        lbs = [LoadBalancerRef.from_api(lb) for lb in self._get_param("loadBalancers") or []]
        _validate_load_balancers(td, lbs, fid.world)
        result = _original(type(self), "create_service")(self)
        service = result.result["service"]
        if strategy:
            service.launch_type = None
            service.capacity_provider_strategy = list(strategy)
        spec = ServiceSpec(
            arn=service.arn, name=service.name, cluster_arn=cluster.arn, task_definition=td,
            desired_count=int(self._get_int_param("desiredCount") or 0), launch_type=launch_type,
            capacity_provider_strategy=strategy, platform_version=self._get_param("platformVersion"),
            network_configuration=network, load_balancers=tuple(lbs),
            deployment_config=DeploymentConfig().merged(self._get_param("deploymentConfiguration")),
            health_check_grace_period=int(self._get_param("healthCheckGracePeriodSeconds") or 0),
            placement_error=_placement_error(backend, cluster, launch_type, strategy))
        fid.ecs.create_service(spec, fid.now())
        fid.ecs.advance(fid.now())
        return ActionResult({"service": fid.service_view(service)})


def _ecs_update_service(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        backend = self.ecs_backend
        cluster_str = self._get_param("cluster", "default")
        service = backend._get_service(cluster_str, self._get_param("service"))
        sim = fid.ecs.services.get(service.arn)
        if sim is None:
            return _original(type(self), "update_service")(self)
        if sim.status != "ACTIVE":
            raise _error("ServiceNotActiveException", "Service was not ACTIVE.")
        td_str = self._get_param("taskDefinition")
        td = taskdef_from_moto(backend.describe_task_definition(td_str)) if td_str else None
        account, region = _account_region(self)
        network = self._get_param("networkConfiguration")
        launch_type = self._get_param("launchType")
        strategy = self._get_param("capacityProviderStrategy")
        effective_td = td or sim.primary.task_definition
        if td is not None or network is not None or launch_type or strategy:
            if strategy:
                effective_launch, effective_strategy = None, tuple(strategy)
            elif launch_type:
                effective_launch, effective_strategy = launch_type, ()
            else:
                effective_launch, effective_strategy = sim.launch_type, sim.capacity_provider_strategy
            effective_network = network if network is not None else sim.network_configuration
            _validate_launch(effective_td, effective_launch, effective_strategy, effective_network, account, region)
        raw_lbs = self._get_param("loadBalancers")
        lbs = [LoadBalancerRef.from_api(lb) for lb in raw_lbs] if raw_lbs is not None else None
        _validate_load_balancers(effective_td, list(lbs if lbs is not None else sim.load_balancers), fid.world)
        desired = self._get_param("desiredCount")
        result = _original(type(self), "update_service")(self)
        service = result.result["service"]
        fid.ecs.update_service(
            service.arn, fid.now(), task_definition=td,
            desired_count=int(desired) if desired is not None else None,
            force_new_deployment=bool(self._get_param("forceNewDeployment")),
            deployment_configuration=self._get_param("deploymentConfiguration"),
            network_configuration=network, load_balancers=lbs,
            health_check_grace_period=self._get_param("healthCheckGracePeriodSeconds"),
            platform_version=self._get_param("platformVersion"), launch_type=launch_type,
            capacity_provider_strategy=strategy)
        fid.ecs.advance(fid.now())
        return ActionResult({"service": fid.service_view(service)})


def _ecs_delete_service(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        result = _original(type(self), "delete_service")(self)
        service = result.result["service"]
        fid.ecs.delete_service(service.arn, fid.now())
        fid.ecs.advance(fid.now())
        return ActionResult({"service": fid.service_view(service)})


def _ecs_describe_services(self: Any) -> Any:
    fid = _fid()
    with fid.lock:
        fid.ecs.advance(fid.now())
        result = _original(type(self), "describe_services")(self)
        result.result["services"] = [fid.service_view(s) for s in result.result["services"]]
        return result


def _ecs_run_task(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        td = taskdef_from_moto(backend.describe_task_definition(self._get_param("taskDefinition")))
        count = self._get_int_param("count", 1)
        if not 1 <= count <= 10:
            raise _invalid("The value for count must be between 1 and 10.")
        account, region = _account_region(self)
        launch_type, strategy = _launch_settings(cluster, self._get_param("launchType"),
                                                 self._get_param("capacityProviderStrategy"))
        network = self._get_param("networkConfiguration")
        _validate_launch(td, launch_type, strategy, network, account, region)
        placement = _placement_error(backend, cluster, launch_type, strategy)
        if placement:
            raise _invalid(placement)
        tasks = fid.ecs.run_task(
            cluster.arn, td, fid.now(), count=count, overrides=self._get_param("overrides") or {},
            network=network, launch_type=launch_type, capacity_provider=ecs_sim._capacity_provider(strategy),
            started_by=self._get_param("startedBy") or "", group=self._get_param("group"),
            tags=self._get_param("tags") or [], platform_version=self._get_param("platformVersion"))
        return ActionResult({"tasks": [fid.ecs.task_view(t) for t in tasks], "failures": []})


def _moto_tasks(backend: Any, cluster: Any) -> dict[str, Any]:
    """Tasks moto itself holds (``StartTask`` on container instances); the simulator has the rest."""
    return dict(backend.tasks.get(cluster.name, {}))


def _ecs_describe_tasks(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        refs = self._get_param("tasks") or []
        if not refs:
            raise _invalid("Tasks cannot be empty.")
        include_tags = "TAGS" in (self._get_param("include") or [])
        account, region = _account_region(self)
        own = _moto_tasks(backend, cluster)
        fid.ecs.advance(fid.now())
        tasks: list[Any] = []
        failures = []
        for ref in refs:
            task = fid.ecs.find_task(ref, cluster.arn)
            if task is not None:
                tasks.append(fid.ecs.task_view(task, include_tags=include_tags))
                continue
            match = next((t for arn, t in own.items() if arn == ref or arn.endswith("/" + ref.rsplit("/", 1)[-1])),
                         None)
            if match is not None:
                tasks.append(match)
                continue
            arn = ref if ref.startswith("arn:") else f"arn:aws:ecs:{region}:{account}:task/{cluster.name}/{ref}"
            failures.append({"arn": arn, "reason": "MISSING"})
        return ActionResult({"tasks": tasks, "failures": failures})


def _ecs_list_tasks(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        desired = self._get_param("desiredStatus") or "RUNNING"
        service_name = self._get_param("serviceName")
        family = self._get_param("family")
        started_by = self._get_param("startedBy")
        container_instance = self._get_param("containerInstance")
        if service_name:
            backend._get_service(cluster.name, service_name)  # ServiceNotFoundException, as ECS answers
        fid.ecs.advance(fid.now())
        arns: list[str] = []
        if not container_instance:
            arns = [t.arn for t in fid.ecs.list_tasks(cluster.arn, service_name=service_name, family=family,
                                                      desired_status=desired, started_by=started_by,
                                                      launch_type=self._get_param("launchType"))]
        if _moto_tasks(backend, cluster) and not service_name:
            arns += [t.task_arn for t in backend.list_tasks(cluster.name, container_instance, family, started_by,
                                                            None, desired) if t.task_arn not in arns]
        limit = int(self._get_param("maxResults") or 100)
        start = int(self._get_param("nextToken") or 0)
        page = arns[start:start + limit]
        out: dict[str, Any] = {"taskArns": page}
        if start + limit < len(arns):
            out["nextToken"] = str(start + limit)
        return ActionResult(out)


def _ecs_stop_task(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        ref = self._get_param("task") or ""
        task = fid.ecs.find_task(ref, cluster.arn)
        if task is None:
            own = _moto_tasks(backend, cluster)
            if any(arn.endswith(ref.rsplit("/", 1)[-1]) for arn in own):
                return _original(type(self), "stop_task")(self)
            raise _invalid("The referenced task was not found.")
        fid.ecs.stop_task(task, fid.now(), self._get_param("reason"))
        fid.ecs.advance(fid.now())
        return ActionResult({"task": fid.ecs.task_view(task)})


def _ecs_list_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        backend = self.ecs_backend
        service = backend._get_service(self._get_param("cluster", "default"), self._get_param("service"))
        fid.ecs.advance(fid.now())
        sim = fid.ecs.services.get(service.arn)
        records = sorted(sim.service_deployments.values(), key=lambda r: r.created_at, reverse=True) if sim else []
        wanted = set(self._get_param("status") or [])
        created = self._get_param("createdAt") or {}
        out = []
        for record in records:
            if wanted and record.status not in wanted:
                continue
            at = fid.ecs.wall(record.created_at)
            if created.get("after") is not None and at < _aware(created["after"]):
                continue
            if created.get("before") is not None and at > _aware(created["before"]):
                continue
            out.append(fid.ecs.service_deployment_view(record, brief=True))
        limit = int(self._get_param("maxResults") or 20)
        start = int(self._get_param("nextToken") or 0)
        result: dict[str, Any] = {"serviceDeployments": out[start:start + limit]}
        if start + limit < len(out):
            result["nextToken"] = str(start + limit)
        return ActionResult(result)


def _aware(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value))


def _ecs_describe_service_deployments(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        arns = self._get_param("serviceDeploymentArns") or []
        fid.ecs.advance(fid.now())
        found, failures = [], []
        for arn in arns:
            record = fid.ecs.find_service_deployment(arn)
            if record is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(fid.ecs.service_deployment_view(record))
        return ActionResult({"serviceDeployments": found, "failures": failures})


def _ecs_describe_service_revisions(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        found, failures = [], []
        for arn in self._get_param("serviceRevisionArns") or []:
            revision = fid.ecs.find_revision(arn)
            if revision is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(fid.ecs.revision_view(revision))
        return ActionResult({"serviceRevisions": found, "failures": failures})


def _ecs_stop_service_deployment(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    with fid.lock:
        arn = self._get_param("serviceDeploymentArn")
        stop_type = self._get_param("stopType") or "ROLLBACK"
        record = fid.ecs.find_service_deployment(arn)
        if record is None:
            raise _error("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
        if stop_type != "ROLLBACK":
            raise _invalid(f"stopType {stop_type} is not modelled by the local stack; use ROLLBACK.")
        try:
            fid.ecs.stop_service_deployment(record, fid.now())
        except ValueError as exc:
            raise _error("ConflictException", str(exc)) from None
        fid.ecs.advance(fid.now())
        return ActionResult({"serviceDeploymentArn": arn})


# ---- the world the simulator sees: moto's ELBv2, ECR and EC2 backends


_ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                        r"(?P<repo>[^:@]+)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


class MotoWorld:
    """:class:`~pipeline_py.local.ecs_sim.World` backed by moto's backends (called under the lock)."""

    def __init__(self) -> None:
        self._rng = random.Random()
        self._spread = 0

    @staticmethod
    def _split(arn: str) -> tuple[str, str]:
        parts = arn.split(":")
        return parts[4], parts[3]

    def _target_group(self, arn: str) -> tuple[Any, Any] | tuple[None, None]:
        from moto.elbv2.models import elbv2_backends

        try:
            account, region = self._split(arn)
            backend = elbv2_backends[account][region]
        except (IndexError, KeyError):
            return None, None
        return backend, backend.target_groups.get(arn)

    def target_group(self, arn: str) -> TargetGroupConfig | None:
        backend, tg = self._target_group(arn)
        if tg is None:
            return None
        return TargetGroupConfig(
            arn=arn, target_type=tg.target_type or "instance", port=int(tg.port) if tg.port else None,
            protocol=tg.protocol, health_check_enabled=bool(tg.health_check_enabled),
            health_check_port=str(tg.health_check_port or "traffic-port"),
            interval=float(tg.health_check_interval_seconds or 30),
            healthy_threshold=int(tg.healthy_threshold_count or 5),
            unhealthy_threshold=int(tg.unhealthy_threshold_count or 2),
            deregistration_delay=float(tg.attributes.get("deregistration_delay.timeout_seconds", 300)),
            in_use=bool(load_balancers_using(backend, arn)))

    def resolve_image(self, image: str, account: str, region: str) -> tuple[str | None, str | None]:
        from moto.ecr.models import ecr_backends

        m = _ECR_IMAGE.match(image or "")
        if not m or m["account"] != account or m["region"] != region:
            return None, None
        try:
            repo = ecr_backends[account][region].repositories.get(m["repo"])
        except KeyError:
            return None, None
        if repo is None:
            return None, None
        digest, tag = m["digest"], m["tag"]
        for img in repo.images:
            if digest and img.image_digest == digest:
                return None, digest
            if not digest and (tag or "latest") in (img.image_tags or []):
                return None, img.image_digest
        return ecs_sim._pull_error_message(image), None

    def attach_eni(self, task: Task) -> Eni | None:
        from moto.ec2.models import ec2_backends

        conf = (task.network or {}).get("awsvpcConfiguration") or {}
        subnets = conf.get("subnets") or []
        if not subnets:
            return None
        subnet_id = subnets[self._spread % len(subnets)]
        self._spread += 1
        try:
            ec2 = ec2_backends[task.account][task.region]
            subnet = ec2.get_subnet(subnet_id)
            ip = self._free_ip(ec2, subnet)
            eni = ec2.create_network_interface(
                subnet=subnet_id, private_ip_address=ip, group_ids=list(conf.get("securityGroups") or []),
                description=f"arn:aws:ecs:{task.region}:{task.account}:attachment/{task.attachment_id}")
            eni.status = "in-use"
            eni.requester_managed = True
            dns = getattr(eni, "private_dns_name", None) or _private_dns(ip, task.region)
            return Eni(eni.id, eni.private_ip_address, subnet_id, eni.mac_address, dns, subnet.availability_zone)
        except Exception:
            log.exception("could not create the ENI of task %s in %s", task.id, subnet_id)
            ip = f"10.{self._rng.randrange(256)}.{self._rng.randrange(256)}.{self._rng.randrange(4, 255)}"
            return Eni(f"eni-{self._rng.getrandbits(68):017x}", ip, subnet_id, "", _private_dns(ip, task.region), "")

    def _free_ip(self, ec2: Any, subnet: Any) -> str:
        network = ipaddress.ip_network(subnet.cidr_block, strict=False)
        used = {e.private_ip_address for e in ec2.enis.values()
                if getattr(getattr(e, "subnet", None), "id", None) == subnet.id}
        for _ in range(200):
            ip = str(network.network_address + self._rng.randrange(4, max(network.num_addresses - 1, 5)))
            if ip not in used:
                return ip
        raise RuntimeError(f"subnet {subnet.id} has no free address")

    def release_eni(self, task: Task) -> None:
        from moto.ec2.models import ec2_backends

        if task.eni is None:
            return
        try:
            ec2_backends[task.account][task.region].delete_network_interface(task.eni.id)
        except Exception:  # already gone (deleted by hand, or moto was reset)
            pass

    def targets_changed(self, added: list[Target], removed: list[Target]) -> None:
        for target in added:
            _, tg = self._target_group(target.target_group_arn)
            if tg is not None:
                tg.targets[target.id] = {"Id": target.id, "Port": target.port}
                tg.deregistered_targets.pop(target.id, None)
        for target in removed:
            _, tg = self._target_group(target.target_group_arn)
            if tg is not None and int(tg.targets.get(target.id, {}).get("Port", -1)) == target.port:
                tg.deregistered_targets[target.id] = tg.targets.pop(target.id)


def _private_dns(ip: str, region: str) -> str:
    host = "ip-" + ip.replace(".", "-")
    return f"{host}.ec2.internal" if region == "us-east-1" else f"{host}.{region}.compute.internal"


# ============================================================================================
# 3. ELBv2
# ============================================================================================
# moto internals used here (pinned in tests/unit/test_moto_pins.py):
#   moto.elbv2.responses.ELBV2Response: elbv2_backend, _get_param and the actions
#     describe_target_health, register_targets, deregister_targets
#   ELBv2Backend: target_groups, load_balancers, describe_target_health
#   FakeTargetGroup: targets, deregistered_targets, attributes, port, protocol, target_type,
#     health_check_* / *_threshold_count, load_balancer_arns, deregister
#   FakeLoadBalancer.listeners; FakeListener: default_actions, rules; FakeRule.actions; FakeAction.data
#   FakeHealthStatus: instance_id, port, health_check_port, status, reason, description
#   moto.elbv2.exceptions: TargetGroupNotFoundError, InvalidTargetError


def _install_elbv2() -> None:
    from moto.elbv2.responses import ELBV2Response as R

    _patch(R, "describe_target_health", _elb_describe_target_health)
    _patch(R, "register_targets", _elb_register_targets)
    _patch(R, "deregister_targets", _elb_deregister_targets)


def load_balancers_using(backend: Any, target_group_arn: str) -> set[str]:
    """Load balancers whose listeners (default actions or rules) forward to the target group."""
    found = set(getattr(backend.target_groups.get(target_group_arn), "load_balancer_arns", []) or [])
    for lb_arn, lb in backend.load_balancers.items():
        for listener in lb.listeners.values():
            actions = list(listener.default_actions)
            for rule in listener.rules.values():
                actions += list(rule.actions)
            for action in actions:
                data = getattr(action, "data", {}) or {}
                arns = {data.get("TargetGroupArn")}
                arns |= {tg.get("TargetGroupArn") for tg in (data.get("ForwardConfig") or {}).get("TargetGroups", [])}
                if target_group_arn in arns:
                    found.add(lb_arn)
    return found


def _moto_health(h: Any) -> dict[str, Any]:
    health = {k: v for k, v in (("State", h.status), ("Reason", h.reason), ("Description", h.description)) if v}
    out: dict[str, Any] = {"Target": {"Id": h.instance_id, "Port": int(h.port)}, "TargetHealth": health}
    if h.health_check_port:
        out["HealthCheckPort"] = str(h.health_check_port) if h.health_check_port != "traffic-port" else str(h.port)
    return out


def _elb_describe_target_health(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.elbv2.exceptions import TargetGroupNotFoundError

    fid = _fid()
    with fid.lock:
        arn = self._get_param("TargetGroupArn")
        backend = self.elbv2_backend
        tg = backend.target_groups.get(arn)
        if tg is None:
            raise TargetGroupNotFoundError()
        fid.ecs.advance(fid.now())
        out = []
        for h in backend.describe_target_health(arn, self._get_param("Targets", [])):
            sim = fid.elb.get(arn, h.instance_id, int(h.port))
            out.append(sim.describe(tg.health_check_port) if sim is not None else _moto_health(h))
        return ActionResult({"TargetHealthDescriptions": out})


def _elb_register_targets(self: Any) -> Any:
    fid = _fid()
    with fid.lock:
        result = _original(type(self), "register_targets")(self)
        arn = self._get_param("TargetGroupArn")
        config = fid.world.target_group(arn)
        if config is not None:
            now = fid.now()
            for target in self._get_param("Targets", []):
                port = int(target.get("Port") or config.port or 80)
                fid.elb.register(config, target["Id"], port, now, availability_zone=target.get("AvailabilityZone"))
        return result


def _elb_deregister_targets(self: Any) -> Any:
    from moto.core.responses import EmptyResult
    from moto.elbv2.exceptions import InvalidTargetError, TargetGroupNotFoundError

    fid = _fid()
    with fid.lock:
        arn = self._get_param("TargetGroupArn")
        targets = self._get_param("Targets", [])
        tg = self.elbv2_backend.target_groups.get(arn)
        if tg is None:
            raise TargetGroupNotFoundError()
        if any(t["Id"] not in tg.targets for t in targets):
            raise InvalidTargetError()
        config = fid.world.target_group(arn)
        now = fid.now()
        for target in targets:
            port = int(target.get("Port") or tg.targets[target["Id"]].get("Port") or tg.port)
            if fid.elb.get(arn, target["Id"], port) is not None:
                fid.elb.deregister(arn, target["Id"], port, now, config.deregistration_delay if config else 0.0)
            else:
                tg.deregister([target])
        return EmptyResult()


# ============================================================================================
# 4. CloudWatch
# ============================================================================================
# moto internals used here (pinned in tests/unit/test_moto_pins.py):
#   moto.cloudwatch.responses.CloudWatchResponse: cloudwatch_backend, current_account, region,
#     _get_param, _get_int_param, _get_params and the actions get_metric_statistics, get_metric_data,
#     list_metrics (replaced), describe_alarms (wrapped) and describe_alarm_history (added; moto lacks it)
#   CloudWatchBackend: put_metric_data (replaced), put_metric_alarm and set_alarm_state (wrapped),
#     _validate_parameters_put_metric_data, alarms, aws_metric_data, account_id, region_name
#   Alarm: name, alarm_arn, namespace, metric_name, dimensions (Dimension.name/.value), statistic,
#     extended_statistic, period, evaluation_periods, datapoints_to_alarm, threshold,
#     comparison_operator, treat_missing_data, evaluate_low_sample_count_percentile, unit,
#     metric_data_queries, rule, state_value, state_reason, state_reason_data, state_updated_timestamp
#   MetricDatum.value / MetricAggregatedDatum.sum/min/max/sample_count with namespace, name,
#     dimensions, timestamp, unit (the data moto's metric providers such as S3 compute on the fly)
#   moto.cloudwatch.metric_data_expression_parser.parse_expression
#   moto.cloudwatch.exceptions: InvalidParameterValue, InvalidParameterCombination, ValidationError

HISTORY_KEPT = 100
_PRUNE_EVERY = 10.0


def _install_cloudwatch() -> None:
    from moto.cloudwatch.models import CloudWatchBackend as B
    from moto.cloudwatch.responses import CloudWatchResponse as R

    _patch(B, "put_metric_data", _cw_put_metric_data)
    _patch(B, "put_metric_alarm", _cw_put_metric_alarm)
    _patch(B, "set_alarm_state", _cw_set_alarm_state)
    _patch(R, "get_metric_statistics", _cw_get_metric_statistics)
    _patch(R, "get_metric_data", _cw_get_metric_data)
    _patch(R, "list_metrics", _cw_list_metrics)
    _patch(R, "describe_alarm_history", _cw_describe_alarm_history)
    _patch(R, "describe_alarms", _cw_describe_alarms)


def _cw_errors() -> Any:
    from moto.cloudwatch import exceptions

    return exceptions


def _backends(backend_dict: Any) -> list[tuple[str, str, Any]]:
    """(account, region, backend) of every backend moto has created, without creating any."""
    out = []
    for account, regional in list(dict.items(backend_dict)):
        for region, backend in list(dict.items(regional)):
            out.append((account, region, backend))
    return out


def alarm_spec(alarm: Any) -> cw.AlarmSpec | None:
    """What the evaluator needs of a moto alarm; None for composite and metric-maths alarms."""
    if getattr(alarm, "rule", None) is not None or getattr(alarm, "metric_data_queries", None):
        return None
    stat = alarm.extended_statistic or alarm.statistic
    if not alarm.metric_name or not stat or alarm.period is None or alarm.evaluation_periods is None:
        return None
    return cw.AlarmSpec(
        name=alarm.name, namespace=alarm.namespace or "", metric_name=alarm.metric_name,
        dimensions=tuple((str(d.name), str(d.value)) for d in alarm.dimensions or ()), stat=stat,
        period=int(alarm.period), evaluation_periods=int(alarm.evaluation_periods),
        threshold=float(alarm.threshold if alarm.threshold is not None else 0.0),
        comparison=alarm.comparison_operator or "",
        datapoints_to_alarm=int(alarm.datapoints_to_alarm) if alarm.datapoints_to_alarm else None,
        treat_missing=alarm.treat_missing_data or "missing", low_sample=alarm.evaluate_low_sample_count_percentile,
        unit=alarm.unit, extended=bool(alarm.extended_statistic))


class CloudWatchWorld:
    """Metric stores per account and region, alarm evaluation and alarm history (a ticker)."""

    def __init__(self, fid: Fidelity) -> None:
        self.fid = fid
        self.stores: dict[tuple[str, str], cw.MetricStore] = {}
        self.schedule = cw.AlarmSchedule()
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.evaluations = 0
        self._pruned_at = 0.0

    def store(self, account: str, region: str) -> cw.MetricStore:
        key = (account, region)
        store = self.stores.get(key)
        if store is None:
            store = self.stores[key] = cw.MetricStore()
        return store

    def sink(self, point: MetricPoint) -> None:
        store = self.store(point.account, point.region)
        key = cw.series_key(point.namespace, point.name, point.dimensions)
        if point.distribution:
            for hist, count in point.distribution:
                store.put_distribution(key, point.second, hist, count, point.unit)
        elif point.value is not None:
            store.put_value(key, point.second, point.value, point.unit)

    def tick(self, now: float) -> None:
        wall = self.fid.wall_seconds()
        if wall - self._pruned_at >= _PRUNE_EVERY:
            self._pruned_at = wall
            timing = self.fid.timing
            for store in self.stores.values():
                store.roll_up(wall - timing.metric_high_resolution)
                store.prune(wall - timing.metric_retention)
        self.evaluate(wall)

    def evaluate(self, wall: float) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        for account, region, backend in _backends(cloudwatch_backends):
            for alarm in list(backend.alarms.values()):
                spec = alarm_spec(alarm)
                if spec is None or not spec.evaluable:
                    continue
                at = self.schedule.due(alarm.alarm_arn, spec.period, wall)
                if at is None:
                    continue
                self.evaluations += 1
                try:
                    decision = cw.evaluate_alarm(spec, self.stores.get((account, region)), at, query_time=wall)
                except ValueError:  # a statistic CloudWatch would have refused: the alarm stays as it is
                    continue
                if decision is not None and decision.state != alarm.state_value:
                    self.set_state(alarm, decision.state, decision.reason, json.dumps(decision.reason_data), wall)

    def set_state(self, alarm: Any, state: str, reason: str, reason_data: str | None, wall: float,
                  *, force: bool = False) -> None:
        old_state, old_reason = alarm.state_value, alarm.state_reason
        if state == old_state and not force:
            return
        at = cw.utc(wall)
        alarm.state_value = state
        alarm.state_reason = reason
        alarm.state_reason_data = reason_data
        alarm.state_updated_timestamp = at
        if state != old_state:
            alarm.state_transitioned_timestamp = at
        new: dict[str, Any] = {"stateValue": state, "stateReason": reason}
        if reason_data:
            try:
                new["stateReasonData"] = json.loads(reason_data)
            except ValueError:
                pass
        self.record(alarm, at, "StateUpdate", f"Alarm updated from {old_state} to {state}",
                    {"version": "1.0", "oldState": {"stateValue": old_state, "stateReason": old_reason},
                     "newState": new})

    def record(self, alarm: Any, at: datetime, kind: str, summary: str, data: dict[str, Any]) -> None:
        items = self.history.setdefault(alarm.alarm_arn, [])
        items.append({"AlarmName": alarm.name, "AlarmType": "MetricAlarm" if alarm.rule is None else "CompositeAlarm",
                      "Timestamp": at, "HistoryItemType": kind, "HistorySummary": summary,
                      "HistoryData": json.dumps(data)})
        del items[:-HISTORY_KEPT]

    def reset(self) -> None:
        self.stores.clear()
        self.schedule.reset()
        self.history.clear()
        self.evaluations = 0

    def status(self) -> dict[str, Any]:
        return {"cloudwatch": {"series": sum(len(s.series) for s in self.stores.values()),
                               "buckets": sum(s.bucket_count() for s in self.stores.values()),
                               "alarm_evaluations": self.evaluations}}


def _metric_stores(resp_or_backend: Any) -> list[cw.MetricStore]:
    """Our store for the caller's account and region, plus what moto's metric providers (S3)
    compute on the fly."""
    backend = getattr(resp_or_backend, "cloudwatch_backend", resp_or_backend)
    fid = _fid()
    stores = [fid.metrics.store(backend.account_id, backend.region_name)]
    try:
        provided = list(backend.aws_metric_data)
    except Exception:  # a provider failing must not break CloudWatch
        log.exception("moto's CloudWatch metric providers failed")
        provided = []
    if provided:
        extra = cw.MetricStore()
        for md in provided:
            key = cw.series_key(md.namespace, md.name, [(d.name, d.value) for d in md.dimensions])
            second = cw.epoch_seconds(md.timestamp)
            if hasattr(md, "value"):
                extra.put_value(key, second, float(md.value), md.unit)
            else:
                extra.put_statistics(key, second, float(md.sum), float(md.sample_count), float(md.min),
                                     float(md.max), md.unit)
        stores.append(extra)
    return stores


def _store_for(stores: list[cw.MetricStore], key: cw.SeriesKey) -> cw.MetricStore | None:
    return next((s for s in stores if key in s.series), None)


def _cw_put_metric_data(self: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
    fid = _fid()
    for i, metric in enumerate(metric_data):
        self._validate_parameters_put_metric_data(metric, i + 1)
    with fid.lock:
        fid.metrics.store(self.account_id, self.region_name).put_metric_data(namespace, metric_data,
                                                                             fid.wall_seconds())


def _cw_put_metric_alarm(self: Any, *args: Any, **kwargs: Any) -> Any:
    fid = _fid()
    with fid.lock:
        name = kwargs.get("name", args[0] if args else None)
        old = self.alarms.get(name)
        alarm = _original(type(self), "put_metric_alarm")(self, *args, **kwargs)
        wall = fid.wall_seconds()
        at = cw.utc(wall)
        alarm.configuration_updated_timestamp = at
        if old is not None:  # CloudWatch keeps the state of an alarm it updates
            for attr in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp",
                         "state_transitioned_timestamp", "history"):
                if hasattr(old, attr):
                    setattr(alarm, attr, getattr(old, attr))
        else:
            alarm.state_value = cw.INSUFFICIENT_DATA
            alarm.state_reason = "Unchecked: Initial alarm creation"
            alarm.state_updated_timestamp = alarm.state_transitioned_timestamp = at
        fid.metrics.schedule.forget(alarm.alarm_arn)
        fid.metrics.record(alarm, at, "ConfigurationUpdate",
                           f'Alarm "{name}" {"updated" if old is not None else "created"}',
                           {"version": "1.0", "type": "Update" if old is not None else "Create"})
        return alarm


def _cw_set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str | None, state_value: str) -> None:
    fid = _fid()
    with fid.lock:
        alarm = self.alarms.get(alarm_name)
        before = (alarm.state_value, alarm.state_reason) if alarm is not None else None
        _original(type(self), "set_alarm_state")(self, alarm_name, reason, reason_data, state_value)
        alarm = self.alarms[alarm_name]
        wall = fid.wall_seconds()
        if before is not None:
            alarm.state_value, alarm.state_reason = before
        fid.metrics.set_state(alarm, state_value, reason, reason_data, wall, force=True)
        fid.metrics.schedule.hold(alarm.alarm_arn, wall, fid.timing.alarm_set_state_hold)


def _time_param(value: Any, name: str) -> float:
    try:
        return cw.epoch_seconds(value)
    except (TypeError, ValueError):
        raise _cw_errors().InvalidParameterValue(f"The parameter {name} is not a valid timestamp.") from None


def _stat(text: str, where: str) -> cw.Stat:
    try:
        return cw.parse_stat(text)
    except ValueError:
        raise _cw_errors().InvalidParameterValue(f"The value {text} for parameter {where} is not supported.") from None


def _series_unit(store: cw.MetricStore | None, key: cw.SeriesKey, unit: str | None) -> str:
    if unit:
        return unit
    units = store.units(key) if store is not None else set()
    units.discard(None)
    return units.pop() if len(units) == 1 else "None"


def _cw_get_metric_statistics(self: Any) -> Any:
    from moto.core.responses import ActionResult

    errors = _cw_errors()
    fid = _fid()
    namespace = self._get_param("Namespace")
    metric_name = self._get_param("MetricName")
    period = self._get_int_param("Period")
    statistics = list(self._get_param("Statistics") or [])
    extended = list(self._get_param("ExtendedStatistics") or [])
    dimensions = self._get_param("Dimensions") or []
    unit = self._get_param("Unit")
    if not statistics and not extended:
        raise errors.InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
    if statistics and extended:
        raise errors.InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics, but not both.")
    for i, name in enumerate(statistics, 1):
        if name not in cw.BASIC_STATS:
            raise errors.InvalidParameterValue(f"The value {name} for parameter Statistics.member.{i} is not valid.")
    parsed = [(text, _stat(text, f"ExtendedStatistics.member.{i}")) for i, text in enumerate(extended, 1)]
    start = _time_param(self._get_param("StartTime"), "StartTime")
    end = _time_param(self._get_param("EndTime"), "EndTime")
    if start >= end:
        raise errors.InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    if not period or period < 1:
        raise errors.InvalidParameterValue("The parameter Period must be greater than 0.")
    requested = math.ceil((end - cw.align_start(math.floor(start), period)) / period)
    if requested > 1440:
        raise errors.InvalidParameterCombination(
            f"You have requested up to {requested} datapoints, which exceeds the limit of 1440. You may reduce "
            "the datapoints requested by increasing Period, or decreasing the time range.")
    key = cw.series_key(namespace, metric_name, dimensions)
    with fid.lock:
        fid.advance_metrics()
        store = _store_for(_metric_stores(self), key)
        datapoints = []
        shown_unit = _series_unit(store, key, unit)
        for at, bucket in (store.datapoints(key, start, end, period, unit) if store else ()):
            point: dict[str, Any] = {"Timestamp": cw.utc(at), "Unit": shown_unit}
            for name in statistics:
                point[name] = cw.compute(bucket, name)
            if parsed:
                values = {text: cw.compute(bucket, stat) for text, stat in parsed}
                point["ExtendedStatistics"] = {k: v for k, v in values.items() if v is not None}
            datapoints.append(point)
    return ActionResult({"Label": metric_name, "Datapoints": datapoints})


def _cw_get_metric_data(self: Any) -> Any:
    from moto.cloudwatch.metric_data_expression_parser import parse_expression
    from moto.core.responses import ActionResult

    errors = _cw_errors()
    fid = _fid()
    params = self._get_params()
    start = _time_param(params.get("StartTime"), "StartTime")
    end = _time_param(params.get("EndTime"), "EndTime")
    if start > end:
        raise errors.ValidationError("The parameter EndTime must be greater than StartTime.")
    if start == end:
        raise errors.ValidationError("The parameter StartTime must not equal parameter EndTime.")
    scan_by = params.get("ScanBy") or "TimestampDescending"
    queries = params.get("MetricDataQueries") or []
    plans = []
    for i, query in enumerate(queries, 1):
        if "MetricStat" not in query and "Expression" not in query:
            raise errors.ValidationError(f"The parameter MetricDataQueries.member.{i}.MetricStat is required.\n")
        if "MetricStat" in query:
            ms = query["MetricStat"]
            plans.append((query, _stat(ms.get("Stat", ""), f"MetricDataQueries.member.{i}.MetricStat.Stat")))
        else:
            plans.append((query, None))
    results: list[dict[str, Any]] = []
    with fid.lock:
        fid.advance_metrics()
        stores = _metric_stores(self)
        for query, stat in plans:
            if stat is None:
                continue
            ms = query["MetricStat"]
            metric = ms["Metric"]
            key = cw.series_key(metric.get("Namespace", ""), metric.get("MetricName", ""),
                                metric.get("Dimensions") or [])
            store = _store_for(stores, key)
            values, stamps = [], []
            for at, bucket in (store.datapoints(key, start, end, int(ms.get("Period") or 60), ms.get("Unit"))
                               if store else ()):
                value = cw.compute(bucket, stat)
                if value is not None:
                    values.append(value)
                    stamps.append(cw.utc(at))
            results.append({"id": query["Id"], "label": query.get("Label") or f"{metric.get('MetricName')} {stat.text}",
                            "values": values, "timestamps": stamps, "query": query})
    for query, stat in plans:
        if stat is not None:
            continue
        expression = query["Expression"]
        if expression.strip().upper().startswith("SELECT"):
            values, stamps = [], []  # Metrics Insights queries are not modelled
        else:
            values, stamps = parse_expression(expression, results)
            pairs = sorted(zip(stamps, values, strict=True))
            stamps, values = [t for t, _ in pairs], [v for _, v in pairs]
        results.append({"id": query["Id"], "label": query.get("Label") or query["Id"], "values": values,
                        "timestamps": stamps, "query": query})
    out = []
    order = {q["Id"]: i for i, q in enumerate(queries)}
    for r in sorted(results, key=lambda r: order.get(r["id"], 0)):
        if r["query"].get("ReturnData", True) is False:
            continue
        values, stamps = list(r["values"]), list(r["timestamps"])
        if scan_by == "TimestampDescending":
            values.reverse()
            stamps.reverse()
        out.append({"Id": r["id"], "Label": r["label"], "Timestamps": stamps, "Values": values,
                    "StatusCode": "Complete", "Messages": []})
    return ActionResult({"MetricDataResults": out, "Messages": []})


def _cw_describe_alarms(self: Any) -> Any:
    fid = _fid()
    with fid.lock:
        fid.advance_metrics()
        return _original(type(self), "describe_alarms")(self)


def _cw_list_metrics(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    namespace = self._get_param("Namespace")
    metric_name = self._get_param("MetricName")
    dimensions = self._get_params().get("Dimensions") or []
    token = self._get_param("NextToken")
    try:
        offset = int(token) if token else 0
    except ValueError:
        raise _cw_errors().InvalidParameterValue("Request parameter NextToken is invalid") from None
    with fid.lock:
        keys: set[cw.SeriesKey] = set()
        for store in _metric_stores(self):
            keys.update(store.keys(namespace, metric_name, dimensions))
    ordered = sorted(keys)
    page = ordered[offset:offset + 500]
    metrics = [{"Namespace": ns, "MetricName": name, "Dimensions": [{"Name": n, "Value": v} for n, v in dims]}
               for ns, name, dims in page]
    result: dict[str, Any] = {"Metrics": metrics}
    if offset + 500 < len(ordered):
        result["NextToken"] = str(offset + 500)
    return ActionResult(result)


def _cw_describe_alarm_history(self: Any) -> Any:
    from moto.core.responses import ActionResult

    fid = _fid()
    name = self._get_param("AlarmName")
    types = set(self._get_param("AlarmTypes") or [])
    kind = self._get_param("HistoryItemType")
    start = self._get_param("StartDate")
    end = self._get_param("EndDate")
    limit = int(self._get_param("MaxRecords") or 100)
    token = self._get_param("NextToken")
    scope = f":cloudwatch:{self.region}:{self.current_account}:alarm:"
    with fid.lock:
        fid.advance_metrics()
        items = [item for arn, history in fid.metrics.history.items() if scope in arn for item in history]
    items = [i for i in items if (not name or i["AlarmName"] == name) and (not types or i["AlarmType"] in types)
             and (not kind or i["HistoryItemType"] == kind)
             and (start is None or i["Timestamp"].timestamp() >= cw.epoch_seconds(start))
             and (end is None or i["Timestamp"].timestamp() < cw.epoch_seconds(end))]
    items.sort(key=lambda i: i["Timestamp"], reverse=(self._get_param("ScanBy") or "TimestampDescending")
               == "TimestampDescending")
    offset = int(token) if token and token.isdigit() else 0
    result: dict[str, Any] = {"AlarmHistoryItems": items[offset:offset + limit]}
    if offset + limit < len(items):
        result["NextToken"] = str(offset + limit)
    return ActionResult(result)


# ============================================================================================
# 5. Traffic
# ============================================================================================
# moto internals used here (pinned in tests/unit/test_moto_pins.py):
#   moto.elbv2.models.elbv2_backends; ELBv2Backend: load_balancers, target_groups,
#     tagging_service.get_tag_dict_for_resource
#   FakeLoadBalancer: arn, name, type, listeners; FakeListener: arn, port, default_actions, rules;
#   FakeRule/FakeListenerRule: arn, actions, is_default; FakeAction.data (Type, TargetGroupArn,
#   ForwardConfig.TargetGroups[].TargetGroupArn/Weight)

RATE_TAG = "pipeline-py:traffic-rate"


def forward_groups(actions: list[Any]) -> tuple[tuple[str, int], ...]:
    """(target group ARN, weight) of the forward action among ``actions`` (moto FakeActions or dicts)."""
    for action in actions or ():
        data = getattr(action, "data", action) or {}
        if data.get("Type") != "forward":
            continue
        groups = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return tuple((g["TargetGroupArn"], int(g.get("Weight", 1) or 0)) for g in groups)
        if data.get("TargetGroupArn"):
            return ((data["TargetGroupArn"], 1),)
    return ()


def _rate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isinf(value):
        raise ValueError(f"traffic: {where} must be a number of requests per second >= 0 (got {value!r})")
    return float(value)


class TrafficWorld:
    """The traffic model fed from moto's listeners and the simulated targets (a ticker)."""

    def __init__(self, fid: Fidelity) -> None:
        self.fid = fid
        self.sim = TrafficSim(fid.metrics.sink)
        self.rate: float | None = None
        self.overrides: dict[str, float] = {}

    @property
    def default_rate(self) -> float:
        return self.rate if self.rate is not None else self.fid.timing.traffic_rate

    def tick(self, now: float) -> None:
        self.sim.advance(self.fid.wall_seconds(), self.topology())

    def reset(self) -> None:
        self.sim.reset()
        self.rate = None
        self.overrides.clear()

    def _rate_for(self, backend: Any, lb: Any, listener: Any, rule: Any | None) -> float:
        keys = [rule.arn] if rule is not None else []
        keys += [listener.arn, f"{lb.name}:{listener.port}", lb.arn, lb.name]
        for key in keys:
            if key in self.overrides:
                return self.overrides[key]
        for arn in ([rule.arn] if rule is not None else []) + [listener.arn, lb.arn]:
            try:
                tag = backend.tagging_service.get_tag_dict_for_resource(arn).get(RATE_TAG)
            except Exception:
                tag = None
            if tag is not None:
                try:
                    return max(float(tag), 0.0)
                except ValueError:
                    log.warning("ignoring %s=%r on %s: not a number", RATE_TAG, tag, arn)
        return self.default_rate

    def topology(self) -> Topology:
        from moto.elbv2.models import elbv2_backends

        routes: list[Route] = []
        groups: dict[str, Group] = {}
        for _, _, backend in _backends(elbv2_backends):
            for lb in list(backend.load_balancers.values()):
                if (getattr(lb, "type", "application") or "application") != "application":
                    continue
                for listener in list(lb.listeners.values()):
                    candidates = [(listener.arn, listener.default_actions, None)]
                    candidates += [(rule.arn, rule.actions, rule) for rule in list(listener.rules.values())
                                   if not rule.is_default]
                    for key, actions, rule in candidates:
                        forwards = forward_groups(actions)
                        if not forwards:
                            continue
                        label = f"{lb.name}:{listener.port}" + (f" rule {rule.priority}" if rule is not None else "")
                        routes.append(Route(key, lb.arn, self._rate_for(backend, lb, listener, rule), forwards, label))
                        for tg, _ in forwards:
                            if tg not in groups:
                                groups[tg] = self._group(tg)
        return Topology(tuple(routes), groups)

    def _group(self, arn: str) -> Group:
        healthy, unhealthy = [], []
        for target in self.fid.elb.in_group(arn):
            if target.state in (HEALTHY, UNAVAILABLE):
                healthy.append(Backend("|".join(map(str, target.key)), self._behaviour(target)))
            elif target.state == UNHEALTHY:
                unhealthy.append(Backend("|".join(map(str, target.key)), self._behaviour(target)))
        return Group(arn, tuple(healthy), tuple(unhealthy))

    def _behaviour(self, target: Target) -> Behaviour | None:
        if target.owner is None:
            return Behaviour()
        task = self.fid.ecs.find_task(target.owner)
        if task is None:
            return Behaviour()
        if task.last_status != "RUNNING":
            return None
        return Behaviour.from_scenario(task.scenario)

    def route(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method in ("POST", "PUT"):
            if not isinstance(payload, dict) or set(payload) - {"rate", "listeners"}:
                raise ValueError("traffic: expected {\"rate\": N, \"listeners\": {\"<listener/rule/LB ARN, LB name "
                                 "or name:port>\": N}}")
            rate = _rate(payload["rate"], "rate") if payload.get("rate") is not None else None
            listeners = payload.get("listeners") or {}
            if not isinstance(listeners, dict):
                raise ValueError("traffic: listeners must be an object")
            changes = {str(k): (None if v is None else _rate(v, f"listeners[{k!r}]")) for k, v in listeners.items()}
            self.fid.advance_metrics()
            if method == "PUT":
                self.rate, self.overrides = rate, {}
            elif "rate" in payload:
                self.rate = rate
            for k, v in changes.items():
                if v is None:
                    self.overrides.pop(k, None)
                else:
                    self.overrides[k] = v
        elif method == "DELETE":
            self.fid.advance_metrics()
            self.rate, self.overrides = None, {}
        elif method != "GET":
            raise ValueError(f"traffic: method {method} not allowed (GET, POST merges, PUT replaces, DELETE resets)")
        return self.status()["traffic"]

    def status(self) -> dict[str, Any]:
        topology = self.topology()
        routes = [{"route": r.label, "arn": r.key, "rate": r.rate,
                   "weights": {tg.rsplit(":", 1)[-1]: w for tg, w in r.forwards}} for r in topology.routes]
        return {"traffic": {"rate": self.default_rate, "overrides": dict(self.overrides), "routes": routes,
                            "published_through": self.sim.published or None}}


# ============================================================================================
# 6. Faults
# ============================================================================================
# moto internals used here (pinned in tests/unit/test_moto_pins.py):
#   moto.elbv2.responses.ELBV2Response: modify_listener, modify_rule (wrapped)
#   ELBv2Backend.describe_listeners(load_balancer_arn, listener_arns), describe_rules(listener_arn,
#   rule_arns); FakeListener.default_actions/rules; FakeRule.actions/is_default

FAULTS = {
    "elbv2.ignore_weight_changes": "the next N ModifyListener/ModifyRule calls that set a weighted forward "
                                   "action answer 200 but the listener/rule keeps its previous actions",
}


class Faults:
    """Failures injected on purpose, so that clients' defences can be tested end to end."""

    def __init__(self) -> None:
        self.active: dict[str, int] = {}

    def clear(self) -> None:
        self.active.clear()

    def consume(self, name: str) -> bool:
        left = self.active.get(name, 0)
        if left <= 0:
            return False
        if left == 1:
            del self.active[name]
        else:
            self.active[name] = left - 1
        return True

    def route(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method in ("POST", "PUT"):
            if not isinstance(payload, dict):
                raise ValueError("faults: expected a JSON object {\"<fault>\": N}")
            for name, count in payload.items():
                if name not in FAULTS:
                    raise ValueError(f"faults: unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise ValueError(f"faults: {name} must be a whole number >= 0 (got {count!r})")
            if method == "PUT":
                self.active.clear()
            for name, count in payload.items():
                if count:
                    self.active[name] = count
                else:
                    self.active.pop(name, None)
        elif method == "DELETE":
            self.active.clear()
        elif method != "GET":
            raise ValueError(f"faults: method {method} not allowed (GET, POST merges, PUT replaces, DELETE clears)")
        return {"faults": dict(self.active), "known": dict(FAULTS)}


def _install_faults() -> None:
    from moto.elbv2.responses import ELBV2Response as R

    _patch(R, "modify_listener", _elb_modify_listener)
    _patch(R, "modify_rule", _elb_modify_rule)


def _sets_weights(actions: list[dict[str, Any]]) -> bool:
    return any(a.get("Type") == "forward" and (a.get("ForwardConfig") or {}).get("TargetGroups")
               for a in actions or [])


def _elb_modify_listener(self: Any) -> Any:
    fid = _fid()
    with fid.lock:
        fid.advance_metrics()
        original = _original(type(self), "modify_listener")
        if not (_sets_weights(self._get_param("DefaultActions", []))
                and fid.faults.consume("elbv2.ignore_weight_changes")):
            return original(self)
        listener = self.elbv2_backend.describe_listeners(None, [self._get_param("ListenerArn")])[0]
        default_rule = next((r for r in listener.rules.values() if r.is_default), None)
        kept = (listener.default_actions, default_rule.actions if default_rule is not None else None)
        result = original(self)
        shown = copy.copy(listener)
        listener.default_actions = kept[0]
        if default_rule is not None:
            default_rule.actions = kept[1]
        result.result["Listeners"] = [shown]
        log.info("fault elbv2.ignore_weight_changes: ModifyListener %s accepted but not applied", listener.arn)
        return result


def _elb_modify_rule(self: Any) -> Any:
    fid = _fid()
    with fid.lock:
        fid.advance_metrics()
        original = _original(type(self), "modify_rule")
        if not (_sets_weights(self._get_param("Actions", []))
                and fid.faults.consume("elbv2.ignore_weight_changes")):
            return original(self)
        rules = self.elbv2_backend.describe_rules(None, [self._get_param("RuleArn")])
        kept = rules[0].actions if rules else None
        result = original(self)
        if rules:
            shown = copy.copy(rules[0])
            rules[0].actions = kept
            result.result["Rules"] = [shown]
            log.info("fault elbv2.ignore_weight_changes: ModifyRule %s accepted but not applied", rules[0].arn)
        return result


# ============================================================================================
# 7. Terraform: operations moto lacks, attributes moto reports back differently
# ============================================================================================
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
# moto internals used here (pinned in tests/unit/test_moto_pins.py):
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


def _install_terraform_gaps() -> None:
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse as AAS
    from moto.budgets.responses import BudgetsResponse as B
    from moto.ec2.models.security_groups import SecurityGroupRule
    from moto.ecs.responses import EC2ContainerServiceResponse as ECS
    from moto.rds.models import DBParameterGroup
    from moto.rds.responses import RDSResponse

    _patch(AAS, "register_scalable_target", _aas_register_scalable_target)
    _patch(AAS, "list_tags_for_resource", _aas_list_tags_for_resource)
    _patch(AAS, "tag_resource", _aas_tag_resource)
    _patch(AAS, "untag_resource", _aas_untag_resource)
    _patch(B, "create_budget", _budgets_create_budget)
    _patch(B, "describe_subscribers_for_notification", _budgets_describe_subscribers_for_notification)
    _patch(B, "list_tags_for_resource", _budgets_list_tags_for_resource)
    _patch(B, "tag_resource", _budgets_tag_resource)
    _patch(B, "untag_resource", _budgets_untag_resource)
    _patch(ECS, "serialized", _ecs_serialized)
    _patch(DBParameterGroup, "update_parameters", _rds_update_parameters)
    _patch(RDSResponse, "describe_db_parameters", _rds_describe_db_parameters)
    _patch(SecurityGroupRule, "description", property(_sg_rule_description))


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
    body = _original(type(self), "register_scalable_target")(self)
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
    body = _original(type(self), "create_budget")(self)
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
    _original(type(self), "update_parameters")(self, [{**p, "Source": "user"} for p in new_parameters])


def _rds_describe_db_parameters(self: Any) -> Any:
    result = _original(type(self), "describe_db_parameters")(self)
    source = self.params.get("Source")
    if source:
        result.result["Parameters"] = [p for p in result.result["Parameters"] if p.get("Source") == source]
    return result


def _sg_rule_description(self: Any) -> str | None:
    if "Description" in self.ip_range:
        return self.ip_range["Description"]
    return (self.source_group or {}).get("Description")

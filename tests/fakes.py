"""In-memory implementations of the deploy engine's ports, for unit tests of the phase machines.

``FakeEcs`` is a small ECS: services with deployments that move one step per ``DescribeServices``
(the watch's poll), tasks whose behaviour is chosen per task-definition revision, tags, and
registered revisions. ``FakeTargets`` derives target health from its running tasks, ``FakeRouter``
keeps listener weights, ``FakeMetrics`` turns weights and each revision's error rate into ALB
counts. Faults are injected by name (``fail``) so every failure path can be driven deterministically.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.clock import FakeClock
from pipeline_py.config import BlueGreenConfig
from pipeline_py.deploy.analysis import Sample
from pipeline_py.deploy.locking import Holder, LockHeld, LockInfo, LockLost, new_lock_id
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.topology import COLOURS, Topology, TrafficError
from pipeline_py.deploy.views import ServiceView, StoppedTask, TargetState, td_label
from pipeline_py.errors import BadInput
from pipeline_py.report import Reporter

ACCOUNT_ARN = "arn:aws:ecs:us-east-1:123456789012"
T0 = datetime(2026, 1, 1)


def client_error(code: str = "ThrottlingException", op: str = "UpdateService") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code}"}}, op)


@dataclass
class Behaviour:
    """How the tasks of one revision behave: ``healthy``, ``crash`` (exit ``exit_code`` at start),
    ``unhealthy`` (run, but fail the target health check), ``hang`` (never start); and the share of
    requests they answer with a 5XX, and their p99 in ms."""

    kind: str = "healthy"
    error_rate: float = 0.0
    p99_ms: float = 40.0
    exit_code: int = 1


@dataclass
class FakeService:
    name: str
    cluster: str
    desired: int
    task_definition: str
    target_groups: list[str]
    deployments: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    controller: str = "ECS"

    @property
    def arn(self) -> str:
        return f"{ACCOUNT_ARN}:service/{self.cluster}/{self.name}"


class FakeEcs:
    """The services port."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.services: dict[str, FakeService] = {}
        self.revisions: dict[str, dict[str, Any]] = {}
        self.behaviours: dict[str, Behaviour] = {}
        self.stopped: list[StoppedTask] = []
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, list[Exception]] = {}
        """operation name → exceptions raised by its next calls, one per call."""
        self.registered_behaviour = Behaviour()
        """how the tasks of the next revision ``register`` creates behave"""
        self._ids = itertools.count(1)

    # ---- test set-up ------------------------------------------------------------------------------

    def revision(self, family: str, behaviour: Behaviour | None = None) -> str:
        number = 1 + sum(1 for a in self.revisions if td_label(a).rpartition(":")[0] == family)
        arn = f"{ACCOUNT_ARN}:task-definition/{family}:{number}"
        self.revisions[arn] = {"taskDefinitionArn": arn, "family": family, "revision": number, "status": "ACTIVE",
                               "containerDefinitions": [{"name": "app", "image": f"{family}:{number}"}]}
        self.behaviours[arn] = behaviour or Behaviour()
        return arn

    def add_service(self, name: str, task_definition: str, desired: int = 2, *, cluster: str = "c",
                    target_groups: Iterable[str] = ()) -> FakeService:
        svc = FakeService(name, cluster, desired, task_definition, list(target_groups))
        svc.deployments = [self._deployment(task_definition, desired, running=desired, state="COMPLETED")]
        self.services[name] = svc
        return svc

    def _deployment(self, td: str, desired: int, *, running: int = 0, state: str = "IN_PROGRESS") -> dict[str, Any]:
        return {"id": f"ecs-svc/{next(self._ids)}", "status": "PRIMARY", "taskDefinition": td,
                "desiredCount": desired, "runningCount": running, "pendingCount": 0, "failedTasks": 0,
                "rolloutState": state, "rolloutStateReason": None}

    def _maybe_fail(self, op: str) -> None:
        queue = self.fail.get(op)
        if queue:
            raise queue.pop(0)

    def _event(self, svc: FakeService, message: str) -> None:
        n = len(svc.events)
        svc.events.insert(0, {"id": f"{svc.name}-e{n}", "createdAt": T0 + timedelta(seconds=n),
                              "message": f"(service {svc.name}) {message}"})

    def view(self, name: str) -> ServiceView:
        svc = self.services[name]
        return ServiceView.from_api(svc.cluster, {
            "serviceName": svc.name, "serviceArn": svc.arn, "status": "ACTIVE", "desiredCount": svc.desired,
            "runningCount": sum(d["runningCount"] for d in svc.deployments),
            "pendingCount": sum(d["pendingCount"] for d in svc.deployments),
            "taskDefinition": svc.task_definition, "deployments": [dict(d) for d in svc.deployments],
            "events": list(svc.events), "deploymentController": {"type": svc.controller},
            "loadBalancers": [{"targetGroupArn": tg, "containerName": "app", "containerPort": 8080}
                              for tg in svc.target_groups],
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
            "launchType": "FARGATE",
            "tags": [{"key": k, "value": v} for k, v in svc.tags.items()],
        })

    # ---- the rollout model: one step per poll ------------------------------------------------------------

    def _advance(self, svc: FakeService) -> None:
        primary = next((d for d in svc.deployments if d["status"] == "PRIMARY"), None)
        if primary is None:
            return
        b = self.behaviours.get(primary["taskDefinition"], Behaviour())
        if b.kind == "crash":
            primary["failedTasks"] += max(primary["desiredCount"], 1)
            for _ in range(max(primary["desiredCount"], 1)):
                task = f"{ACCOUNT_ARN}:task/{svc.cluster}/{next(self._ids):032x}"
                self.stopped.append(StoppedTask.from_api({
                    "taskArn": task, "taskDefinitionArn": primary["taskDefinition"], "startedBy": primary["id"],
                    "lastStatus": "STOPPED", "stopCode": "EssentialContainerExited",
                    "stoppedReason": "Essential container in task exited",
                    "containers": [{"name": "app", "exitCode": b.exit_code}]}))
            self._event(svc, f"has started {primary['desiredCount']} tasks")
            return
        if b.kind == "hang":
            primary["pendingCount"] = primary["desiredCount"]
            return
        if primary["rolloutState"] == "COMPLETED" and len(svc.deployments) == 1:
            primary["runningCount"] = primary["desiredCount"]
            return
        primary["runningCount"], primary["pendingCount"] = primary["desiredCount"], 0
        old = [d for d in svc.deployments if d is not primary]
        if old:
            for d in old:
                d["runningCount"] = 0
            svc.deployments = [primary]
            self._event(svc, f"has started {primary['desiredCount']} tasks")
            return
        primary["rolloutState"] = "COMPLETED"
        self._event(svc, "has reached a steady state.")

    # ---- the Services port -------------------------------------------------------------------------

    def describe(self, cluster: str, names: Iterable[str]) -> dict[str, ServiceView]:
        self.calls.append(("describe", tuple(names)))
        self._maybe_fail("describe")
        out = {}
        for n in names:
            if n in self.services:
                self._advance(self.services[n])
                out[n] = self.view(n)
        return out

    def get(self, cluster: str, name: str) -> ServiceView:
        found = self.describe(cluster, [name])
        if name not in found:
            raise BadInput(f"ECS service {name!r} not found in cluster {cluster!r}")
        return found[name]

    def update(self, cluster: str, name: str, *, task_definition: str | None = None,
               desired_count: int | None = None, force_new_deployment: bool = False) -> ServiceView:
        self.calls.append(("update", (name, task_definition, desired_count, force_new_deployment)))
        self._maybe_fail("update")
        svc = self.services[name]
        if desired_count is not None:
            svc.desired = desired_count
        new_td = task_definition or svc.task_definition
        if new_td != svc.task_definition or force_new_deployment:
            for d in svc.deployments:
                d["status"] = "ACTIVE"
            svc.task_definition = new_td
            svc.deployments.insert(0, self._deployment(new_td, svc.desired))
        else:
            primary = next(d for d in svc.deployments if d["status"] == "PRIMARY")
            primary["desiredCount"] = svc.desired
            if primary["runningCount"] > svc.desired:
                primary["runningCount"] = svc.desired
        return self.view(name)

    def task_definition(self, arn: str) -> dict[str, Any] | None:
        found = self.revisions.get(arn) or next(
            (r for a, r in self.revisions.items() if td_label(a) == arn), None)
        return dict(found) if found else None

    def live_task_definition(self, arn: str) -> dict[str, Any]:
        td = self.task_definition(arn) or {}
        return {"family": td.get("family"), "containerDefinitions": td.get("containerDefinitions", [])}

    def register(self, task_definition: dict[str, Any]) -> tuple[str, bool]:
        self.calls.append(("register", task_definition.get("family")))
        self._maybe_fail("register")
        family = str(task_definition["family"])
        for arn, rev in reversed(list(self.revisions.items())):
            if rev["family"] == family and rev["containerDefinitions"] == task_definition["containerDefinitions"]:
                return arn, False
        arn = self.revision(family, self.registered_behaviour)
        self.revisions[arn]["containerDefinitions"] = task_definition["containerDefinitions"]
        return arn, True

    def family_revisions(self, family: str) -> list[str]:
        return sorted((a for a, r in self.revisions.items() if r["family"] == family and r["status"] == "ACTIVE"),
                      key=lambda a: self.revisions[a]["revision"], reverse=True)

    def tag(self, arn: str, tags: dict[str, str]) -> None:
        self.calls.append(("tag", (arn, dict(tags))))
        self._maybe_fail("tag")
        next(s for s in self.services.values() if s.arn == arn).tags.update(tags)

    def untag(self, arn: str, keys: Iterable[str]) -> None:
        self.calls.append(("untag", (arn, list(keys))))
        self._maybe_fail("untag")
        svc = next(s for s in self.services.values() if s.arn == arn)
        for k in keys:
            svc.tags.pop(k, None)

    def _tasks(self, svc: FakeService, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        n = deployment["runningCount"]
        base = abs(hash((svc.name, deployment["id"]))) % 200
        return [{"taskArn": f"{ACCOUNT_ARN}:task/{svc.cluster}/{deployment['id'][-4:]}{i:028x}",
                 "startedBy": deployment["id"], "lastStatus": "RUNNING",
                 "taskDefinitionArn": deployment["taskDefinition"],
                 "attachments": [{"details": [{"name": "privateIPv4Address", "value": f"10.0.{base}.{i + 1}"}]}]}
                for i in range(n)]

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
        everything = [t for s in self.services.values() for d in s.deployments for t in self._tasks(s, d)]
        return [t for t in everything if t["taskArn"] in arns]

    def stopped_tasks(self, cluster: str, deployment_id: str) -> list[StoppedTask]:
        return [t for t in self.stopped if t.started_by == deployment_id]

    def running_tasks(self, cluster: str, deployment_id: str) -> list[dict[str, Any]]:
        return [t for s in self.services.values() for d in s.deployments if d["id"] == deployment_id
                for t in self._tasks(s, d)]

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def stop_task(self, cluster: str, task: str, reason: str) -> None:
        raise NotImplementedError


class FakeTargets:
    """Target health from the fake ECS: every running task of a service is a target of its groups,
    healthy unless its revision's behaviour is ``unhealthy``."""

    def __init__(self, ecs: FakeEcs) -> None:
        self.ecs = ecs

    def health(self, target_group_arn: str) -> list[TargetState]:
        out = []
        for svc in self.ecs.services.values():
            if target_group_arn not in svc.target_groups:
                continue
            for d in svc.deployments:
                b = self.ecs.behaviours.get(d["taskDefinition"], Behaviour())
                for t in self.ecs._tasks(svc, d):
                    ip = t["attachments"][0]["details"][0]["value"]
                    if b.kind == "unhealthy":
                        out.append(TargetState(ip, 8080, "unhealthy", "Target.ResponseCodeMismatch",
                                               "Health checks failed with these codes: [404]"))
                    else:
                        out.append(TargetState(ip, 8080, "healthy", None, None))
        return out

    def deregistration_delay(self, target_group_arn: str) -> float | None:
        return 300.0


class FakeAlarms:
    """Alarms whose ``updated`` stamp moves on every state change, as CloudWatch's does."""

    def __init__(self, states: dict[str, str] | None = None) -> None:
        self.changes = 0
        self.alarms: dict[str, dict[str, Any]] = {
            n: {"state": s, "reason": f"{n} is {s}", "updated": T0} for n, s in (states or {}).items()}

    def set(self, name: str, state: str, reason: str = "") -> None:
        self.changes += 1
        self.alarms[name] = {"state": state, "reason": reason or f"{name} is {state}",
                             "updated": T0 + timedelta(minutes=self.changes)}

    def states(self, names: list[str]) -> dict[str, dict[str, Any]]:
        return {n: dict(self.alarms[n]) for n in names if n in self.alarms}

    def check_exist(self, names: list[str]) -> None:
        missing = sorted(set(names) - set(self.alarms))
        if missing:
            raise BadInput(f"configured alarms not found in CloudWatch: {', '.join(missing)}")

    def firing(self, names: list[str]) -> list[tuple[str, str]]:
        return [(n, a["reason"]) for n, a in self.states(names).items() if a["state"] == "ALARM"]


class FakeRouter:
    """One listener's weights. ``ignore_changes`` answers set calls but keeps the old weights (the
    local stack's ``elbv2.ignore_weight_changes`` fault); ``fail_set`` raises on set calls."""

    def __init__(self, topology: Topology, weights: dict[str, int] | None = None) -> None:
        self.topology = topology
        self.current = dict(weights or {"blue": 100, "green": 0})
        self.ignore_changes = 0
        self.fail_set: list[Exception] = []
        self.history: list[dict[str, int]] = []
        self.test_colour: str | None = None

    def weights(self) -> dict[str, int]:
        if sum(self.current.values()) == 0:
            raise TrafficError("the listener forwards no traffic to either colour")
        return dict(self.current)

    def set_weights(self, weights: dict[str, int]) -> None:
        if self.fail_set:
            raise self.fail_set.pop(0)
        if self.ignore_changes:
            self.ignore_changes -= 1
            return
        self.current = {c: int(weights.get(c, 0)) for c in COLOURS}
        self.history.append(dict(self.current))

    def point_test_listener(self, colour: str) -> None:
        self.test_colour = colour

    def test_listener_colour(self) -> str | None:
        return self.test_colour

    def load_balancer_arn(self) -> str:
        return "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb/1"


class FakeLocks:
    """Leases with compare-and-set semantics, like the DynamoDB adapter's conditional writes."""

    def __init__(self) -> None:
        self.items: dict[str, LockInfo] = {}
        self.renewals = 0
        self.steal_on_renew = False

    def acquire(self, key: str, holder: Holder, ttl: float, now: datetime) -> LockInfo:
        current = self.items.get(key)
        if current is not None and not current.expired(now):
            raise LockHeld(current)
        info = LockInfo(key, new_lock_id(), holder, now, now + timedelta(seconds=ttl))
        self.items[key] = info
        return info

    def renew(self, lease: LockInfo, ttl: float, now: datetime) -> LockInfo:
        self.renewals += 1
        current = self.items.get(lease.key)
        if self.steal_on_renew or current is None or current.lock_id != lease.lock_id:
            raise LockLost("taken by someone else")
        renewed = LockInfo(lease.key, lease.lock_id, lease.holder, lease.since, now + timedelta(seconds=ttl))
        self.items[lease.key] = renewed
        return renewed

    def release(self, lease: LockInfo) -> None:
        self.break_lock(lease.key, lease.lock_id)

    def describe(self, key: str) -> LockInfo | None:
        return self.items.get(key)

    def break_lock(self, key: str, lock_id: str) -> bool:
        current = self.items.get(key)
        if current is None or current.lock_id != lock_id:
            return False
        del self.items[key]
        return True


class FakeScaling:
    def __init__(self, bounds: dict[str, tuple[int, int]] | None = None) -> None:
        self.bounds_by_service = dict(bounds or {})

    def bounds(self, cluster: str, service: str) -> tuple[int, int] | None:
        return self.bounds_by_service.get(service)

    def set_bounds(self, cluster: str, service: str, minimum: int, maximum: int) -> None:
        self.bounds_by_service[service] = (minimum, maximum)


class FakeMetrics:
    """ALB counts per target group over a window: ``rps`` requests a second split by the listener's
    weights, 5XX at the serving revision's error rate (deterministic, rounded)."""

    def __init__(self, ecs: FakeEcs, router: FakeRouter, rps: float = 100.0) -> None:
        self.ecs, self.router, self.rps = ecs, router, rps
        self.windows: list[tuple[datetime, datetime]] = []

    def sample(self, target_groups: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]:
        self.windows.append((start, end))
        seconds = (end - start).total_seconds()
        out = {}
        for key, tg in target_groups.items():
            colour = self.router.topology.colour_of_target_group(tg)
            assert colour is not None
            svc = self.ecs.services[self.router.topology.services[colour]]
            b = self.ecs.behaviours.get(svc.task_definition, Behaviour())
            requests = round(self.rps * seconds * self.router.current[colour] / 100)
            out[key] = Sample(requests=requests, errors=round(requests * b.error_rate),
                              p99_ms=b.p99_ms if requests else None)
        return out


TOPOLOGY = Topology(
    services={"blue": "app-blue", "green": "app-green"},
    target_groups={"blue": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app-blue/1",
                   "green": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app-green/2"},
    listener_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/lb/1/80",
    rule_arn=None,
    test_listener_arn=None,
)


@dataclass
class World:
    """A fake AWS and the ports over it."""

    clock: FakeClock
    ecs: FakeEcs
    targets: FakeTargets
    alarms: FakeAlarms
    router: FakeRouter
    scaling: FakeScaling
    locks: FakeLocks
    metrics: FakeMetrics
    out: io.StringIO
    ports: Ports

    @property
    def narration(self) -> str:
        return self.out.getvalue()


def world(*, topology: Topology = TOPOLOGY, alarms: dict[str, str] | None = None) -> World:
    clock = FakeClock()
    ecs = FakeEcs(clock)
    targets = FakeTargets(ecs)
    fake_alarms = FakeAlarms(alarms)
    router = FakeRouter(topology)
    scaling = FakeScaling()
    locks = FakeLocks()
    metrics = FakeMetrics(ecs, router)
    out = io.StringIO()
    reporter = Reporter(out, timestamps=False)

    def router_for(bg: BlueGreenConfig, strategy: str) -> FakeRouter:
        return router

    ports = Ports(services=ecs, targets=targets, alarms=fake_alarms, scaling=scaling, locks=locks, reporter=reporter,
                  clock=clock, router_for=router_for, metrics_for=lambda lb, period: metrics)
    return World(clock, ecs, targets, fake_alarms, router, scaling, locks, metrics, out, ports)


HOLDER = Holder(who="tester@host", command="deploy", pid=1, host="host")

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
from pipeline_py.deploy.views import ServiceDeploymentView, ServiceView, StoppedTask, TargetState, td_label
from pipeline_py.errors import BadInput
from pipeline_py.report import Reporter

ACCOUNT_ARN = "arn:aws:ecs:us-east-1:123456789012"
T0 = datetime(2026, 1, 1)
NATIVE = ("BLUE_GREEN", "LINEAR", "CANARY")
NATIVE_RULE = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/lb/1/82/r1"
NATIVE_TGS = ("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app-a/3",
              "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app-b/4")


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
    advanced: dict[str, Any] | None = None
    """``advancedConfiguration`` of its load balancer (ECS-native blue/green)."""
    config: dict[str, Any] = field(default_factory=dict)
    """``deploymentConfiguration``"""
    native: FakeNativeDeployment | None = None
    """The latest ECS-native service deployment."""

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
        self.rule: dict[str, int] = {}
        """the production listener rule of the ECS-native service: target group ARN → weight"""
        self.rule_unreadable = False
        self.rollback_sticks = False
        """ECS-native rollbacks stay ROLLBACK_IN_PROGRESS for ever"""
        self.alarms: FakeAlarms | None = None

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
            "loadBalancers": [{"targetGroupArn": tg, "containerName": "app", "containerPort": 8080,
                               **({"advancedConfiguration": svc.advanced} if svc.advanced else {})}
                              for tg in svc.target_groups],
            "deploymentConfiguration": dict(svc.config),
            **({"currentServiceDeployment": svc.native.arn} if svc.native else {}),
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
            "launchType": "FARGATE",
            "tags": [{"key": k, "value": v} for k, v in svc.tags.items()],
        })

    # ---- the rollout model: one step per poll ------------------------------------------------------------

    def _advance(self, svc: FakeService) -> None:
        primary = next((d for d in svc.deployments if d["status"] == "PRIMARY"), None)
        if primary is None or (svc.native is not None and svc.native.ongoing):
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
            if n in self.services and self.services[n].cluster == cluster:  # as ECS: services live in a cluster
                self._advance(self.services[n])
                out[n] = self.view(n)
        return out

    def get(self, cluster: str, name: str) -> ServiceView:
        found = self.describe(cluster, [name])
        if name not in found:
            raise BadInput(f"ECS service {name!r} not found in cluster {cluster!r}")
        return found[name]

    def update(self, cluster: str, name: str, *, task_definition: str | None = None,
               desired_count: int | None = None, force_new_deployment: bool = False,
               deployment_configuration: dict[str, Any] | None = None,
               load_balancers: list[dict[str, Any]] | None = None) -> ServiceView:
        self.calls.append(("update", (name, task_definition, desired_count, force_new_deployment)))
        self._maybe_fail("update")
        svc = self.services[name]
        if svc.cluster != cluster:
            raise client_error("ServiceNotFoundException")
        if load_balancers is not None:
            svc.target_groups = [lb["targetGroupArn"] for lb in load_balancers]
            svc.advanced = next((lb["advancedConfiguration"] for lb in load_balancers
                                 if lb.get("advancedConfiguration")), None)
        if deployment_configuration is not None:
            svc.config = dict(deployment_configuration)
        if svc.config.get("strategy") in NATIVE and (task_definition or svc.task_definition) != svc.task_definition:
            return self._start_native(svc, str(task_definition), desired_count)
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
        return [t for s in self.services.values() if s.cluster == cluster  # as ECS: ListTasks is per cluster
                for d in s.deployments if d["id"] == deployment_id for t in self._tasks(s, d)]

    def run_task(self, **kwargs: Any) -> dict[str, Any]:
        raise NotImplementedError

    # ---- ECS-native blue/green, linear and canary: one stage per DescribeServiceDeployments -----------------

    def add_native_service(self, name: str, task_definition: str, desired: int = 2, *, cluster: str = "c",
                           production_tg: str = "", alternate_tg: str = "", rule: str = NATIVE_RULE) -> FakeService:
        svc = self.add_service(name, task_definition, desired, cluster=cluster, target_groups=[production_tg])
        svc.advanced = {"alternateTargetGroupArn": alternate_tg, "productionListenerRule": rule,
                        "testListenerRule": rule + "-test", "roleArn": "arn:aws:iam::123456789012:role/ecs-lb"}
        svc.config = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}, "maximumPercent": 200,
                      "minimumHealthyPercent": 100, "strategy": "ROLLING"}
        self.rule = {production_tg: 100, alternate_tg: 0}
        return svc

    def _start_native(self, svc: FakeService, td: str, desired: int | None) -> ServiceView:
        if desired is not None:
            svc.desired = desired
        assert svc.advanced is not None
        live = max(self.rule, key=lambda tg: self.rule[tg])
        new_tg = next(tg for tg in self.rule if tg != live)
        for d in svc.deployments:
            d["status"] = "ACTIVE"
        svc.task_definition = td
        dep = self._deployment(td, svc.desired)
        svc.deployments.insert(0, dep)
        cfg = svc.config
        steps = [100.0]
        if cfg["strategy"] == "CANARY":
            steps = [float(cfg["canaryConfiguration"]["canaryPercent"]), 100.0]
        elif cfg["strategy"] == "LINEAR":
            step = float(cfg["linearConfiguration"]["stepPercent"])
            steps = [float(step * i) for i in range(1, int(100 // step) + 1) if step * i < 100] + [100.0]
        pauses: dict[str, dict[str, Any]] = {}
        for hook in cfg.get("lifecycleHooks") or []:
            for stage in hook["lifecycleStages"]:
                pauses[stage] = hook.get("timeoutConfiguration") or {}
        n = next(self._ids)
        svc.native = FakeNativeDeployment(
            arn=f"{ACCOUNT_ARN}:service-deployment/{svc.cluster}/{svc.name}/sd{n}", deployment=dep, live_tg=live,
            new_tg=new_tg, steps=steps, pauses=pauses, alarms=list((cfg.get("alarms") or {}).get("alarmNames") or []))
        svc.native.plan = native_plan(steps)
        self._event(svc, f"(service-deployment sd{n}) started a {cfg['strategy']} deployment")
        return self.view(svc.name)

    def _native_step(self, svc: FakeService) -> None:
        nd = svc.native
        assert nd is not None
        if not nd.ongoing:
            return
        if nd.status == "ROLLBACK_IN_PROGRESS":
            if self.rollback_sticks:
                return
            self.rule = {nd.live_tg: 100, nd.new_tg: 0}
            svc.deployments = [d for d in svc.deployments if d is not nd.deployment]
            old = svc.deployments[0]
            old["status"] = "PRIMARY"
            svc.task_definition = old["taskDefinition"]
            nd.status = "ROLLBACK_SUCCESSFUL"
            self._event(svc, "rollback completed")
            return
        alarm = next((a for a in nd.alarms if self.alarms is not None
                      and self.alarms.alarms.get(a, {}).get("state") == "ALARM"), None)
        if alarm is not None:
            self._native_rollback(svc, f"alarm {alarm} in ALARM")
            return
        if nd.awaiting is not None:
            hook = nd.awaiting
            if self.clock.utcnow() >= hook["expiresAt"]:
                hook["status"] = "TIMED_OUT"
                nd.awaiting = None
                self._native_rollback(svc, f"the lifecycle hook {hook['hookId']} at {nd.stage} timed out")
            return
        if nd.index >= len(nd.plan):
            return
        stage, weight = nd.plan[nd.index]
        if nd.stage_entered != nd.index:
            nd.stage_entered = nd.index
            nd.stage = stage
            self._event(svc, f"lifecycle stage {stage}")
            if stage == "SCALE_UP":
                b = self.behaviours.get(nd.deployment["taskDefinition"], Behaviour())
                if b.kind == "crash":
                    nd.deployment["failedTasks"] += svc.desired
                    for _ in range(svc.desired):
                        self.stopped.append(StoppedTask.from_api({
                            "taskArn": f"{ACCOUNT_ARN}:task/{svc.cluster}/{next(self._ids):032x}",
                            "taskDefinitionArn": nd.deployment["taskDefinition"],
                            "startedBy": nd.deployment["id"], "lastStatus": "STOPPED",
                            "stopCode": "EssentialContainerExited",
                            "stoppedReason": "Essential container in task exited",
                            "containers": [{"name": "app", "exitCode": b.exit_code}]}))
                    return
                nd.deployment["runningCount"] = svc.desired
            if weight is not None:
                nd.weight = weight
                self.rule = {nd.live_tg: round(100 - weight), nd.new_tg: round(weight)}
            if stage in nd.pauses:
                timeout = nd.pauses[stage]
                n = next(self._ids)
                nd.awaiting = {"hookId": f"ecs-pause-{n}", "targetType": "PAUSE", "status": "AWAITING_ACTION",
                               "expiresAt": self.clock.utcnow() + timedelta(
                                   minutes=float(timeout.get("timeoutInMinutes", 1440))),
                               "timeoutAction": timeout.get("action", "ROLLBACK")}
                nd.hooks.append(nd.awaiting)
                return
        if stage == "SCALE_UP" and nd.deployment["failedTasks"]:
            return
        nd.index += 1
        if nd.index == len(nd.plan):
            svc.deployments = [nd.deployment]
            nd.deployment["rolloutState"] = "COMPLETED"
            nd.status = "SUCCESSFUL"
            self._event(svc, "deployment completed")

    def _native_rollback(self, svc: FakeService, reason: str) -> None:
        nd = svc.native
        assert nd is not None
        nd.status = "ROLLBACK_IN_PROGRESS"
        nd.reason = f"Service deployment rolled back because {reason}."
        nd.rollback = {"reason": nd.reason, "startedAt": self.clock.utcnow()}
        self._event(svc, f"rolling back: {reason}")

    def service_deployments(self, cluster: str, service: str, statuses: Iterable[str] = ()) -> list[str]:
        self.calls.append(("list_service_deployments", service))
        nd = self.services[service].native
        wanted = set(statuses)
        return [nd.arn] if nd is not None and (not wanted or nd.status in wanted) else []

    def describe_service_deployments(self, arns: list[str]) -> list[ServiceDeploymentView]:
        self.calls.append(("describe_service_deployments", tuple(arns)))
        self._maybe_fail("describe_service_deployments")
        out = []
        for svc in self.services.values():
            nd = svc.native
            if nd is not None and nd.arn in arns:
                self._native_step(svc)
                out.append(ServiceDeploymentView.from_api(nd.api()))
        return out

    def _native_of(self, arn: str) -> FakeService:
        svc = next((s for s in self.services.values() if s.native is not None and s.native.arn == arn), None)
        if svc is None:
            raise client_error("ServiceDeploymentNotFoundException", "ContinueServiceDeployment")
        return svc

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        self.calls.append(("continue", (hook_id, action)))
        self._maybe_fail("continue")
        svc = self._native_of(arn)
        nd = svc.native
        assert nd is not None
        if nd.awaiting is not None and self.clock.utcnow() >= nd.awaiting["expiresAt"]:
            self._native_step(svc)  # ECS timed the hook out before this call arrived
        if nd.awaiting is None or nd.awaiting["hookId"] != hook_id:
            raise client_error("InvalidParameterException", "ContinueServiceDeployment")
        nd.awaiting["status"] = "SUCCEEDED"
        nd.awaiting = None
        if action == "ROLLBACK":
            self._native_rollback(svc, "of a ContinueServiceDeployment ROLLBACK")
        else:
            nd.index += 1

    def stop_service_deployment(self, arn: str, stop_type: str = "ROLLBACK") -> None:
        self.calls.append(("stop", stop_type))
        self._maybe_fail("stop")
        svc = self._native_of(arn)
        nd = svc.native
        assert nd is not None
        if not nd.ongoing:
            raise client_error("ConflictException", "StopServiceDeployment")
        if nd.awaiting is not None:
            nd.awaiting["status"] = "SUCCEEDED"
            nd.awaiting = None
        self._native_rollback(svc, "of a stop request")

    def stop_task(self, cluster: str, task: str, reason: str) -> None:
        raise NotImplementedError


def native_plan(steps: list[float]) -> list[tuple[str, float | None]]:
    plan: list[tuple[str, float | None]] = [("PRE_SCALE_UP", None), ("SCALE_UP", None), ("POST_SCALE_UP", None),
                                            ("TEST_TRAFFIC_SHIFT", None), ("POST_TEST_TRAFFIC_SHIFT", None)]
    for w in steps:
        plan += [("PRE_PRODUCTION_TRAFFIC_SHIFT", None), ("PRODUCTION_TRAFFIC_SHIFT", w)]
    return [*plan, ("POST_PRODUCTION_TRAFFIC_SHIFT", None), ("BAKE_TIME", None), ("CLEAN_UP", None)]


@dataclass
class FakeNativeDeployment:
    arn: str
    deployment: dict[str, Any]
    live_tg: str
    new_tg: str
    steps: list[float]
    pauses: dict[str, dict[str, Any]]
    alarms: list[str]
    status: str = "IN_PROGRESS"
    reason: str | None = None
    stage: str = "PRE_SCALE_UP"
    index: int = 0
    stage_entered: int = -1
    weight: float = 0.0
    plan: list[tuple[str, float | None]] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    awaiting: dict[str, Any] | None = None
    rollback: dict[str, Any] | None = None

    @property
    def ongoing(self) -> bool:
        return self.status in ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS")

    def api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "serviceDeploymentArn": self.arn, "status": self.status, "lifecycleStage": self.stage,
            "lifecycleHookDetails": [dict(h) for h in self.hooks],
            "targetServiceRevision": {"arn": self.arn + "/rev", "requestedProductionTrafficWeight": self.weight},
        }
        if self.reason:
            out["statusReason"] = self.reason
        if self.rollback:
            out["rollback"] = dict(self.rollback)
        return out


class FakeRuleRouter:
    """The production listener rule of an ECS-native service: weights per target group, moved by
    :class:`FakeEcs` (ECS) and read here through the topology's colours."""

    def __init__(self, ecs: FakeEcs, topology: Topology) -> None:
        self.ecs = ecs
        self.topology = topology
        self.reads = 0

    def weights(self) -> dict[str, int]:
        self.reads += 1
        if self.ecs.rule_unreadable:
            raise TrafficError("injected: the rule cannot be read")
        return {c: int(self.ecs.rule.get(tg, 0)) for c, tg in self.topology.target_groups.items()}

    def set_weights(self, weights: dict[str, int]) -> None:
        raise AssertionError("the ECS-native strategies never set weights themselves: ECS does")

    def point_test_listener(self, colour: str) -> None:
        raise AssertionError("ECS points the test listener rule")

    def test_listener_colour(self) -> str | None:
        return None

    def load_balancer_arn(self) -> str:
        return "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb/1"


class FakeTargets:
    """Target health from the fake ECS: every running task of a service is a target of its groups,
    healthy unless its revision's behaviour is ``unhealthy``."""

    def __init__(self, ecs: FakeEcs) -> None:
        self.ecs = ecs

    def health(self, target_group_arn: str) -> list[TargetState]:
        out = []
        for svc in self.ecs.services.values():
            nd = svc.native
            if target_group_arn not in svc.target_groups and not (svc.advanced and target_group_arn in self.ecs.rule):
                continue
            for d in svc.deployments:
                if svc.advanced:  # ECS-native: the new deployment's tasks are in the alternate target group
                    tg = (nd.new_tg if d is nd.deployment else nd.live_tg) if nd is not None else svc.target_groups[0]
                    if tg != target_group_arn:
                        continue
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
    """The scalable targets of the services of one cluster (``service/CLUSTER/SERVICE`` in AWS)."""

    def __init__(self, bounds: dict[str, tuple[int, int]] | None = None, cluster: str = "c") -> None:
        self.bounds_by_service = dict(bounds or {})
        self.cluster = cluster

    def _check(self, cluster: str) -> None:
        if cluster != self.cluster:
            raise client_error("ObjectNotFoundException", "DescribeScalableTargets")

    def bounds(self, cluster: str, service: str) -> tuple[int, int] | None:
        self._check(cluster)
        return self.bounds_by_service.get(service)

    def set_bounds(self, cluster: str, service: str, minimum: int, maximum: int) -> None:
        self._check(cluster)
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
            if tg in self.ecs.rule:
                b, share = self._native(tg)
                requests = round(self.rps * seconds * share / 100)
                out[key] = Sample(requests=requests, errors=round(requests * b.error_rate),
                                  p99_ms=b.p99_ms if requests else None)
                continue
            colour = self.router.topology.colour_of_target_group(tg)
            assert colour is not None
            svc = self.ecs.services[self.router.topology.services[colour]]
            b = self.ecs.behaviours.get(svc.task_definition, Behaviour())
            requests = round(self.rps * seconds * self.router.current[colour] / 100)
            out[key] = Sample(requests=requests, errors=round(requests * b.error_rate),
                              p99_ms=b.p99_ms if requests else None)
        return out


    def _native(self, tg: str) -> tuple[Behaviour, int]:
        """The behaviour of the revision serving ``tg`` of the ECS-native service, and the rule's weight."""
        svc = next(s for s in self.ecs.services.values() if s.native is not None or s.advanced)
        nd = svc.native
        if nd is not None and tg == nd.new_tg:
            td = nd.deployment["taskDefinition"]
        else:
            td = next((d["taskDefinition"] for d in svc.deployments if nd is None or d is not nd.deployment),
                      svc.task_definition)
        return self.ecs.behaviours.get(td, Behaviour()), self.ecs.rule.get(tg, 0)


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

    ecs.alarms = fake_alarms
    ports = Ports(services=ecs, targets=targets, alarms=fake_alarms, scaling=scaling, locks=locks, reporter=reporter,
                  clock=clock, router_for=router_for, metrics_for=lambda lb, period: metrics,
                  topology_router=lambda t: FakeRuleRouter(ecs, t))
    return World(clock, ecs, targets, fake_alarms, router, scaling, locks, metrics, out, ports)


HOLDER = Holder(who="tester@host", command="deploy", pid=1, host="host")

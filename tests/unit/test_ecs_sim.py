"""The ECS rollout simulator, its target-health model and task runtime, driven on fake time."""

from __future__ import annotations

import ast
import itertools
import math
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline_py.local import ecs_sim, elb_sim, task_sim, timing
from pipeline_py.local.ecs_sim import (
    ContainerDef,
    DeploymentConfig,
    EcsSim,
    LoadBalancerRef,
    ServiceSpec,
    StaticWorld,
    TaskDefinition,
    circuit_breaker_threshold,
)
from pipeline_py.local.elb_sim import ElbSim, Probe, TargetGroupConfig
from pipeline_py.local.scenario import parse
from pipeline_py.local.timing import TimingModel

ACCOUNT, REGION = "123456789012", "us-east-1"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c"
SERVICE = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/c/api"
TG = TargetGroupConfig(arn=f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/tg/0123456789abcdef",
                       port=8080, interval=10, healthy_threshold=2, unhealthy_threshold=2, deregistration_delay=30)
NET = {"awsvpcConfiguration": {"subnets": ["subnet-a", "subnet-b"], "securityGroups": ["sg-1"]}}
# one AWS second lasts 10 ms: health checks every 0.1 s, two to become healthy, 0.3 s of draining
FAST = TimingModel(scale=0.01, provisioning=0.1, pending=0.2, activating=0.1, stopping=0.1, deprovisioning=0.1,
                   crash_delay=0.1)
T0 = 100.0


def taskdef(scenario: str = "healthy", revision: int = 1, health_check: dict[str, Any] | None = None,
            image: str = "registry.local/app:v1") -> TaskDefinition:
    return TaskDefinition(
        arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/app:{revision}", family="app", revision=revision,
        containers=(ContainerDef(name="app", image=image, environment=(("APP_SCENARIO", scenario),),
                                 container_ports=(8080,), health_check=health_check),),
        cpu="256", memory="512")


class Harness:
    """An EcsSim on a fake clock, with helpers to step time and read the API views."""

    def __init__(self, timing_model: TimingModel = FAST, world: StaticWorld | None = None) -> None:
        self.now = T0
        self.world = world or StaticWorld([TG])
        self.sim = EcsSim(timing_model, self.world, epoch=(T0, datetime(2026, 1, 1, tzinfo=timezone.utc)), seed=7)
        self.checks: list[Callable[[], None]] = []

    def step(self, seconds: float = 0.05) -> None:
        self.now = round(self.now + seconds, 6)
        self.sim.advance(self.now)
        for check in self.checks:
            check()

    def run(self, seconds: float, step: float = 0.05) -> None:
        for _ in range(max(1, round(seconds / step))):
            self.step(step)

    def until(self, predicate: Callable[[], Any], limit: float = 30.0, step: float = 0.05, what: str = "") -> float:
        start = self.now
        while not predicate():
            if self.now - start > limit:
                raise AssertionError(f"not reached within {limit}s of simulated time: {what or predicate}")
            self.step(step)
        return self.now - start

    def create(self, td: TaskDefinition | None = None, desired: int = 2, *, lbs: bool = True,
               config: DeploymentConfig | None = None, grace: int = 0) -> ecs_sim.Service:
        spec = ServiceSpec(arn=SERVICE, name="api", cluster_arn=CLUSTER, task_definition=td or taskdef(),
                           desired_count=desired, launch_type="FARGATE", network_configuration=NET,
                           load_balancers=(LoadBalancerRef(TG.arn, "app", 8080),) if lbs else (),
                           deployment_config=config or DeploymentConfig(circuit_breaker=True, rollback=True),
                           health_check_grace_period=grace)
        svc = self.sim.create_service(spec, self.now)
        self.sim.advance(self.now)
        return svc

    @property
    def svc(self) -> ecs_sim.Service:
        return self.sim.services[SERVICE]

    def view(self) -> dict[str, Any]:
        return self.sim.service_overrides(self.svc)

    def messages(self) -> list[str]:
        return [e.message for e in reversed(self.svc.events)]

    def steady(self) -> bool:
        v = self.view()
        return (len(v["deployments"]) == 1 and v["deployments"][0]["rolloutState"] == "COMPLETED"
                and v["runningCount"] == v["desiredCount"])

    def live(self) -> list[ecs_sim.Task]:
        return self.svc.live_tasks()

    def healthy(self) -> list[ecs_sim.Task]:
        return [t for t in self.live() if self.sim._healthy(t)]


def index_of(messages: list[str], pattern: str) -> int:
    for i, m in enumerate(messages):
        if re.search(pattern, m):
            return i
    raise AssertionError(f"no event matches {pattern!r} in {messages}")


# ---------------------------------------------------------------- timing model


def test_timing_defaults_scale_aws_durations() -> None:
    t = TimingModel()
    assert t.health_check_seconds(30) == pytest.approx(30 * t.scale)
    assert t.deregistration_delay(300) == pytest.approx(300 * t.scale)
    t2 = t.merged({"health_check_interval": 0.05, "deregistration_delay_scale": 0.001, "grace_period_scale": 0.1,
                   "scenario_scale": 0.2})
    assert t2.health_check_seconds(30) == 0.05
    assert t2.deregistration_delay(300) == pytest.approx(0.3)
    assert t2.grace_period(10) == pytest.approx(1.0)
    assert t2.scenario_seconds(5) == pytest.approx(1.0)
    assert TimingModel.from_dict(t2.to_dict()) == t2


@pytest.mark.parametrize("changes, message", [
    ({"nope": 1}, "unknown timing knob 'nope'"),
    ({"pending": -1}, "must not be negative"),
    ({"scale": 0}, "'scale' must be positive"),
    ({"pending": "fast"}, "must be a number"),
    ({"healthy_threshold": 1.5}, "whole number"),
    ({"healthy_threshold": 0}, "at least 1"),
    ({"retry_failed_deployments": 1}, "true or false"),
    ({"pending": None}, "cannot be null"),
])
def test_timing_rejects_bad_knobs(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TimingModel().merged(changes)


def test_throttle_delay_doubles_up_to_27_minutes() -> None:
    t = TimingModel(scale=1.0)
    assert [t.throttle_delay(n) for n in range(5)] == [0, 10, 20, 40, 80]
    assert t.throttle_delay(30) == timing.ECS_THROTTLE_MAX_SECONDS == 27 * 60


@pytest.mark.parametrize("desired, threshold", [(0, 3), (1, 3), (2, 3), (6, 3), (7, 4), (10, 5), (399, 200),
                                                (1000, 200)])
def test_circuit_breaker_threshold_is_ecs_rule(desired: int, threshold: int) -> None:
    assert circuit_breaker_threshold(desired) == threshold == min(max(math.ceil(0.5 * desired), 3), 200)


# ---------------------------------------------------------------- target health


def test_target_goes_initial_then_healthy_then_drains_away() -> None:
    elb = ElbSim(FAST)
    target = elb.register(TG, "10.0.0.5", 8080, 0.0)
    assert (target.state, target.reason) == ("initial", "Elb.InitialHealthChecking")
    elb.advance(0.15, {TG.arn: TG}.get, lambda t, at: Probe(True, 200))
    assert target.state == "initial"  # one pass of two
    elb.advance(0.2, {TG.arn: TG}.get, lambda t, at: Probe(True, 200))
    assert target.state == "healthy" and target.reason is None and target.changed_at == pytest.approx(0.2)
    assert target.describe()["TargetHealth"] == {"State": "healthy"}
    elb.deregister(TG.arn, "10.0.0.5", 8080, 1.0, TG.deregistration_delay)
    d = target.describe()
    assert d["TargetHealth"]["State"] == "draining"
    assert d["TargetHealth"]["Reason"] == "Target.DeregistrationInProgress"
    assert elb.advance(1.29, {TG.arn: TG}.get, lambda t, at: Probe(True, 200)) == []
    assert elb.advance(1.3, {TG.arn: TG}.get, lambda t, at: Probe(True, 200)) == [target]
    assert elb.get(TG.arn, "10.0.0.5", 8080) is None


@pytest.mark.parametrize("probe, reason, description", [
    (Probe(False, 503), "Target.ResponseCodeMismatch", "Health checks failed with these codes: [503]"),
    (Probe(False, None), "Target.FailedHealthChecks", "Health checks failed"),
])
def test_unhealthy_target_reasons(probe: Probe, reason: str, description: str) -> None:
    elb = ElbSim(FAST)
    target = elb.register(TG, "10.0.0.6", 8080, 0.0)
    elb.advance(0.2, {TG.arn: TG}.get, lambda t, at: probe)
    health = target.describe()["TargetHealth"]
    assert health == {"State": "unhealthy", "Reason": reason, "Description": description}
    elb.advance(0.4, {TG.arn: TG}.get, lambda t, at: Probe(True, 200))
    assert target.state == "healthy"


def test_unused_target_group_and_disabled_health_checks() -> None:
    unused = TargetGroupConfig(arn="tg-unused", in_use=False)
    disabled = TargetGroupConfig(arn="tg-off", health_check_enabled=False)
    elb = ElbSim(FAST)
    a = elb.register(unused, "10.0.0.7", 80, 0.0)
    b = elb.register(disabled, "10.0.0.8", 80, 0.0)
    configs = {"tg-unused": unused, "tg-off": disabled}
    elb.advance(10.0, configs.get, lambda t, at: Probe(True, 200))
    assert (a.state, a.reason) == ("unused", "Target.NotInUse")
    assert (b.state, b.reason) == ("unavailable", "Target.HealthCheckDisabled")
    configs["tg-unused"] = TargetGroupConfig(arn="tg-unused", interval=10, healthy_threshold=2)
    elb.advance(10.01, configs.get, lambda t, at: Probe(True, 200))
    assert a.state == "initial"
    elb.advance(10.3, configs.get, lambda t, at: Probe(True, 200))
    assert a.state == "healthy"


def test_target_of_deleted_group_disappears() -> None:
    elb = ElbSim(FAST)
    elb.register(TG, "10.0.0.9", 8080, 0.0)
    assert len(elb.advance(1.0, lambda arn: None, lambda t, at: Probe(True, 200))) == 1
    assert elb.targets == {}


# ---------------------------------------------------------------- task runtime


class _T:
    def __init__(self, scenario: str, one_off: bool = False, image_error: str | None = None) -> None:
        self.scenario = parse(scenario)
        self.one_off = one_off
        self.image_error = image_error
        self.runtime_state: dict[str, Any] = {}


def test_simulated_runtime_follows_the_scenario() -> None:
    rt = task_sim.SimulatedRuntime(FAST)
    healthy = _T("healthy")
    rt.launch(healthy, 0.0)
    assert rt.observe(healthy, 0.1).phase == "PULLING"
    assert rt.observe(healthy, 0.2) == task_sim.Observation("RUNNING", 0.2)
    assert rt.probe(healthy, 5.0) == Probe(True, 200)
    rt.terminate(healthy, 5.0)
    assert rt.observe(healthy, 5.05).phase == "RUNNING"
    assert rt.observe(healthy, 5.1) == task_sim.Observation("EXITED", 5.1, exit_code=143)

    crash = _T("crash,exit-code=3")
    rt.launch(crash, 0.0)
    assert rt.observe(crash, 0.25).phase == "STARTING"
    assert rt.observe(crash, 0.31) == task_sim.Observation("EXITED", pytest.approx(0.3), exit_code=3)

    later = _T("crash-after=10")  # 10 AWS seconds = 0.1 s
    rt.launch(later, 0.0)
    assert rt.observe(later, 0.25).phase == "RUNNING"
    assert rt.observe(later, 0.31) == task_sim.Observation("EXITED", pytest.approx(0.3), exit_code=1)

    job = _T("run-seconds=50,exit-code=4", one_off=True)
    rt.launch(job, 0.0)
    assert rt.observe(job, 0.69).phase == "RUNNING"
    assert rt.observe(job, 0.7).exit_code == 4

    pull = _T("healthy", image_error="CannotPullContainerError: nope")
    rt.launch(pull, 0.0)
    assert rt.observe(pull, 0.2) == task_sim.Observation("PULL_FAILED", 0.2, reason="CannotPullContainerError: nope")

    slow = _T("slow-start=20")
    rt.launch(slow, 0.0)
    assert rt.probe(slow, 0.3) == Probe(False, 503)
    assert rt.probe(slow, 0.41) == Probe(True, 200)
    assert rt.probe(_launched(rt, "unhealthy"), 1.0) == Probe(False, 503)

    killed = _T("healthy")
    rt.launch(killed, 0.0)
    rt.terminate(killed, 0.05)  # before the container started
    assert rt.observe(killed, 0.05) == task_sim.Observation("EXITED", 0.05, exit_code=None)


def _launched(rt: task_sim.SimulatedRuntime, scenario: str) -> _T:
    task = _T(scenario)
    rt.launch(task, 0.0)
    return task


# ---------------------------------------------------------------- services


def test_new_service_launches_tasks_and_reaches_steady_state() -> None:
    h = Harness()
    svc = h.create(desired=2)
    view = h.view()
    assert [d["status"] for d in view["deployments"]] == ["PRIMARY"]
    dep = view["deployments"][0]
    assert dep["id"].startswith("ecs-svc/") and dep["rolloutState"] == "IN_PROGRESS"
    assert dep["rolloutStateReason"] == f"ECS deployment {dep['id']} in progress."
    assert (view["pendingCount"], view["runningCount"]) == (2, 0)
    tasks = h.live()
    assert {t.last_status for t in tasks} == {"PROVISIONING"}
    assert all(t.started_by == dep["id"] and t.group == "service:api" for t in tasks)
    assert {t.eni.subnet_id for t in tasks if t.eni} <= {"subnet-a", "subnet-b"}

    h.run(0.1)
    assert {t.last_status for t in tasks} == {"PENDING"}
    h.run(0.2)
    assert {t.last_status for t in tasks} == {"ACTIVATING"}
    assert len(h.world.registered) == 2
    h.run(0.1)
    assert {t.last_status for t in tasks} == {"RUNNING"}
    assert tasks[0].started_at == pytest.approx(T0 + 0.4)
    took = h.until(h.steady, what="steady state")
    assert took <= 0.35  # two health checks 0.1 s apart after registration
    assert h.view()["deployments"][0]["rolloutStateReason"] == f"ECS deployment {dep['id']} completed."
    msgs = h.messages()
    assert msgs[0] == f"(service api) has started 2 tasks: (task {tasks[0].id}) (task {tasks[1].id})."
    assert msgs[1] == f"(service api) registered 2 targets in (target-group {TG.arn})"
    assert msgs[-2:] == [f"(service api) (deployment {dep['id']}) deployment completed.",
                         "(service api) has reached a steady state."]
    assert svc.last_completed == dep["id"]
    events = h.view()["events"]
    assert events[0]["message"] == "(service api) has reached a steady state."
    times = [e["createdAt"] for e in events]
    assert times == sorted(times, reverse=True) and len(set(times)) == len(times)  # newest first, distinct


def _check_bounds(h: Harness, max_total: int, min_healthy: int) -> Callable[[], None]:
    def check() -> None:
        assert len(h.live()) <= max_total, "maximumPercent exceeded"
        assert len(h.healthy()) >= min_healthy, "minimumHealthyPercent violated"
    return check


def test_rolling_update_keeps_within_min_healthy_and_max_percent() -> None:
    h = Harness()
    h.create(desired=2)
    h.until(h.steady)
    old = {t.arn for t in h.live()}
    old_id = h.view()["deployments"][0]["id"]
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef(revision=2))
    view = h.view()
    assert [(d["status"], d["taskDefinition"][-5:]) for d in view["deployments"]] == [("PRIMARY", "app:2"),
                                                                                         ("ACTIVE", "app:1")]
    assert view["taskDefinition"].endswith("app:2")
    h.checks.append(_check_bounds(h, max_total=4, min_healthy=2))
    h.until(h.steady, what="rolled out")
    assert not old & {t.arn for t in h.live()}
    stopped = [h.svc.tasks[a] for a in old]
    assert all(t.last_status == "STOPPED" and t.stop_code == "ServiceSchedulerInitiated" for t in stopped)
    assert all(t.stopped_reason == f"Scaling activity initiated by (deployment {h.svc.primary.id})"
               for t in stopped)
    for t in stopped:  # drained for the deregistration delay (30 AWS s = 0.3 s) before stopping
        assert t.stopped_at - t.stopping_at >= 0.3
        assert t.containers[0].exit_code == task_sim.SIGTERM_EXIT_CODE
    msgs = h.messages()
    i_drain = index_of(msgs, r"has begun draining connections on \d tasks")
    assert index_of(msgs, r"deregistered \d targets in \(target-group") > i_drain
    assert index_of(msgs, r"has stopped \d running tasks") > i_drain
    assert old_id not in {d["id"] for d in h.view()["deployments"]}
    assert h.svc.history[old_id].status == "INACTIVE"


def test_min_healthy_below_100_stops_old_tasks_before_starting_new() -> None:
    h = Harness()
    h.create(desired=2, config=DeploymentConfig(maximum_percent=100, minimum_healthy_percent=50))
    h.until(h.steady)
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef(revision=2))
    h.checks.append(_check_bounds(h, max_total=2, min_healthy=1))
    h.step()
    assert len([t for t in h.live() if t.deployment_id == h.svc.primary.id]) == 1
    h.until(h.steady)


def test_desired_count_change_scales_the_primary_deployment_only() -> None:
    h = Harness()
    h.create(desired=2)
    h.until(h.steady)
    dep = h.svc.primary.id
    h.sim.update_service(SERVICE, h.now, desired_count=4, task_definition=taskdef(revision=1))
    assert [d.id for d in h.svc.deployments] == [dep]
    h.until(lambda: h.svc.steady and h.view()["runningCount"] == 4)
    assert h.svc.primary.rollout_state == "COMPLETED"
    assert h.messages().count("(service api) has reached a steady state.") == 2
    h.sim.update_service(SERVICE, h.now, desired_count=1)
    h.until(lambda: h.view()["runningCount"] == 1 and len(h.live()) == 1)
    assert [d.id for d in h.svc.deployments] == [dep]


def test_deployment_configuration_is_merged_and_unmodelled_fields_are_echoed() -> None:
    h = Harness()
    h.create(desired=1)
    alarms = {"alarmNames": ["api-5xx"], "enable": True, "rollback": True}
    h.sim.update_service(SERVICE, h.now, deployment_configuration={"alarms": alarms, "maximumPercent": 150})
    cfg = h.view()["deploymentConfiguration"]
    assert cfg == {"strategy": "ROLLING", "alarms": alarms, "maximumPercent": 150, "minimumHealthyPercent": 100,
                   "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    assert len(h.svc.deployments) == 1  # configuration changes alone deploy nothing


def test_force_new_deployment_with_the_same_task_definition() -> None:
    h = Harness()
    h.create(desired=1)
    h.until(h.steady)
    first = h.svc.primary.id
    h.sim.update_service(SERVICE, h.now, force_new_deployment=True)
    assert h.svc.primary.id != first and h.svc.primary.task_definition.arn.endswith("app:1")
    h.until(h.steady)


def test_crash_trips_the_circuit_breaker_and_rolls_back() -> None:
    h = Harness()
    h.create(desired=2)
    h.until(h.steady)
    good = h.svc.primary
    good_tasks = {t.arn for t in h.live()}
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef("crash,exit-code=3", revision=2))
    bad = h.svc.primary
    h.checks.append(_check_bounds(h, max_total=4, min_healthy=2))
    h.until(lambda: bad.rollout_state == "FAILED", what="circuit breaker")
    assert bad.status == "ACTIVE" and bad.rollout_state_reason == ecs_sim.CIRCUIT_BREAKER_REASON
    assert bad.failed_tasks == 3 == circuit_breaker_threshold(2)
    rollback = h.svc.primary
    assert rollback.id not in (good.id, bad.id)
    assert rollback.task_definition.arn == good.task_definition.arn
    assert rollback.rollout_state_reason == f"ECS deployment circuit breaker: rolling back to deploymentId {good.id}."
    assert {t.deployment_id for t in h.svc.tasks.values() if t.arn in good_tasks} == {rollback.id}
    h.until(h.steady, what="rollback completed")
    assert {t.arn for t in h.live()} == good_tasks  # the old tasks were taken over, not replaced
    assert [d.id for d in h.svc.deployments] == [rollback.id]
    failed = [t for t in h.svc.tasks.values() if t.deployment_id == bad.id]
    assert len(failed) >= 3
    for t in failed:
        assert t.last_status == "STOPPED" and t.started_at is None
        assert (t.stop_code, t.stopped_reason) == ("EssentialContainerExited", "Essential container in task exited")
        assert t.containers[0].exit_code == 3
    msgs = h.messages()
    i_fail = index_of(msgs, rf"\(deployment {bad.id}\) deployment failed: tasks failed to start\.")
    assert msgs[i_fail + 1] == f"(service api) rolling back to deployment {good.id}."
    assert msgs[-2:] == [f"(service api) (deployment {rollback.id}) deployment completed.",
                         "(service api) has reached a steady state."]
    assert "(service api) is unable to consistently start tasks successfully." in msgs
    record = h.svc.service_deployments[bad.service_deployment_arn]
    view = h.sim.service_deployment_view(record)
    assert view["status"] == "ROLLBACK_SUCCESSFUL"
    assert view["rollback"]["serviceRevisionArn"] == good.revision_arn
    assert view["deploymentCircuitBreaker"] == {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}


def test_unhealthy_tasks_are_replaced_after_the_grace_period() -> None:
    h = Harness()
    h.create(desired=1)
    h.until(h.steady)
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef("unhealthy", revision=2), health_check_grace_period=50)
    h.step()
    first = next(t for t in h.live() if t.deployment_id == h.svc.primary.id)
    h.until(lambda: first.desired_status == "STOPPED", what="replacement")
    assert first.stopping_at - first.started_at >= 0.5  # grace period of 50 AWS s (unhealthy after 0.2 s)
    assert first.stopped_reason == f"Task failed ELB health checks in (target-group {TG.arn})"
    assert any(m == f"(service api) (task {first.id}) (port 8080) is unhealthy in (target-group {TG.arn}) due to "
                    f"(reason Health checks failed with these codes: [503])." for m in h.messages())


def test_breaker_without_rollback_leaves_the_failed_deployment_primary() -> None:
    h = Harness()
    h.create(desired=2, config=DeploymentConfig(circuit_breaker=True, rollback=False))
    h.until(h.steady)
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef("unhealthy", revision=2))
    bad = h.svc.primary
    h.until(lambda: bad.rollout_state == "FAILED")
    assert h.svc.primary is bad and bad.status == "PRIMARY"
    record = h.svc.service_deployments[bad.service_deployment_arn]
    assert (record.status, record.status_reason) == ("STOPPED", ecs_sim.CIRCUIT_BREAKER_REASON)
    h.run(3.0)
    assert not [t for t in h.live() if t.deployment_id == bad.id]  # AWS: a FAILED deployment launches nothing
    assert len(h.healthy()) == 2  # the old tasks keep serving
    assert [d["status"] for d in h.view()["deployments"]] == ["PRIMARY", "ACTIVE"]


def test_failed_deployment_retries_with_back_off_when_configured() -> None:
    h = Harness(FAST.merged({"retry_failed_deployments": True}))
    h.create(desired=1, config=DeploymentConfig(circuit_breaker=True, rollback=False))
    h.until(h.steady)
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef("crash-after=5", revision=2))
    bad = h.svc.primary
    h.until(lambda: bad.rollout_state == "FAILED")
    h.run(20.0)
    starts = sorted(t.created_at for t in h.svc.tasks_of(bad.id))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) > 4 and gaps[-1] > gaps[1] * 2  # the back-off grows


def test_without_circuit_breaker_failing_tasks_are_replaced_forever() -> None:
    h = Harness()
    h.create(desired=1, config=DeploymentConfig())
    h.until(h.steady)
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef("unhealthy", revision=2))
    h.until(lambda: h.svc.primary.failed_tasks >= 5, what="five failures")
    assert h.svc.primary.rollout_state == "IN_PROGRESS"
    assert h.sim.service_deployment_view(h.svc.current_service_deployment())["deploymentCircuitBreaker"][
        "status"] == "DISABLED"


def test_image_pull_failure_fails_to_start_and_throttles_launches() -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:missing"
    message = ecs_sim._pull_error_message(image)
    h = Harness(world=StaticWorld([TG], image_errors={image: message}))
    h.create(taskdef(image=image), desired=1, config=DeploymentConfig())
    h.until(lambda: h.svc.primary.failed_tasks >= 6)
    tasks = sorted(h.svc.tasks.values(), key=lambda t: t.created_at)
    first = tasks[0]
    assert (first.stop_code, first.stopped_reason) == ("TaskFailedToStart", message)
    assert message.startswith("CannotPullContainerError: ")
    assert first.containers[0].reason == message and first.containers[0].exit_code is None
    assert first.started_at is None and first.pull_started_at is not None
    starts = [t.created_at for t in tasks]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps[-1] > gaps[0] * 3
    assert h.messages().count("(service api) is unable to consistently start tasks successfully.") == 1
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef(revision=2))  # a new revision resets the throttle
    h.until(h.steady)


def test_scenario_pull_error_token() -> None:
    h = Harness()
    h.create(taskdef("pull-error"), desired=1)
    h.until(lambda: h.svc.primary.rollout_state == "FAILED")
    t = next(iter(h.svc.tasks.values()))
    assert t.stop_code == "TaskFailedToStart" and t.stopped_reason.startswith("CannotPullContainerError:")
    record = h.svc.current_service_deployment()
    assert record.status == "STOPPED"  # the first deployment has nothing to roll back to
    assert h.svc.primary.status == "PRIMARY"


@pytest.mark.parametrize("grace, replaced", [(0, True), (120, False)])
def test_slow_start_passes_only_with_a_long_enough_grace_period(grace: int, replaced: bool) -> None:
    h = Harness()
    h.create(taskdef("slow-start=60"), desired=1, grace=grace)
    first = h.live()[0]
    h.run(2.0)
    assert (first.desired_status == "STOPPED") is replaced
    if not replaced:
        assert h.steady()
        assert first.healthy_at - first.started_at >= 0.6


def test_container_health_check_without_load_balancer() -> None:
    hc = {"command": ["CMD", "true"], "interval": 10, "retries": 3, "startPeriod": 10}
    h = Harness()
    h.create(taskdef(health_check=hc), desired=1, lbs=False)
    t = h.live()[0]
    assert t.health_status == "UNKNOWN"
    h.until(h.steady)
    assert t.health_status == "HEALTHY" and t.containers[0].health_status == "HEALTHY"
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef("unhealthy", revision=2, health_check=hc))
    h.step()
    bad = next(t for t in h.live() if t.deployment_id == h.svc.primary.id)
    h.until(lambda: not bad.live)
    assert bad.health_status == "UNHEALTHY"
    assert bad.stopped_reason == "Task failed container health checks"
    assert f"(service api) (task {bad.id}) failed container health checks." in h.messages()


def test_invalid_scenario_makes_the_container_exit_2() -> None:
    h = Harness()
    h.create(taskdef("explode"), desired=1, config=DeploymentConfig())
    h.until(lambda: any(t.last_status == "STOPPED" for t in h.svc.tasks.values()))
    t = next(t for t in h.svc.tasks.values() if t.last_status == "STOPPED")
    assert t.containers[0].exit_code == 2 and t.stop_code == "EssentialContainerExited"


def test_delete_service_drains_then_goes_inactive() -> None:
    h = Harness()
    h.create(desired=2)
    h.until(h.steady)
    h.sim.delete_service(SERVICE, h.now)
    h.step()
    assert h.view()["status"] == "DRAINING"
    h.until(lambda: h.svc.status == "INACTIVE")
    assert h.view()["deployments"] == [] and h.world.registered == {}


def test_service_deployment_records() -> None:
    h = Harness()
    h.create(desired=1)
    h.until(h.steady)
    first = h.svc.current_service_deployment()
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef(revision=2))
    second = h.svc.current_service_deployment()
    h.step()
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef(revision=3))
    third = h.svc.current_service_deployment()
    h.until(h.steady)
    assert first.status == "SUCCESSFUL" and first.finished_at is not None
    assert second.status == "STOPPED" and second.stopped_at is not None
    assert third.status == "SUCCESSFUL"
    view = h.sim.service_deployment_view(third)
    assert view["targetServiceRevision"]["arn"] == third.target_revision_arn
    assert view["targetServiceRevision"]["runningTaskCount"] == 1
    assert {s["arn"] for s in view["sourceServiceRevisions"]} == {first.target_revision_arn,
                                                                  second.target_revision_arn}
    assert re.fullmatch(rf"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/c/api/[\w-]{{20}}", third.arn)
    assert re.fullmatch(rf"arn:aws:ecs:{REGION}:{ACCOUNT}:service-revision/c/api/\d{{19}}", third.target_revision_arn)
    brief = h.sim.service_deployment_view(third, brief=True)
    assert set(brief) == {"serviceDeploymentArn", "serviceArn", "clusterArn", "createdAt", "startedAt", "finishedAt",
                          "status", "targetServiceRevisionArn"}
    rev = h.sim.revision_view(h.sim.find_revision(third.target_revision_arn))
    assert rev["taskDefinition"].endswith("app:3") and rev["loadBalancers"][0]["containerPort"] == 8080


def test_stop_service_deployment_rolls_back() -> None:
    h = Harness()
    h.create(desired=1)
    h.until(h.steady)
    good = h.svc.primary
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef("slow-start=600", revision=2),
                         health_check_grace_period=3600)
    record = h.svc.current_service_deployment()
    h.run(0.5)
    h.sim.stop_service_deployment(record, h.now)
    assert record.status == "ROLLBACK_IN_PROGRESS"
    h.until(h.steady)
    assert record.status == "ROLLBACK_SUCCESSFUL"
    assert h.svc.primary.task_definition.arn == good.task_definition.arn
    with pytest.raises(ValueError, match="only an ongoing one"):
        h.sim.stop_service_deployment(record, h.now)


# ---------------------------------------------------------------- standalone tasks


def test_run_task_exits_with_the_scenario_exit_code_and_overrides_win() -> None:
    h = Harness()
    td = taskdef("run-seconds=20,exit-code=0")
    [job] = h.sim.run_task(CLUSTER, td, h.now, network=NET, started_by="pipeline-py",
                           overrides={"containerOverrides": [{"name": "app", "command": ["migrate"], "environment": [
                               {"name": "APP_SCENARIO", "value": "run-seconds=30,exit-code=4"}]}]})
    assert job.group == "family:app" and job.started_by == "pipeline-py"
    view = h.sim.task_view(job)
    assert view["lastStatus"] == "PROVISIONING" and view["attachments"][0]["status"] == "PRECREATED"
    assert view["overrides"]["containerOverrides"][0]["command"] == ["migrate"]
    h.until(lambda: job.last_status == "RUNNING")
    h.until(lambda: job.last_status == "STOPPED")
    view = h.sim.task_view(job)
    assert view["containers"][0]["exitCode"] == 4
    assert view["stopCode"] == "EssentialContainerExited"
    assert view["stoppedReason"] == "Essential container in task exited"
    assert (view["executionStoppedAt"] - view["pullStoppedAt"]).total_seconds() == pytest.approx(0.3)
    assert view["attachments"][0]["status"] == "DELETED"
    details = {d["name"]: d["value"] for d in view["attachments"][0]["details"]}
    assert details["privateIPv4Address"] == job.eni.private_ip and details["subnetId"] == "subnet-a"
    for key in ("createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "stoppingAt", "stoppedAt"):
        assert isinstance(view[key], datetime)


def test_stop_task_is_user_initiated_and_service_replaces_it() -> None:
    h = Harness()
    h.create(desired=1)
    h.until(h.steady)
    victim = h.live()[0]
    h.sim.stop_task(victim, h.now, None)
    assert (victim.desired_status, victim.stop_code, victim.stopped_reason) == ("STOPPED", "UserInitiated",
                                                                                 "Task stopped by user")
    h.until(lambda: victim.last_status == "STOPPED" and h.steady())
    assert victim not in h.live() and len(h.live()) == 1
    assert h.svc.primary.failed_tasks == 0


def test_list_tasks_filters() -> None:
    h = Harness()
    h.create(desired=2)
    [job] = h.sim.run_task(CLUSTER, taskdef(), h.now, network=NET, started_by="me")
    other = TaskDefinition(arn=f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/other:1", family="other", revision=1,
                           containers=(ContainerDef(name="x", image="x"),), network_mode="bridge")
    h.sim.run_task(CLUSTER, other, h.now, launch_type="EC2")
    assert len(h.sim.list_tasks(CLUSTER)) == 4
    assert len(h.sim.list_tasks(CLUSTER, service_name="api")) == 2
    assert len(h.sim.list_tasks(CLUSTER, service_name=SERVICE)) == 2
    assert h.sim.list_tasks(CLUSTER, started_by="me") == [job]
    assert len(h.sim.list_tasks(CLUSTER, family="other")) == 1
    assert len(h.sim.list_tasks(CLUSTER, started_by=h.svc.primary.id)) == 2
    assert h.sim.list_tasks(CLUSTER, desired_status="STOPPED") == []
    h.sim.stop_task(job, h.now)
    assert h.sim.list_tasks(CLUSTER, desired_status="STOPPED") == [job]
    assert h.sim.list_tasks(CLUSTER.replace("/c", "/elsewhere")) == []
    assert h.sim.find_task(job.id, CLUSTER) is job and h.sim.find_task(job.arn) is job


def test_only_the_last_n_stopped_tasks_are_kept() -> None:
    h = Harness(FAST.merged({"stopped_tasks_kept": 3}))
    for _ in range(6):
        h.sim.run_task(CLUSTER, taskdef("run-seconds=1"), h.now, network=NET)
    h.until(lambda: all(t.last_status == "STOPPED" for t in h.sim.standalone.values()))
    assert len(h.sim.standalone) == 3


def test_reset_forgets_everything() -> None:
    h = Harness()
    h.create(desired=1)
    h.sim.run_task(CLUSTER, taskdef(), h.now, network=NET)
    h.run(0.5)
    h.sim.reset()
    assert (h.sim.services, h.sim.standalone, h.sim.elb.targets) == ({}, {}, {})
    h.step()


# ---------------------------------------------------------------- purity


@pytest.mark.parametrize("module", [ecs_sim, elb_sim, task_sim, timing])
def test_state_code_never_reads_a_clock(module: Any) -> None:
    tree = ast.parse(Path(module.__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name != "time" for a in node.names), f"{module.__name__} imports time"
        if isinstance(node, ast.ImportFrom):
            assert node.module != "time", f"{module.__name__} imports from time"
        if isinstance(node, ast.Attribute):
            assert node.attr not in ("now", "utcnow", "today", "monotonic", "perf_counter"), \
                f"{module.__name__} reads the clock (.{node.attr})"


def test_same_seed_same_story() -> None:
    def story() -> list[str]:
        h = Harness()
        h.create(desired=2)
        h.until(h.steady)
        h.sim.update_service(SERVICE, h.now, task_definition=taskdef("crash", revision=2))
        h.until(lambda: len(h.svc.deployments) == 1 and h.steady())
        return h.messages()

    assert story() == story()

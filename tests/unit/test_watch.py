"""The watch loop on fake time with scripted ECS answers: it narrates, tracks our deployment,
fails fast for the right reasons and explains timeouts."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline_py.clock import FakeClock
from pipeline_py.deploy.views import ServiceView, StoppedTask, TargetState
from pipeline_py.deploy.watch import (
    FAILED,
    STEADY,
    TIMEOUT,
    DeploymentWatcher,
    EventLog,
    WatchSettings,
    is_steady,
    new_deployment_id,
)
from pipeline_py.report import Reporter
from tests.fakes import FakeAlarms

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def dep(id: str, status: str, td: str, desired: int = 2, running: int = 0, pending: int = 0, failed: int = 0,
        rollout: str | None = "IN_PROGRESS", reason: str | None = None) -> dict[str, Any]:
    return {"id": id, "status": status, "taskDefinition": f"arn:aws:ecs:us-east-1:1:task-definition/{td}",
            "desiredCount": desired, "runningCount": running, "pendingCount": pending, "failedTasks": failed,
            "rolloutState": rollout, "rolloutStateReason": reason}


def view(deployments: list[dict[str, Any]], events: list[tuple[str, str]] = (), lbs: list[str] = ()) -> ServiceView:
    return ServiceView.from_api("c", {
        "serviceName": "svc", "serviceArn": "arn:svc", "status": "ACTIVE", "desiredCount": 2,
        "runningCount": 0, "pendingCount": 0, "taskDefinition": deployments[0]["taskDefinition"],
        "deployments": deployments,
        "events": [{"id": i, "createdAt": T0 + timedelta(seconds=n), "message": m}
                   for n, (i, m) in enumerate(events)][::-1],
        "loadBalancers": [{"targetGroupArn": tg, "containerName": "app", "containerPort": 8080} for tg in lbs],
    })


class Script:
    """Fake services port: answers ``describe`` from a list of views, one per poll."""

    def __init__(self, views: list[ServiceView], stopped: list[StoppedTask] = ()) -> None:
        self.views = views
        self.i = 0
        self.stopped = list(stopped)
        self.stopped_calls = 0

    def describe(self, cluster: str, names: list[str]) -> dict[str, ServiceView]:
        v = self.views[min(self.i, len(self.views) - 1)]
        self.i += 1
        return {"svc": v}

    def stopped_tasks(self, cluster: str, deployment_id: str) -> list[StoppedTask]:
        self.stopped_calls += 1
        return [t for t in self.stopped if t.started_by == deployment_id]


class NoAlarms:
    def __init__(self, firing_after: int | None = None) -> None:
        self.calls = 0
        self.firing_after = firing_after

    def firing(self, names: list[str]) -> list[tuple[str, str]]:
        self.calls += 1
        if self.firing_after is not None and self.calls > self.firing_after:
            return [(names[0], "Threshold Crossed: 1 datapoint [60.0] was greater than the threshold (50.0)")]
        return []


class FakeTargets:
    def __init__(self, states: list[TargetState]) -> None:
        self.states = states

    def health(self, tg: str) -> list[TargetState]:
        return self.states

    def deregistration_delay(self, tg: str) -> float:
        return 300.0


def make(views: list[ServiceView], *, stopped: list[StoppedTask] = (), alarms: NoAlarms | None = None,
         targets: FakeTargets | None = None) -> tuple[DeploymentWatcher, Script, FakeClock, io.StringIO]:
    out = io.StringIO()
    rep = Reporter(out, timestamps=False)
    clock = FakeClock()
    script = Script(views, stopped)
    w = DeploymentWatcher(script, targets or FakeTargets([]), rep, clock, EventLog(rep))  # type: ignore[arg-type]
    w.test_alarms = alarms or NoAlarms()  # type: ignore[attr-defined]
    return w, script, clock, out


SETTINGS = WatchSettings(poll_interval=5, timeout=60, max_failed_tasks=3)


def test_steady_state_returns_on_the_first_poll_that_sees_it() -> None:
    views = [
        view([dep("new", "PRIMARY", "f:2", pending=2), dep("old", "ACTIVE", "f:1", running=2)]),
        view([dep("new", "PRIMARY", "f:2", running=2), dep("old", "ACTIVE", "f:1", running=1)]),
        view([dep("new", "PRIMARY", "f:2", running=2, rollout="COMPLETED")]),
    ]
    w, script, clock, out = make(views)
    outcome = w.watch("c", "svc", "new", SETTINGS)
    assert outcome.result == STEADY
    assert script.i == 3
    assert clock.sleeps == [5, 5]
    assert "2/2 running" in out.getvalue()


def test_new_events_are_narrated_once_in_order() -> None:
    v1 = view([dep("new", "PRIMARY", "f:2", pending=1)], events=[("e0", "old event"), ("e1", "has started 1 tasks")])
    v2 = view([dep("new", "PRIMARY", "f:2", running=2, rollout="COMPLETED")],
              events=[("e0", "old event"), ("e1", "has started 1 tasks"), ("e2", "has reached a steady state.")])
    w, _, _, out = make([v1, v2])
    w.log.seen.add("e0")
    w.watch("c", "svc", "new", SETTINGS)
    text = out.getvalue()
    assert "old event" not in text
    assert text.count("has started 1 tasks") == 1
    assert text.index("has started") < text.index("steady state")
    assert [e["message"] for e in w.log.events] == ["has started 1 tasks", "has reached a steady state."]


def test_rollout_failed_fails_fast_with_ecs_reason() -> None:
    views = [view([dep("new", "PRIMARY", "f:2", failed=1)]),
             view([dep("new", "ACTIVE", "f:2", failed=3, rollout="FAILED",
                       reason="ECS deployment circuit breaker: tasks failed to start."),
                   dep("rb", "PRIMARY", "f:1", pending=2)])]
    w, _, clock, _ = make(views)
    outcome = w.watch("c", "svc", "new", SETTINGS)
    assert outcome.result == FAILED and outcome.cause == "rollout_failed"
    assert "circuit breaker" in outcome.reason and "rolled back to f:1" in outcome.reason
    assert clock.monotonic() - 1000 <= 5


def test_lost_primary_is_a_failure_never_a_success() -> None:
    """ECS replaced our deployment (circuit breaker rollback) and then reached steady state on the OLD
    revision: a waiter that only checks 'services stable' would report success here."""
    views = [view([dep("new", "PRIMARY", "f:2")]),
             view([dep("rb", "PRIMARY", "f:1", running=2, rollout="COMPLETED")])]
    w, *_ = make(views)
    outcome = w.watch("c", "svc", "new", SETTINGS)
    assert outcome.result == FAILED and outcome.cause == "superseded"
    assert "no longer PRIMARY" in outcome.reason and "f:1" in outcome.reason


def test_stopped_tasks_are_looked_up_only_when_failures_move_and_printed_with_exit_codes() -> None:
    crash = StoppedTask("arn:task/c/abcdef1234", "td", "new", "STOPPED", "EssentialContainerExited",
                        "Essential container in task exited", ({"name": "app", "exitCode": 1},), None)
    views = [view([dep("new", "PRIMARY", "f:2", pending=2)]),
             view([dep("new", "PRIMARY", "f:2", pending=2)]),
             view([dep("new", "PRIMARY", "f:2", failed=1, pending=1)]),
             view([dep("new", "PRIMARY", "f:2", failed=1, pending=1)]),
             view([dep("new", "PRIMARY", "f:2", failed=3)])]
    w, script, _, out = make(views, stopped=[crash])
    outcome = w.watch("c", "svc", "new", SETTINGS)
    assert script.stopped_calls == 2
    assert "task abcdef12 stopped [EssentialContainerExited]: Essential container in task exited" in out.getvalue()
    assert "container app: exit code 1" in out.getvalue()
    assert outcome.cause == "failed_tasks"
    assert "Essential container in task exited" in outcome.reason


def test_an_alarm_going_into_alarm_fails_the_watch() -> None:
    from pipeline_py.deploy.alarm_guard import AlarmGuard

    views = [view([dep("new", "PRIMARY", "f:2", pending=2)])] * 5
    w, _, clock, out = make(views)
    alarms = FakeAlarms({"svc-5xx": "OK"})
    guard = AlarmGuard.start(alarms, ["svc-5xx"], policy="wait", grace=60, clock=clock,  # type: ignore[arg-type]
                             reporter=Reporter(out, timestamps=False))
    clock.on_sleep.append(
        lambda c: alarms.set("svc-5xx", "ALARM", "Threshold Crossed") if c.monotonic() > 1005 else None)
    outcome = w.watch("c", "svc", "new", WatchSettings(5, 60, 3, guard))
    assert outcome.cause == "alarm" and outcome.elapsed == 10
    assert "svc-5xx" in outcome.reason and "Threshold Crossed" in outcome.reason


def test_timeout_says_what_was_blocking() -> None:
    stuck = view([dep("new", "PRIMARY", "f:2", running=2), dep("old", "ACTIVE", "f:1", running=2)],
                 lbs=["arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg-blue/abc"])
    draining = [TargetState("10.0.0.5", 8080, "draining", "Target.DeregistrationInProgress", None)] * 2
    w, _script, clock, _ = make([stuck], targets=FakeTargets(draining))
    outcome = w.watch("c", "svc", "new", WatchSettings(5, 30, 3))
    assert outcome.result == TIMEOUT
    assert "old deployment old (f:1) still has 2 running tasks" in outcome.reason
    assert "2 targets draining" in outcome.reason and "deregistration delay 300s" in outcome.reason
    assert clock.monotonic() - 1000 == 30


def test_is_steady_requires_our_deployment_primary() -> None:
    assert not is_steady(view([dep("x", "PRIMARY", "f:1", running=2, rollout="COMPLETED")]), "new")
    assert is_steady(view([dep("new", "PRIMARY", "f:2", running=2, rollout=None)]), "new")
    assert not is_steady(view([dep("new", "PRIMARY", "f:2", running=2, rollout=None),
                               dep("old", "ACTIVE", "f:1", running=1)]), "new")


def test_new_deployment_id_is_the_new_primary() -> None:
    before = view([dep("old", "PRIMARY", "f:1", running=2)])
    after = view([dep("new", "PRIMARY", "f:2"), dep("old", "ACTIVE", "f:1", running=2)])
    assert new_deployment_id(before, after) == "new"


def test_circuit_breaker_failure_between_polls_is_explained_with_the_stopped_tasks() -> None:
    """The simulator (and ECS on a fast crash) can fail and roll back a deployment between two
    polls: the watch must still say that ECS failed it, and why its tasks stopped."""
    crash = StoppedTask("arn:task/c/abcdef1234", "td", "new", "STOPPED", "EssentialContainerExited",
                        "Essential container in task exited", ({"name": "app", "exitCode": 3},), None)
    views = [view([dep("rb", "PRIMARY", "f:1", running=2, rollout="COMPLETED")],
                  events=[("e1", "(service svc) (deployment new) deployment failed: tasks failed to start."),
                          ("e2", "(service svc) rolling back to deployment old.")])]
    w, script, _, out = make(views, stopped=[crash, crash])
    outcome = w.watch("c", "svc", "new", SETTINGS)
    assert outcome.cause == "rollout_failed"
    assert outcome.reason == ("ECS failed deployment new (deployment failed: tasks failed to start) and rolled back "
                              "to f:1 (deployment rb); tasks stopped: Essential container in task exited (exit code 3)")
    assert script.stopped_calls == 1
    assert "exit code 3" in out.getvalue()


def test_a_whole_failed_wave_with_nothing_running_fails_before_the_limit() -> None:
    """Two tasks desired, both failed, none running: waiting for a third failure (ECS's back-off
    delays the next wave) would only delay the rollback."""
    views = [view([dep("new", "PRIMARY", "f:2", failed=1, pending=1), dep("old", "ACTIVE", "f:1", running=2)]),
             view([dep("new", "PRIMARY", "f:2", failed=2), dep("old", "ACTIVE", "f:1", running=2)])]
    w, *_ = make(views)
    outcome = w.watch("c", "svc", "new", WatchSettings(5, 60, 3))
    assert outcome.cause == "failed_tasks"
    assert "every task deployment new started has failed (2 failed, none running)" in outcome.reason


def test_one_failure_among_running_tasks_is_tolerated() -> None:
    views = [view([dep("new", "PRIMARY", "f:2", failed=1, running=1, pending=1)]),
             view([dep("new", "PRIMARY", "f:2", failed=1, running=2, rollout="COMPLETED")])]
    w, *_ = make(views)
    assert w.watch("c", "svc", "new", WatchSettings(5, 60, 3)).ok


def test_ecs_saying_it_cannot_start_tasks_fails_fast() -> None:
    views = [view([dep("new", "PRIMARY", "f:2", desired=4, failed=1, pending=3)],
                  events=[("e1", "(service svc) is unable to consistently start tasks successfully.")])]
    w, *_ = make(views)
    outcome = w.watch("c", "svc", "new", WatchSettings(5, 60, 3))
    assert outcome.cause == "failed_tasks" and "unable to consistently start" in outcome.reason


def test_the_update_response_serves_as_the_first_poll() -> None:
    after = view([dep("new", "PRIMARY", "f:2", pending=2), dep("old", "ACTIVE", "f:1", running=2)])
    w, script, clock, _ = make([view([dep("new", "PRIMARY", "f:2", running=2, rollout="COMPLETED")])])
    outcome = w.watch("c", "svc", "new", SETTINGS, initial=after)
    assert outcome.ok
    assert script.i == 1 and clock.sleeps == [5]

"""The verification checks on their own, on fakes and the fake clock: target health (the one-call path
and the per-task path, their details and reasons), the bake and the smoke check — each `Check` compared
whole, since `ok`, `reason` and `details` go into the result as they are (issue 21: each assertion here
failed on a mutant that survived the unit tier)."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
import requests

from pipeline_py.clock import FakeClock
from pipeline_py.config import SmokeCheck
from pipeline_py.deploy.alarm_guard import AlarmGuard
from pipeline_py.deploy.verify import Check, bake, smoke, verify_targets
from pipeline_py.deploy.views import ServiceView, TargetState, short_id
from pipeline_py.deploy.watch import EventLog
from pipeline_py.report import Reporter
from tests.fakes import Behaviour, FakeAlarms, World, world

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1"


def service(desired: int = 2) -> tuple[World, str, io.StringIO, Reporter]:
    w = world()
    td = w.ecs.revision("app")
    svc = w.ecs.add_service("app", td, desired=desired, target_groups=[TG])
    out = io.StringIO()
    return w, svc.deployments[0]["id"], out, Reporter(out, timestamps=False)


def targets(w: World, reporter: Reporter, deployment_id: str, *, view: ServiceView | None = None,
            timeout: float = 10, tgs: list[str] | None = None) -> Check:
    return verify_targets(w.ecs, w.targets, reporter, w.clock, cluster="c", service="app",
                          deployment_id=deployment_id, target_groups=[TG] if tgs is None else tgs,
                          container_port=8080, timeout=timeout, poll_interval=2, view=view)


def health_as(w: World, state: str, reason: str | None = None, extra: list[TargetState] | None = None) -> None:
    health = w.targets.health

    def changed(tg: str) -> list[TargetState]:
        return [TargetState(t.id, t.port, state, reason, "why" if reason else None) for t in health(tg)] + (extra or [])

    w.targets.health = changed  # type: ignore[method-assign,assignment]


def first_task(w: World, dep: str) -> str:
    """The console id of the deployment's first task (the fake's task ids share their first 8 characters,
    so the per-task details hold one entry)."""
    return short_id(w.ecs.running_tasks("c", dep)[0]["taskArn"])


def test_no_target_group_is_nothing_to_verify() -> None:
    w, dep, _, rep = service()
    assert targets(w, rep, dep, tgs=[]) == Check(True, details={"target_groups": []})


def test_our_tasks_healthy_and_alone_are_judged_in_one_call_per_group() -> None:
    w, dep, out, rep = service(desired=1)
    draining = TargetState("10.0.9.9", 8080, "draining", "Target.DeregistrationInProgress", "old task")
    health_as(w, "healthy", extra=[draining])
    [ip] = [t.id for t in w.targets.health(TG) if t.state == "healthy"]
    check = targets(w, rep, dep, view=w.ecs.view("app"))
    assert check == Check(True, details={"targets": {TG: {f"{ip}:8080": "healthy"}}})
    assert w.clock.sleeps == [] and "all 1 targets of our tasks are healthy" in out.getvalue()


def test_a_deployment_that_runs_no_task_cannot_serve() -> None:
    w, dep, _, rep = service()
    w.ecs.services["app"].deployments[0]["desiredCount"] = 0
    assert targets(w, rep, dep, view=w.ecs.view("app")) == Check(
        False, "our deployment runs 0 tasks: 0 targets cannot serve traffic", {"targets": {TG: {}}})


def test_no_running_task_yet_is_not_healthy() -> None:
    w, dep, out, rep = service()
    w.ecs.services["app"].deployments[0]["runningCount"] = 0
    check = targets(w, rep, dep, view=w.ecs.view("app"), timeout=4.5)
    assert check == Check(False, "targets not healthy after 4s: no running tasks of our deployment",
                          {"targets": {TG: {}}})
    assert w.clock.sleeps == pytest.approx([2, 2, 0.5])
    assert out.getvalue().count("target health: no running tasks of our deployment") == 1


def test_without_the_services_view_each_task_of_ours_is_named() -> None:
    w, dep, _, rep = service()
    health_as(w, "unhealthy", "Target.ResponseCodeMismatch")
    check = targets(w, rep, dep, view=None, timeout=2)
    ips = sorted(t.id for t in w.targets.health(TG))
    task = first_task(w, dep)
    assert check.ok is False and check.details == {"targets": {TG: {task: "unhealthy"}}}
    assert check.reason == "targets not healthy after 2s: " + "; ".join(
        f"task {task} ({ip}) is unhealthy in targetgroup/app/1 (Target.ResponseCodeMismatch: why)" for ip in ips)


def test_a_task_not_registered_or_failing_without_a_reason_says_so_plainly() -> None:
    w, dep, _, rep = service(desired=1)
    health_as(w, "unhealthy")
    check = targets(w, rep, dep, view=None, timeout=0)
    [ip] = [t.id for t in w.targets.health(TG)]
    task = first_task(w, dep)
    assert check.reason == f"targets not healthy after 0s: task {task} ({ip}) is unhealthy in targetgroup/app/1"
    w.targets.health = lambda tg: []  # type: ignore[method-assign,assignment]
    check = targets(w, rep, dep, view=None, timeout=0)
    assert check.reason == f"targets not healthy after 0s: task {task} ({ip}) is not registered in targetgroup/app/1"
    assert check.details == {"targets": {TG: {task: "not registered"}}}


def test_the_per_task_path_passes_once_every_task_is_healthy() -> None:
    w, dep, out, rep = service()
    check = targets(w, rep, dep, view=None)
    assert check == Check(True, details={"targets": {TG: {first_task(w, dep): "healthy"}}})
    assert re.search(r"(^|\s)all targets of our tasks are healthy$", out.getvalue(), re.M)


# ---- bake --------------------------------------------------------------------------------------------


def bake_for(w: World, dep: str, seconds: float, names: list[str] | None = None, svc: str = "app") -> Check:
    g = AlarmGuard.start(w.alarms, names or [], policy="wait", grace=60, clock=w.clock, reporter=w.ports.reporter)
    return bake(w.ecs, g, EventLog(w.ports.reporter), w.ports.reporter, w.clock, cluster="c", service=svc,
                deployment_id=dep, seconds=seconds, poll_interval=3)


def test_a_bake_holds_for_its_seconds_and_passes() -> None:
    w, dep, _, _ = service()
    calls = len(w.ecs.calls)
    assert bake_for(w, dep, 0) == Check(True) and w.clock.sleeps == [] and len(w.ecs.calls) == calls
    assert bake_for(w, dep, 0.5) == Check(True) and w.clock.sleeps == [0.5]
    w.clock.sleeps.clear()
    assert bake_for(w, dep, 9.5) == Check(True) and w.clock.sleeps == [3, 3, 3, 0.5]


def test_what_ends_a_bake_early() -> None:
    w, dep, _, _ = service()
    w.alarms = FakeAlarms({"a": "OK"})
    w.ecs.alarms = w.alarms
    g_names = ["a"]
    w.clock.on_sleep.append(lambda c: w.alarms.set("a", "ALARM", "5xx"))
    assert bake_for(w, dep, 10, g_names) == Check(False, "alarm went into ALARM during the deploy: a (5xx) "
                                                         "(during the bake)")
    w.clock.on_sleep.clear()
    assert bake_for(w, dep, 10, svc="gone") == Check(False, "service gone disappeared during bake")
    assert bake_for(w, "ecs-svc/999", 10) == Check(False, "deployment ecs-svc/999 stopped being PRIMARY during bake")
    w.ecs.behaviours[w.ecs.services["app"].task_definition] = Behaviour(kind="hang")  # a task stopped, none replaces it
    w.ecs.services["app"].deployments[0]["runningCount"] = 1
    assert bake_for(w, dep, 10) == Check(False, "only 1/2 tasks running during bake")


# ---- smoke -------------------------------------------------------------------------------------------


class Answers:
    def __init__(self, *answers: tuple[int, str | None]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, Any]] = []

    def __call__(self, url: str, timeout: float) -> Any:
        self.calls.append((url, timeout))
        status, text = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return type("Resp", (), {"status_code": status, "text": text})()


def test_a_smoke_check_passes_on_the_status_and_text_it_expects() -> None:
    get = Answers((200, "all ok"))
    check = SmokeCheck(url="http://127.0.0.1:9/health", contains="ok", timeout=3)
    clock = FakeClock()
    assert smoke(check, Reporter(io.StringIO()), clock, http_get=get) == Check(
        True, details={"url": "http://127.0.0.1:9/health", "status": 200, "attempts": 1})
    assert get.calls == [("http://127.0.0.1:9/health", 3)] and clock.sleeps == []


def test_a_smoke_check_that_cannot_connect_says_why() -> None:
    def refused(url: str, timeout: float) -> Any:
        raise requests.ConnectionError("connection refused")

    check = SmokeCheck(url="http://127.0.0.1:9/health", retries=1)
    assert smoke(check, Reporter(io.StringIO()), FakeClock(), http_get=refused) == Check(
        False, "smoke check http://127.0.0.1:9/health failed after 1 attempts: ConnectionError: connection refused",
        {"url": "http://127.0.0.1:9/health", "attempts": 1})


def test_a_smoke_check_fails_after_its_retries_with_the_last_answer() -> None:
    get = Answers((200, None))
    check = SmokeCheck(url="http://127.0.0.1:9/health", contains="XX", retries=2, interval=4)
    clock = FakeClock()
    assert smoke(check, Reporter(io.StringIO()), clock, http_get=get) == Check(
        False, "smoke check http://127.0.0.1:9/health failed after 2 attempts: HTTP 200, body lacks 'XX'",
        {"url": "http://127.0.0.1:9/health", "attempts": 2})
    assert len(get.calls) == 2 and clock.sleeps == [4]

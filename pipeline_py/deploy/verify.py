"""Verification before a deploy is called a success: target health of our tasks, a bake period
watching alarms (and that ECS keeps our deployment), and an HTTP smoke check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from pipeline_py.clock import Clock, Deadline
from pipeline_py.config import SmokeCheck
from pipeline_py.deploy.alarm_guard import AlarmGuard
from pipeline_py.deploy.ports import Services, Targets
from pipeline_py.deploy.views import ServiceView, short_id, task_ip
from pipeline_py.deploy.watch import EventLog
from pipeline_py.report import Reporter


@dataclass
class Check:
    ok: bool
    reason: str | None = None
    details: dict[str, Any] | None = None


def verify_targets(
    services: Services,
    targets: Targets,
    reporter: Reporter,
    clock: Clock,
    *,
    cluster: str,
    service: str,
    deployment_id: str,
    target_groups: list[str],
    container_port: int | None,
    timeout: float,
    poll_interval: float,
    view: ServiceView | None = None,
) -> Check:
    """Every running task of our deployment is a healthy target in each target group.

    When our deployment is the service's only one, every registered (not draining) target is one
    of our tasks: one DescribeTargetHealth per target group answers it. Otherwise, or when some
    target is not healthy, our tasks' IPs are looked up so the report can name them.
    """
    if not target_groups:
        return Check(True, details={"target_groups": []})
    ours = view.deployment(deployment_id) if view is not None else None
    if ours is not None and ours.desired == 0:
        return Check(False, "our deployment runs 0 tasks: 0 targets cannot serve traffic",
                     {"targets": {tg: {} for tg in target_groups}})
    if ours is not None and ours.running > 0 and len(view.deployments) == 1:  # type: ignore[union-attr]
        summary = {}
        for tg in target_groups:
            live = [t for t in targets.health(tg) if container_port in (None, t.port) and t.state != "draining"]
            summary[tg] = {f"{t.id}:{t.port}": t.state for t in live}
        if all(len(v) >= ours.running and all(st == "healthy" for st in v.values()) for v in summary.values()):
            reporter.info(f"all {ours.running} targets of our tasks are healthy")
            return Check(True, details={"targets": summary})
    deadline = Deadline(clock, timeout)
    last = ""
    while True:
        tasks = services.running_tasks(cluster, deployment_id)
        ips = {ip: short_id(t["taskArn"]) for t in tasks if (ip := task_ip(t)) is not None}
        problems: list[str] = []
        summary = {}
        for tg in target_groups:
            states = {t.id: t for t in targets.health(tg) if container_port in (None, t.port)}
            summary[tg] = {}
            for ip, task in ips.items():
                st = states.get(ip)
                state = st.state if st else "not registered"
                summary[tg][task] = state
                if state != "healthy":
                    why = f" ({st.reason}: {st.description})" if st and st.reason else ""
                    problems.append(f"task {task} ({ip}) is {state} in {tg.rsplit(':', 1)[-1]}{why}")
        if not ips:
            problems.append("no running tasks of our deployment")
        line = "; ".join(problems) if problems else "all targets of our tasks are healthy"
        if line != last:
            reporter.info(("target health: " + line) if problems else line)
            last = line
        if not problems:
            return Check(True, details={"targets": summary})
        if deadline.expired:
            return Check(False, f"targets not healthy after {timeout:.0f}s: {line}", {"targets": summary})
        clock.sleep(min(poll_interval, max(deadline.remaining, 0.0)))


def bake(
    services: Services,
    guard: AlarmGuard,
    log: EventLog,
    reporter: Reporter,
    clock: Clock,
    *,
    cluster: str,
    service: str,
    deployment_id: str,
    seconds: float,
    poll_interval: float,
) -> Check:
    """Hold for ``seconds`` while no alarm fires and ECS keeps our deployment PRIMARY."""
    if seconds <= 0:
        return Check(True)
    reporter.info(f"baking {seconds:.0f}s" + (f", watching alarms {', '.join(guard.names)}" if guard.names else ""))
    deadline = Deadline(clock, seconds)
    while True:
        fired = guard.check()
        if fired:
            return Check(False, f"{fired} (during the bake)")
        view = services.describe(cluster, [service]).get(service)
        if view is None:
            return Check(False, f"service {service} disappeared during bake")
        log.absorb(view)
        ours = view.deployment(deployment_id)
        if ours is None or ours.status != "PRIMARY":
            return Check(False, f"deployment {deployment_id} stopped being PRIMARY during bake")
        if ours.running < ours.desired:
            return Check(False, f"only {ours.running}/{ours.desired} tasks running during bake")
        if deadline.expired:
            return Check(True)
        clock.sleep(min(poll_interval, max(deadline.remaining, 0.0)))


HttpGet = Callable[..., Any]


def smoke(check: SmokeCheck, reporter: Reporter, clock: Clock, http_get: HttpGet = requests.get) -> Check:
    """GET the URL until it answers the expected status (and text), up to ``retries`` attempts."""
    last = ""
    for attempt in range(1, check.retries + 1):
        try:
            resp = http_get(check.url, timeout=check.timeout)
            body = resp.text or ""
            if resp.status_code == check.expected_status and (not check.contains or check.contains in body):
                reporter.info(f"smoke check {check.url}: {resp.status_code} (attempt {attempt})")
                return Check(True, details={"url": check.url, "status": resp.status_code, "attempts": attempt})
            last = f"HTTP {resp.status_code}" + (f", body lacks {check.contains!r}" if check.contains else "")
        except requests.RequestException as exc:
            last = f"{exc.__class__.__name__}: {exc}"
        reporter.info(f"smoke check {check.url}: {last} (attempt {attempt}/{check.retries})")
        if attempt < check.retries:
            clock.sleep(check.interval)
    return Check(False, f"smoke check {check.url} failed after {check.retries} attempts: {last}",
                 {"url": check.url, "attempts": check.retries})

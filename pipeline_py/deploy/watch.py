"""Watching one deployment of one service, not a blind waiter.

Every poll: one ``describe_services`` (plus one ``describe_alarms`` when alarms are guarded).
New service events are printed as they arrive; our deployment's counts and rolloutState are
tracked; when its failed-task count moves, the newly stopped tasks are looked up and their
reasons and exit codes printed. The watch ends at steady state or fails fast, always with the
reason, and on timeout with a diagnosis of what was still blocking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline_py.clock import Clock, Deadline
from pipeline_py.deploy.views import ServiceView, StoppedTask, short_id, td_label
from pipeline_py.report import Reporter

if TYPE_CHECKING:
    from pipeline_py.deploy.alarm_guard import AlarmGuard
    from pipeline_py.deploy.ports import Services, Targets

STEADY = "steady"
FAILED = "failed"
TIMEOUT = "timeout"


@dataclass
class EventLog:
    """ECS events and stopped tasks seen during a command, for narration and the JSON result."""

    reporter: Reporter
    seen: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    stopped: dict[str, StoppedTask] = field(default_factory=dict)

    def prime(self, view: ServiceView) -> None:
        """Remember the events that existed before we acted, so only new ones are narrated."""
        self.seen.update(e["id"] for e in view.events)

    def absorb(self, view: ServiceView) -> None:
        fresh = [e for e in view.events if e["id"] not in self.seen]
        for e in sorted(fresh, key=lambda e: e.get("createdAt") or 0):
            self.seen.add(e["id"])
            created = e.get("createdAt")
            self.events.append({
                "service": view.name,
                "created_at": created.isoformat() if isinstance(created, datetime) else created,
                "message": e.get("message", ""),
            })
            self.reporter.detail(f"event: {e.get('message', '')}")

    def add_stopped(self, task: StoppedTask) -> bool:
        if task.arn in self.stopped:
            return False
        self.stopped[task.arn] = task
        self.reporter.warn(task.describe())
        return True


@dataclass
class WatchSettings:
    poll_interval: float
    timeout: float
    max_failed_tasks: int
    guard: AlarmGuard | None = None


@dataclass
class WatchOutcome:
    result: str  # STEADY | FAILED | TIMEOUT
    reason: str | None
    view: ServiceView | None
    elapsed: float
    cause: str | None = None  # rollout_failed | superseded | failed_tasks | alarm | timeout | service_gone

    @property
    def ok(self) -> bool:
        return self.result == STEADY


def progress_line(view: ServiceView, deployment_id: str) -> str:
    ours = view.deployment(deployment_id)
    if ours is None:
        return f"{view.name}: deployment {deployment_id} is gone"
    others = [d for d in view.deployments if d.id != deployment_id]
    text = (
        f"{view.name}: {ours.running}/{ours.desired} running, {ours.pending} pending, {ours.failed} failed "
        f"({td_label(ours.task_definition)}, {ours.rollout_state or ours.status})"
    )
    if others:
        old = ", ".join(f"{d.status.lower()} {td_label(d.task_definition)} {d.running} running" for d in others)
        text += f"; {old}"
    return text


def is_steady(view: ServiceView, deployment_id: str) -> bool:
    ours = view.deployment(deployment_id)
    if ours is None or ours.status != "PRIMARY":
        return False
    if ours.rollout_state == "COMPLETED":
        return True
    return (
        ours.rollout_state in (None, "IN_PROGRESS")
        and len(view.deployments) == 1
        and ours.running == ours.desired
        and ours.pending == 0
    )


class DeploymentWatcher:
    def __init__(
        self,
        services: Services,
        targets: Targets,
        reporter: Reporter,
        clock: Clock,
        log: EventLog,
    ) -> None:
        self.services = services
        self.targets = targets
        self.reporter = reporter
        self.clock = clock
        self.log = log
        self._events_from = 0

    def watch(self, cluster: str, service: str, deployment_id: str, settings: WatchSettings,
              initial: ServiceView | None = None) -> WatchOutcome:
        """Watch until steady state or a failure. ``initial`` (the UpdateService response) serves as
        the first poll, which saves one DescribeServices per deploy."""
        deadline = Deadline(self.clock, settings.timeout)
        last_failed = 0
        self._events_from = len(self.log.events)
        view: ServiceView | None = initial
        while True:
            if view is None:
                view = self.services.describe(cluster, [service]).get(service)
            if view is None:
                return WatchOutcome(FAILED, f"service {service} no longer exists", None, deadline.elapsed,
                                    "service_gone")
            self.log.absorb(view)
            line = progress_line(view, deployment_id)
            self.reporter.progress(f"{line} · {deadline.elapsed:.0f}s of {settings.timeout:.0f}s", key=line)
            ours = view.deployment(deployment_id)
            if ours is not None and ours.failed > last_failed:
                last_failed = ours.failed
                for task in self.services.stopped_tasks(cluster, deployment_id):
                    self.log.add_stopped(task)
            verdict = self._judge(view, deployment_id, settings)
            if verdict is not None:
                if verdict[0] == FAILED and not self._stopped_of(deployment_id):
                    # the deployment may have failed between two polls: say which tasks died and why
                    for task in self.services.stopped_tasks(cluster, deployment_id):
                        self.log.add_stopped(task)
                    verdict = self._judge(view, deployment_id, settings) or verdict
                return WatchOutcome(verdict[0], verdict[1], view, deadline.elapsed, verdict[2])
            if deadline.expired:
                return WatchOutcome(TIMEOUT, self.diagnose_timeout(view, deployment_id, settings.timeout), view,
                                    deadline.elapsed, "timeout")
            self.clock.sleep(min(settings.poll_interval, max(deadline.remaining, 0.0)))
            view = None

    def _judge(
        self, view: ServiceView, deployment_id: str, settings: WatchSettings
    ) -> tuple[str, str | None, str] | None:
        ours = view.deployment(deployment_id)
        primary = view.primary
        if ours is not None and ours.rollout_state == "FAILED":
            why = ours.rollout_reason or "ECS marked the deployment FAILED"
            if primary is not None and primary.id != deployment_id:
                why += f"; ECS rolled back to {td_label(primary.task_definition)} (deployment {primary.id})"
            return FAILED, f"deployment {deployment_id} failed: {why}", "rollout_failed"
        if ours is None or ours.status != "PRIMARY":
            now = (f"{td_label(primary.task_definition)} (deployment {primary.id})" if primary else "nothing")
            failed_event = next((e["message"] for e in reversed(self.log.events)
                                 if deployment_id in e["message"] and "deployment failed" in e["message"]), None)
            why = self._stopped_reasons(deployment_id)
            if failed_event:
                detail = failed_event.split(") ", 2)[-1].rstrip(".")
                return (FAILED, f"ECS failed deployment {deployment_id} ({detail}) and rolled back to {now}"
                        + (f"; tasks stopped: {why}" if why else ""), "rollout_failed")
            return (FAILED, f"deployment {deployment_id} is no longer PRIMARY: the service now runs {now} "
                    "(the ECS circuit breaker rolled it back, or another deploy replaced it)"
                    + (f"; tasks stopped: {why}" if why else ""), "superseded")
        if ours.failed >= settings.max_failed_tasks:
            why = self._stopped_reasons(deployment_id) or "see stopped tasks"
            return (FAILED, f"{ours.failed} tasks of deployment {deployment_id} failed "
                    f"(limit {settings.max_failed_tasks}): {why}", "failed_tasks")
        wave = max(2, min(settings.max_failed_tasks, ours.desired))
        if ours.running == 0 and ours.failed >= wave:
            why = self._stopped_reasons(deployment_id) or "see stopped tasks"
            return (FAILED, f"every task deployment {deployment_id} started has failed ({ours.failed} failed, "
                    f"none running): {why}", "failed_tasks")
        if ours.running == 0 and ours.failed > 0 and any(
                "unable to consistently start tasks" in e["message"] for e in self.log.events[self._events_from:]):
            why = self._stopped_reasons(deployment_id) or "see stopped tasks"
            return (FAILED, f"ECS reports it is unable to consistently start the tasks of deployment "
                    f"{deployment_id} ({ours.failed} failed, none running): {why}", "failed_tasks")
        if settings.guard is not None:
            fired = settings.guard.check()
            if fired:
                return FAILED, fired, "alarm"
        if is_steady(view, deployment_id):
            return STEADY, None, "steady"
        return None

    def _stopped_of(self, deployment_id: str) -> list[StoppedTask]:
        return [t for t in self.log.stopped.values() if t.started_by == deployment_id]

    def _stopped_reasons(self, deployment_id: str) -> str:
        """Distinct stop reasons with exit codes, e.g. ``Essential container in task exited (exit code 3) ×2``."""
        counts: dict[str, int] = {}
        for t in self._stopped_of(deployment_id):
            codes = sorted({str(c["exitCode"]) for c in t.containers if c.get("exitCode") not in (None, 0)})
            text = (t.stopped_reason or "no reason given") + (f" (exit code {', '.join(codes)})" if codes else "")
            counts[text] = counts.get(text, 0) + 1
        return "; ".join(f"{k} ×{n}" if n > 1 else k for k, n in counts.items())

    def diagnose_timeout(self, view: ServiceView, deployment_id: str, timeout: float) -> str:
        """Say what was still blocking steady state when the time ran out."""
        ours = view.deployment(deployment_id)
        blockers: list[str] = []
        if ours is not None:
            if ours.running < ours.desired:
                blockers.append(f"{ours.running}/{ours.desired} of our tasks running ({ours.pending} pending)")
            if ours.rollout_state == "IN_PROGRESS" and ours.running >= ours.desired:
                blockers.append("our tasks are running but ECS has not completed the rollout")
        for d in view.deployments:
            if d.id != deployment_id and d.running + d.pending > 0:
                blockers.append(f"old deployment {d.id} ({td_label(d.task_definition)}) still has "
                                f"{d.running} running tasks")
        for tg in view.target_groups:
            try:
                states = self.targets.health(tg)
            except Exception as exc:  # diagnosis is best effort; the timeout is the failure
                blockers.append(f"target health of {tg} unavailable: {exc}")
                continue
            draining = [t for t in states if t.state == "draining"]
            unhealthy = [t for t in states if t.state in ("unhealthy", "initial")]
            name = tg.rsplit(":", 1)[-1]
            if draining:
                delay = self.targets.deregistration_delay(tg)
                blockers.append(
                    f"{len(draining)} targets draining in {name}"
                    + (f" (deregistration delay {delay:.0f}s — lower it or raise --timeout)" if delay else "")
                )
            for t in unhealthy:
                blockers.append(f"target {t.id}:{t.port} {t.state} in {name}: {t.reason or ''} {t.description or ''}"
                                .rstrip())
        text = f"timed out after {timeout:.0f}s waiting for deployment {deployment_id} to reach steady state"
        return text + (": " + "; ".join(blockers) if blockers else "")


def new_deployment_id(before: ServiceView, after: ServiceView) -> str:
    """Identify OUR deployment: the PRIMARY after the update that was not there before."""
    old_ids = {d.id for d in before.deployments}
    primary = after.primary
    if primary is not None and primary.id not in old_ids:
        return primary.id
    fresh = [d for d in after.deployments if d.id not in old_ids]
    if fresh:
        return fresh[0].id
    if primary is not None:
        return primary.id
    raise RuntimeError(f"service {after.name} has no PRIMARY deployment after the update")


def stopped_summary(tasks: list[StoppedTask]) -> list[dict[str, Any]]:
    return [t.to_dict() for t in tasks]


__all__ = [
    "FAILED",
    "STEADY",
    "TIMEOUT",
    "DeploymentWatcher",
    "EventLog",
    "WatchOutcome",
    "WatchSettings",
    "is_steady",
    "new_deployment_id",
    "progress_line",
    "short_id",
]

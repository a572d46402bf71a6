"""Rolling deploy: a phase machine over one ECS service.

preflight → register → update → watch → verify targets → bake → smoke → succeeded
any failure after the update (or an abort signal) → rolling back → rolled_back | failed
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py import taskdef
from pipeline_py.config import Settings, SmokeCheck
from pipeline_py.deploy.ecs import ServiceView, td_label
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.result import FAILED, NOT_STARTED, ROLLED_BACK, SUCCEEDED, DeployReport
from pipeline_py.deploy.rollback import RollbackOutcome, Snapshot, record_revisions, roll_back
from pipeline_py.deploy.verify import bake, smoke, verify_targets
from pipeline_py.deploy.watch import WatchSettings, new_deployment_id
from pipeline_py.errors import Aborted, BadInput

CONTROLLER_ADVICE = {
    "CODE_DEPLOY": "it uses the CODE_DEPLOY deployment controller: deploy it through CodeDeploy, or move it to the "
    "ECS controller and use --strategy blue-green/canary (ALB weighted target groups, two services)",
    "EXTERNAL": "it uses the EXTERNAL deployment controller (task sets): use --strategy blue-green or canary with "
    "two ECS-controller services behind weighted target groups",
}


@dataclass
class DeployRequest:
    cluster: str
    service: str
    task_definition: dict[str, Any] | None = None
    task_definition_arn: str | None = None
    desired_count: int | None = None
    force_new_deployment: bool = False
    timeout: float = 900.0
    poll_interval: float = 5.0
    rollback_timeout: float = 600.0
    max_failed_tasks: int = 3
    bake_seconds: float = 0.0
    alarms: list[str] = field(default_factory=list)
    smoke: SmokeCheck | None = None

    @classmethod
    def from_settings(cls, s: Settings, **kw: Any) -> DeployRequest:
        if not s.cluster:
            raise BadInput("no cluster configured for this environment (set `cluster`, or from_terraform_outputs)")
        return cls(
            cluster=s.cluster,
            service=s.service_name,
            desired_count=s.desired_count,
            timeout=s.timeout,
            poll_interval=s.poll_interval,
            rollback_timeout=s.rollback_timeout,
            max_failed_tasks=s.max_failed_tasks,
            bake_seconds=s.bake_seconds,
            alarms=list(s.alarms),
            smoke=s.smoke,
            **kw,
        )

    @property
    def watch_settings(self) -> WatchSettings:
        return WatchSettings(self.poll_interval, self.timeout, self.max_failed_tasks, list(self.alarms))


def check_controller(view: ServiceView) -> None:
    if view.controller != "ECS":
        advice = CONTROLLER_ADVICE.get(view.controller, f"its deployment controller is {view.controller}")
        raise BadInput(f"service {view.name} cannot be deployed with the rolling strategy: {advice}")


def preflight(ports: Ports, req: DeployRequest) -> ServiceView:
    """Read-only checks; BadInput here means nothing was changed."""
    view = ports.services.get(req.cluster, req.service)
    check_controller(view)
    if req.alarms:
        ports.alarms.check_exist(req.alarms)
    if req.task_definition_arn and not ports.services.task_definition_exists(req.task_definition_arn):
        raise BadInput(f"task definition {req.task_definition_arn} does not exist")
    return view


class RollingDeploy:
    strategy = "rolling"

    def __init__(self, ports: Ports, req: DeployRequest) -> None:
        self.ports = ports
        self.req = req
        self.report = DeployReport(self.strategy, req.cluster, req.service, ports.clock, ports.reporter)
        self.snapshot: Snapshot | None = None
        self.deployment_id: str | None = None

    def plan(self, view: ServiceView, new_arn_hint: str) -> list[str]:
        r = self.req
        steps = []
        if r.task_definition is not None:
            steps.append(f"ecs:RegisterTaskDefinition family {r.task_definition.get('family')} "
                         "(skipped if identical to the latest revision)")
        steps.append(f"ecs:UpdateService {r.cluster}/{r.service} taskDefinition={new_arn_hint}"
                     + (f" desiredCount={r.desired_count}" if r.desired_count is not None else ""))
        steps.append(f"watch: ecs:DescribeServices every {r.poll_interval:g}s up to {r.timeout:g}s; "
                     f"fail fast on rolloutState FAILED, lost PRIMARY, {r.max_failed_tasks} failed tasks"
                     + (f", alarms {', '.join(r.alarms)}" if r.alarms else ""))
        if view.target_groups:
            steps.append("verify: elbv2:DescribeTargetHealth for " + ", ".join(view.target_groups))
        if r.bake_seconds:
            steps.append(f"bake {r.bake_seconds:g}s watching alarms and the deployment")
        if r.smoke:
            steps.append(f"smoke: GET {r.smoke.url} expecting {r.smoke.expected_status}")
        current = view.primary.task_definition if view.primary else view.task_definition
        steps.append(f"on failure: ecs:UpdateService back to {td_label(current)} "
                     f"and watch up to {r.rollback_timeout:g}s")
        return steps

    def run(self) -> dict[str, Any]:
        rep, ports, r = self.report, self.ports, self.req
        view = preflight(ports, r)
        self.snapshot = snap = Snapshot.of(view)
        ports.log.prime(view)
        rep.data.update({
            "previous_task_definition_arn": snap.task_definition,
            "snapshot": snap.to_dict(),
            "circuit_breaker": view.circuit_breaker or None,
        })
        ports.reporter.info(f"{r.service} runs {td_label(snap.task_definition)} with {snap.desired_count} tasks "
                            f"(deployment {snap.deployment_id})")
        try:
            rep.enter("register", "registering the task definition")
            arn = self._register()
            rep.data["task_definition_arn"] = arn
            if arn == snap.task_definition and not r.force_new_deployment and (
                r.desired_count is None or r.desired_count == snap.desired_count
            ):
                ports.reporter.info(f"{r.service} already runs {td_label(arn)}; nothing to deploy "
                                    "(use --force-new-deployment to restart tasks)")
                rep.data["changed"] = False
                return self._finish(SUCCEEDED, None)
        except Aborted as exc:
            return self._finish(NOT_STARTED, f"{exc} before the service was changed")
        try:
            rep.enter("update", f"updating {r.service} to {td_label(arn)}")
            kwargs: dict[str, Any] = {"taskDefinition": arn}
            if r.desired_count is not None:
                kwargs["desiredCount"] = r.desired_count
            if r.force_new_deployment:
                kwargs["forceNewDeployment"] = True
            after = ports.services.update(r.cluster, r.service, **kwargs)
            self.deployment_id = new_deployment_id(view, after)
            rep.data["deployment_id"] = self.deployment_id
            rep.data["changed"] = True
            ports.reporter.info(f"our deployment: {self.deployment_id}")
            failure = self._watch_and_verify(after)
        except Aborted as exc:
            failure = f"{exc} during {rep.phase}"
        except (ClientError, BotoCoreError) as exc:
            failure = f"AWS error during {rep.phase}: {exc}"
        if failure is None:
            record_revisions(ports, view.arn, arn, snap.task_definition)
            return self._finish(SUCCEEDED, None)
        ports.reporter.error(failure)
        return self._roll_back(failure)

    def _register(self) -> str:
        r = self.req
        if r.task_definition_arn:
            return r.task_definition_arn
        assert r.task_definition is not None
        arn, created = taskdef.register(self.ports.aws.client("ecs"), r.task_definition)
        self.report.data["task_definition_registered"] = created
        self.ports.reporter.info(("registered " if created else "unchanged, reusing ") + td_label(arn))
        return arn

    def _watch_and_verify(self, after: ServiceView) -> str | None:
        rep, ports, r = self.report, self.ports, self.req
        assert self.deployment_id
        rep.enter("watch", f"watching deployment {self.deployment_id}")
        outcome = ports.watcher.watch(r.cluster, r.service, self.deployment_id, r.watch_settings, initial=after)
        if not outcome.ok:
            rep.data["failure_cause"] = outcome.cause
            return outcome.reason
        rep.mark("to_steady_state_seconds")
        ports.reporter.info(f"{r.service} reached a steady state on {td_label(rep.data.get('task_definition_arn'))}")
        view = outcome.view or after
        if view.target_groups:
            rep.enter("verify_targets", "verifying target health")
            port = next((lb.container_port for lb in view.load_balancers if lb.container_port), None)
            check = verify_targets(
                ports.services, ports.targets, ports.reporter, ports.clock,
                cluster=r.cluster, service=r.service, deployment_id=self.deployment_id,
                target_groups=view.target_groups, container_port=port,
                timeout=max(r.timeout - rep.elapsed, r.poll_interval), poll_interval=r.poll_interval, view=view,
            )
            rep.data["target_health"] = check.details
            if not check.ok:
                rep.data["failure_cause"] = "targets"
                return check.reason
        if r.bake_seconds > 0:
            rep.enter("bake", f"baking {r.bake_seconds:g}s")
            check = bake(
                ports.services, ports.alarms, ports.log, ports.reporter, ports.clock,
                cluster=r.cluster, service=r.service, deployment_id=self.deployment_id,
                alarm_names=r.alarms, seconds=r.bake_seconds, poll_interval=r.poll_interval,
            )
            if not check.ok:
                rep.data["failure_cause"] = "bake"
                return check.reason
        if r.smoke is not None:
            rep.enter("smoke", "smoke check")
            check = smoke(r.smoke, ports.reporter, ports.clock)
            rep.data["smoke"] = check.details
            if not check.ok:
                rep.data["failure_cause"] = "smoke"
                return check.reason
        return None

    def _roll_back(self, failure: str) -> dict[str, Any]:
        rep, r = self.report, self.req
        assert self.snapshot is not None
        rep.enter("rolling_back", f"rolling back: {failure}")
        outcome: RollbackOutcome = roll_back(
            self.ports, cluster=r.cluster, service=r.service, snapshot=self.snapshot,
            failed_deployment_id=self.deployment_id, timeout=r.rollback_timeout,
            poll_interval=r.poll_interval, max_failed_tasks=r.max_failed_tasks,
        )
        rep.data["rollback"] = outcome.to_dict()
        rep.timings["rollback_seconds"] = round(outcome.elapsed, 3)
        if outcome.ok:
            return self._finish(ROLLED_BACK, failure)
        return self._finish(FAILED, f"{failure}; rollback to {td_label(self.snapshot.task_definition)} failed: "
                                    f"{outcome.reason} — MANUAL ACTION REQUIRED")

    def _finish(self, status: str, reason: str | None) -> dict[str, Any]:
        log = self.ports.log
        self.report.data["events"] = log.events
        self.report.data["stopped_tasks"] = [t.to_dict() for t in log.stopped.values()]
        self.report.enter(status)
        result = self.report.finish(status, reason)
        result["api_calls"] = self.ports.aws.counter.snapshot()
        return result

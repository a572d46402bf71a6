"""Rolling deploy: a phase machine over one ECS service.

preflight → register → update → watch → verify targets → bake → smoke → succeeded
any failure after the update (or an abort signal) → rolling back → rolled_back | failed
"""

from __future__ import annotations

from typing import Any

from pipeline_py.deploy.result import FAILED, NOT_STARTED, ROLLED_BACK, SUCCEEDED
from pipeline_py.deploy.rollback import RollbackOutcome, Snapshot, record_known_good, roll_back
from pipeline_py.deploy.strategy import Strategy
from pipeline_py.deploy.verify import bake, smoke, verify_targets
from pipeline_py.deploy.views import ServiceView, td_label
from pipeline_py.deploy.watch import WatchSettings, new_deployment_id
from pipeline_py.errors import BadInput

CONTROLLER_ADVICE = {
    "CODE_DEPLOY": "it uses the CODE_DEPLOY deployment controller: deploy it through CodeDeploy, or move it to the "
    "ECS controller and use --strategy blue-green/canary (ALB weighted target groups, two services)",
    "EXTERNAL": "it uses the EXTERNAL deployment controller (task sets): use --strategy blue-green or canary with "
    "two ECS-controller services behind weighted target groups",
}


def check_controller(view: ServiceView, strategy: str = "rolling") -> None:
    if view.controller != "ECS":
        advice = CONTROLLER_ADVICE.get(view.controller, f"its deployment controller is {view.controller}")
        raise BadInput(f"service {view.name} cannot be deployed with the {strategy} strategy: {advice}")


class RollingDeploy(Strategy[ServiceView]):
    name = "rolling"

    snapshot: Snapshot | None = None
    deployment_id: str | None = None

    @property
    def watch_settings(self) -> WatchSettings:
        r = self.req
        return WatchSettings(r.poll_interval, r.timeout, r.max_failed_tasks, self.guard)

    def preflight(self) -> ServiceView:
        ports, r = self.ports, self.req
        view = ports.services.get(r.cluster, r.service)
        check_controller(view)
        if r.alarms:
            ports.alarms.check_exist(r.alarms)
        if r.task_definition_arn and not ports.services.task_definition(r.task_definition_arn):
            raise BadInput(f"task definition {r.task_definition_arn} does not exist")
        ports.reporter.step(f"deploy {r.label or r.service} (rolling): {r.cluster}/{r.service}")
        return view

    def live_task_definition_arn(self, view: ServiceView) -> str:
        return view.primary.task_definition if view.primary else view.task_definition

    def dry_run_details(self, view: ServiceView) -> dict[str, Any]:
        return {"service": self.req.service}

    def plan(self, view: ServiceView) -> list[str]:
        r = self.req
        steps = []
        if r.task_definition is not None:
            steps.append(f"ecs:RegisterTaskDefinition family {r.task_definition.get('family')} "
                         "(skipped if identical to the latest revision)")
        new = r.task_definition_arn or "<new revision>"
        steps.append(f"ecs:UpdateService {r.cluster}/{r.service} taskDefinition={new}"
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
        steps.append(f"on failure: ecs:UpdateService back to {td_label(self.live_task_definition_arn(view))} "
                     f"and watch up to {r.rollback_timeout:g}s")
        return steps

    def run(self, view: ServiceView) -> dict[str, Any]:
        rep, ports, r = self.report, self.ports, self.req
        self.start_guard()
        self.snapshot = snap = Snapshot.of(view)
        ports.log.prime(view)
        rep.data.update({
            "previous_task_definition_arn": snap.task_definition,
            "snapshot": snap.to_dict(),
            "circuit_breaker": view.circuit_breaker or None,
        })
        ports.reporter.info(f"{r.service} runs {td_label(snap.task_definition)} with {snap.desired_count} tasks "
                            f"(deployment {snap.deployment_id})")
        arn = self.register_revision()
        if arn is None:
            return self.finish(NOT_STARTED, "aborted before the service was changed")
        if arn == snap.task_definition and not r.force_new_deployment and (
            r.desired_count is None or r.desired_count == snap.desired_count
        ):
            ports.reporter.info(f"{r.service} already runs {td_label(arn)}; nothing to deploy "
                                "(use --force-new-deployment to restart tasks)")
            rep.data["changed"] = False
            return self.finish(SUCCEEDED, None)
        failure = self.attempt(lambda: self._update_watch_verify(view, arn))
        if failure is None:
            record_known_good(ports, view, arn)
            return self.finish(SUCCEEDED, None)
        ports.reporter.error(failure)
        return self._roll_back(failure)

    def _update_watch_verify(self, view: ServiceView, arn: str) -> str | None:
        rep, ports, r = self.report, self.ports, self.req
        rep.enter("update", f"updating {r.service} to {td_label(arn)}")
        after = ports.services.update(r.cluster, r.service, task_definition=arn, desired_count=r.desired_count,
                                      force_new_deployment=r.force_new_deployment)
        self.deployment_id = new_deployment_id(view, after)
        rep.data["deployment_id"] = self.deployment_id
        rep.data["changed"] = True
        ports.reporter.info(f"our deployment: {self.deployment_id}")
        return self._watch_and_verify(after)

    def _watch_and_verify(self, after: ServiceView) -> str | None:
        rep, ports, r = self.report, self.ports, self.req
        assert self.deployment_id
        rep.enter("watch", f"watching deployment {self.deployment_id}")
        outcome = ports.watcher.watch(r.cluster, r.service, self.deployment_id, self.watch_settings, initial=after)
        if not outcome.ok:
            rep.data["failure_cause"] = outcome.cause
            return outcome.reason
        rep.mark("to_steady_state_seconds")
        assert self.guard is not None
        self.guard.took_all_traffic()
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
                ports.services, self.guard, ports.log, ports.reporter, ports.clock,
                cluster=r.cluster, service=r.service, deployment_id=self.deployment_id,
                seconds=r.bake_seconds, poll_interval=r.poll_interval,
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
        failure = self.guard.settle(r.poll_interval)
        if failure is not None:
            rep.data["failure_cause"] = "alarm"
        return failure

    def _roll_back(self, failure: str) -> dict[str, Any]:
        rep, r = self.report, self.req
        assert self.snapshot is not None
        rep.enter("rolling_back", f"rolling back: {failure}")
        rep.event("rollback", reason=failure)
        outcome: RollbackOutcome = roll_back(
            self.ports, cluster=r.cluster, service=r.service, snapshot=self.snapshot,
            failed_deployment_id=self.deployment_id, timeout=r.rollback_timeout,
            poll_interval=r.poll_interval, max_failed_tasks=r.max_failed_tasks,
        )
        rep.data["rollback"] = outcome.to_dict()
        rep.timings["rollback_seconds"] = round(outcome.elapsed, 3)
        if outcome.ok:
            return self.finish(ROLLED_BACK, failure)
        return self.finish(FAILED, f"{failure}; rollback to {td_label(self.snapshot.task_definition)} failed: "
                                   f"{outcome.reason} — MANUAL ACTION REQUIRED")

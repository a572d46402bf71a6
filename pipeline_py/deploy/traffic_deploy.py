"""Blue-green, canary and linear deploys: a phase machine over two ECS services behind weighted
target groups.

preflight → prepare (idle colour to the new revision at the live colour's count, watched and
target-verified) → test listener + smoke → shift (blue-green: 0→100; canary/linear: each step,
weights verified after every change) with analysis per step → [paused] → scale the old colour
down after a delay → succeeded. Any failure or abort signal → weights 100% stable (verified),
new colour scaled to 0 → rolled_back (exit 1), or failed (exit 3) if traffic could not be restored.

The live colour is read from the listener every time. What a paused rollout needs to resume
(its steps, stable colour, strategy) is kept in tags on the new colour's service, in AWS.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py import taskdef
from pipeline_py.config import Settings, SmokeCheck
from pipeline_py.context import Context
from pipeline_py.deploy.analysis import Analyzer, CloudWatchMetrics
from pipeline_py.deploy.ecs import ServiceView, td_label
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.result import FAILED, NOT_STARTED, PAUSED, ROLLED_BACK, SUCCEEDED, DeployReport
from pipeline_py.deploy.rolling import check_controller
from pipeline_py.deploy.scaling import Scaling
from pipeline_py.deploy.traffic import Topology, Traffic, TrafficError, other, resolve
from pipeline_py.deploy.verify import smoke, verify_targets
from pipeline_py.deploy.watch import WatchSettings, new_deployment_id
from pipeline_py.errors import Aborted, BadInput

TAG_STATE = "pipeline-py:rollout"
TAG_STABLE = "pipeline-py:rollout-stable"
TAG_STEPS = "pipeline-py:rollout-steps"
TAG_STRATEGY = "pipeline-py:rollout-strategy"
TAG_TD = "pipeline-py:rollout-task-definition"
ROLLOUT_TAGS = (TAG_STATE, TAG_STABLE, TAG_STEPS, TAG_STRATEGY, TAG_TD)


def steps_for(settings: Settings, strategy: str) -> list[int]:
    if strategy == "blue-green":
        return [100]
    if strategy == "linear":
        step = settings.canary.linear_step or 25
        return [*range(step, 100, step), 100]
    return list(settings.canary.steps)


@dataclass
class Rollout:
    strategy: str
    stable: str
    new: str
    steps: list[int]
    task_definition_arn: str


class TrafficDeploy:
    def __init__(self, ctx: Context, settings: Settings, ports: Ports, strategy: str) -> None:
        self.ctx = ctx
        self.s = settings
        self.ports = ports
        self.strategy = strategy
        if not settings.cluster:
            raise BadInput("no cluster configured for this environment (set `cluster`, or from_terraform_outputs)")
        self.cluster = settings.cluster
        self.topology = Topology.from_config(resolve(ports.aws, settings.blue_green), strategy)
        self.traffic = Traffic(ports.aws, self.topology)
        self.scaling = Scaling(ports.aws)
        self.report = DeployReport(strategy, self.cluster, f"{self.topology.services['blue']}|"
                                   f"{self.topology.services['green']}", ports.clock, ports.reporter)
        self.analyzer: Analyzer | None = None
        self.rollout: Rollout | None = None
        self.deployment_id: str | None = None

    # ---- shared helpers -------------------------------------------------------------------------

    def views(self) -> dict[str, ServiceView]:
        names = self.topology.services
        found = self.ports.services.describe(self.cluster, names.values())
        missing = [f"{c} ({n})" for c, n in names.items() if n not in found]
        if missing:
            raise BadInput(f"ECS service(s) not found in cluster {self.cluster!r}: {', '.join(missing)}")
        for v in found.values():
            check_controller(v)
        return {c: found[n] for c, n in names.items()}

    def _analyzer(self) -> Analyzer:
        if self.analyzer is None:
            metrics = CloudWatchMetrics(self.ports.aws.client("cloudwatch"), self.traffic.load_balancer_arn(),
                                        self.s.canary.analysis.period)
            self.analyzer = Analyzer(metrics, self.ports.alarms, self.s.canary.analysis, list(self.s.alarms),
                                     self.ports.reporter, self.ports.clock)
        return self.analyzer

    def shift(self, weights: dict[str, int]) -> dict[str, int]:
        bg = self.s.blue_green
        seen = self.traffic.set_and_verify(weights, self.ports.clock, retries=bg.verify_retries,
                                           interval=min(self.s.poll_interval, 2.0))
        self.ports.reporter.info("weights now " + ", ".join(f"{c} {w}%" for c, w in seen.items()) + " (verified)")
        self.report.data.setdefault("weight_changes", []).append(seen)
        self.report.data["weights"] = seen
        return seen

    def _tag(self, colour: str, tags: dict[str, str]) -> None:
        arn = self.views()[colour].arn
        self.ports.aws.client("ecs").tag_resource(resourceArn=arn, tags=[{"key": k, "value": v}
                                                                         for k, v in tags.items()])

    def _park(self, service: str) -> None:
        """Take a colour out of service: autoscaling bounds 0/0 (if it has any), then 0 tasks."""
        if self.scaling.bounds(self.cluster, service) is not None:
            self.scaling.set_bounds(self.cluster, service, 0, 0)
        self.ports.services.update(self.cluster, service, desiredCount=0)

    def _untag(self, colour: str) -> None:
        try:
            arn = self.views()[colour].arn
            self.ports.aws.client("ecs").untag_resource(resourceArn=arn, tagKeys=list(ROLLOUT_TAGS))
        except (ClientError, BotoCoreError) as exc:
            self.ports.reporter.warn(f"could not clear rollout tags on {colour}: {exc}")

    # ---- a fresh deploy ---------------------------------------------------------------------------

    def preflight(self) -> tuple[dict[str, ServiceView], dict[str, int], str]:
        views = self.views()
        weights = self.traffic.read()
        for colour, v in views.items():
            tags = {t.get("key"): t.get("value") for t in v.tags}
            if tags.get(TAG_STATE) == "paused":
                raise BadInput(f"a {tags.get(TAG_STRATEGY)} rollout to {colour} is paused at {weights[colour]}%: "
                               "run `deploy promote` or `deploy abort` first")
        if sorted(weights.values()) != [0, 100]:
            raise BadInput(f"traffic is split ({', '.join(f'{c} {w}%' for c, w in weights.items())}): another "
                           "rollout is in progress; promote or abort it first")
        if self.s.alarms:
            self.ports.alarms.check_exist(self.s.alarms)
            firing = self.ports.alarms.firing(self.s.alarms)
            if firing:
                raise BadInput("refusing to start while alarms are in ALARM: " + "; ".join(n for n, _ in firing))
        return views, weights, self.traffic.live_colour(weights)

    def plan(self, live: str, steps: list[int], views: dict[str, ServiceView]) -> list[str]:
        new = other(live)
        t = self.topology
        plan = [
            f"ecs:UpdateService {self.cluster}/{t.services[new]} ({new}, idle) to the new revision at "
            f"{views[live].desired} tasks; watch to steady state; verify targets in {t.target_groups[new]}",
        ]
        if t.test_listener_arn:
            plan.append(f"elbv2:ModifyListener test listener → {new}")
        if self.smoke_check() is not None:
            plan.append(f"smoke: GET {self.smoke_check().url}")  # type: ignore[union-attr]
        for w in steps:
            plan.append(f"elbv2:Modify{'Rule' if t.rule_arn else 'Listener'} {new} {w}% / {live} {100 - w}% "
                        "(read back and verified)"
                        + (f"; analyse {self.bake_for():g}s" if self.bake_for() else ""))
        plan.append(f"after {self.s.blue_green.scale_down_delay:g}s: scale {live} ({t.services[live]}) to 0")
        plan.append(f"on failure: weights 100% {live} (verified), {new} scaled to 0")
        return plan

    def smoke_check(self) -> SmokeCheck | None:
        bg, sm = self.s.blue_green, self.s.smoke
        if bg.test_url:
            base = sm.model_dump() if sm else {}
            base["url"] = bg.test_url
            return SmokeCheck.model_validate(base)
        return sm if self.topology.test_listener_arn is None else None

    def bake_for(self) -> float:
        return self.s.bake_seconds if self.strategy == "blue-green" else self.s.canary.bake_seconds

    def run(self, td: dict[str, Any] | None, arn: str | None, pause_at: int | None) -> dict[str, Any]:
        rep, ports = self.report, self.ports
        views, weights, live = self.preflight()
        new = other(live)
        steps = steps_for(self.s, self.strategy)
        rep.data.update({"live_colour": live, "new_colour": new, "steps": steps, "weights": weights,
                         "previous_task_definition_arn": views[live].task_definition})
        ports.reporter.info(f"live colour: {live} ({weights[live]}%), deploying to {new} "
                            f"({self.topology.services[new]}); steps {steps}")
        if self.ctx.dry_run:
            plan = self.plan(live, steps, views)
            for line in plan:
                ports.reporter.detail(line)
            return {"status": "dry_run", "strategy": self.strategy, "live_colour": live, "new_colour": new,
                    "weights": weights, "plan": plan}
        try:
            rep.enter("register", "registering the task definition")
            if arn is None:
                assert td is not None
                arn, created = taskdef.register(ports.aws.client("ecs"), td)
                ports.reporter.info(("registered " if created else "unchanged, reusing ") + td_label(arn))
            rep.data["task_definition_arn"] = arn
        except Aborted as exc:
            return self.finish(NOT_STARTED, f"{exc} before anything changed")
        self.rollout = Rollout(self.strategy, live, new, steps, arn)
        try:
            failure = self._prepare(views, arn)
            if failure is None:
                self._tag(new, {TAG_STATE: "in-progress", TAG_STABLE: live, TAG_STEPS: " ".join(map(str, steps)),
                                TAG_STRATEGY: self.strategy, TAG_TD: arn})
                failure = self._shift_through(steps, pause_at)
        except Aborted as exc:
            failure = f"{exc} during {rep.phase}"
        except (ClientError, BotoCoreError, TrafficError) as exc:
            failure = f"{exc.__class__.__name__} during {rep.phase}: {exc}"
        if failure == PAUSED:
            return self.finish(PAUSED, None)
        if failure is not None:
            return self.roll_back(failure)
        return self._complete()

    def _prepare(self, views: dict[str, ServiceView], arn: str) -> str | None:
        rep, ports, r = self.report, self.ports, self.rollout
        assert r is not None
        live_view, new_view = views[r.stable], views[r.new]
        count = self.s.desired_count if self.s.desired_count is not None else live_view.desired
        svc = self.topology.services[r.new]
        rep.enter("prepare", f"preparing {r.new} ({svc}) with {td_label(arn)} at {count} tasks")
        ports.log.prime(new_view)
        bounds = self.scaling.bounds(self.cluster, self.topology.services[r.stable])
        if bounds is not None:
            self.scaling.set_bounds(self.cluster, svc, *bounds)
            rep.data["autoscaling"] = {"min": bounds[0], "max": bounds[1]}
            ports.reporter.info(f"{r.new} autoscaling bounds set to {r.stable}'s: min {bounds[0]}, max {bounds[1]}")
        after = ports.services.update(self.cluster, svc, taskDefinition=arn, desiredCount=count,
                                      forceNewDeployment=True)
        self.deployment_id = new_deployment_id(new_view, after)
        rep.data["deployment_id"] = self.deployment_id
        outcome = ports.watcher.watch(self.cluster, svc, self.deployment_id,
                                      WatchSettings(self.s.poll_interval, self.s.timeout, self.s.max_failed_tasks, []),
                                      initial=after)
        if not outcome.ok:
            rep.data["failure_cause"] = outcome.cause
            return outcome.reason
        rep.mark("to_steady_state_seconds")
        tg = self.topology.target_groups[r.new]
        port = next((lb.container_port for lb in (outcome.view or after).load_balancers if lb.container_port), None)
        check = verify_targets(ports.services, ports.targets, ports.reporter, ports.clock, cluster=self.cluster,
                               service=svc, deployment_id=self.deployment_id, target_groups=[tg],
                               container_port=port, timeout=max(self.s.timeout - rep.elapsed, self.s.poll_interval),
                               poll_interval=self.s.poll_interval, view=outcome.view)
        rep.data["target_health"] = check.details
        if not check.ok:
            rep.data["failure_cause"] = "targets"
            return check.reason
        if self.topology.test_listener_arn:
            self.traffic.point_test_listener(r.new)
            ports.reporter.info(f"test listener → {r.new}")
        sc = self.smoke_check()
        if sc is not None:
            rep.enter("smoke", f"smoke check of {r.new} through {sc.url}")
            check = smoke(sc, ports.reporter, ports.clock)
            rep.data["smoke"] = check.details
            if not check.ok:
                rep.data["failure_cause"] = "smoke"
                return check.reason
        return None

    def _shift_through(self, steps: list[int], pause_at: int | None, start_after: int = 0) -> str | None:
        rep, r = self.report, self.rollout
        assert r is not None
        for weight in [s for s in steps if s > start_after]:
            rep.enter(f"shift_{weight}", f"shifting {weight}% to {r.new}")
            self.shift({r.new: weight, r.stable: 100 - weight})
            bake = self.bake_for()
            if bake > 0:
                rep.enter(f"analysis_{weight}", f"analysing {r.new} at {weight}% for {bake:g}s")
                stable_tg = self.topology.target_groups[r.stable] if weight < 100 else None
                result = self._analyzer().run_step(weight=weight, canary_tg=self.topology.target_groups[r.new],
                                                   stable_tg=stable_tg, bake_seconds=bake)
                rep.data.setdefault("analysis", []).append(
                    {"weight": weight, "result": "pass" if result.ok else "fail", "reason": result.reason,
                     "samples": result.samples})
                if not result.ok:
                    rep.data["failure_cause"] = "analysis"
                    return result.reason
            if pause_at is not None and weight >= pause_at and weight < 100:
                self._tag(r.new, {TAG_STATE: "paused"})
                self.ports.reporter.step(f"paused at {weight}% on {r.new}: run `deploy promote` to continue or "
                                         "`deploy abort` to roll back")
                return PAUSED
        return None

    def _complete(self) -> dict[str, Any]:
        rep, ports, r = self.report, self.ports, self.rollout
        assert r is not None
        self._untag(r.new)
        rep.mark("to_full_traffic_seconds")
        delay = self.s.blue_green.scale_down_delay
        old_svc = self.topology.services[r.stable]
        rep.enter("scale_down", f"scaling {r.stable} ({old_svc}) to 0" + (f" in {delay:g}s" if delay else ""))
        try:
            if delay > 0:
                ports.reporter.info(f"{r.stable} stays up for {delay:g}s for instant rollback")
                ports.clock.sleep(delay)
            self._park(old_svc)
            rep.data["old_colour_scaled_down"] = True
        except Aborted:
            ports.reporter.warn(f"aborted during the scale-down delay: {r.stable} left running (traffic is on {r.new})")
            rep.data["old_colour_scaled_down"] = False
        return self.finish(SUCCEEDED, None)

    # ---- rollback ------------------------------------------------------------------------------------

    def roll_back(self, failure: str) -> dict[str, Any]:
        rep, ports, r = self.report, self.ports, self.rollout
        assert r is not None
        ports.reporter.error(failure)
        rep.enter("rolling_back", f"rolling back: 100% to {r.stable}, {r.new} to 0")
        problems = []
        try:
            self.shift({r.stable: 100, r.new: 0})
        except (TrafficError, ClientError, BotoCoreError) as exc:
            problems.append(f"traffic NOT restored: {exc}")
        try:
            self._park(self.topology.services[r.new])
            rep.data["new_colour_scaled_down"] = True
        except (ClientError, BotoCoreError) as exc:
            problems.append(f"could not scale {r.new} to 0: {exc}")
        self._untag(r.new)
        rep.data["rollback"] = {"weights": rep.data.get("weights"), "problems": problems}
        if any(p.startswith("traffic NOT restored") for p in problems):
            return self.finish(FAILED, f"{failure}; {'; '.join(problems)} — MANUAL ACTION REQUIRED")
        if problems:
            ports.reporter.warn("; ".join(problems))
        return self.finish(ROLLED_BACK, failure)

    def finish(self, status: str, reason: str | None) -> dict[str, Any]:
        rep = self.report
        rep.data["events"] = self.ports.log.events
        rep.data["stopped_tasks"] = [t.to_dict() for t in self.ports.log.stopped.values()]
        if self.analyzer is not None:
            rep.data["analysis_samples"] = self.analyzer.history
        try:
            rep.data["weights"] = self.traffic.read()
        except (TrafficError, ClientError, BotoCoreError):
            pass
        rep.enter(status)
        result = rep.finish(status, reason)
        result["api_calls"] = self.ports.aws.counter.snapshot()
        return result

    # ---- resuming a paused rollout -----------------------------------------------------------------

    def find_paused(self) -> Rollout:
        views = self.views()
        for colour, v in views.items():
            tags = {t.get("key"): t.get("value") for t in v.tags}
            if tags.get(TAG_STATE) == "paused":
                try:
                    steps = [int(x) for x in (tags.get(TAG_STEPS) or "").split()]
                except ValueError:
                    steps = []
                if not steps or tags.get(TAG_STABLE) not in ("blue", "green"):
                    raise BadInput(f"the paused rollout tags on {v.name} are damaged: {tags}")
                self.deployment_id = v.primary.id if v.primary else None
                return Rollout(tags.get(TAG_STRATEGY) or self.strategy, tags[TAG_STABLE], colour, steps,
                               tags.get(TAG_TD) or v.task_definition)
        raise BadInput("no paused rollout found (no service carries the pipeline-py:rollout=paused tag)")

    def resume(self, action: str) -> dict[str, Any]:
        rep, ports = self.report, self.ports
        r = self.rollout = self.find_paused()
        self.strategy = rep.strategy = r.strategy
        weights = self.traffic.read()
        current = weights[r.new]
        rep.data.update({"live_colour": r.stable, "new_colour": r.new, "steps": r.steps, "weights": weights,
                         "task_definition_arn": r.task_definition_arn, "resumed_at": current, "action": action})
        ports.reporter.info(f"paused {r.strategy} rollout: {r.new} at {current}% (stable {r.stable}); {action}")
        if self.ctx.dry_run:
            plan = ([f"weights 100% {r.stable}, scale {r.new} to 0"] if action == "abort" else
                    [f"shift to {w}% with analysis" for w in r.steps if w > current])
            return {"status": "dry_run", "plan": plan, "weights": weights}
        if action == "abort":
            return self.roll_back(f"aborted by request at {current}%")
        try:
            failure = self._shift_through(r.steps, None, start_after=current)
        except Aborted as exc:
            failure = f"{exc} during {rep.phase}"
        except (ClientError, BotoCoreError, TrafficError) as exc:
            failure = f"{exc.__class__.__name__} during {rep.phase}: {exc}"
        if failure is not None:
            return self.roll_back(failure)
        return self._complete()


def run(ctx: Context, args: argparse.Namespace, settings: Settings, ports: Ports, td: dict[str, Any] | None,
        arn: str | None) -> dict[str, Any]:
    strategy = settings.strategy
    if args.pause_at is not None and strategy == "blue-green":
        raise BadInput("--pause-at applies to canary and linear (blue-green switches in one step)")
    deploy = TrafficDeploy(ctx, settings, ports, strategy)
    ctx.reporter.step(f"deploy {settings.service} to {ctx.env} ({strategy})")
    return deploy.run(td, arn, args.pause_at)


def resume(ctx: Context, args: argparse.Namespace, settings: Settings, ports: Ports, *, action: str) -> dict[str, Any]:
    strategy = settings.strategy if settings.strategy != "rolling" else "canary"
    deploy = TrafficDeploy(ctx, settings, ports, strategy)
    ctx.reporter.step(f"deploy {action} for {settings.service} in {ctx.env}")
    return deploy.resume(action)

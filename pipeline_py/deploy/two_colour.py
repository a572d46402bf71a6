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

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py.config import SmokeCheck
from pipeline_py.deploy.analysis import Analyzer
from pipeline_py.deploy.ports import Ports, TrafficRouter
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.result import FAILED, NOT_STARTED, PAUSED, ROLLED_BACK, SUCCEEDED
from pipeline_py.deploy.rollback import known_good, record_known_good
from pipeline_py.deploy.rolling import check_controller
from pipeline_py.deploy.strategy import Strategy
from pipeline_py.deploy.topology import Topology, TrafficError, live_colour, other
from pipeline_py.deploy.traffic import set_and_verify
from pipeline_py.deploy.verify import smoke, verify_targets
from pipeline_py.deploy.views import ServiceView, td_label
from pipeline_py.deploy.watch import WatchSettings, new_deployment_id
from pipeline_py.errors import Aborted, BadInput

TAG_STATE = "pipeline-py:rollout"
TAG_STABLE = "pipeline-py:rollout-stable"
TAG_STEPS = "pipeline-py:rollout-steps"
TAG_STRATEGY = "pipeline-py:rollout-strategy"
TAG_TD = "pipeline-py:rollout-task-definition"
ROLLOUT_TAGS = (TAG_STATE, TAG_STABLE, TAG_STEPS, TAG_STRATEGY, TAG_TD)
RESUMABLE = ("paused", "in-progress", "restore-failed")


def steps_for(req: DeployRequest, strategy: str) -> list[int]:
    if strategy == "blue-green":
        return [100]
    if strategy == "linear":
        step = req.canary.linear_step or 25
        return [*range(step, 100, step), 100]
    return list(req.canary.steps)


@dataclass
class Rollout:
    strategy: str
    stable: str
    new: str
    steps: list[int]
    task_definition_arn: str


@dataclass
class TwoColourView:
    views: dict[str, ServiceView]
    weights: dict[str, int]
    live: str


class TwoColourDeploy(Strategy[TwoColourView]):
    name = "two-colour"

    def __init__(self, ports: Ports, req: DeployRequest) -> None:
        self.router: TrafficRouter = ports.router_for(req.blue_green, req.strategy)
        self.topology: Topology = self.router.topology
        super().__init__(ports, req)
        self.analyzer: Analyzer | None = None
        self.rollout: Rollout | None = None
        self.deployment_id: str | None = None

    def services_label(self) -> str:
        return f"{self.topology.services['blue']}|{self.topology.services['green']}"

    # ---- shared helpers -------------------------------------------------------------------------

    def views(self) -> dict[str, ServiceView]:
        names = self.topology.services
        found = self.ports.services.describe(self.req.cluster, names.values())
        missing = [f"{c} ({n})" for c, n in names.items() if n not in found]
        if missing:
            raise BadInput(f"ECS service(s) not found in cluster {self.req.cluster!r}: {', '.join(missing)}")
        for v in found.values():
            check_controller(v, self.req.strategy)
        return {c: found[n] for c, n in names.items()}

    def _analyzer(self) -> Analyzer:
        if self.analyzer is None:
            metrics = self.ports.metrics_for(self.router.load_balancer_arn(), self.req.canary.analysis.period)
            self.analyzer = Analyzer(metrics, self.guard, self.req.canary.analysis, self.ports.reporter,
                                     self.ports.clock, origin=self.report.origin)
        return self.analyzer

    def shift(self, weights: dict[str, int]) -> dict[str, int]:
        bg = self.req.blue_green
        seen = set_and_verify(self.router, weights, self.ports.clock, retries=bg.verify_retries,
                              interval=min(self.req.poll_interval, 2.0))
        self.ports.reporter.info("weights now " + ", ".join(f"{c} {w}%" for c, w in seen.items()) + " (verified)")
        self.report.data.setdefault("weight_changes", []).append(seen)
        self.report.data["weights"] = seen
        self.report.event("weights", weights=seen)
        return seen

    def _tag(self, colour: str, tags: dict[str, str]) -> None:
        self.ports.services.tag(self.views()[colour].arn, tags)

    def _park(self, colour: str) -> str | None:
        """Take a colour out of service: autoscaling bounds 0/0 (if it has any), then 0 tasks — only when
        the listener sends it no traffic (never scale down what still carries traffic). The reason it
        was kept, or None."""
        weight = self.router.weights().get(colour, 0)
        service = self.topology.services[colour]
        if weight > 0:
            return f"kept {colour} ({service}) running: it still carries {weight}% of the traffic"
        scaling, cluster = self.ports.scaling, self.req.cluster
        if scaling.bounds(cluster, service) is not None:
            scaling.set_bounds(cluster, service, 0, 0)
        self.ports.services.update(cluster, service, desired_count=0)
        return None

    def _keep_rollout(self, r: Rollout, state: str) -> None:
        """What resuming needs, kept in tags on the new colour's service (in AWS, not a local file)."""
        self._tag(r.new, {TAG_STATE: state, TAG_STABLE: r.stable, TAG_STEPS: " ".join(map(str, r.steps)),
                          TAG_STRATEGY: r.strategy, TAG_TD: r.task_definition_arn})

    def _untag(self, colour: str) -> None:
        try:
            self.ports.services.untag(self.views()[colour].arn, ROLLOUT_TAGS)
        except (ClientError, BotoCoreError) as exc:
            self.ports.reporter.warn(f"could not clear rollout tags on {colour}: {exc}")

    # ---- a fresh deploy ---------------------------------------------------------------------------

    def preflight(self) -> TwoColourView:
        r = self.req
        if r.pause_at is not None and r.strategy == "blue-green":
            raise BadInput("--pause-at applies to canary and linear (blue-green switches in one step)")
        self.ports.reporter.step(f"deploy {r.label or r.service} ({r.strategy})")
        views = self.views()
        weights = self.router.weights()
        for colour, v in views.items():
            tags = {t.get("key"): t.get("value") for t in v.tags}
            if tags.get(TAG_STATE) in RESUMABLE:
                raise BadInput(f"a {tags.get(TAG_STRATEGY)} rollout to {colour} is unfinished "
                               f"({tags.get(TAG_STATE)} at {weights[colour]}%): run `deploy promote` or "
                               "`deploy abort` first")
        if sorted(weights.values()) != [0, 100]:
            raise BadInput(f"traffic is split ({', '.join(f'{c} {w}%' for c, w in weights.items())}): another "
                           "rollout is in progress; promote or abort it first")
        if r.alarms:
            self.ports.alarms.check_exist(r.alarms)
        live = live_colour(weights)
        new = other(live)
        steps = steps_for(r, r.strategy)
        self.report.data.update({"live_colour": live, "new_colour": new, "steps": steps, "weights": weights,
                                 "previous_task_definition_arn": views[live].task_definition})
        self.report.event("weights", weights=weights)
        self.ports.reporter.info(f"live colour: {live} ({weights[live]}%), deploying to {new} "
                                 f"({self.topology.services[new]}); steps {steps}")
        return TwoColourView(views, weights, live)

    def live_task_definition_arn(self, view: TwoColourView) -> str:
        return view.views[view.live].task_definition

    def dry_run_details(self, view: TwoColourView) -> dict[str, Any]:
        return {"live_colour": view.live, "new_colour": other(view.live), "weights": view.weights}

    def plan(self, view: TwoColourView) -> list[str]:
        live, views = view.live, view.views
        new = other(live)
        t = self.topology
        steps = steps_for(self.req, self.req.strategy)
        plan = [
            f"ecs:UpdateService {self.req.cluster}/{t.services[new]} ({new}, idle) to the new revision at "
            f"{views[live].desired} tasks; watch to steady state; verify targets in {t.target_groups[new]}",
        ]
        if t.test_listener_arn:
            plan.append(f"elbv2:ModifyListener test listener → {new}")
        check = self.smoke_check()
        if check is not None:
            plan.append(f"smoke: GET {check.url}")
        for w in steps:
            plan.append(f"elbv2:Modify{'Rule' if t.rule_arn else 'Listener'} {new} {w}% / {live} {100 - w}% "
                        "(read back and verified)"
                        + (f"; analyse {self.bake_for():g}s" if self.bake_for() else ""))
        plan.append(f"after {self.req.blue_green.scale_down_delay:g}s: scale {live} ({t.services[live]}) to 0")
        plan.append(f"on failure: weights 100% {live} (verified), {new} scaled to 0")
        return plan

    def smoke_check(self) -> SmokeCheck | None:
        bg, sm = self.req.blue_green, self.req.smoke
        if bg.test_url:
            base = sm.model_dump() if sm else {}
            base["url"] = bg.test_url
            return SmokeCheck.model_validate(base)
        return sm if self.topology.test_listener_arn is None else None

    def bake_for(self) -> float:
        return self.req.bake_seconds if self.req.strategy == "blue-green" else self.req.canary.bake_seconds

    def run(self, view: TwoColourView) -> dict[str, Any]:
        r = self.req
        new = other(view.live)
        steps = steps_for(r, r.strategy)
        self.start_guard()
        arn = self.register_revision()
        if arn is None:
            return self.finish(NOT_STARTED, "aborted before anything changed")
        self.rollout = Rollout(r.strategy, view.live, new, steps, arn)

        def prepare_and_shift() -> str | None:
            failure = self._prepare(view.views, arn)
            if failure is None:
                assert self.rollout is not None
                self._keep_rollout(self.rollout, "in-progress")
                failure = self._shift_through(steps, r.pause_at)
            return failure

        failure = self.attempt(prepare_and_shift)
        if failure == PAUSED:
            return self.finish(PAUSED, None)
        if failure is not None:
            return self.roll_back(failure)
        return self._complete()

    def _prepare(self, views: dict[str, ServiceView], arn: str) -> str | None:
        rep, ports, r = self.report, self.ports, self.rollout
        assert r is not None
        req = self.req
        live_view, new_view = views[r.stable], views[r.new]
        # the new colour must carry all the traffic the live one carries now: never fewer tasks
        count = max(live_view.desired, req.desired_count or 0)
        if count == 0:
            return f"{r.stable} ({live_view.name}) runs 0 tasks and no desired_count is configured: nothing to size " \
                   f"{r.new} by"
        rep.data["new_colour_desired"] = count
        svc = self.topology.services[r.new]
        rep.enter("prepare", f"preparing {r.new} ({svc}) with {td_label(arn)} at {count} tasks")
        ports.log.prime(new_view)
        bounds = ports.scaling.bounds(req.cluster, self.topology.services[r.stable])
        if bounds is not None:
            ports.scaling.set_bounds(req.cluster, svc, *bounds)
            rep.data["autoscaling"] = {"min": bounds[0], "max": bounds[1]}
            ports.reporter.info(f"{r.new} autoscaling bounds set to {r.stable}'s: min {bounds[0]}, max {bounds[1]}")
        after = ports.services.update(req.cluster, svc, task_definition=arn, desired_count=count,
                                      force_new_deployment=True)
        self.deployment_id = new_deployment_id(new_view, after)
        rep.data["deployment_id"] = self.deployment_id
        outcome = ports.watcher.watch(req.cluster, svc, self.deployment_id,
                                      WatchSettings(req.poll_interval, req.timeout, req.max_failed_tasks, self.guard),
                                      initial=after)
        if not outcome.ok:
            rep.data["failure_cause"] = outcome.cause
            return outcome.reason
        rep.mark("to_steady_state_seconds")
        tg = self.topology.target_groups[r.new]
        port = next((lb.container_port for lb in (outcome.view or after).load_balancers if lb.container_port), None)
        check = verify_targets(ports.services, ports.targets, ports.reporter, ports.clock, cluster=req.cluster,
                               service=svc, deployment_id=self.deployment_id, target_groups=[tg],
                               container_port=port, timeout=max(req.timeout - rep.elapsed, req.poll_interval),
                               poll_interval=req.poll_interval, view=outcome.view)
        rep.data["target_health"] = check.details
        if not check.ok:
            rep.data["failure_cause"] = "targets"
            return check.reason
        if self.topology.test_listener_arn:
            self.router.point_test_listener(r.new)
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
            if weight == 100 and self.guard is not None:
                self.guard.took_all_traffic()
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
                rep.event("pause", weight=weight)
                rep.data["paused"] = {"weight": weight, "stage": None, "expires_at": None,
                                      "colour": r.new, "continue": "deploy promote", "abort": "deploy abort"}
                self.ports.reporter.step(f"paused at {weight}% on {r.new}: run `deploy promote` to continue or "
                                         "`deploy abort` to roll back")
                return PAUSED
        if self.guard is not None:
            failure = self.guard.settle(self.req.poll_interval)
            if failure is not None:
                rep.data["failure_cause"] = "alarm"
                return failure
        return None

    def _complete(self) -> dict[str, Any]:
        rep, ports, r = self.report, self.ports, self.rollout
        assert r is not None
        self._untag(r.new)
        record_known_good(ports, self.views()[r.new], r.task_definition_arn)
        rep.mark("to_full_traffic_seconds")
        delay = self.req.blue_green.scale_down_delay
        old_svc = self.topology.services[r.stable]
        rep.enter("scale_down", f"scaling {r.stable} ({old_svc}) to 0" + (f" in {delay:g}s" if delay else ""))
        try:
            if delay > 0:
                ports.reporter.info(f"{r.stable} stays up for {delay:g}s for instant rollback")
                ports.clock.sleep(delay)
            kept = self._park(r.stable)
            if kept:
                ports.reporter.warn(kept)
            rep.data["old_colour_scaled_down"] = kept is None
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
        rep.event("rollback", reason=failure)
        problems = []
        restored = True
        try:
            self.shift({r.stable: 100, r.new: 0})
        except (TrafficError, ClientError, BotoCoreError) as exc:
            restored = False
            problems.append(f"traffic NOT restored: {exc}")
        try:
            kept = self._park(r.new)
            rep.data["new_colour_scaled_down"] = kept is None
            if kept:
                problems.append(kept)
        except (TrafficError, ClientError, BotoCoreError) as exc:
            rep.data["new_colour_scaled_down"] = False
            problems.append(f"could not scale {r.new} to 0: {exc}")
        if restored:
            self._untag(r.new)
        else:
            # keep what `deploy abort` needs to finish the job from whatever split the listener shows
            self._keep_rollout(r, "restore-failed")
        rep.data["rollback"] = {"weights": rep.data.get("weights"), "problems": problems, "restored": restored}
        if not restored:
            return self.finish(FAILED, f"{failure}; {'; '.join(problems)}; run `pipeline-py deploy abort` once "
                                       "the listener accepts changes — MANUAL ACTION REQUIRED")
        if problems:
            ports.reporter.warn("; ".join(problems))
        return self.finish(ROLLED_BACK, failure)

    def finish_details(self) -> dict[str, Any]:
        out: dict[str, Any] = self.analyzer.details() if self.analyzer is not None else {}
        try:
            out["weights"] = self.router.weights()
        except (TrafficError, ClientError, BotoCoreError):
            pass
        return out

    # ---- resuming a paused rollout -----------------------------------------------------------------

    def find_rollout(self, weights: dict[str, int]) -> Rollout:
        """The unfinished rollout: from the rollout tags (paused, in progress, or a restore that failed),
        else — when the listener splits traffic — derived from the split and the known-good records, so
        that `deploy abort` can always restore a split (never "no paused rollout" while traffic is split)."""
        views = self.views()
        for colour, v in views.items():
            tags = {t.get("key"): t.get("value") for t in v.tags}
            if tags.get(TAG_STATE) in RESUMABLE:
                try:
                    steps = [int(x) for x in (tags.get(TAG_STEPS) or "").split()]
                except ValueError:
                    steps = []
                stable = tags.get(TAG_STABLE)
                if not steps or stable != other(colour) or not all(0 < s <= 100 for s in steps):
                    raise BadInput(f"the rollout tags on {v.name} are damaged: {tags}; weights now "
                                   f"{weights} (set them with `aws elbv2 modify-listener` and remove the tags)")
                self.deployment_id = v.primary.id if v.primary else None
                return Rollout(tags.get(TAG_STRATEGY) or self.req.strategy, stable, colour, steps,
                               tags.get(TAG_TD) or v.task_definition)
        if sorted(weights.values()) == [0, 100]:
            raise BadInput("no paused rollout found (no service carries the pipeline-py:rollout tags, and the "
                           f"listener sends all traffic to {live_colour(weights)})")
        good = {c: td_label(v.task_definition) in known_good(v) for c, v in views.items()}
        if good["blue"] != good["green"]:
            stable = "blue" if good["blue"] else "green"
            why = "its revision is known-good"
        else:
            stable = live_colour(weights)
            why = "it carries more traffic"
        new = other(stable)
        self.ports.reporter.warn(f"traffic is split ({weights}) but no rollout tags were found: taking {stable} as "
                                 f"the stable colour ({why})")
        return Rollout(self.req.strategy, stable, new, [100], views[new].task_definition)

    def resume(self, action: str, *, dry_run: bool = False) -> dict[str, Any]:
        rep, ports = self.report, self.ports
        ports.reporter.step(f"deploy {action} for {self.req.label or self.req.service}")
        weights = self.router.weights()
        r = self.rollout = self.find_rollout(weights)
        rep.strategy = self.req.strategy = r.strategy
        current = weights[r.new]
        rep.event("weights", weights=weights)
        rep.data.update({"live_colour": r.stable, "new_colour": r.new, "steps": r.steps, "weights": weights,
                         "task_definition_arn": r.task_definition_arn, "resumed_at": current, "action": action})
        ports.reporter.info(f"paused {r.strategy} rollout: {r.new} at {current}% (stable {r.stable}); {action}")
        if dry_run:
            plan = ([f"weights 100% {r.stable}, scale {r.new} to 0"] if action == "abort" else
                    [f"shift to {w}% with analysis" for w in r.steps if w > current])
            return {"status": "dry_run", "plan": plan, "weights": weights}
        if action == "abort":
            return self.roll_back(f"aborted by request at {current}%")
        failure = self.attempt(lambda: self._shift_through(r.steps, None, start_after=current))
        if failure is not None:
            return self.roll_back(failure)
        return self._complete()

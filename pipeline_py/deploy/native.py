"""ECS-native blue/green, linear and canary deploys (``ecs-blue-green``, ``ecs-linear``, ``ecs-canary``):
ECS moves the traffic of ONE service between its production and alternate target groups; pipeline-py
judges the new revision at the PAUSE lifecycle hooks it registers and answers each hook with
``ContinueServiceDeployment`` CONTINUE or ROLLBACK.

preflight (the service's ``advancedConfiguration``, no deployment in progress, production rule at
100/0) → register → ``UpdateService`` (new revision + ``deploymentConfiguration``: strategy, its
configuration, bake time, PAUSE hooks, ECS alarms) → follow the service deployment
(``DescribeServiceDeployments`` + ``DescribeServices`` per poll; every lifecycle stage, ECS event and
stopped task narrated) and act at our hooks:

- ``POST_TEST_TRAFFIC_SHIFT``: smoke check through the test listener rule (``native.test_url``);
- ``PRE_PRODUCTION_TRAFFIC_SHIFT`` (linear/canary: before every step; the traffic is then at the previous
  step's weight) and ``POST_PRODUCTION_TRAFFIC_SHIFT`` (100 %): the canary analysis of the alternate
  (new) target group against the production (old) one over the same windows;
- a ``--pause-at`` gate: leave the hook AWAITING_ACTION and exit ``paused``; ``deploy promote`` /
  ``deploy abort`` find it in AWS (``ListServiceDeployments`` → ``DescribeServiceDeployments``).

PAUSE hooks are not allowed at ``TEST_TRAFFIC_SHIFT`` and ``PRODUCTION_TRAFFIC_SHIFT`` (ECS: those stages
take Lambda hooks only), so the analysis of a step happens at the PRE_PRODUCTION hook of the next one.
Every hook's timeout is longer than what pipeline-py does there and its timeout action is ROLLBACK: a
runner that dies mid-analysis still ends in a rollback, never a promotion.

Our failure (analysis, smoke, alarm, failed tasks, a stall, an abort signal) → ``ContinueServiceDeployment``
ROLLBACK at a waiting hook, else ``StopServiceDeployment`` ROLLBACK; ECS's own rollback (its alarms,
circuit breaker, a hook timeout, someone else's stop) is a failure with ECS's reason. Either way the
rollback is watched until ``ROLLBACK_SUCCESSFUL`` and the production rule read back at 100 % on the old
target group → ``rolled_back`` (exit 1); a rollback that does not finish → ``failed`` (exit 3).

In the result, ``blue`` is the revision that served before (ECS's blue service revision, in the target
group that carried production traffic) and ``green`` the new one, whichever target group each is in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py.aws import error_code
from pipeline_py.clock import Deadline
from pipeline_py.config import SmokeCheck
from pipeline_py.deploy.alarm_guard import AlarmGuard
from pipeline_py.deploy.analysis import Analyzer
from pipeline_py.deploy.ports import Ports, TrafficRouter
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.result import FAILED, NOT_STARTED, PAUSED, ROLLED_BACK, SUCCEEDED
from pipeline_py.deploy.rollback import record_known_good
from pipeline_py.deploy.rolling import check_controller
from pipeline_py.deploy.strategy import PHASE_ERRORS, Strategy
from pipeline_py.deploy.topology import Topology, TrafficError
from pipeline_py.deploy.verify import smoke
from pipeline_py.deploy.views import LoadBalancer, ServiceDeploymentView, ServiceView, task_ip, td_label
from pipeline_py.deploy.watch import new_deployment_id, progress_line
from pipeline_py.errors import Aborted, BadInput, OperationFailed

ECS_STRATEGY = {"ecs-blue-green": "BLUE_GREEN", "ecs-linear": "LINEAR", "ecs-canary": "CANARY"}
STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
          "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
          "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")
PAUSE_STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT",
                "PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT")
"""Where a PAUSE hook is allowed (ECS: TEST_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT take Lambda hooks only)."""
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
ONGOING = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
ECS_ROLLBACK = ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")


def ecs_steps(req: DeployRequest) -> list[float]:
    """The production weights of the new revision, step by step, as ECS will set them."""
    n = req.native
    if req.strategy == "ecs-canary":
        return [n.canary_percent, 100.0] if n.canary_percent < 100 else [100.0]
    if req.strategy == "ecs-linear":
        steps: list[float] = []
        w = n.linear_step_percent
        while w < 100 - 1e-9:
            steps.append(round(w, 1))
            w += n.linear_step_percent
        return [*steps, 100.0]
    return [100.0]


def listener_of(rule_arn: str) -> str:
    """``…:listener-rule/app/lb/id/listener-id/rule-id`` → ``…:listener/app/lb/id/listener-id`` (a listener
    ARN, as an NLB's productionListenerRule is, stays as it is)."""
    if ":listener-rule/" not in rule_arn:
        return rule_arn
    return rule_arn.replace(":listener-rule/", ":listener/", 1).rsplit("/", 1)[0]


def _between(before: str | None, now: str) -> list[str]:
    """The stages a deployment passed from ``before`` to ``now`` (exclusive), in ECS's order; a new
    production step (PRODUCTION → PRE_PRODUCTION) passes none. From the start: from PRE_SCALE_UP."""
    order = list(STAGES)
    if now not in order:
        return []
    if before is None:
        return order[order.index("PRE_SCALE_UP"):order.index(now)] if order.index(now) > 1 else []
    if before not in order or order.index(now) <= order.index(before):
        return []
    return order[order.index(before) + 1:order.index(now)]


def _fmt(w: float) -> str:
    return f"{w:g}%"


@dataclass
class NativeView:
    service: ServiceView
    lb: LoadBalancer
    topology: Topology
    """blue = the target group carrying production traffic now, green = the alternate one."""
    weights: dict[str, int]


@dataclass
class Decision:
    """How following the deployment ended: ``succeeded``, ``paused``, or a failure (``by_ecs``: ECS is
    already rolling back, else pipeline-py must ask it to)."""

    status: str
    reason: str | None = None
    by_ecs: bool = False
    cause: str | None = None


@dataclass
class _WatchingGuard(AlarmGuard):
    """The alarm guard that, while ``watch`` is set (during an analysis at a hook), also asks ECS whether
    it already rolled the deployment back (its alarms, someone's stop): the analysis then ends at once."""

    watch: Callable[[], str | None] | None = None

    def check(self) -> str | None:
        if self.watch is not None:
            why = self.watch()
            if why:
                return why
        return super().check()


@dataclass
class _State:
    arn: str | None = None
    deployment_id: str | None = None
    stage: str | None = None
    answered: set[str] = field(default_factory=set)
    smoked: bool = False
    last_weights: dict[str, int] | None = None
    last_failed: int = 0


class NativeDeploy(Strategy[NativeView]):
    name = "native"
    guard_class = _WatchingGuard

    def __init__(self, ports: Ports, req: DeployRequest) -> None:
        super().__init__(ports, req)
        self.analyzer: Analyzer | None = None
        self.router: TrafficRouter | None = None
        self.state = _State()
        self.gate_weight: float | None = None
        self.ecs_decision: Decision | None = None
        """Set when ECS was found rolling back on its own while pipeline-py analysed."""
        self.load_balancers_to_set: list[dict[str, Any]] | None = None
        """``loadBalancers`` with the configured advancedConfiguration, when the service has none yet."""

    # ---- topology ---------------------------------------------------------------------------------

    def _router(self, topology: Topology) -> TrafficRouter:
        if self.ports.topology_router is None:
            raise RuntimeError("these ports have no topology_router (needed by the ECS-native strategies)")
        self.router = self.ports.topology_router(topology)
        return self.router

    def _native_lb(self, view: ServiceView) -> LoadBalancer:
        for lb in view.load_balancers:
            adv = lb.advanced or {}
            if lb.target_group_arn and adv.get("alternateTargetGroupArn") and adv.get("productionListenerRule"):
                return lb
        n = self.req.native
        if n.alternate_target_group and n.production_listener_rule and view.load_balancers:
            # the configuration names them (terraform's provider 5.x cannot set advancedConfiguration):
            # the deploy adds them to the service's load balancer
            first = view.load_balancers[0]
            adv = {"alternateTargetGroupArn": n.alternate_target_group,
                   "productionListenerRule": n.production_listener_rule,
                   **({"testListenerRule": n.test_listener_rule} if n.test_listener_rule else {}),
                   **({"roleArn": n.role_arn} if n.role_arn else {})}
            self.load_balancers_to_set = [
                {"targetGroupArn": lb.target_group_arn, "containerName": lb.container_name,
                 "containerPort": lb.container_port, **({"advancedConfiguration": adv} if lb is first else {})}
                for lb in view.load_balancers]
            return LoadBalancer(first.target_group_arn, first.container_name, first.container_port, adv)
        raise BadInput(f"service {view.name} cannot be deployed with the {self.req.strategy} strategy: its load "
                       "balancer has no advancedConfiguration (alternateTargetGroupArn, productionListenerRule, "
                       "testListenerRule, roleArn); create it with the ecs-service terraform module's "
                       "`native` settings, or deploy it with rolling / the two-service strategies")

    def _topology(self, view: ServiceView, lb: LoadBalancer) -> tuple[Topology, dict[str, int]]:
        """The production rule read from ELBv2: which target group carries the traffic now."""
        adv = lb.advanced or {}
        assert lb.target_group_arn
        rule = str(adv["productionListenerRule"])
        first = Topology(services={"blue": view.name, "green": view.name},
                         target_groups={"blue": lb.target_group_arn, "green": str(adv["alternateTargetGroupArn"])},
                         listener_arn=listener_of(rule), rule_arn=rule if rule != listener_of(rule) else None,
                         test_listener_arn=None)
        weights = self._router(first).weights()
        if weights["green"] <= weights["blue"]:
            return first, weights
        swapped = Topology(services=first.services, target_groups={"blue": first.target_groups["green"],
                                                                   "green": first.target_groups["blue"]},
                           listener_arn=first.listener_arn, rule_arn=first.rule_arn, test_listener_arn=None)
        self._router(swapped)
        return swapped, {"blue": weights["green"], "green": weights["blue"]}

    # ---- the shape --------------------------------------------------------------------------------

    def preflight(self) -> NativeView:
        r, ports = self.req, self.ports
        ports.reporter.step(f"deploy {r.label or r.service} ({r.strategy}, ECS-native): {r.cluster}/{r.service}")
        self._check_gate()
        view = ports.services.get(r.cluster, r.service)
        check_controller(view, r.strategy)
        lb = self._native_lb(view)
        ongoing = self._ongoing(view.name)
        if ongoing is not None:
            hook = ongoing.awaiting
            where = (f"waiting at {ongoing.lifecycle_stage} (hook {hook.id})" if hook else
                     f"{ongoing.status} at {ongoing.lifecycle_stage or 'an unknown stage'}")
            raise BadInput(f"an ECS deployment of {view.name} is in progress ({where}): run `deploy promote` or "
                           f"`deploy abort` first ({ongoing.arn})")
        topology, weights = self._topology(view, lb)
        if sorted(weights.values()) != [0, 100]:
            raise BadInput(f"the production listener rule splits traffic ({weights}) but no ECS deployment is in "
                           "progress: set it back to 100/0 before deploying")
        if r.alarms:
            ports.alarms.check_exist(r.alarms)
        if self.ecs_alarms:
            ports.alarms.check_exist(self.ecs_alarms)
        if r.task_definition_arn and not ports.services.task_definition(r.task_definition_arn):
            raise BadInput(f"task definition {r.task_definition_arn} does not exist")
        adv = lb.advanced or {}
        self.report.data.update({
            "live_colour": "blue", "new_colour": "green", "weights": weights, "steps": ecs_steps(r),
            "target_groups": dict(topology.target_groups),
            "production_listener_rule": adv.get("productionListenerRule"),
            "test_listener_rule": adv.get("testListenerRule"),
            "previous_task_definition_arn": self.live_task_definition_arn(NativeView(view, lb, topology, weights)),
        })
        self.report.event("weights", weights=weights)
        ports.reporter.info(f"production traffic on {topology.target_groups['blue'].rsplit(':', 1)[-1]} (blue, "
                            f"{td_label(view.task_definition)}); the new revision goes to "
                            f"{topology.target_groups['green'].rsplit(':', 1)[-1]} (green); ECS steps "
                            f"{', '.join(_fmt(s) for s in ecs_steps(r))}")
        return NativeView(view, lb, topology, weights)

    def _check_gate(self) -> None:
        r = self.req
        stage = r.pause_at_stage
        if stage is not None:
            if stage in NO_PAUSE_STAGES:
                raise BadInput(f"--pause-at {stage}: ECS allows PAUSE hooks only at {', '.join(PAUSE_STAGES)} "
                               f"({stage} takes Lambda hooks only)")
            if stage not in PAUSE_STAGES:
                raise BadInput(f"--pause-at {stage}: not a lifecycle stage (PAUSE hooks: {', '.join(PAUSE_STAGES)})")
        if r.pause_at is not None:
            if r.strategy == "ecs-blue-green":
                raise BadInput("--pause-at PERCENT applies to ecs-canary and ecs-linear (ecs-blue-green shifts in "
                               "one step; pause at a lifecycle stage instead, e.g. --pause-at POST_TEST_TRAFFIC_SHIFT)")
            reachable = [s for s in ecs_steps(r) if s < 100 and s >= r.pause_at]
            if not reachable:
                raise BadInput(f"--pause-at {r.pause_at}: {r.strategy} shifts "
                               f"{', '.join(_fmt(s) for s in ecs_steps(r))}; no step below 100% reaches it")
            self.gate_weight = reachable[0]

    def live_task_definition_arn(self, view: NativeView) -> str:
        p = view.service.primary
        return p.task_definition if p else view.service.task_definition

    def dry_run_details(self, view: NativeView) -> dict[str, Any]:
        return {"service": self.req.service, "weights": view.weights,
                "target_groups": dict(view.topology.target_groups),
                "deployment_configuration": self.deployment_configuration(view.service)}

    @property
    def ecs_alarms(self) -> list[str]:
        n = self.req.native
        return list(self.req.alarms if n.ecs_alarms is None else n.ecs_alarms)

    def smoke_check(self) -> SmokeCheck | None:
        n, sm = self.req.native, self.req.smoke
        if not n.test_url:
            return None
        base = sm.model_dump() if sm else {}
        base["url"] = n.test_url
        return SmokeCheck.model_validate(base)

    def bake_for(self) -> float:
        return self.req.bake_seconds if self.req.strategy == "ecs-blue-green" else self.req.canary.bake_seconds

    def _analysis_seconds(self) -> float:
        a = self.req.canary.analysis
        return a.initial_delay + self.bake_for() * (1 + a.max_inconclusive_extensions) + 2 * a.interval

    def _smoke_seconds(self) -> float:
        sc = self.smoke_check() or self.req.smoke
        return 0.0 if sc is None else sc.retries * (sc.interval + sc.timeout)

    def _timeout_minutes(self, needed: float) -> int:
        """Longer than ``needed`` seconds (what pipeline-py does at the hook), so ECS's timeout action
        (ROLLBACK) only ever applies to a runner that is gone."""
        own = self.req.native.hook_timeout_minutes
        if own is not None:
            if own * 60 <= needed:
                self.ports.reporter.warn(f"native.hook_timeout_minutes {own} is not longer than the {needed:.0f}s "
                                         "pipeline-py needs at the hook: ECS may roll back while it works")
            return own
        return max(1, math.ceil((needed * 1.5 + self.req.poll_interval * 4 + 30) / 60))

    def hooks(self) -> list[dict[str, Any]]:
        """The PAUSE hooks: where pipeline-py acts, each with a timeout longer than its work there."""
        r, n = self.req, self.req.native
        wanted: dict[str, float] = {}
        if self.smoke_check() is not None:
            wanted["POST_TEST_TRAFFIC_SHIFT"] = self._smoke_seconds()
        if r.strategy != "ecs-blue-green":
            wanted["PRE_PRODUCTION_TRAFFIC_SHIFT"] = self._analysis_seconds()
        if self.bake_for() > 0 or r.smoke is not None or r.alarms:
            wanted["POST_PRODUCTION_TRAFFIC_SHIFT"] = self._analysis_seconds() + self._smoke_seconds()
        gate = r.pause_at_stage or ("PRE_PRODUCTION_TRAFFIC_SHIFT" if r.pause_at is not None else None)
        if gate is not None:
            wanted.setdefault(gate, 0.0)
        out = []
        for stage in [s for s in STAGES if s in wanted]:
            minutes = self._timeout_minutes(wanted[stage])
            if stage == gate:
                minutes = max(minutes, n.gate_timeout_minutes)
            out.append({"targetType": "PAUSE", "lifecycleStages": [stage],
                        "timeoutConfiguration": {"timeoutInMinutes": minutes, "action": "ROLLBACK"}})
        return out

    def deployment_configuration(self, view: ServiceView) -> dict[str, Any]:
        """``deploymentConfiguration`` for the update: the service's own (circuit breaker, percentages) with
        the strategy, its configuration, the bake time, our PAUSE hooks and ECS's alarms set."""
        r, n = self.req, self.req.native
        keep = ("deploymentCircuitBreaker", "maximumPercent", "minimumHealthyPercent")
        cfg: dict[str, Any] = {k: v for k, v in view.deployment_configuration.items() if k in keep}
        cfg["strategy"] = ECS_STRATEGY[r.strategy]
        cfg["bakeTimeInMinutes"] = n.bake_minutes
        if r.strategy == "ecs-canary":
            cfg["canaryConfiguration"] = {"canaryPercent": n.canary_percent,
                                          "canaryBakeTimeInMinutes": n.step_bake_minutes}
        elif r.strategy == "ecs-linear":
            cfg["linearConfiguration"] = {"stepPercent": n.linear_step_percent,
                                          "stepBakeTimeInMinutes": n.step_bake_minutes}
        cfg["lifecycleHooks"] = self.hooks()
        alarms = self.ecs_alarms
        cfg["alarms"] = {"alarmNames": alarms, "enable": bool(alarms), "rollback": bool(alarms)}
        return cfg

    def plan(self, view: NativeView) -> list[str]:
        r, t = self.req, view.topology
        cfg = self.deployment_configuration(view.service)
        new = r.task_definition_arn or "<new revision>"
        green, blue = t.target_groups["green"].rsplit(":", 1)[-1], t.target_groups["blue"].rsplit(":", 1)[-1]
        hooks = ", ".join(f"{h['lifecycleStages'][0]} ({h['timeoutConfiguration']['timeoutInMinutes']} min, then "
                          "ROLLBACK)" for h in cfg["lifecycleHooks"]) or "none"
        plan = []
        if r.task_definition is not None:
            plan.append(f"ecs:RegisterTaskDefinition family {r.task_definition.get('family')} "
                        "(skipped if identical to the latest revision)")
        if self.load_balancers_to_set:
            plan.append("ecs:UpdateService sets loadBalancers[].advancedConfiguration from the configuration "
                        f"(alternate {r.native.alternate_target_group}, rule {r.native.production_listener_rule})")
        plan.append(f"ecs:UpdateService {r.cluster}/{r.service} taskDefinition={new} strategy={cfg['strategy']}"
                    + (f" canaryPercent={r.native.canary_percent:g}" if r.strategy == "ecs-canary" else "")
                    + (f" stepPercent={r.native.linear_step_percent:g}" if r.strategy == "ecs-linear" else "")
                    + f" bakeTimeInMinutes={r.native.bake_minutes}; PAUSE hooks: {hooks}"
                    + (f"; ECS alarms {', '.join(self.ecs_alarms)} (rollback)" if self.ecs_alarms else ""))
        plan.append(f"follow: ecs:DescribeServiceDeployments + ecs:DescribeServices every {r.poll_interval:g}s; ECS "
                    f"starts the new revision in {green}, points the test listener rule at it")
        sc = self.smoke_check()
        if sc is not None:
            plan.append(f"at POST_TEST_TRAFFIC_SHIFT: smoke GET {sc.url} → ecs:ContinueServiceDeployment "
                        "CONTINUE (or ROLLBACK)")
        bake = self.bake_for()
        for w in ecs_steps(r):
            at = "POST_PRODUCTION_TRAFFIC_SHIFT" if w >= 100 else "the next PRE_PRODUCTION_TRAFFIC_SHIFT"
            line = f"ECS shifts {_fmt(w)} of production to {green}"
            if bake > 0 and (w < 100 or "POST_PRODUCTION_TRAFFIC_SHIFT" in hooks):
                line += f"; at {at}: analyse {green} against {blue} for {bake:g}s → CONTINUE or ROLLBACK"
            plan.append(line)
        if r.native.bake_minutes:
            plan.append(f"ECS bakes {r.native.bake_minutes} min with both revisions up, then scales the old one to 0")
        plan.append(f"on failure: ecs:ContinueServiceDeployment ROLLBACK at a waiting hook, else "
                    f"ecs:StopServiceDeployment ROLLBACK; ECS puts 100% back on {blue}; watched up to "
                    f"{r.rollback_timeout:g}s and the production rule read back")
        return plan

    def _ecs_gave_up(self) -> str | None:
        """ECS's own rollback or stop of our deployment, as a failure reason (None while it goes on)."""
        sd = self._describe()
        if sd.status in ECS_ROLLBACK or sd.status in ("STOPPED", "STOP_REQUESTED"):
            why = sd.status_reason or (sd.rollback or {}).get("reason") or sd.status
            timed_out = any(h.status == "TIMED_OUT" for h in sd.hooks)
            self.ecs_decision = Decision(FAILED, f"ECS rolled the deployment back: {why}", by_ecs=True,
                                         cause="hook_timeout" if timed_out else "ecs")
            return self.ecs_decision.reason
        return None

    # ---- a fresh deploy ---------------------------------------------------------------------------

    def run(self, view: NativeView) -> dict[str, Any]:
        rep, ports, r = self.report, self.ports, self.req
        self.start_guard()
        ports.log.prime(view.service)
        arn = self.register_revision()
        if arn is None:
            return self.finish(NOT_STARTED, "aborted before anything changed")
        live = self.live_task_definition_arn(view)
        if arn == live and not r.force_new_deployment:
            ports.reporter.info(f"{r.service} already runs {td_label(arn)}; nothing to deploy "
                                "(use --force-new-deployment)")
            rep.data["changed"] = False
            return self.finish(SUCCEEDED, None)
        try:
            rep.enter("update", f"updating {r.service} to {td_label(arn)} ({ECS_STRATEGY[r.strategy]})")
            after = ports.services.update(r.cluster, r.service, task_definition=arn, desired_count=r.desired_count,
                                          force_new_deployment=r.force_new_deployment,
                                          deployment_configuration=self.deployment_configuration(view.service),
                                          load_balancers=self.load_balancers_to_set)
        except Aborted as exc:
            return self._aborted_during_update(str(exc))
        except ClientError as exc:
            if error_code(exc) in ("InvalidParameterException", "ClientException"):
                raise BadInput(f"ECS refused the {r.strategy} update of {r.service}: {exc}") from None
            return self.finish(NOT_STARTED, f"UpdateService failed: {exc}")
        except BotoCoreError as exc:
            return self.finish(NOT_STARTED, f"UpdateService failed: {exc}")
        rep.data["changed"] = True
        st = self.state
        st.deployment_id = new_deployment_id(view.service, after)
        st.arn = after.current_service_deployment
        rep.data["deployment_id"] = st.deployment_id
        return self._follow_and_conclude()

    def _follow_and_conclude(self) -> dict[str, Any]:
        try:
            decision = self._follow()
        except Aborted as exc:
            decision = Decision(FAILED, f"{exc} during {self.report.phase}", cause="aborted")
        except PHASE_ERRORS as exc:
            decision = Decision(FAILED, f"{exc.__class__.__name__} during {self.report.phase}: {exc}", cause="aws")
        return self._conclude(decision)

    def _aborted_during_update(self, signal: str) -> dict[str, Any]:
        """A signal while UpdateService was in flight: if ECS started the deployment, roll it back."""
        ongoing = self._ongoing(self.req.service)
        if ongoing is None:
            return self.finish(NOT_STARTED, f"{signal} before the deployment started")
        self.state.arn = ongoing.arn
        return self._conclude(Decision(FAILED, f"{signal} during update", cause="aborted"))

    # ---- following the service deployment -----------------------------------------------------------

    def _ongoing(self, service: str) -> ServiceDeploymentView | None:
        arns = self.ports.services.service_deployments(self.req.cluster, service, ONGOING)
        found = self.ports.services.describe_service_deployments(arns[:1]) if arns else []
        return found[0] if found else None

    def _describe(self) -> ServiceDeploymentView:
        st = self.state
        if st.arn is None:
            current = self.ports.services.get(self.req.cluster, self.req.service).current_service_deployment
            if current is None:
                raise TrafficError(f"ECS reports no service deployment for {self.req.service}")
            st.arn = current
        found = self.ports.services.describe_service_deployments([st.arn])
        if not found:
            raise TrafficError(f"service deployment {st.arn} not found")
        self.report.data["service_deployment_arn"] = st.arn
        return found[0]

    def _watch_service(self) -> None:
        """ECS events, our deployment's counts and stopped tasks (the rolling watch's narration)."""
        ports, st, r = self.ports, self.state, self.req
        view = ports.services.describe(r.cluster, [r.service]).get(r.service)
        if view is None:
            raise TrafficError(f"service {r.service} no longer exists")
        ports.log.absorb(view)
        if st.deployment_id:
            line = progress_line(view, st.deployment_id)
            if line != getattr(self, "_last_line", ""):
                ports.reporter.info(line)
                self._last_line = line
            ours = view.deployment(st.deployment_id)
            if ours is not None and ours.failed > st.last_failed:
                st.last_failed = ours.failed
                for task in ports.services.stopped_tasks(r.cluster, st.deployment_id):
                    ports.log.add_stopped(task)

    def _narrate_stage(self, sd: ServiceDeploymentView) -> bool:
        """Narrate a new lifecycle stage; stages ECS went through between two polls are named too (the
        API shows only the current one), marked as such."""
        st = self.state
        stage = sd.lifecycle_stage
        if not stage or stage == st.stage:
            return False
        for passed in _between(st.stage, stage) if not sd.rolling_back else []:
            self.ports.reporter.step(f"ECS: {passed} (passed between two polls)")
            self.report.data.setdefault("lifecycle", []).append(
                {"stage": passed, "t": round(self.report.elapsed, 3), "observed": False})
        st.stage = stage
        weight = f" (new revision requested at {_fmt(sd.production_weight)} of production)" \
            if sd.production_weight else ""
        self.report.enter(f"ecs_{stage.lower()}", f"ECS: {stage}{weight}")
        self.report.event("stage", stage=stage, status=sd.status)
        self.report.data.setdefault("lifecycle", []).append(
            {"stage": stage, "t": round(self.report.elapsed, 3), "observed": True})
        return True

    def _follow(self) -> Decision:
        r, st, ports = self.req, self.state, self.ports
        stall = Deadline(ports.clock, r.timeout)
        while True:
            sd = self._describe()
            self._watch_service()
            if self._narrate_stage(sd):
                stall = Deadline(ports.clock, r.timeout)
            if sd.status == "SUCCESSFUL":
                return Decision(SUCCEEDED)
            if sd.status in ECS_ROLLBACK or sd.status in ("STOPPED", "STOP_REQUESTED"):
                why = sd.status_reason or (sd.rollback or {}).get("reason") or sd.status
                cause = "hook_timeout" if any(h.status == "TIMED_OUT" for h in sd.hooks) else "ecs"
                return Decision(FAILED, f"ECS rolled the deployment back: {why}" if sd.status in ECS_ROLLBACK
                                else f"ECS stopped the deployment: {why}", by_ecs=True, cause=cause)
            hook = sd.awaiting
            if hook is not None and hook.id not in st.answered:
                decision = self._at_hook(sd, hook.id)
                if decision is not None:
                    return decision
                stall = Deadline(ports.clock, r.timeout)
                continue
            if st.last_failed >= r.max_failed_tasks:
                return Decision(FAILED, f"{st.last_failed} tasks of the new revision failed (limit "
                                        f"{r.max_failed_tasks}): {self._stopped_reasons()}", cause="failed_tasks")
            fired = self.guard.check() if self.guard is not None else None
            if fired:
                return Decision(FAILED, fired, cause="alarm")
            if stall.expired:
                return Decision(FAILED, f"timed out after {r.timeout:g}s: ECS made no progress at "
                                        f"{sd.lifecycle_stage or sd.status}", cause="timeout")
            ports.clock.sleep(min(r.poll_interval, max(stall.remaining, 0.0)) or r.poll_interval)

    def _stopped_reasons(self) -> str:
        reasons = sorted({t.stopped_reason or "no reason" for t in self.ports.log.stopped.values()
                          if t.started_by == self.state.deployment_id})
        return "; ".join(reasons) or "see stopped tasks"

    def weights(self) -> dict[str, int]:
        """The production rule's weights, read from ELBv2 (blue = old revision, green = new)."""
        assert self.router is not None
        seen = self.router.weights()
        st = self.state
        if seen != st.last_weights:
            st.last_weights = seen
            self.report.data["weights"] = seen
            self.report.data.setdefault("weight_changes", []).append(seen)
            self.report.event("weights", weights=seen)
            self.ports.reporter.info("weights now " + ", ".join(f"{c} {w}%" for c, w in seen.items())
                                     + " (read from the production listener rule)")
        return seen

    def _answer(self, sd: ServiceDeploymentView, hook_id: str, action: str, why: str) -> None:
        self.ports.services.continue_service_deployment(sd.arn, hook_id, action)
        self.state.answered.add(hook_id)
        rec = {"hook_id": hook_id, "stage": sd.lifecycle_stage, "action": action, "reason": why,
               "weight": (self.state.last_weights or {}).get("green"), "t": round(self.report.elapsed, 3)}
        self.report.data.setdefault("hooks", []).append(rec)
        self.report.event("hook", stage=sd.lifecycle_stage, action=action, reason=why)
        (self.ports.reporter.info if action == "CONTINUE" else self.ports.reporter.warn)(
            f"ecs:ContinueServiceDeployment {action} at {sd.lifecycle_stage}: {why}")

    def _at_hook(self, sd: ServiceDeploymentView, hook_id: str) -> Decision | None:
        """Act at one of our PAUSE hooks: None when answered CONTINUE, else how the deploy ends."""
        r, st, rep = self.req, self.state, self.report
        stage = sd.lifecycle_stage or ""
        weights = self.weights()
        green = weights.get("green", 0)
        if stage == "POST_TEST_TRAFFIC_SHIFT":
            sc = self.smoke_check() if not st.smoked else None
            st.smoked = True
            if sc is not None:
                rep.enter("smoke", f"smoke check of the new revision through the test listener rule: {sc.url}")
                check = smoke(sc, self.ports.reporter, self.ports.clock)
                rep.data["smoke"] = check.details
                if not check.ok:
                    return Decision(FAILED, check.reason, cause="smoke")
            if r.pause_at_stage == stage:
                return self._pause(sd, hook_id, stage)
            return self._continue(sd, hook_id, "smoke check passed" if sc else "nothing to check")
        if stage in ("RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP") or green == 0:
            if r.pause_at_stage == stage:
                return self._pause(sd, hook_id, stage)
            return self._continue(sd, hook_id, "no production traffic on the new revision yet")
        if green >= 100 and self.guard is not None:
            self.guard.took_all_traffic()
        bake = self.bake_for()
        if bake > 0:
            rep.enter(f"analysis_{green}", f"analysing the new revision at {green}% for {bake:g}s")
            guard = self.guard if isinstance(self.guard, _WatchingGuard) else None
            if guard is not None:
                guard.watch = self._ecs_gave_up
            try:
                result = self._analyzer().run_step(
                    weight=green, canary_tg=self._topology_now().target_groups["green"],
                    stable_tg=self._topology_now().target_groups["blue"] if green < 100 else None, bake_seconds=bake)
            finally:
                if guard is not None:
                    guard.watch = None
            rep.data.setdefault("analysis", []).append(
                {"weight": green, "result": "pass" if result.ok else "fail", "reason": result.reason,
                 "samples": result.samples})
            if self.ecs_decision is not None:
                return self.ecs_decision
            if not result.ok:
                return Decision(FAILED, result.reason, cause="analysis")
        if green >= 100:
            if r.smoke is not None:
                rep.enter("smoke", f"smoke check {r.smoke.url}")
                check = smoke(r.smoke, self.ports.reporter, self.ports.clock)
                rep.data["smoke"] = check.details
                if not check.ok:
                    return Decision(FAILED, check.reason, cause="smoke")
            if self.guard is not None:
                failure = self.guard.settle(r.poll_interval)
                if failure is not None:
                    return Decision(FAILED, failure, cause="alarm")
        gate = r.pause_at_stage == stage or (self.gate_weight is not None and 0 < green < 100
                                             and green >= self.gate_weight)
        if gate:
            return self._pause(sd, hook_id, stage)
        return self._continue(sd, hook_id, f"analysis passed at {green}%" if bake > 0 else f"at {green}%")

    def _continue(self, sd: ServiceDeploymentView, hook_id: str, why: str) -> Decision | None:
        """CONTINUE; when ECS refuses because it already gave up on the hook (it timed out) or rolls back,
        the deploy ends with ECS's reason."""
        try:
            self._answer(sd, hook_id, "CONTINUE", why)
            return None
        except ClientError as exc:
            now = self._describe()
            if now.status not in ECS_ROLLBACK and now.status not in ("STOPPED", "STOP_REQUESTED"):
                raise
            self.ports.reporter.warn(f"ECS refused CONTINUE ({error_code(exc)}): the deployment is {now.status}")
            why_ecs = now.status_reason or (now.rollback or {}).get("reason") or now.status
            timed_out = any(h.status == "TIMED_OUT" for h in now.hooks)
            return Decision(FAILED, f"ECS rolled the deployment back: {why_ecs}", by_ecs=True,
                            cause="hook_timeout" if timed_out else "ecs")

    def _topology_now(self) -> Topology:
        assert self.router is not None
        return self.router.topology

    def _analyzer(self) -> Analyzer:
        if self.analyzer is None:
            assert self.router is not None
            metrics = self.ports.metrics_for(self.router.load_balancer_arn(), self.req.canary.analysis.period)
            self.analyzer = Analyzer(metrics, self.guard, self.req.canary.analysis, self.ports.reporter,
                                     self.ports.clock, origin=self.report.origin)
        return self.analyzer

    def _pause(self, sd: ServiceDeploymentView, hook_id: str, stage: str) -> Decision:
        weight = (self.state.last_weights or {}).get("green", 0)
        hook = next((h for h in sd.hooks if h.id == hook_id), None)
        expires = hook.expires_at.isoformat() if hook is not None and hook.expires_at is not None else None
        self.report.event("pause", weight=weight, stage=stage)
        self.report.data["paused"] = {"stage": stage, "weight": weight, "hook_id": hook_id,
                                      "service_deployment_arn": sd.arn, "expires_at": expires}
        self.ports.reporter.step(f"paused at {stage} with {weight}% of production on the new revision (hook "
                                 f"{hook_id} AWAITING_ACTION" + (f" until {expires}, then ECS rolls back" if expires
                                                                 else "") +
                                 "): run `deploy promote` to continue or `deploy abort` to roll back")
        return Decision(PAUSED)

    # ---- ending -------------------------------------------------------------------------------------

    def _conclude(self, d: Decision) -> dict[str, Any]:
        if d.status == PAUSED:
            return self.finish(PAUSED, None)
        if d.status == SUCCEEDED:
            return self._succeeded()
        self.report.data["failure_cause"] = d.cause
        return self._roll_back(d.reason or "deploy failed", by_ecs=d.by_ecs)

    def _succeeded(self) -> dict[str, Any]:
        r, ports = self.req, self.ports
        try:
            weights = self.weights()
        except (TrafficError, ClientError, BotoCoreError) as exc:
            return self.finish(FAILED, f"ECS reports the deployment SUCCESSFUL but the production rule cannot be read: "
                                       f"{exc}")
        if weights.get("green") != 100:
            return self.finish(FAILED, f"ECS reports the deployment SUCCESSFUL but the production listener rule "
                                       f"reads {weights}: check it — MANUAL ACTION REQUIRED")
        arn = self.report.data.get("task_definition_arn") or r.task_definition_arn or ""
        record_known_good(ports, ports.services.get(r.cluster, r.service), arn)
        self.report.mark("to_full_traffic_seconds")
        return self.finish(SUCCEEDED, None)

    def _roll_back(self, failure: str, *, by_ecs: bool) -> dict[str, Any]:
        rep, ports = self.report, self.ports
        if not by_ecs:
            try:
                first = self._ecs_gave_up()  # ECS may have rolled back on its own while we worked
            except (TrafficError, ClientError, BotoCoreError):
                first = None
            if first is not None and self.ecs_decision is not None:
                failure, by_ecs = f"{first} (pipeline-py: {failure})", True
                rep.data["failure_cause"] = self.ecs_decision.cause
        ports.reporter.error(failure)
        rep.enter("rolling_back", f"rolling back: {failure}")
        rep.event("rollback", reason=failure)
        rep.data["rolled_back_by"] = "ECS" if by_ecs else "pipeline-py"
        if not by_ecs:
            problem = self._ask_for_rollback(failure)
            if problem is not None:
                rep.data["rollback"] = {"restored": False, "problems": [problem]}
                return self.finish(FAILED, f"{failure}; {problem} — MANUAL ACTION REQUIRED")
        return self._await_rollback(failure)

    def _ask_for_rollback(self, failure: str) -> str | None:
        """ContinueServiceDeployment ROLLBACK at a waiting hook, else StopServiceDeployment ROLLBACK."""
        services = self.ports.services
        try:
            sd = self._describe()
        except (TrafficError, ClientError, BotoCoreError) as exc:
            return f"could not read the service deployment to roll it back: {exc}"
        if sd.status in ECS_ROLLBACK or sd.status in ("STOPPED", "SUCCESSFUL"):
            return None
        hook = sd.awaiting
        try:
            if hook is not None:
                self._answer(sd, hook.id, "ROLLBACK", failure)
                return None
        except (ClientError, BotoCoreError) as exc:
            self.ports.reporter.warn(f"ContinueServiceDeployment ROLLBACK failed ({exc}); stopping the deployment "
                                     "instead")
        try:
            services.stop_service_deployment(sd.arn, "ROLLBACK")
            self.ports.reporter.warn(f"ecs:StopServiceDeployment ROLLBACK: {failure}")
            self.report.event("hook", stage=sd.lifecycle_stage, action="STOP_ROLLBACK", reason=failure)
        except (ClientError, BotoCoreError) as exc:
            return f"ECS refused to roll the deployment back: {exc}"
        return None

    def _await_rollback(self, failure: str) -> dict[str, Any]:
        rep, ports, r = self.report, self.ports, self.req
        deadline = Deadline(ports.clock, r.rollback_timeout)
        start = ports.clock.monotonic()
        sd: ServiceDeploymentView | None = None
        restored = False
        while True:
            try:
                sd = self._describe()
                self._watch_service()
                self._narrate_stage(sd)
                if not restored and self.weights().get("blue") == 100:
                    # ECS moves the traffic back first, then drains the new tasks: say so as soon as it reads back
                    restored = True
                    rep.timings["traffic_restored_seconds"] = round(ports.clock.monotonic() - start, 3)
                    ports.reporter.info("traffic restored: weights now blue 100%, green 0% (verified); ECS is "
                                        "stopping the new revision's tasks")
            except (TrafficError, ClientError, BotoCoreError) as exc:
                ports.reporter.warn(f"reading the rollback: {exc}")
            if sd is not None and sd.status == "ROLLBACK_SUCCESSFUL":
                break
            if sd is not None and sd.status == "ROLLBACK_FAILED":
                return self._rollback_failed(failure, f"ECS reports ROLLBACK_FAILED: {sd.status_reason or ''}")
            if sd is not None and sd.status in ("STOPPED", "SUCCESSFUL") and not sd.rolling_back:
                break  # stopped without a rollback (ABORT) or already over: the rule decides below
            if deadline.expired:
                return self._rollback_failed(failure, f"the rollback did not finish within {r.rollback_timeout:g}s "
                                                      f"(status {sd.status if sd else 'unknown'})")
            ports.clock.sleep(min(r.poll_interval, max(deadline.remaining, 0.0)) or r.poll_interval)
        try:
            weights = self.weights()
        except (TrafficError, ClientError, BotoCoreError) as exc:
            return self._rollback_failed(failure, f"the production rule cannot be read: {exc}")
        rep.timings["rollback_seconds"] = round(ports.clock.monotonic() - start, 3)
        if weights.get("blue") != 100:
            return self._rollback_failed(failure, f"ECS reports {sd.status if sd else 'unknown'} but the production "
                                                  f"listener rule reads {weights}")
        ports.reporter.info(f"rollback complete ({sd.status if sd else 'unknown'}): {r.service} is back on "
                            f"{td_label(rep.data.get('previous_task_definition_arn'))}, weights blue 100%, green 0% "
                            "(verified)")
        rep.data["rollback"] = {"restored": True, "status": sd.status if sd else None,
                                "seconds": rep.timings["rollback_seconds"]}
        return self.finish(ROLLED_BACK, failure)

    def _rollback_failed(self, failure: str, problem: str) -> dict[str, Any]:
        self.report.data["rollback"] = {"restored": False, "problems": [problem]}
        self.ports.reporter.error(f"ROLLBACK NOT CONFIRMED: {problem}")
        return self.finish(FAILED, f"{failure}; {problem} — MANUAL ACTION REQUIRED")

    def finish_details(self) -> dict[str, Any]:
        return self.analyzer.details() if self.analyzer is not None else {}

    # ---- deploy promote / deploy abort ------------------------------------------------------------------

    def resume(self, action: str, *, dry_run: bool = False) -> dict[str, Any]:
        """Find the service's deployment in ECS (not in a local file) and continue or roll it back."""
        r, ports, rep, st = self.req, self.ports, self.report, self.state
        ports.reporter.step(f"deploy {action} for {r.label or r.service} ({r.strategy}, ECS-native)")
        view = ports.services.get(r.cluster, r.service)
        lb = self._native_lb(view)
        arns = ports.services.service_deployments(r.cluster, r.service)
        found = ports.services.describe_service_deployments(arns[:1]) if arns else []
        latest = found[0] if found else None
        if latest is None or not latest.ongoing:
            if latest is not None and latest.status in ECS_ROLLBACK:
                why = latest.status_reason or (latest.rollback or {}).get("reason") or latest.status
                raise OperationFailed(f"nothing to {action}: ECS already rolled the deployment back ({why})",
                                      result={"status": ROLLED_BACK, "strategy": r.strategy, "cluster": r.cluster,
                                              "service": r.service, "service_deployment_arn": latest.arn,
                                              "reason": f"ECS rolled the deployment back: {why}",
                                              "rolled_back_by": "ECS"})
            raise BadInput(f"no paused ECS deployment of {r.service} found (latest: "
                           f"{latest.status if latest else 'none'}); nothing to {action}")
        st.arn = latest.arn
        ours = next((d for d in view.deployments if d.status == "PRIMARY"), None)
        st.deployment_id = ours.id if ours else None
        st.last_failed = ours.failed if ours else 0
        topology, _ = self._topology_for_resume(view, lb, latest)
        weights = self.weights()
        hook = latest.awaiting
        if hook is not None:
            st.answered.discard(hook.id)
        st.stage = latest.lifecycle_stage
        rep.data.update({"live_colour": "blue", "new_colour": "green", "target_groups": dict(topology.target_groups),
                         "service_deployment_arn": latest.arn, "resumed_at": weights.get("green"), "action": action,
                         "steps": ecs_steps(r), "task_definition_arn": ours.task_definition if ours else None,
                         "deployment_id": st.deployment_id})
        ports.log.prime(view)
        where = f"waiting at {latest.lifecycle_stage} (hook {hook.id})" if hook else \
            f"{latest.status} at {latest.lifecycle_stage}"
        ports.reporter.info(f"ECS deployment {latest.arn.rsplit('/', 1)[-1]} {where}, new revision at "
                            f"{weights.get('green')}% of production; {action}")
        if dry_run:
            plan = ([f"ecs:ContinueServiceDeployment ROLLBACK (hook {hook.id})" if hook else
                     "ecs:StopServiceDeployment ROLLBACK", "watch the rollback; read the production rule back"]
                    if action == "abort" else
                    [f"ecs:ContinueServiceDeployment CONTINUE (hook {hook.id})" if hook else "follow the deployment",
                     "analyse at the next hooks, CONTINUE or ROLLBACK"])
            return {"status": "dry_run", "plan": plan, "weights": weights, "service_deployment_arn": latest.arn}
        self.start_guard()
        if action == "abort":
            self.report.data["failure_cause"] = "aborted"
            return self._roll_back(f"aborted by request at {weights.get('green')}% "
                                   f"({latest.lifecycle_stage})", by_ecs=False)
        if hook is not None:
            try:
                self._answer(latest, hook.id, "CONTINUE", "promoted by request")
            except (ClientError, BotoCoreError) as exc:
                return self._conclude(Decision(FAILED, f"ContinueServiceDeployment CONTINUE failed: {exc}",
                                               cause="aws"))
        return self._follow_and_conclude()

    def _topology_for_resume(self, view: ServiceView, lb: LoadBalancer,
                             sd: ServiceDeploymentView) -> tuple[Topology, dict[str, int]]:
        """Mid-deployment the rule is split: the new revision's target group is the one that was not the
        production one when the deployment started — the one its tasks are registered in."""
        topology, weights = self._topology(view, lb)
        ours = view.primary
        tg_of_new = self._target_group_of(view, ours.id) if ours is not None else None
        if tg_of_new is not None and tg_of_new == topology.target_groups["blue"]:
            swapped = Topology(services=topology.services, target_groups={"blue": topology.target_groups["green"],
                                                                         "green": topology.target_groups["blue"]},
                               listener_arn=topology.listener_arn, rule_arn=topology.rule_arn, test_listener_arn=None)
            self._router(swapped)
            return swapped, {"blue": weights["green"], "green": weights["blue"]}
        return topology, weights

    def _target_group_of(self, view: ServiceView, deployment_id: str) -> str | None:
        """The target group the deployment's running tasks are registered in (None when unknown)."""
        tasks = self.ports.services.running_tasks(self.req.cluster, deployment_id)
        ips = {ip for t in tasks if (ip := task_ip(t)) is not None}
        if not ips:
            return None
        lb = self._native_lb(view)
        for tg in (lb.target_group_arn, (lb.advanced or {}).get("alternateTargetGroupArn")):
            if tg and any(t.id in ips for t in self.ports.targets.health(str(tg))):
                return str(tg)
        return None

"""ECS-native blue/green, linear and canary deployments on ONE service, for the ECS simulator
(:mod:`pipeline_py.local.ecs_sim`): the lifecycle stages in order, PAUSE hooks, ECS moving the listener
rules' weights, rollback to the source revision. Pure like the simulator: no moto here; the listener
rules and alarm states are asked of a :class:`NativeWorld` (moto's ELBv2 and CloudWatch in the local
stack, :class:`InMemoryNativeWorld` in unit tests).

Modelled after the AWS documentation of ECS blue/green, linear and canary deployments:

- ``UpdateService`` with a new revision on a service whose ``deploymentConfiguration.strategy`` is
  ``BLUE_GREEN``, ``LINEAR`` or ``CANARY`` and whose load balancer has ``advancedConfiguration``
  starts a service deployment that moves through ``RECONCILE_SERVICE`` (only when more than one revision
  is active), ``PRE_SCALE_UP``, ``SCALE_UP`` (the new revision's tasks start at the full desired count
  in the *alternate* target group — the one the production rule gives no traffic — while the old ones
  keep serving), ``POST_SCALE_UP``, ``TEST_TRAFFIC_SHIFT`` (the test listener rule forwards to the
  alternate target group), ``POST_TEST_TRAFFIC_SHIFT``, then per production step
  ``PRE_PRODUCTION_TRAFFIC_SHIFT`` and ``PRODUCTION_TRAFFIC_SHIFT`` (the production rule's weights move:
  BLUE_GREEN 100 at once; CANARY ``canaryPercent`` then, after ``canaryBakeTimeInMinutes``, 100; LINEAR
  ``stepPercent`` at a time with ``stepBakeTimeInMinutes`` between steps), ``POST_PRODUCTION_TRAFFIC_SHIFT``,
  ``BAKE_TIME`` (``bakeTimeInMinutes``, both revisions up) and ``CLEAN_UP`` (the old tasks drain and stop)
  → ``SUCCESSFUL``. The target groups swap roles: the next deployment goes to the other one.
- A ``PAUSE`` hook (``lifecycleHooks``) stops the deployment at its stage with a ``hookId`` in
  ``AWAITING_ACTION`` until ``ContinueServiceDeployment`` (CONTINUE or ROLLBACK) or ``expiresAt``, when
  ``timeoutAction`` applies (TIMED_OUT). PAUSE hooks are refused at ``TEST_TRAFFIC_SHIFT`` and
  ``PRODUCTION_TRAFFIC_SHIFT`` (``moto_ext.ecs_native`` validates the request). Lambda hooks are not
  invoked: they succeed at once (the local stack runs no Lambda).
- A rollback (``ContinueServiceDeployment`` ROLLBACK, ``StopServiceDeployment`` ROLLBACK, a hook timing
  out, one of ``deploymentConfiguration.alarms`` going into ALARM, the circuit breaker while the new
  tasks start) puts 100 % of production (and the test rule) back on the source revision's target group at
  once, stops the new tasks, and ends ``ROLLBACK_SUCCESSFUL`` when they are gone (``ROLLBACK_FAILED``
  when the production rule cannot be written).

Durations: bake times are AWS minutes, scaled like every AWS duration (``TimingModel.aws``); hook
timeouts are scaled by ``TimingModel.lifecycle_hook_scale`` (default 1: real time, because whoever
answers a hook — a deploy engine analysing real-time CloudWatch metrics — works on the real clock).
Event texts are modelled (AWS documents no exact wording for these stages).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pipeline_py.local.ecs_sim import Deployment, EcsSim, LoadBalancerRef, Service, ServiceDeploymentRecord

NATIVE_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")
STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
          "POST_TEST_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
          "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP")
HOOK_STAGES = ("RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
               "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT")
NO_PAUSE_STAGES = ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
AWAITING, SUCCEEDED, FAILED, TIMED_OUT = "AWAITING_ACTION", "SUCCEEDED", "FAILED", "TIMED_OUT"
HOOK_DEFAULT_TIMEOUT_MINUTES = 1440


class NativeError(ValueError):
    """A request ECS refuses (``InvalidParameterException`` at the API)."""


class NativeWorld(Protocol):
    def forwards(self, rule_arn: str) -> dict[str, int] | None:
        """Target group ARN → weight of the forward action of a listener rule (or listener); None when
        the rule does not exist."""

    def set_forwards(self, rule_arn: str, weights: dict[str, int]) -> bool:
        """Make the rule forward with these weights; False when it does not exist."""

    def alarm_state(self, name: str, account: str, region: str) -> str | None: ...


class InMemoryNativeWorld:
    """Rules and alarms in dicts (unit tests, standalone use)."""

    def __init__(self) -> None:
        self.rules: dict[str, dict[str, int]] = {}
        self.alarms: dict[str, str] = {}
        self.writable = True

    def forwards(self, rule_arn: str) -> dict[str, int] | None:
        rule = self.rules.get(rule_arn)
        return dict(rule) if rule is not None else None

    def set_forwards(self, rule_arn: str, weights: dict[str, int]) -> bool:
        if rule_arn not in self.rules or not self.writable:
            return False
        self.rules[rule_arn] = dict(weights)
        return True

    def alarm_state(self, name: str, account: str, region: str) -> str | None:
        return self.alarms.get(name)


@dataclass
class Hook:
    id: str
    stage: str
    target_type: str
    status: str
    started_at: float
    expires_at: float | None
    timeout_action: str
    target_arn: str | None = None

    def view(self, wall: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"hookId": self.id, "targetType": self.target_type, "status": self.status,
                               "timeoutAction": self.timeout_action}
        if self.expires_at is not None:
            out["expiresAt"] = wall(self.expires_at)
        if self.target_arn:
            out["targetArn"] = self.target_arn
        return out


@dataclass
class Rollout:
    """One ECS-native service deployment in progress (held by ``Service.native``)."""

    strategy: str
    record: ServiceDeploymentRecord
    deployment: Deployment
    source: Deployment | None
    production_tg: str
    alternate_tg: str
    production_rule: str
    test_rule: str | None
    plan: list[tuple[str, float | None, float]]
    """(stage, production weight the stage sets or None, seconds to wait after it)"""
    hooks_config: list[dict[str, Any]]
    alarms: list[str]
    alarm_baseline: dict[str, str | None]
    started_at: float
    index: int = 0
    entered: int = -1
    stage_at: float = 0.0
    weight: float = 0.0
    test_weight: float = 0.0
    hooks: list[Hook] = field(default_factory=list)
    active: bool = True
    rolling_back: bool = False
    cleaned: bool = False
    triggered_alarms: list[str] = field(default_factory=list)

    @property
    def stage(self) -> str:
        if self.rolling_back or self.index >= len(self.plan):
            return self.plan[min(self.index, len(self.plan) - 1)][0] if self.plan else "CLEAN_UP"
        return self.plan[self.index][0]

    def awaiting(self) -> list[Hook]:
        return [h for h in self.hooks if h.status == AWAITING]


def strategy_of(config: Any) -> str:
    """The ``strategy`` of a :class:`~pipeline_py.local.ecs_sim.DeploymentConfig` (ROLLING by default)."""
    return str((getattr(config, "extra", None) or {}).get("strategy") or "ROLLING")


def advanced_lb(svc: Service) -> LoadBalancerRef | None:
    return next((lb for lb in svc.load_balancers if lb.advanced), None)


def is_native(svc: Service) -> bool:
    """The next deployment of ``svc`` is ECS-native: a blue/green-family strategy and advancedConfiguration."""
    return strategy_of(svc.deployment_config) in NATIVE_STRATEGIES and advanced_lb(svc) is not None


def _adv(lb: LoadBalancerRef) -> dict[str, str]:
    return dict(lb.advanced)


def production_lbs(sim: EcsSim, svc: Service) -> tuple[LoadBalancerRef, ...] | None:
    """The load balancers a new task of ``svc`` registers with, when the service has advancedConfiguration:
    its production target group is whichever of the two the production rule sends the traffic to now.
    None for other services (they use their ``loadBalancers`` as configured)."""
    lb = advanced_lb(svc)
    if lb is None:
        return None
    adv = _adv(lb)
    weights = sim.native_world.forwards(adv.get("productionListenerRule", "")) or {}
    alternate = adv.get("alternateTargetGroupArn", "")
    tg = alternate if weights.get(alternate, 0) > weights.get(lb.target_group_arn, 0) else lb.target_group_arn
    return tuple(dataclasses.replace(x, target_group_arn=tg, advanced=()) if x is lb
                 else dataclasses.replace(x, advanced=()) for x in svc.load_balancers)


def lbs_of(svc: Service, dep: Deployment | None) -> tuple[LoadBalancerRef, ...]:
    """The load balancers the tasks of ``dep`` are registered with."""
    if dep is not None and dep.target_groups is not None:
        return dep.target_groups
    return svc.load_balancers


def steps_of(config: dict[str, Any], strategy: str) -> list[tuple[float, float]]:
    """(production weight of the new revision, AWS seconds to wait after the shift) per step."""
    if strategy == "CANARY":
        c = config.get("canaryConfiguration") or {}
        pct = float(c.get("canaryPercent", 5.0))
        bake = 60.0 * float(c.get("canaryBakeTimeInMinutes", 10))
        return [(pct, bake), (100.0, 0.0)] if pct < 100 else [(100.0, 0.0)]
    if strategy == "LINEAR":
        c = config.get("linearConfiguration") or {}
        step = float(c.get("stepPercent", 10.0))
        bake = 60.0 * float(c.get("stepBakeTimeInMinutes", 6))
        weights = []
        n = 1
        while step * n < 100 - 1e-9:
            weights.append(round(step * n, 1))
            n += 1
        return [(w, bake) for w in weights] + [(100.0, 0.0)]
    return [(100.0, 0.0)]


def start(sim: EcsSim, svc: Service, dep: Deployment, now: float) -> Rollout:
    """A new ECS-native service deployment of ``svc`` whose new revision is ``dep`` (already PRIMARY)."""
    lb = advanced_lb(svc)
    assert lb is not None
    adv = _adv(lb)
    config = dict(svc.deployment_config.extra)
    strategy = strategy_of(svc.deployment_config)
    record = svc.service_deployments[dep.service_deployment_arn]
    active = [d for d in svc.deployments if d is not dep and _alive(svc, d)]
    source = active[0] if active else next((d for d in svc.deployments if d is not dep), None)
    current = production_lbs(sim, svc)
    production = current[svc.load_balancers.index(lb)].target_group_arn if current else lb.target_group_arn
    alternate = adv["alternateTargetGroupArn"] if production == lb.target_group_arn else lb.target_group_arn
    dep.target_groups = tuple(dataclasses.replace(x, target_group_arn=alternate, advanced=()) if x is lb
                              else dataclasses.replace(x, advanced=()) for x in svc.load_balancers)
    plan: list[tuple[str, float | None, float]] = []
    if len(active) > 1:
        plan.append(("RECONCILE_SERVICE", None, 0.0))
    plan += [("PRE_SCALE_UP", None, 0.0), ("SCALE_UP", None, 0.0), ("POST_SCALE_UP", None, 0.0),
             ("TEST_TRAFFIC_SHIFT", None, 0.0), ("POST_TEST_TRAFFIC_SHIFT", None, 0.0)]
    for weight, wait in steps_of(config, strategy):
        plan += [("PRE_PRODUCTION_TRAFFIC_SHIFT", None, 0.0), ("PRODUCTION_TRAFFIC_SHIFT", weight, wait)]
    plan += [("POST_PRODUCTION_TRAFFIC_SHIFT", None, 0.0),
             ("BAKE_TIME", None, 60.0 * float(config.get("bakeTimeInMinutes") or 0)), ("CLEAN_UP", None, 0.0)]
    alarm_cfg = config.get("alarms") or {}
    alarms = list(alarm_cfg.get("alarmNames") or []) if alarm_cfg.get("enable") and alarm_cfg.get("rollback") else []
    rollout = Rollout(strategy=strategy, record=record, deployment=dep, source=source, production_tg=production,
                      alternate_tg=alternate, production_rule=adv["productionListenerRule"],
                      test_rule=adv.get("testListenerRule"), plan=plan,
                      hooks_config=list(config.get("lifecycleHooks") or []), alarms=alarms,
                      alarm_baseline={a: sim.native_world.alarm_state(a, svc.account, svc.region) for a in alarms},
                      started_at=now, stage_at=now)
    svc.native = rollout
    record.lifecycle = rollout
    sim._emit(svc, now, f"(service {svc.name}) started a {strategy} deployment "
                        f"(service-deployment {record.arn.rsplit('/', 1)[-1]}) of {dep.task_definition.family}:"
                        f"{dep.task_definition.revision} in (target-group {alternate}).")
    return rollout


def _alive(svc: Service, dep: Deployment) -> bool:
    return any(t.live for t in svc.tasks_of(dep.id))


def supersede(sim: EcsSim, svc: Service, now: float) -> None:
    """A new deployment replaces the ECS-native one in progress: its new tasks go, production traffic
    returns to the source revision (the new deployment starts from there)."""
    ro = svc.native
    if ro is None or not ro.active:
        return
    sim.native_world.set_forwards(ro.production_rule, {ro.production_tg: 100, ro.alternate_tg: 0})
    if ro.test_rule:
        sim.native_world.set_forwards(ro.test_rule, {ro.production_tg: 100, ro.alternate_tg: 0})
    for h in ro.awaiting():
        h.status = FAILED
    _stop_tasks(sim, svc, ro.deployment, now)
    ro.active = False


# ---- the loop ---------------------------------------------------------------------------------------


def schedule(sim: EcsSim, svc: Service, now: float) -> bool:
    """One scheduling pass of a service with an ECS-native deployment in progress."""
    ro = svc.native
    assert ro is not None
    moved = False
    if ro.rolling_back:
        return _finish_rollback(sim, svc, ro, now)
    moved |= _launch(sim, svc, ro.deployment, now)
    if ro.source is not None and not ro.cleaned:
        moved |= _launch(sim, svc, ro.source, now)  # replacements of old tasks that failed meanwhile
    if _check_alarms(sim, svc, ro, now):
        return True
    for _ in range(len(ro.plan) + 1):
        if not ro.active or ro.rolling_back:
            return True
        step = _step(sim, svc, ro, now)
        if not step:
            break
        moved = True
    return moved


def _launch(sim: EcsSim, svc: Service, dep: Deployment, now: float) -> bool:
    """Keep the new revision at its desired count (blue/green runs both revisions at full size)."""
    mine = [t for t in svc.live_tasks() if t.deployment_id == dep.id]
    need = dep.desired_count - len(mine)
    if need <= 0 or now < svc.next_launch_at or svc.placement_error:
        return False
    sim._start_service_tasks(svc, dep, need, now)
    return True


def _capacity_provider(strategy: tuple[dict[str, Any], ...]) -> str | None:
    if not strategy:
        return None
    best = max(strategy, key=lambda s: (int(s.get("base", 0) or 0), int(s.get("weight", 0) or 0)))
    return str(best.get("capacityProvider"))


def _check_alarms(sim: EcsSim, svc: Service, ro: Rollout, now: float) -> bool:
    for name in ro.alarms:
        state = sim.native_world.alarm_state(name, svc.account, svc.region)
        if state == "ALARM" and ro.alarm_baseline.get(name) != "ALARM":
            ro.triggered_alarms = [name]
            roll_back(sim, svc, now, f"Service deployment rolled back because the CloudWatch alarm(s) {name} "
                                     f"went into ALARM.")
            return True
        if state != "ALARM":
            ro.alarm_baseline[name] = state
    return False


def _step(sim: EcsSim, svc: Service, ro: Rollout, now: float) -> bool:
    """Advance the current stage; True when something moved."""
    if ro.index >= len(ro.plan):
        return False
    stage, weight, wait = ro.plan[ro.index]
    if ro.entered != ro.index:
        ro.entered = ro.index
        ro.stage_at = now
        _enter(sim, svc, ro, stage, weight, now)
        return True
    pending = ro.awaiting()
    if pending:
        for h in pending:
            if h.expires_at is not None and now >= h.expires_at:
                h.status = TIMED_OUT
                sim._emit(svc, h.expires_at, f"(service {svc.name}) lifecycle hook {h.id} at {stage} timed out; "
                                             f"timeout action {h.timeout_action}.")
                if h.timeout_action == "ROLLBACK":
                    roll_back(sim, svc, now, f"Service deployment rolled back because the lifecycle hook {h.id} "
                                             f"at {stage} timed out.")
                    return True
        if ro.awaiting():
            return False
    if stage == "SCALE_UP" and not _scaled_up(sim, svc, ro):
        return False
    if stage == "CLEAN_UP":
        return _clean_up(sim, svc, ro, now)
    if wait > 0 and now < ro.stage_at + sim.timing.aws(wait):
        return False
    ro.index += 1
    return True


def _enter(sim: EcsSim, svc: Service, ro: Rollout, stage: str, weight: float | None, now: float) -> None:
    ro.record.updated_at = now
    if stage == "TEST_TRAFFIC_SHIFT" and ro.test_rule:
        sim.native_world.set_forwards(ro.test_rule, {ro.production_tg: 0, ro.alternate_tg: 100})
        ro.test_weight = 100.0
    if stage == "PRODUCTION_TRAFFIC_SHIFT" and weight is not None:
        alt = round(weight)
        if not sim.native_world.set_forwards(ro.production_rule, {ro.production_tg: 100 - alt, ro.alternate_tg: alt}):
            roll_back(sim, svc, now, f"Service deployment rolled back because the production listener rule "
                                     f"{ro.production_rule} could not be modified.")
            return
        ro.weight = weight
        sim._emit(svc, now, f"(service {svc.name}) shifted {weight:g}% of production traffic to "
                            f"(target-group {ro.alternate_tg}).")
    if stage in HOOK_STAGES:
        for cfg in ro.hooks_config:
            if stage not in (cfg.get("lifecycleStages") or []):
                continue
            kind = cfg.get("targetType") or "AWS_LAMBDA"
            timeout = cfg.get("timeoutConfiguration") or {}
            minutes = float(timeout.get("timeoutInMinutes") or HOOK_DEFAULT_TIMEOUT_MINUTES)
            hook = Hook(id=_hook_id(sim, kind), stage=stage, target_type=kind,
                        status=AWAITING if kind == "PAUSE" else SUCCEEDED, started_at=now,
                        expires_at=now + minutes * 60.0 * sim.timing.lifecycle_hook_scale,
                        timeout_action=str(timeout.get("action") or "ROLLBACK"),
                        target_arn=cfg.get("hookTargetArn") if kind != "PAUSE" else None)
            ro.hooks.append(hook)
            if kind == "PAUSE":
                sim._emit(svc, now, f"(service {svc.name}) service deployment "
                                    f"{ro.record.arn.rsplit('/', 1)[-1]} is awaiting action at lifecycle stage "
                                    f"{stage} (hook {hook.id}).")


def _hook_id(sim: EcsSim, kind: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    tail = "".join(sim.rng.choice(alphabet) for _ in range(43))
    return f"ecs-{'pause' if kind == 'PAUSE' else 'lambda'}-{tail}"


def _scaled_up(sim: EcsSim, svc: Service, ro: Rollout) -> bool:
    dep = ro.deployment
    mine = [t for t in svc.live_tasks() if t.deployment_id == dep.id]
    return len(mine) >= dep.desired_count and all(sim._healthy(t) for t in mine)


def _clean_up(sim: EcsSim, svc: Service, ro: Rollout, now: float) -> bool:
    """The old revision's tasks drain and stop; then the deployment is SUCCESSFUL."""
    moved = False
    if not ro.cleaned:
        ro.cleaned = True
        for d in list(svc.deployments):
            if d is not ro.deployment:
                _stop_tasks(sim, svc, d, now)
        moved = True
    if any(t.last_status != "STOPPED" for d in svc.deployments if d is not ro.deployment
           for t in svc.tasks_of(d.id)):
        return moved
    dep = ro.deployment
    for d in list(svc.deployments):
        if d is not dep:
            d.status = "INACTIVE"
            d.updated_at = now
            svc.deployments.remove(d)
    dep.rollout_state = "COMPLETED"
    dep.rollout_state_reason = f"ECS deployment {dep.id} completed."
    dep.updated_at = now
    svc.last_completed = dep.id
    record = ro.record
    record.status = "SUCCESSFUL"
    record.finished_at = record.updated_at = now
    if record.breaker_status == "MONITORING":
        record.breaker_status = "MONITORING_COMPLETE"
    ro.index = len(ro.plan) - 1
    ro.active = False
    sim._emit(svc, now, f"(service {svc.name}) (deployment {dep.id}) deployment completed.")
    return True


def _stop_tasks(sim: EcsSim, svc: Service, dep: Deployment, now: float) -> None:
    dep.desired_count = 0
    dep.updated_at = now
    for task in svc.tasks_of(dep.id):
        sim._request_stop(task, now, "ServiceSchedulerInitiated", f"Scaling activity initiated by (deployment "
                                                                  f"{dep.id})", scheduler=True)


# ---- rollback -------------------------------------------------------------------------------------------


def roll_back(sim: EcsSim, svc: Service, now: float, reason: str, *, hook_status: str = FAILED) -> None:
    """Production (and test) traffic back on the source revision at once; the new tasks go."""
    ro = svc.native
    assert ro is not None
    if ro.rolling_back or not ro.active:
        return
    ro.rolling_back = True
    for h in ro.awaiting():
        h.status = hook_status
    record = ro.record
    restored = sim.native_world.set_forwards(ro.production_rule, {ro.production_tg: 100, ro.alternate_tg: 0})
    if ro.test_rule:
        sim.native_world.set_forwards(ro.test_rule, {ro.production_tg: 100, ro.alternate_tg: 0})
    ro.weight = 0.0
    ro.test_weight = 0.0
    record.status = "ROLLBACK_IN_PROGRESS" if restored else "ROLLBACK_FAILED"
    record.status_reason = reason
    record.updated_at = now
    record.rollback = {"reason": reason, "startedAt": now,
                       "serviceRevisionArn": ro.source.revision_arn if ro.source else record.target_revision_arn}
    dep = ro.deployment
    dep.rollout_state = "FAILED"
    dep.rollout_state_reason = reason
    dep.updated_at = now
    if ro.source is not None and ro.source in svc.deployments:
        svc.deployments.remove(ro.source)
        svc.deployments.insert(0, ro.source)
        ro.source.status = "PRIMARY"
        ro.source.updated_at = now
        dep.status = "ACTIVE"
    sim._emit(svc, now, f"(service {svc.name}) rolling back service deployment "
                        f"{record.arn.rsplit('/', 1)[-1]}: {reason}")
    if not restored:
        record.finished_at = now
        ro.active = False
        return
    _stop_tasks(sim, svc, dep, now)


def _finish_rollback(sim: EcsSim, svc: Service, ro: Rollout, now: float) -> bool:
    dep = ro.deployment
    if any(t.last_status != "STOPPED" for t in svc.tasks_of(dep.id)):
        return False
    if dep in svc.deployments:
        svc.deployments.remove(dep)
        dep.status = "INACTIVE"
    record = ro.record
    record.status = "ROLLBACK_SUCCESSFUL"
    record.finished_at = record.updated_at = now
    ro.active = False
    if ro.source is not None:
        svc.last_completed = ro.source.id
    sim._emit(svc, now, f"(service {svc.name}) service deployment {record.arn.rsplit('/', 1)[-1]} rolled back to "
                        f"(service-revision {(record.rollback or {}).get('serviceRevisionArn', '')}).")
    return True


def breaker(sim: EcsSim, svc: Service, dep: Deployment, at: float, reason: str) -> bool:
    """The circuit breaker tripped on the new revision: an ECS-native deployment rolls back (True when
    this module handled it)."""
    ro = svc.native
    if ro is None or not ro.active or dep is not ro.deployment:
        return False
    ro.record.breaker_status = "TRIGGERED"
    if svc.deployment_config.rollback:
        roll_back(sim, svc, at, reason)
    else:
        ro.record.status = "STOPPED"
        ro.record.status_reason = reason
        ro.record.stopped_at = ro.record.finished_at = at
        ro.active = False
    return True


def stop(sim: EcsSim, svc: Service, now: float, reason: str) -> None:
    """``StopServiceDeployment`` ROLLBACK of the deployment in progress."""
    ro = svc.native
    if ro is None or not ro.active or ro.rolling_back:
        raise ValueError("the service deployment is not in progress")
    roll_back(sim, svc, now, reason)


def continue_deployment(sim: EcsSim, record: ServiceDeploymentRecord, hook_id: str, action: str, now: float) -> None:
    """``ContinueServiceDeployment``; :class:`NativeError` for what ECS refuses."""
    ro = record.lifecycle
    if not isinstance(ro, Rollout):
        raise NativeError(f"The service deployment {record.arn} has no lifecycle hooks to continue.")
    svc = sim.services[record.service_arn]
    sim.advance(now)  # a hook that expired before this call is TIMED_OUT, not continued
    hook = next((h for h in ro.hooks if h.id == hook_id), None)
    if hook is None:
        raise NativeError(f"The hook {hook_id} was not found for the service deployment {record.arn}.")
    if hook.status != AWAITING or not ro.active or ro.rolling_back:
        raise NativeError(f"The hook {hook_id} is not in AWAITING_ACTION status (status {hook.status}; service "
                          f"deployment {record.status}).")
    if action not in ("CONTINUE", "ROLLBACK"):
        raise NativeError(f"Invalid action {action!r}: CONTINUE or ROLLBACK.")
    hook.status = SUCCEEDED
    if action == "ROLLBACK":
        roll_back(sim, svc, now, f"Service deployment rolled back by ContinueServiceDeployment at {hook.stage}.",
                  hook_status=SUCCEEDED)
    sim.advance(now)


def view(sim: EcsSim, record: ServiceDeploymentRecord) -> dict[str, Any]:
    """The ECS-native fields of ``DescribeServiceDeployments``."""
    ro = record.lifecycle
    if not isinstance(ro, Rollout):
        return {}
    stage = ro.stage
    shown = [h.view(sim.wall) for h in ro.hooks if h.stage == stage or h.status in (AWAITING, TIMED_OUT)]
    out: dict[str, Any] = {"lifecycleStage": stage, "lifecycleHookDetails": shown}
    alarms = ro.triggered_alarms
    if ro.alarms:
        out["alarms"] = {"status": "TRIGGERED" if alarms else ("MONITORING" if ro.active else "MONITORING_COMPLETE"),
                         "alarmNames": list(ro.alarms), **({"triggeredAlarmNames": alarms} if alarms else {})}
    return out


def revision_weights(record: ServiceDeploymentRecord) -> tuple[float, float] | None:
    """(production, test) traffic weights requested for the target revision, or None (not native)."""
    ro = record.lifecycle
    if not isinstance(ro, Rollout):
        return None
    return ro.weight, ro.test_weight


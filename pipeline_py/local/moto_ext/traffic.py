"""Traffic: :mod:`pipeline_py.local.traffic_sim` fed from moto's listeners and the simulated target
health, publishing ALB metrics into the CloudWatch stores; the ``traffic`` control route."""


from __future__ import annotations

import logging
import math
import random
from typing import TYPE_CHECKING, Any

from pipeline_py.local.elb_sim import HEALTHY, UNAVAILABLE, UNHEALTHY, Target
from pipeline_py.local.moto_ext.cloudwatch import _backends
from pipeline_py.local.traffic_sim import Backend, Behaviour, Group, Route, Topology, TrafficSim

if TYPE_CHECKING:
    from pipeline_py.local.moto_ext.fidelity import Fidelity

log = logging.getLogger("pipeline_py.local")




# moto internals used here (pinned in tests/unit/moto_pins/):
#   moto.elbv2.models.elbv2_backends; ELBv2Backend: load_balancers, target_groups,
#     tagging_service.get_tag_dict_for_resource
#   FakeLoadBalancer: arn, name, type, listeners; FakeListener: arn, port, default_actions, rules;
#   FakeRule/FakeListenerRule: arn, actions, is_default; FakeAction.data (Type, TargetGroupArn,
#   ForwardConfig.TargetGroups[].TargetGroupArn/Weight)

RATE_TAG = "pipeline-py:traffic-rate"


def forward_groups(actions: list[Any]) -> tuple[tuple[str, int], ...]:
    """(target group ARN, weight) of the forward action among ``actions`` (moto FakeActions or dicts)."""
    for action in actions or ():
        data = getattr(action, "data", action) or {}
        if data.get("Type") != "forward":
            continue
        groups = (data.get("ForwardConfig") or {}).get("TargetGroups") or []
        if groups:
            return tuple((g["TargetGroupArn"], int(g.get("Weight", 1) or 0)) for g in groups)
        if data.get("TargetGroupArn"):
            return ((data["TargetGroupArn"], 1),)
    return ()


def _rate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isinf(value):
        raise ValueError(f"traffic: {where} must be a number of requests per second >= 0 (got {value!r})")
    return float(value)


class TrafficWorld:
    """The traffic model fed from moto's listeners and the simulated targets (a ticker)."""

    def __init__(self, fid: Fidelity) -> None:
        self.fid = fid
        self.sim = TrafficSim(fid.metrics.sink)
        self.rate: float | None = None
        self.overrides: dict[str, float] = {}
        # off while the real data plane (moto_ext.dataplane) carries real requests through real listeners
        self.enabled = True

    @property
    def default_rate(self) -> float:
        return self.rate if self.rate is not None else self.fid.timing.traffic_rate

    def tick(self, now: float) -> None:
        if not self.enabled:
            self.sim.last = None  # when switched back on, no traffic is invented for the gap
            return
        self.sim.advance(self.fid.wall_seconds(), self.topology())

    def reset(self) -> None:
        self.sim.reset()
        self.rate = None
        self.overrides.clear()

    def _rate_for(self, backend: Any, lb: Any, listener: Any, rule: Any | None) -> float:
        keys = [rule.arn] if rule is not None else []
        keys += [listener.arn, f"{lb.name}:{listener.port}", lb.arn, lb.name]
        for key in keys:
            if key in self.overrides:
                return self.overrides[key]
        for arn in ([rule.arn] if rule is not None else []) + [listener.arn, lb.arn]:
            try:
                tag = backend.tagging_service.get_tag_dict_for_resource(arn).get(RATE_TAG)
            except Exception:
                tag = None
            if tag is not None:
                try:
                    return max(float(tag), 0.0)
                except ValueError:
                    log.warning("ignoring %s=%r on %s: not a number", RATE_TAG, tag, arn)
        return self.default_rate

    def topology(self) -> Topology:
        from moto.elbv2.models import elbv2_backends

        routes: list[Route] = []
        groups: dict[str, Group] = {}
        for _, _, backend in _backends(elbv2_backends):
            for lb in list(backend.load_balancers.values()):
                if (getattr(lb, "type", "application") or "application") != "application":
                    continue
                for listener in list(lb.listeners.values()):
                    candidates = [(listener.arn, listener.default_actions, None)]
                    candidates += [(rule.arn, rule.actions, rule) for rule in list(listener.rules.values())
                                   if not rule.is_default]
                    for key, actions, rule in candidates:
                        forwards = forward_groups(actions)
                        if not forwards:
                            continue
                        label = f"{lb.name}:{listener.port}" + (f" rule {rule.priority}" if rule is not None else "")
                        routes.append(Route(key, lb.arn, self._rate_for(backend, lb, listener, rule), forwards, label))
                        for tg, _ in forwards:
                            if tg not in groups:
                                groups[tg] = self._group(tg)
        return Topology(tuple(routes), groups)

    def _group(self, arn: str) -> Group:
        healthy, unhealthy = [], []
        for target in self.fid.elb.in_group(arn):
            if target.state in (HEALTHY, UNAVAILABLE):
                healthy.append(Backend("|".join(map(str, target.key)), self._behaviour(target)))
            elif target.state == UNHEALTHY:
                unhealthy.append(Backend("|".join(map(str, target.key)), self._behaviour(target)))
        return Group(arn, tuple(healthy), tuple(unhealthy))

    def _behaviour(self, target: Target) -> Behaviour | None:
        if target.owner is None:
            return Behaviour()
        task = self.fid.ecs.find_task(target.owner)
        if task is None:
            return Behaviour()
        if task.last_status != "RUNNING":
            return None
        return Behaviour.from_scenario(task.scenario)

    def route(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method in ("POST", "PUT"):
            if not isinstance(payload, dict) or set(payload) - {"rate", "listeners", "noise_seed"}:
                raise ValueError("traffic: expected {\"rate\": N, \"listeners\": {\"<listener/rule/LB ARN, LB name "
                                 "or name:port>\": N}, \"noise_seed\": S or null}")
            if "noise_seed" in payload:
                seed = payload["noise_seed"]
                if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
                    raise ValueError("traffic: noise_seed must be a whole number (binomial errors) or null")
                self.sim.rng = None if seed is None else random.Random(seed)
            rate = _rate(payload["rate"], "rate") if payload.get("rate") is not None else None
            listeners = payload.get("listeners") or {}
            if not isinstance(listeners, dict):
                raise ValueError("traffic: listeners must be an object")
            changes = {str(k): (None if v is None else _rate(v, f"listeners[{k!r}]")) for k, v in listeners.items()}
            self.fid.advance_metrics()
            if method == "PUT":
                self.rate, self.overrides = rate, {}
            elif "rate" in payload:
                self.rate = rate
            for k, v in changes.items():
                if v is None:
                    self.overrides.pop(k, None)
                else:
                    self.overrides[k] = v
        elif method == "DELETE":
            self.fid.advance_metrics()
            self.rate, self.overrides = None, {}
        elif method != "GET":
            raise ValueError(f"traffic: method {method} not allowed (GET, POST merges, PUT replaces, DELETE resets)")
        return self.status()["traffic"]

    def status(self) -> dict[str, Any]:
        topology = self.topology()
        routes = [{"route": r.label, "arn": r.key, "rate": r.rate,
                   "weights": {tg.rsplit(":", 1)[-1]: w for tg, w in r.forwards}} for r in topology.routes]
        return {"traffic": {"rate": self.default_rate, "overrides": dict(self.overrides), "routes": routes,
                            "published_through": self.sim.published or None}}

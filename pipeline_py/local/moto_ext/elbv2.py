"""ELBv2: target health from :mod:`pipeline_py.local.elb_sim`."""


from __future__ import annotations

import logging
from typing import Any

from pipeline_py.local.elb_sim import DRAINING
from pipeline_py.local.moto_ext.core import current, original_of, patch_moto

log = logging.getLogger("pipeline_py.local")




# moto internals used here (pinned in tests/unit/moto_pins/):
#   moto.elbv2.responses.ELBV2Response: elbv2_backend, _get_param and the actions
#     describe_target_health, register_targets, deregister_targets
#   ELBv2Backend: target_groups, load_balancers, describe_target_health
#   FakeTargetGroup: targets, deregistered_targets, attributes, port, protocol, target_type,
#     health_check_* / *_threshold_count, load_balancer_arns, deregister
#   FakeLoadBalancer.listeners; FakeListener: default_actions, rules; FakeRule.actions; FakeAction.data
#   FakeHealthStatus: instance_id, port, health_check_port, status, reason, description
#   moto.elbv2.exceptions: TargetGroupNotFoundError, InvalidTargetError
#   ELBv2Backend.create_load_balancer(..., scheme=) and FakeAction.__init__(data) (wrapped: the members AWS
#     always returns); FakeHealthStatus.reason "Target.InvalidState" for an instance target whose EC2 instance
#     is stopped; FakeTargetGroup.targets losing a terminated instance (ELBv2Backend.notify_terminate_instances)


def install() -> None:
    from moto.elbv2.responses import ELBV2Response as R

    patch_moto(R, "describe_target_health", _elb_describe_target_health)
    patch_moto(R, "register_targets", _elb_register_targets)
    patch_moto(R, "deregister_targets", _elb_deregister_targets)
    from moto.elbv2.models import ELBv2Backend, FakeAction

    patch_moto(ELBv2Backend, "create_load_balancer", _elb_create_load_balancer)
    patch_moto(FakeAction, "__init__", _elb_action_init)


def _elb_create_load_balancer(self: Any, *args: Any, **kwargs: Any) -> Any:
    """A load balancer created without ``Scheme`` is internet-facing (moto's answer had no Scheme)."""
    if kwargs.get("scheme") is None:
        kwargs["scheme"] = "internet-facing"
    from moto.elbv2.models import ELBv2Backend

    return original_of(ELBv2Backend, "create_load_balancer")(self, *args, **kwargs)


def _elb_action_init(self: Any, data: dict[str, Any]) -> None:
    """A forward action to one target group: ELB answers with its ForwardConfig too (that group at weight 1,
    stickiness off), as for a weighted forward."""
    if data.get("Type") == "forward" and data.get("TargetGroupArn") and "ForwardConfig" not in data:
        data = {**data, "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": data["TargetGroupArn"], "Weight": 1}]}}
    from moto.elbv2.models import FakeAction

    original_of(FakeAction, "__init__")(self, data)


def load_balancers_using(backend: Any, target_group_arn: str) -> set[str]:
    """Load balancers whose listeners (default actions or rules) forward to the target group."""
    found = set(getattr(backend.target_groups.get(target_group_arn), "load_balancer_arns", []) or [])
    for lb_arn, lb in backend.load_balancers.items():
        for listener in lb.listeners.values():
            actions = list(listener.default_actions)
            for rule in listener.rules.values():
                actions += list(rule.actions)
            for action in actions:
                data = getattr(action, "data", {}) or {}
                arns = {data.get("TargetGroupArn")}
                arns |= {tg.get("TargetGroupArn") for tg in (data.get("ForwardConfig") or {}).get("TargetGroups", [])}
                if target_group_arn in arns:
                    found.add(lb_arn)
    return found


def _moto_health(h: Any) -> dict[str, Any]:
    health = {k: v for k, v in (("State", h.status), ("Reason", h.reason), ("Description", h.description)) if v}
    out: dict[str, Any] = {"Target": {"Id": h.instance_id, "Port": int(h.port)}, "TargetHealth": health}
    if h.health_check_port:
        out["HealthCheckPort"] = str(h.health_check_port) if h.health_check_port != "traffic-port" else str(h.port)
    return out


def _elb_describe_target_health(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.elbv2.exceptions import TargetGroupNotFoundError

    fid = current()
    with fid.lock:
        arn = self._get_param("TargetGroupArn")
        backend = self.elbv2_backend
        tg = backend.target_groups.get(arn)
        if tg is None:
            raise TargetGroupNotFoundError()
        now = fid.now()
        fid.ecs.advance(now)
        out = []
        for h in backend.describe_target_health(arn, self._get_param("Targets", [])):
            sim = fid.elb.get(arn, h.instance_id, int(h.port))
            if sim is not None and h.instance_id not in tg.targets and sim.state != DRAINING:
                # moto dropped the registration behind our back: EC2 terminated the instance. ELB deregisters
                # a terminated instance, which drains for the deregistration delay.
                config = fid.world.target_group(arn)
                sim = fid.elb.deregister(arn, h.instance_id, int(h.port), now,
                                         config.deregistration_delay if config else 0.0)
            if h.reason == "Target.InvalidState":
                # an instance target whose EC2 instance is stopped: unused, "Target is in the stopped state"
                out.append(_moto_health(h))
            else:
                out.append(sim.describe(tg.health_check_port) if sim is not None else _moto_health(h))
        return ActionResult({"TargetHealthDescriptions": out})


def _elb_register_targets(self: Any) -> Any:
    fid = current()
    with fid.lock:
        result = original_of(type(self), "register_targets")(self)
        arn = self._get_param("TargetGroupArn")
        config = fid.world.target_group(arn)
        if config is not None:
            now = fid.now()
            for target in self._get_param("Targets", []):
                port = int(target.get("Port") or config.port or 80)
                fid.elb.register(config, target["Id"], port, now, availability_zone=target.get("AvailabilityZone"))
        return result


def _elb_deregister_targets(self: Any) -> Any:
    from moto.core.responses import EmptyResult
    from moto.elbv2.exceptions import InvalidTargetError, TargetGroupNotFoundError

    fid = current()
    with fid.lock:
        arn = self._get_param("TargetGroupArn")
        targets = self._get_param("Targets", [])
        tg = self.elbv2_backend.target_groups.get(arn)
        if tg is None:
            raise TargetGroupNotFoundError()
        if any(t["Id"] not in tg.targets for t in targets):
            raise InvalidTargetError()
        config = fid.world.target_group(arn)
        now = fid.now()
        for target in targets:
            port = int(target.get("Port") or tg.targets[target["Id"]].get("Port") or tg.port)
            if fid.elb.get(arn, target["Id"], port) is not None:
                fid.elb.deregister(arn, target["Id"], port, now, config.deregistration_delay if config else 0.0)
            else:
                tg.deregister([target])
        return EmptyResult()

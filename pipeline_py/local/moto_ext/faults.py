"""Faults: the ``faults`` control route and the wrappers that obey it."""


from __future__ import annotations

import copy
import logging
from typing import Any

from pipeline_py.local.moto_ext.core import current, original_of, patch_moto

log = logging.getLogger("pipeline_py.local")




# moto internals used here (pinned in tests/unit/moto_pins/):
#   moto.elbv2.responses.ELBV2Response: modify_listener, modify_rule (wrapped)
#   ELBv2Backend.describe_listeners(load_balancer_arn, listener_arns), describe_rules(listener_arn,
#   rule_arns); FakeListener.default_actions/rules; FakeRule.actions/is_default

FAULTS = {
    "elbv2.ignore_weight_changes": "the next N ModifyListener/ModifyRule calls that set a weighted forward "
                                   "action answer 200 but the listener/rule keeps its previous actions",
}


class Faults:
    """Failures injected on purpose, so that clients' defences can be tested end to end."""

    def __init__(self) -> None:
        self.active: dict[str, int] = {}

    def clear(self) -> None:
        self.active.clear()

    def consume(self, name: str) -> bool:
        left = self.active.get(name, 0)
        if left <= 0:
            return False
        if left == 1:
            del self.active[name]
        else:
            self.active[name] = left - 1
        return True

    def route(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method in ("POST", "PUT"):
            if not isinstance(payload, dict):
                raise ValueError("faults: expected a JSON object {\"<fault>\": N}")
            for name, count in payload.items():
                if name not in FAULTS:
                    raise ValueError(f"faults: unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise ValueError(f"faults: {name} must be a whole number >= 0 (got {count!r})")
            if method == "PUT":
                self.active.clear()
            for name, count in payload.items():
                if count:
                    self.active[name] = count
                else:
                    self.active.pop(name, None)
        elif method == "DELETE":
            self.active.clear()
        elif method != "GET":
            raise ValueError(f"faults: method {method} not allowed (GET, POST merges, PUT replaces, DELETE clears)")
        return {"faults": dict(self.active), "known": dict(FAULTS)}


def install() -> None:
    from moto.elbv2.responses import ELBV2Response as R

    patch_moto(R, "modify_listener", _elb_modify_listener)
    patch_moto(R, "modify_rule", _elb_modify_rule)


def _sets_weights(actions: list[dict[str, Any]]) -> bool:
    return any(a.get("Type") == "forward" and (a.get("ForwardConfig") or {}).get("TargetGroups")
               for a in actions or [])


def _elb_modify_listener(self: Any) -> Any:
    fid = current()
    with fid.lock:
        fid.advance_metrics()
        original = original_of(type(self), "modify_listener")
        if not (_sets_weights(self._get_param("DefaultActions", []))
                and fid.faults.consume("elbv2.ignore_weight_changes")):
            return original(self)
        listener = self.elbv2_backend.describe_listeners(None, [self._get_param("ListenerArn")])[0]
        default_rule = next((r for r in listener.rules.values() if r.is_default), None)
        kept = (listener.default_actions, default_rule.actions if default_rule is not None else None)
        result = original(self)
        shown = copy.copy(listener)
        listener.default_actions = kept[0]
        if default_rule is not None:
            default_rule.actions = kept[1]
        result.result["Listeners"] = [shown]
        log.info("fault elbv2.ignore_weight_changes: ModifyListener %s accepted but not applied", listener.arn)
        return result


def _elb_modify_rule(self: Any) -> Any:
    fid = current()
    with fid.lock:
        fid.advance_metrics()
        original = original_of(type(self), "modify_rule")
        if not (_sets_weights(self._get_param("Actions", []))
                and fid.faults.consume("elbv2.ignore_weight_changes")):
            return original(self)
        rules = self.elbv2_backend.describe_rules(None, [self._get_param("RuleArn")])
        kept = rules[0].actions if rules else None
        result = original(self)
        if rules:
            shown = copy.copy(rules[0])
            rules[0].actions = kept
            result.result["Rules"] = [shown]
            log.info("fault elbv2.ignore_weight_changes: ModifyRule %s accepted but not applied", rules[0].arn)
        return result

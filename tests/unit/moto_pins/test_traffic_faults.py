"""moto internals the traffic and faults modules (pipeline_py.local.moto_ext.traffic, .faults) read.

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server).
"""

from __future__ import annotations

import inspect

from pipeline_py.local import moto_ext
from pipeline_py.local.moto_ext import traffic as moto_traffic
from tests.unit.moto_pins._helpers import elbv2_with_subnet, original


def test_elbv2_listener_rule_and_tag_shapes_for_traffic_and_faults() -> None:
    from moto.elbv2.models import elbv2_backends

    backend, vpc, subnet = elbv2_with_subnet("000000000044", 7)
    blue = backend.create_target_group("blue", vpc_id=vpc.id, protocol="HTTP", port=80, target_type="ip")
    green = backend.create_target_group("green", vpc_id=vpc.id, protocol="HTTP", port=80, target_type="ip")
    lb = backend.create_load_balancer("web", security_groups=[], subnet_ids=[subnet.id])
    assert lb.type == "application" and lb.name == "web"
    weighted = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": blue.arn, "Weight": 90}, {"TargetGroupArn": green.arn}]}}]
    listener = backend.create_listener(lb.arn, "HTTP", 80, None, None, weighted)
    assert lb.listeners[listener.arn] is listener and int(listener.port) == 80
    assert moto_traffic.forward_groups(listener.default_actions) == ((blue.arn, 90), (green.arn, 1))
    assert moto_traffic.forward_groups([{"Type": "forward", "TargetGroupArn": blue.arn}]) == ((blue.arn, 1),)
    [default_rule] = [r for r in listener.rules.values() if r.is_default]
    assert default_rule.actions is listener.default_actions
    rule = backend.create_rule(listener.arn, [{"Field": "path-pattern", "Values": ["/api/*"]}], 10,
                               [{"Type": "forward", "TargetGroupArn": green.arn}])
    assert not rule.is_default and rule.priority == 10 and listener.rules[rule.arn] is rule
    assert backend.describe_listeners(None, [listener.arn]) == [listener]
    assert backend.describe_rules(None, [rule.arn]) == [rule]
    # moto replaces the action lists (the fault wrapper restores the previous ones by reference)
    before = listener.default_actions
    backend.modify_listener(listener.arn, actions=[{"Type": "forward", "TargetGroupArn": green.arn}])
    assert listener.default_actions is not before and default_rule.actions is listener.default_actions
    before_rule = rule.actions
    backend.modify_rule(rule.arn, [], [{"Type": "forward", "TargetGroupArn": blue.arn}])
    assert rule.actions is not before_rule
    backend.add_tags([listener.arn], [{"Key": moto_traffic.RATE_TAG, "Value": "0"}])
    assert backend.tagging_service.get_tag_dict_for_resource(listener.arn) == {moto_traffic.RATE_TAG: "0"}
    assert isinstance(elbv2_backends, dict)


def test_elbv2_modify_responses_read_their_parameters() -> None:
    from moto.elbv2.responses import ELBV2Response

    moto_ext.install()
    listener_src = inspect.getsource(original(ELBV2Response, "modify_listener"))
    rule_src = inspect.getsource(original(ELBV2Response, "modify_rule"))
    assert '"DefaultActions"' in listener_src and '"ListenerArn"' in listener_src and '"Listeners"' in listener_src
    assert '"Actions"' in rule_src and '"RuleArn"' in rule_src and '"Rules"' in rule_src

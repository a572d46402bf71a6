"""moto internals the real data plane (pipeline_py.local.moto_ext.dataplane) reads to drive HAProxy from
ELBv2 state. Fail loudly when moto changes: every internal is exercised on fresh in-memory backends."""

from __future__ import annotations

from pipeline_py.local.haproxy import Condition
from pipeline_py.local.moto_ext import dataplane
from pipeline_py.local.moto_ext.traffic import forward_groups
from tests.unit.moto_pins._helpers import elbv2_with_subnet


def test_listener_rule_action_and_target_group_shapes() -> None:
    from moto.elbv2.models import elbv2_backends

    backend, vpc, subnet = elbv2_with_subnet("000000000045", 8)
    tg = backend.create_target_group("app", vpc_id=vpc.id, protocol="HTTP", port=8080, target_type="ip",
                                     healthcheck_path="/health", healthcheck_timeout_seconds=4,
                                     matcher={"HttpCode": "200-299"})
    assert (tg.health_check_path, tg.health_check_timeout_seconds, tg.health_check_protocol) == ("/health", 4, "HTTP")
    assert tg.matcher == {"HttpCode": "200-299"} and tg.attributes["deregistration_delay.timeout_seconds"] == 300
    lb = backend.create_load_balancer("web", security_groups=[], subnet_ids=[subnet.id])
    assert (lb.type, lb.name) == ("application", "web") and backend.load_balancers[lb.arn] is lb
    fixed = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain",
                                                                "MessageBody": "none"}}]
    listener = backend.create_listener(lb.arn, "HTTP", 80, None, None, fixed)
    assert (listener.protocol, int(listener.port)) == ("HTTP", 80) and lb.listeners[listener.arn] is listener
    assert listener.default_actions[0].data["FixedResponseConfig"]["StatusCode"] == "404"
    conditions = [{"Field": "path-pattern", "Values": ["/api/*"]},
                  {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}}]
    rule = backend.create_rule(listener.arn, conditions, 5, [{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": tg.arn, "Weight": 3}]}}])
    assert rule.conditions == conditions and int(rule.priority) == 5 and not rule.is_default
    assert forward_groups(rule.actions) == ((tg.arn, 3),)
    assert dataplane._conditions(rule.conditions) == (Condition("path-pattern", ("/api/*",)),
                                                      Condition("host-header", ("*.example.com",)))
    assert dataplane._conditions([{"Field": "query-string", "QueryStringConfig": {"Values": [
        {"Key": "v", "Value": "2"}]}}, {"Field": "http-header", "HttpHeaderConfig": {
            "HttpHeaderName": "X-Canary", "Values": ["1"]}}]) == (
        Condition("query-string", ("v=2",)), Condition("http-header", ("1",), "X-Canary"))
    assert isinstance(elbv2_backends, dict)

"""moto internals the ELBv2 module (pipeline_py.local.moto_ext.elbv2) reads, calls or replaces.

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server).
"""

from __future__ import annotations

from pipeline_py.local.moto_ext import elbv2 as moto_elbv2
from tests.unit.moto_pins._helpers import elbv2_with_subnet


def test_elbv2_backend_shapes() -> None:
    from moto.elbv2 import exceptions

    backend, vpc, subnet = elbv2_with_subnet("000000000042", 9)
    tg = backend.create_target_group("tg", vpc_id=vpc.id, protocol="HTTP", port=8080, target_type="ip",
                                     healthcheck_interval_seconds=10, healthy_threshold_count=2)
    assert backend.target_groups[tg.arn] is tg
    for attr in ("targets", "deregistered_targets", "attributes", "port", "protocol", "target_type",
                 "health_check_enabled", "health_check_port", "health_check_interval_seconds",
                 "healthy_threshold_count", "unhealthy_threshold_count", "load_balancer_arns"):
        assert hasattr(tg, attr), attr
    assert tg.attributes["deregistration_delay.timeout_seconds"] == 300
    lb = backend.create_load_balancer("lb", security_groups=[], subnet_ids=[subnet.id])
    assert backend.load_balancers[lb.arn] is lb
    assert moto_elbv2.load_balancers_using(backend, tg.arn) == set()
    backend.create_listener(lb.arn, "HTTP", 80, None, None, [{"Type": "forward", "TargetGroupArn": tg.arn}])
    listener = next(iter(lb.listeners.values()))
    assert listener.default_actions[0].data["TargetGroupArn"] == tg.arn
    rules = list(listener.rules.values())  # the default rule is one of them
    assert rules and all(hasattr(rule, "actions") for rule in rules)
    assert [a.data["TargetGroupArn"] for rule in rules for a in rule.actions] == [tg.arn]
    assert moto_elbv2.load_balancers_using(backend, tg.arn) == {lb.arn}
    backend.register_targets(tg.arn, [{"Id": "10.9.1.10", "Port": 8080}])
    assert tg.targets["10.9.1.10"] == {"Id": "10.9.1.10", "Port": 8080}
    [health] = backend.describe_target_health(tg.arn, [])
    assert (health.instance_id, int(health.port), health.status) == ("10.9.1.10", 8080, "healthy")
    assert moto_elbv2._moto_health(health)["TargetHealth"] == {"State": "healthy"}
    tg.deregister([{"Id": "10.9.1.10"}])
    assert "10.9.1.10" in tg.deregistered_targets
    [gone] = backend.describe_target_health(tg.arn, [{"Id": "10.9.1.10", "Port": 8080}])
    assert (gone.status, gone.reason, gone.description) == ("unused", "Target.NotRegistered",
                                                            "Target is not registered to the target group")
    assert exceptions.TargetGroupNotFoundError and exceptions.InvalidTargetError

"""moto internals the ECS-native module (pipeline_py.local.moto_ext.ecs_native) reads, calls or replaces.

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server).
"""

from __future__ import annotations

import pytest

from pipeline_py.local import moto_ext
from pipeline_py.local.moto_ext import ecs_native as moto_native

ACCOUNT, REGION = "000000000043", "us-east-1"  # keep clear of the accounts the other tests use


def test_the_botocore_model_has_what_the_native_strategies_send() -> None:
    from moto.core.utils import get_service_model

    model = get_service_model("ecs")
    assert "ContinueServiceDeployment" in model.operation_names
    hook = model.shape_for("DeploymentLifecycleHook")
    assert {"targetType", "lifecycleStages", "timeoutConfiguration"} <= set(hook.members)
    assert hook.members["targetType"].enum == ["AWS_LAMBDA", "PAUSE"]
    assert set(model.shape_for("AdvancedConfiguration").members) == {
        "alternateTargetGroupArn", "productionListenerRule", "testListenerRule", "roleArn"}
    config = model.shape_for("DeploymentConfiguration").members
    assert {"strategy", "bakeTimeInMinutes", "linearConfiguration", "canaryConfiguration", "lifecycleHooks"} <= \
        set(config)


def test_listener_rules_are_rewritten_through_fake_actions() -> None:
    from moto.ec2.models import ec2_backends
    from moto.elbv2.models import FakeAction, elbv2_backends

    ec2 = ec2_backends[ACCOUNT][REGION]
    vpc = ec2.create_vpc("10.7.0.0/16")
    subnet = ec2.create_subnet(vpc.id, "10.7.1.0/24", availability_zone=f"{REGION}a")
    backend = elbv2_backends[ACCOUNT][REGION]
    a = backend.create_target_group("pin-a", vpc_id=vpc.id, protocol="HTTP", port=80, target_type="ip")
    b = backend.create_target_group("pin-b", vpc_id=vpc.id, protocol="HTTP", port=80, target_type="ip")
    lb = backend.create_load_balancer("pin-lb", security_groups=[], subnet_ids=[subnet.id])
    listener = backend.create_listener(lb.arn, "HTTP", 80, None, None, [{"Type": "fixed-response",
                                                                        "FixedResponseConfig": {"StatusCode": "404"}}])
    rule = backend.create_rule(listener.arn, [{"Field": "path-pattern", "Values": ["/*"]}], 10, [
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": a.arn, "Weight": 100},
                                                               {"TargetGroupArn": b.arn, "Weight": 0}]}}])
    assert lb.listeners[listener.arn] is listener and listener.rules[rule.arn] is rule
    assert isinstance(rule.actions[0], FakeAction) and rule.actions[0].data["Type"] == "forward"
    world = moto_native.MotoNativeWorld()
    assert world.forwards(rule.arn) == {a.arn: 100, b.arn: 0}
    assert world.set_forwards(rule.arn, {a.arn: 90, b.arn: 10})
    assert world.forwards(rule.arn) == {a.arn: 90, b.arn: 10}
    described = backend.describe_rules(None, [rule.arn])[0].actions[0].data["ForwardConfig"]
    assert described["TargetGroupStickinessConfig"] == {"Enabled": False}
    assert world.forwards(listener.arn) == {} and world.forwards(rule.arn + "0") is None


def test_alarm_states_and_aws_managed_policies() -> None:
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.iam.models import AWSManagedPolicy, IAMBackend

    moto_ext.install()
    cw = cloudwatch_backends[ACCOUNT][REGION]
    cw.put_metric_alarm("pin-alarm", namespace="N", metric_name="M", metric_data_queries=None,
                        comparison_operator="GreaterThanThreshold", evaluation_periods=1, datapoints_to_alarm=None,
                        period=60, threshold=1, statistic="Sum", extended_statistic=None, description=None,
                        dimensions=[], alarm_actions=[], ok_actions=[], insufficient_data_actions=[], unit=None,
                        actions_enabled=True, treat_missing_data=None, evaluate_low_sample_count_percentile=None,
                        threshold_metric_id=None, rule=None, tags=[])
    assert moto_native.MotoNativeWorld().alarm_state("pin-alarm", ACCOUNT, REGION) == cw.alarms["pin-alarm"].state_value
    assert "AmazonECSInfrastructureRolePolicyForLoadBalancers" in aws_managed_policies_data
    assert callable(AWSManagedPolicy.from_data)
    iam = IAMBackend(REGION, ACCOUNT)
    assert isinstance(iam.managed_policies, dict)
    iam.create_role("pin-role", "{}", "/", None, "", [], None)
    arn = "arn:aws:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers"
    iam.attach_role_policy(arn, "pin-role")  # loaded on demand (moto alone refuses: not loaded)
    assert arn in iam.managed_policies
    with pytest.raises(Exception, match="does not exist"):
        iam.attach_role_policy("arn:aws:iam::aws:policy/NotAPolicyAtAll", "pin-role")

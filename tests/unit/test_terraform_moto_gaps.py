"""What terraform-provider-aws needs from the local stack (moto_ext section 7), through boto3 on
moto's in-memory backends: the operations moto lacks, and attributes reported back as AWS does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from pipeline_py.local import moto_ext

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def aws_mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    moto_ext.install()
    for k in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


def client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


def ecs_service(**extra: Any) -> dict[str, Any]:
    ecs = client("ecs")
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="app", containerDefinitions=[{"name": "app", "image": "img", "memory": 64}])
    ecs.create_service(cluster="c", serviceName="api", taskDefinition="app", desiredCount=0, **extra)
    return ecs.describe_services(cluster="c", services=["api"])["services"][0]


def test_scalable_target_tags(aws_mock: None) -> None:
    ecs_service()
    aas = client("application-autoscaling")
    target = {"ServiceNamespace": "ecs", "ResourceId": "service/c/api", "ScalableDimension": "ecs:service:DesiredCount"}
    arn = aas.register_scalable_target(**target, MinCapacity=1, MaxCapacity=2,
                                       Tags={"Environment": "staging"})["ScalableTargetARN"]
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Environment": "staging"}
    aas.tag_resource(ResourceARN=arn, Tags={"Team": "a", "Environment": "prod"})
    aas.untag_resource(ResourceARN=arn, TagKeys=["Team"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Environment": "prod"}
    again = aas.register_scalable_target(**target, MinCapacity=0, MaxCapacity=0, Tags={"Other": "x"})
    assert again["ScalableTargetARN"] == arn
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"Environment": "prod"}, \
        "Tags apply when the target is created only"
    [described] = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (described["MinCapacity"], described["MaxCapacity"]) == (0, 0)
    aas.deregister_scalable_target(**target)
    with pytest.raises(ClientError) as exc:
        aas.list_tags_for_resource(ResourceARN=arn)
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


NOTIFICATION = {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0,
                "ThresholdType": "PERCENTAGE"}


def test_budget_subscribers_and_tags(aws_mock: None) -> None:
    budgets = client("budgets")
    subscribers = [{"SubscriptionType": "SNS", "Address": f"arn:aws:sns:{REGION}:{ACCOUNT}:alarms"},
                   {"SubscriptionType": "EMAIL", "Address": "ops@example.com"}]
    budgets.create_budget(
        AccountId=ACCOUNT,
        Budget={"BudgetName": "b", "BudgetLimit": {"Amount": "300.00", "Unit": "USD"}, "TimeUnit": "MONTHLY",
                "BudgetType": "COST"},
        NotificationsWithSubscribers=[{"Notification": NOTIFICATION, "Subscribers": subscribers}],
        ResourceTags=[{"Key": "Environment", "Value": "staging"}])
    [notification] = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName="b")["Notifications"]
    found = budgets.describe_subscribers_for_notification(AccountId=ACCOUNT, BudgetName="b",
                                                          Notification=notification)["Subscribers"]
    assert found == subscribers
    with pytest.raises(ClientError) as exc:
        budgets.describe_subscribers_for_notification(AccountId=ACCOUNT, BudgetName="b",
                                                      Notification={**NOTIFICATION, "Threshold": 90.0})
    assert exc.value.response["Error"]["Code"] == "NotFoundException"
    arn = f"arn:aws:budgets::{ACCOUNT}:budget/b"
    assert budgets.list_tags_for_resource(ResourceARN=arn)["ResourceTags"] == [{"Key": "Environment",
                                                                                 "Value": "staging"}]
    budgets.tag_resource(ResourceARN=arn, ResourceTags=[{"Key": "Team", "Value": "a"}])
    budgets.untag_resource(ResourceARN=arn, ResourceTagKeys=["Environment"])
    assert budgets.list_tags_for_resource(ResourceARN=arn)["ResourceTags"] == [{"Key": "Team", "Value": "a"}]
    with pytest.raises(ClientError) as exc:
        budgets.list_tags_for_resource(ResourceARN=f"arn:aws:budgets::{ACCOUNT}:budget/missing")
    assert exc.value.response["Error"]["Code"] == "NotFoundException"


def test_create_service_reports_back_managed_tags_and_az_rebalancing(aws_mock: None) -> None:
    created = ecs_service(enableECSManagedTags=True, availabilityZoneRebalancing="DISABLED")
    assert (created["enableECSManagedTags"], created["availabilityZoneRebalancing"]) == (True, "DISABLED")
    ecs = client("ecs")
    ecs.update_service(cluster="c", service="api", availabilityZoneRebalancing="ENABLED")
    updated = ecs.describe_services(cluster="c", services=["api"])["services"][0]
    assert (updated["enableECSManagedTags"], updated["availabilityZoneRebalancing"]) == (True, "ENABLED")


def test_db_parameters_set_by_the_user_have_source_user(aws_mock: None) -> None:
    rds = client("rds")
    rds.create_db_parameter_group(DBParameterGroupName="pg", DBParameterGroupFamily="postgres16", Description="d")
    rds.modify_db_parameter_group(DBParameterGroupName="pg", Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}])
    [param] = rds.describe_db_parameters(DBParameterGroupName="pg")["Parameters"]
    assert (param["ParameterName"], param["ParameterValue"], param["Source"]) == ("rds.force_ssl", "1", "user")
    assert rds.describe_db_parameters(DBParameterGroupName="pg", Source="user")["Parameters"] == [param]
    assert rds.describe_db_parameters(DBParameterGroupName="pg", Source="engine-default")["Parameters"] == []


def test_rules_referencing_a_group_keep_their_description(aws_mock: None) -> None:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    a, b = (ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in ("a", "b"))
    [rule] = ec2.authorize_security_group_ingress(GroupId=a, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "UserIdGroupPairs": [{"GroupId": b, "Description": "from b"}]}])["SecurityGroupRules"]
    assert rule["Description"] == "from b"
    [described] = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])[
        "SecurityGroupRules"]
    assert described["Description"] == "from b" and described["ReferencedGroupInfo"]["GroupId"] == b
    ec2.modify_security_group_rules(GroupId=a, SecurityGroupRules=[{
        "SecurityGroupRuleId": rule["SecurityGroupRuleId"],
        "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "ReferencedGroupId": b,
                              "Description": "from b, renamed"}}])
    [renamed] = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule["SecurityGroupRuleId"]])[
        "SecurityGroupRules"]
    assert renamed["Description"] == "from b, renamed"

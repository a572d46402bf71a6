"""What moto's own test suite found wrong with the local stack (issue 19), on the simulated tasks that suite
does not reach: cluster task counts, tags on simulated tasks, the EC2 launch type (placed by moto's model for
RunTask, refused for services), RunTask's parameter checks, stopped and terminated instance targets, and
Metrics Insights GROUP BY. Through boto3 against the in-process local stack."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import wait_for
from tests.integration.test_simulator import Infra, infra

__all__ = ["infra"]


def counts(i: Infra) -> tuple[int, int]:
    cluster = i.ecs.describe_clusters(clusters=[i.cluster])["clusters"][0]
    return cluster["runningTasksCount"], cluster["pendingTasksCount"]


def test_cluster_counts_the_simulated_tasks(infra: Infra) -> None:
    assert infra.control("timing", "POST", {"provisioning": 600}).ok
    [job] = infra.ecs.run_task(cluster="sim", taskDefinition=infra.taskdef(), launchType="FARGATE",
                               networkConfiguration=infra.network)["tasks"]
    assert counts(infra) == (0, 1)
    assert infra.control("timing", "POST", {"provisioning": 0.02}).ok
    infra.create_service(desired=2)
    wait_for(lambda: counts(infra) == (2, 1), what="two service tasks running, the job still provisioning")
    infra.ecs.stop_task(cluster="sim", task=job["taskArn"])
    wait_for(lambda: counts(infra) == (2, 0), what="the job gone from the counts")


def test_tags_of_a_simulated_task(infra: Infra) -> None:
    [task] = infra.ecs.run_task(cluster="sim", taskDefinition=infra.taskdef(), launchType="FARGATE",
                                networkConfiguration=infra.network, tags=[{"key": "k1", "value": "v1"}])["tasks"]
    arn = task["taskArn"]
    infra.ecs.tag_resource(resourceArn=arn, tags=[{"key": "k2", "value": "v2"}, {"key": "k1", "value": "new"}])
    assert sorted((t["key"], t["value"]) for t in infra.ecs.list_tags_for_resource(resourceArn=arn)["tags"]) == [
        ("k1", "new"), ("k2", "v2")]
    infra.ecs.untag_resource(resourceArn=arn, tagKeys=["k1"])
    described = infra.ecs.describe_tasks(cluster="sim", tasks=[arn], include=["TAGS"])["tasks"][0]
    assert described["tags"] == [{"key": "k2", "value": "v2"}]
    assert "tags" not in infra.ecs.describe_tasks(cluster="sim", tasks=[arn])["tasks"][0]
    with pytest.raises(ClientError, match="InvalidParameterException"):
        infra.ecs.list_tags_for_resource(resourceArn=arn.rsplit("/", 1)[0] + "/0123456789abcdef")


def test_run_task_checks_its_launch_parameters_first(infra: Infra) -> None:
    td = infra.taskdef()
    with pytest.raises(ClientError) as err:
        infra.ecs.run_task(cluster="nope", taskDefinition=td, launchType="Fargate")
    assert err.value.response["Error"] == {"Code": "InvalidParameterException",
                                           "Message": "launch type should be one of [EC2,FARGATE,EXTERNAL]"}
    with pytest.raises(ClientError) as err:
        infra.ecs.run_task(cluster="sim", taskDefinition=td, launchType="FARGATE", networkConfiguration=infra.network,
                           capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "not both" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        infra.ecs.run_task(cluster="sim", taskDefinition=td, launchType="FARGATE",
                           networkConfiguration={"awsvpcConfiguration": {"subnets": []}})
    assert err.value.response["Error"]["Message"] == "subnets can not be empty."
    assert infra.tasks() == []


def container_instance(i: Infra) -> str:
    from moto.ec2 import utils as ec2_utils

    instance = boto3.resource("ec2", region_name="us-east-1").create_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1)[0]
    document = json.dumps(ec2_utils.generate_instance_identity_document(instance))
    return str(i.ecs.register_container_instance(cluster="sim", instanceIdentityDocument=document)[
        "containerInstance"]["containerInstanceArn"])


def test_ec2_launch_type_run_task_is_placed_on_container_instances(infra: Infra) -> None:
    ci = container_instance(infra)
    td = infra.ecs.register_task_definition(family="ec2", containerDefinitions=[
        {"name": "app", "image": "task-api:v1", "cpu": 512, "memory": 256,
         "portMappings": [{"containerPort": 8080, "hostPort": 80}]}])["taskDefinition"]["taskDefinitionArn"]
    out = infra.ecs.run_task(cluster="sim", taskDefinition=td, launchType="EC2", count=2)
    [task] = out["tasks"]  # the second task would need host port 80 again
    assert task["containerInstanceArn"] == ci and task["lastStatus"] == "RUNNING"
    assert out["failures"] == [{"arn": ci, "reason": "RESOURCE:PORTS"}]
    described = infra.ecs.describe_container_instances(cluster="sim", containerInstances=[ci])["containerInstances"][0]
    remaining = {r["name"]: r for r in described["remainingResources"]}
    registered = {r["name"]: r for r in described["registeredResources"]}
    assert remaining["CPU"]["integerValue"] == registered["CPU"]["integerValue"] - 512
    assert "80" in remaining["PORTS"]["stringSetValue"]
    assert counts(infra) == (1, 0)
    infra.ecs.stop_task(cluster="sim", task=task["taskArn"])
    assert counts(infra) == (0, 0)


def test_ec2_launch_type_service_on_container_instances_is_refused(infra: Infra) -> None:
    container_instance(infra)
    td = infra.ecs.register_task_definition(family="ec2", containerDefinitions=[
        {"name": "app", "image": "task-api:v1", "memory": 256}])["taskDefinition"]["taskDefinitionArn"]
    with pytest.raises(ClientError) as err:
        infra.ecs.create_service(cluster="sim", serviceName="ec2", taskDefinition=td, desiredCount=1, launchType="EC2")
    assert err.value.response["Error"]["Code"] == "UnsupportedFeatureException"
    assert "does not place service tasks on EC2 container instances" in err.value.response["Error"]["Message"]
    assert infra.ecs.list_services(cluster="sim")["serviceArns"] == []


def test_instance_targets_follow_their_ec2_instance(infra: Infra) -> None:
    assert infra.control("timing", "POST", {"deregistration_delay_scale": 1}).ok  # draining lasts
    ec2 = boto3.client("ec2", region_name="us-east-1")
    [a, b] = [i["InstanceId"] for i in ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2)["Instances"]]
    tg = infra.elb.create_target_group(Name="inst", Protocol="HTTP", Port=80, VpcId=infra.vpc, TargetType="instance",
                                       HealthCheckIntervalSeconds=5, HealthyThresholdCount=2)["TargetGroups"][0][
        "TargetGroupArn"]
    infra.elb.create_listener(LoadBalancerArn=infra.lb, Protocol="HTTP", Port=90,
                              DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    infra.elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": a}, {"Id": b}])

    def states() -> dict[str, tuple[str, str | None]]:
        return {h["Target"]["Id"]: (h["TargetHealth"]["State"], h["TargetHealth"].get("Reason"))
                for h in infra.elb.describe_target_health(TargetGroupArn=tg, Targets=[{"Id": a}, {"Id": b}])[
                    "TargetHealthDescriptions"]}

    wait_for(lambda: states() == {a: ("healthy", None), b: ("healthy", None)}, what="both targets healthy")
    ec2.stop_instances(InstanceIds=[a])
    assert states()[a] == ("unused", "Target.InvalidState")
    ec2.terminate_instances(InstanceIds=[b])
    assert states()[b] == ("draining", "Target.DeregistrationInProgress")
    listed = infra.elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    assert [h["Target"]["Id"] for h in listed] == [a]


def test_metrics_insights_group_by(aws: Any) -> None:
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for audience, value in (("web", 3.0), ("web", 4.0), ("app", 10.0)):
        cw.put_metric_data(Namespace="Shop", MetricData=[{"MetricName": "Hits", "Value": value, "Timestamp": now,
                                                          "Dimensions": [{"Name": "Audience", "Value": audience}]}])
    results = cw.get_metric_data(StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1),
                                 MetricDataQueries=[{"Id": "q", "Period": 60, "Expression":
                                                     "SELECT SUM(Hits) FROM Shop GROUP BY Audience"}])
    got = {r["Label"]: r["Values"] for r in results["MetricDataResults"]}
    assert got == {"app": [10.0], "web": [7.0]}
    with pytest.raises(ClientError, match="not modelled by the local stack"):
        cw.get_metric_data(StartTime=now - timedelta(minutes=5), EndTime=now, MetricDataQueries=[
            {"Id": "q", "Period": 60, "Expression": "SELECT SUM(Hits) FROM Shop WHERE Audience LIKE 'w%'"}])
    with pytest.raises(ClientError, match="StartTime must not equal parameter EndTime"):
        cw.get_metric_data(StartTime=now + timedelta(milliseconds=20), EndTime=now + timedelta(milliseconds=980),
                           MetricDataQueries=[{"Id": "q", "Period": 60, "Expression": "SELECT SUM(Hits) FROM Shop"}])

"""The sample service's infrastructure on the local stack, for `make demo` and the tests.

On AWS this is terraform's job (terraform/environments/*); here we create the same shape through
the same boto3 factory in well under a second: a VPC with two subnets, an ALB with a production
listener weighted between blue and green target groups, a test listener on the idle colour, a
listener for the rolling service, an ECS cluster with a rolling service and blue/green services,
and a 5XX alarm. Idempotent: existing pieces are reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code


@dataclass(frozen=True)
class Sandbox:
    cluster: str
    service: str
    blue: str
    green: str
    target_groups: dict[str, str]
    load_balancer_arn: str
    listeners: dict[str, str]
    subnets: list[str]
    security_group: str
    alarm: str
    task_definition_arn: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _one(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


def ensure(aws: AwsFactory, *, name: str = "task-api", cluster: str | None = None, env: str = "local",
           desired: int = 2, container_port: int = 8080, deregistration_delay: int = 30) -> Sandbox:
    ec2, elbv2, ecs, cw = (aws.client(s) for s in ("ec2", "elbv2", "ecs", "cloudwatch"))
    cluster = cluster or f"{name}-{env}"
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{name}-{env}"]}])["Vpcs"]
    if vpcs:
        vpc = vpcs[0]["VpcId"]
    else:
        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": f"{name}-{env}"}])
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    if len(subnets) < 2:
        region = aws.region
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"][
                "SubnetId"]
            for i, az in ((1, "a"), (2, "b"))
        ]
    sgs = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                {"Name": "group-name", "Values": [f"{name}-{env}-tasks"]}])
    sg = (_one(sgs["SecurityGroups"]) or {}).get("GroupId") or ec2.create_security_group(
        GroupName=f"{name}-{env}-tasks", Description="tasks", VpcId=vpc)["GroupId"]

    try:
        lb = elbv2.describe_load_balancers(Names=[f"{name}-{env}"])["LoadBalancers"][0]
    except ClientError as exc:
        if error_code(exc) != "LoadBalancerNotFound":
            raise
        lb = elbv2.create_load_balancer(Name=f"{name}-{env}", Subnets=subnets, SecurityGroups=[sg],
                                        Type="application")["LoadBalancers"][0]
    lb_arn = lb["LoadBalancerArn"]

    tgs: dict[str, str] = {}
    for key, tg_name in (("rolling", name), ("blue", f"{name}-blue"), ("green", f"{name}-green")):
        try:
            tg = elbv2.describe_target_groups(Names=[tg_name])["TargetGroups"][0]
        except ClientError as exc:
            if error_code(exc) != "TargetGroupNotFound":
                raise
            tg = elbv2.create_target_group(
                Name=tg_name, Protocol="HTTP", Port=container_port, VpcId=vpc, TargetType="ip",
                HealthCheckPath="/health", HealthCheckIntervalSeconds=10, HealthyThresholdCount=2,
                UnhealthyThresholdCount=2, Matcher={"HttpCode": "200"},
            )["TargetGroups"][0]
            elbv2.modify_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"], Attributes=[
                {"Key": "deregistration_delay.timeout_seconds", "Value": str(deregistration_delay)}])
        tgs[key] = tg["TargetGroupArn"]

    existing = {li["Port"]: li["ListenerArn"]
                for li in elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]}
    wanted = {
        80: [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": tgs["blue"], "Weight": 100}, {"TargetGroupArn": tgs["green"], "Weight": 0}]}}],
        8080: [{"Type": "forward", "TargetGroupArn": tgs["green"]}],
        81: [{"Type": "forward", "TargetGroupArn": tgs["rolling"]}],
    }
    listeners = {}
    for port, actions in wanted.items():
        listeners[str(port)] = existing.get(port) or elbv2.create_listener(
            LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port, DefaultActions=actions)["Listeners"][0]["ListenerArn"]
    # the local traffic model sends no users to the test listener (smoke checks only)
    elbv2.add_tags(ResourceArns=[listeners["8080"]], Tags=[{"Key": "pipeline-py:traffic-rate", "Value": "0"}])

    if not ecs.describe_clusters(clusters=[cluster])["clusters"] or \
            ecs.describe_clusters(clusters=[cluster])["clusters"][0].get("status") != "ACTIVE":
        ecs.create_cluster(clusterName=cluster, settings=[{"name": "containerInsights", "value": "enabled"}])

    family = f"{name}-{env}"
    td_arn = _bootstrap_task_definition(ecs, family, container_port)
    network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg], "assignPublicIp": "DISABLED"}}
    services = {name: ("rolling", desired), f"{name}-blue": ("blue", desired), f"{name}-green": ("green", 0)}
    found = {s["serviceName"] for s in ecs.describe_services(cluster=cluster, services=list(services))["services"]
             if s.get("status") == "ACTIVE"}
    for svc, (tg_key, count) in services.items():
        if svc in found:
            continue
        ecs.create_service(
            cluster=cluster, serviceName=svc, taskDefinition=td_arn, desiredCount=count, launchType="FARGATE",
            networkConfiguration=network, healthCheckGracePeriodSeconds=30,
            loadBalancers=[{"targetGroupArn": tgs[tg_key], "containerName": "app", "containerPort": container_port}],
            deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200,
                                     "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
            deploymentController={"type": "ECS"}, propagateTags="SERVICE", enableECSManagedTags=True,
            tags=[{"key": "app", "value": name}],
        )

    alarm = f"{name}-{env}-5xx"
    if not cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]:
        cw.put_metric_alarm(
            AlarmName=alarm, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
            Dimensions=[{"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/", 1)[1]}],
            Statistic="Sum", Period=10, EvaluationPeriods=1, Threshold=50, ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching", AlarmDescription=f"{name} 5XX > 50 in 10 s (local stack)",
        )
    ensure_lock_table(aws.client("dynamodb"))
    return Sandbox(cluster, name, f"{name}-blue", f"{name}-green", tgs, lb_arn, listeners, subnets, sg, alarm, td_arn)


def ensure_lock_table(ddb: Any, table: str = "pipeline-py-locks") -> None:
    """The deploy lock's table (key LockId), as terraform's state-backend module makes it on AWS."""
    try:
        ddb.describe_table(TableName=table)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "LockId", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "LockId", "KeyType": "HASH"}])


def _bootstrap_task_definition(ecs: Any, family: str, port: int) -> str:
    try:
        return ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]["taskDefinitionArn"]
    except ClientError:
        pass
    return ecs.register_task_definition(
        family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{
            "name": "app", "image": "task-api:bootstrap", "essential": True,
            "portMappings": [{"containerPort": port, "protocol": "tcp"}],
            "environment": [{"name": "APP_SCENARIO", "value": "healthy"}, {"name": "APP_VERSION", "value": "0"}],
        }],
    )["taskDefinition"]["taskDefinitionArn"]

"""A service's infrastructure on the local stack, built through the same boto3 factory in about a second.

On AWS this is terraform's job (terraform/environments/*). Here an :class:`InfraSpec` says what to build —
a VPC with two subnets and a security group; an ALB with a production listener weighted between the blue
and green target groups, a test listener on the idle colour and a listener for the rolling service; an
ECS cluster with the rolling service and the two colours; optionally a service ready for ECS-native
blue/green, linear and canary (production and alternate target groups behind listener rules); the alarms,
log groups and the deploy lock's table — and :func:`build` creates what is missing and reuses what exists,
saying which is which. ``pipeline-py local infra`` derives the spec from a user's own pipeline.yaml
(:mod:`pipeline_py.local.infra`); :func:`ensure` builds the sample's (``make demo``, the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code

Record = Callable[[str, str, bool], None]
"""``record(kind, name, created)``: told about every piece, created or found."""


@dataclass(frozen=True)
class NativeSpec:
    service: str
    target_groups: dict[str, str]
    """``production`` and ``alternate``: target group names"""
    production_port: int = 82
    test_port: int = 8082


@dataclass(frozen=True)
class InfraSpec:
    name: str
    """the service identity: names the VPC, security group and tags"""
    env: str
    cluster: str
    family: str
    """the bootstrap task definition's family (what the template renders)"""
    load_balancer: str
    rolling_service: str | None
    colours: dict[str, str] = field(default_factory=dict)
    """``blue`` / ``green`` → service name (empty: no two-colour pair)"""
    target_groups: dict[str, str] = field(default_factory=dict)
    """``rolling`` / ``blue`` / ``green`` → target group name"""
    ports: dict[str, int] = field(default_factory=dict)
    """``production`` (weighted blue/green), ``test`` (the idle colour), ``rolling`` → listener port"""
    desired: int = 2
    container_name: str = "app"
    container_port: int = 8080
    health_check_path: str = "/health"
    deregistration_delay: int = 30
    alarms: list[str] = field(default_factory=list)
    log_groups: list[str] = field(default_factory=list)
    lock_table: str = "pipeline-py-locks"
    image: str = "task-api:bootstrap"
    native: NativeSpec | None = None


@dataclass(frozen=True)
class NativeSandbox:
    """The ECS-native service's pieces."""

    service: str
    target_groups: dict[str, str]
    """``production`` (the service's targetGroupArn) and ``alternate`` (advancedConfiguration)"""
    production_rule: str
    test_rule: str
    listeners: dict[str, str]
    role_arn: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


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
    native: NativeSandbox | None = None

    def to_dict(self) -> dict[str, Any]:
        out = self.__dict__.copy()
        out["native"] = self.native.to_dict() if self.native else None
        return out


def sample_spec(*, name: str = "task-api", cluster: str | None = None, env: str = "local", desired: int = 2,
                container_port: int = 8080, deregistration_delay: int = 30, native: bool = False,
                image: str = "task-api:bootstrap", log_group: str | None = None) -> InfraSpec:
    """The sample service's shape (examples/task-api/pipeline.yaml's ``local`` environment)."""
    return InfraSpec(
        name=name, env=env, cluster=cluster or f"{name}-{env}", family=f"{name}-{env}",
        load_balancer=f"{name}-{env}", rolling_service=name,
        colours={"blue": f"{name}-blue", "green": f"{name}-green"},
        target_groups={"rolling": name, "blue": f"{name}-blue", "green": f"{name}-green"},
        ports={"production": 80, "test": 8080, "rolling": 81},
        desired=desired, container_port=container_port, deregistration_delay=deregistration_delay,
        alarms=[f"{name}-{env}-5xx"], log_groups=[log_group or f"/ecs/{name}"], image=image,
        native=NativeSpec(f"{name}-native", {"production": f"{name}-native-a", "alternate": f"{name}-native-b"})
        if native else None,
    )


def ensure(aws: AwsFactory, *, name: str = "task-api", cluster: str | None = None, env: str = "local",
           desired: int = 2, container_port: int = 8080, deregistration_delay: int = 30,
           native: bool = False, image: str = "task-api:bootstrap", log_group: str | None = None) -> Sandbox:
    """The sample's infrastructure. ``image`` runs the services' first tasks (on the Docker runtime: a
    pushed ECR URI or an image the engine has); ``log_group`` (default ``/ecs/<name>``) is created for the
    tasks' awslogs."""
    return build(aws, sample_spec(name=name, cluster=cluster, env=env, desired=desired,
                                  container_port=container_port, deregistration_delay=deregistration_delay,
                                  native=native, image=image, log_group=log_group))


def _one(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    return items[0] if items else None


def _quiet(kind: str, name: str, created: bool) -> None:
    pass


def build(aws: AwsFactory, spec: InfraSpec, record: Record = _quiet) -> Sandbox:
    """Create what ``spec`` names and is missing; reuse what exists (idempotent)."""
    elbv2, ecs = aws.client("elbv2"), aws.client("ecs")
    vpc, subnets, sg = _network(aws, spec, record)
    lb_arn = _load_balancer(elbv2, spec, subnets, sg, record)
    tgs = {key: _target_group(elbv2, spec, tg_name, vpc, record) for key, tg_name in spec.target_groups.items()}
    listeners = _listeners(elbv2, spec, lb_arn, tgs, record)
    found = ecs.describe_clusters(clusters=[spec.cluster])["clusters"]
    if not found or found[0].get("status") != "ACTIVE":
        ecs.create_cluster(clusterName=spec.cluster, settings=[{"name": "containerInsights", "value": "enabled"}])
    record("ECS cluster", spec.cluster, not found or found[0].get("status") != "ACTIVE")
    td_arn = _bootstrap_task_definition(ecs, spec, record)
    logs = aws.client("logs")
    for group in spec.log_groups:
        _ensure_log_group(logs, group, record)
    network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [sg], "assignPublicIp": "DISABLED"}}
    services: dict[str, tuple[str, int]] = {}
    if spec.rolling_service:
        services[spec.rolling_service] = ("rolling", spec.desired)
    if spec.colours:
        services[spec.colours["blue"]] = ("blue", spec.desired)
        services[spec.colours["green"]] = ("green", 0)
    active = {s["serviceName"] for s in ecs.describe_services(cluster=spec.cluster, services=list(services))["services"]
              if s.get("status") == "ACTIVE"} if services else set()
    for svc, (tg_key, count) in services.items():
        if svc not in active:
            ecs.create_service(
                cluster=spec.cluster, serviceName=svc, taskDefinition=td_arn, desiredCount=count,
                launchType="FARGATE", networkConfiguration=network, healthCheckGracePeriodSeconds=30,
                loadBalancers=[{"targetGroupArn": tgs[tg_key], "containerName": spec.container_name,
                                "containerPort": spec.container_port}],
                deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200,
                                         "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
                deploymentController={"type": "ECS"}, propagateTags="SERVICE", enableECSManagedTags=True,
                tags=[{"key": "app", "value": spec.name}],
            )
        record(f"ECS service ({tg_key})", svc, svc not in active)
    for alarm in spec.alarms:
        _alarm(aws.client("cloudwatch"), spec, alarm, lb_arn, record)
    ensure_lock_table(aws.client("dynamodb"), spec.lock_table, record)
    box = Sandbox(spec.cluster, spec.rolling_service or "", spec.colours.get("blue", ""),
                  spec.colours.get("green", ""), tgs, lb_arn, listeners, subnets, sg,
                  spec.alarms[0] if spec.alarms else "", td_arn)
    if spec.native is not None:
        box = ensure_native(aws, box, spec=spec, record=record)
    return box


def _network(aws: AwsFactory, spec: InfraSpec, record: Record) -> tuple[str, list[str], str]:
    ec2 = aws.client("ec2")
    tag = f"{spec.name}-{spec.env}"
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [tag]}])["Vpcs"]
    if vpcs:
        vpc = vpcs[0]["VpcId"]
    else:
        vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": tag}])
    record("VPC", tag, not vpcs)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    if len(subnets) < 2:
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24",
                                     AvailabilityZone=f"{aws.region}{az}")["Subnet"]["SubnetId"]
                   for i, az in ((1, "a"), (2, "b"))]
        record("subnets", ", ".join(subnets), True)
    sgs = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                {"Name": "group-name", "Values": [f"{tag}-tasks"]}])
    sg = (_one(sgs["SecurityGroups"]) or {}).get("GroupId")
    if not sg:
        sg = ec2.create_security_group(GroupName=f"{tag}-tasks", Description="tasks", VpcId=vpc)["GroupId"]
    record("security group", f"{tag}-tasks", not sgs["SecurityGroups"])
    return vpc, subnets, str(sg)


def _load_balancer(elbv2: Any, spec: InfraSpec, subnets: list[str], sg: str, record: Record) -> str:
    try:
        lb = elbv2.describe_load_balancers(Names=[spec.load_balancer])["LoadBalancers"][0]
        created = False
    except ClientError as exc:
        if error_code(exc) != "LoadBalancerNotFound":
            raise
        lb = elbv2.create_load_balancer(Name=spec.load_balancer, Subnets=subnets, SecurityGroups=[sg],
                                        Type="application")["LoadBalancers"][0]
        created = True
    record("load balancer", spec.load_balancer, created)
    return str(lb["LoadBalancerArn"])


def _target_group(elbv2: Any, spec: InfraSpec, name: str, vpc: str, record: Record) -> str:
    try:
        arn = elbv2.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
        created = False
    except ClientError as exc:
        if error_code(exc) != "TargetGroupNotFound":
            raise
        arn = elbv2.create_target_group(
            Name=name, Protocol="HTTP", Port=spec.container_port, VpcId=vpc, TargetType="ip",
            HealthCheckPath=spec.health_check_path, HealthCheckIntervalSeconds=10, HealthyThresholdCount=2,
            UnhealthyThresholdCount=2, Matcher={"HttpCode": "200"},
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
            {"Key": "deregistration_delay.timeout_seconds", "Value": str(spec.deregistration_delay)}])
        created = True
    record("target group", name, created)
    return str(arn)


def _listeners(elbv2: Any, spec: InfraSpec, lb_arn: str, tgs: dict[str, str], record: Record) -> dict[str, str]:
    existing = {li["Port"]: li["ListenerArn"] for li in elbv2.describe_listeners(LoadBalancerArn=lb_arn)["Listeners"]}
    wanted: dict[int, list[dict[str, Any]]] = {}
    if spec.colours and "production" in spec.ports:
        wanted[spec.ports["production"]] = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": tgs["blue"], "Weight": 100}, {"TargetGroupArn": tgs["green"], "Weight": 0}]}}]
    if spec.colours and spec.ports.get("test"):
        wanted[spec.ports["test"]] = [{"Type": "forward", "TargetGroupArn": tgs["green"]}]
    if spec.rolling_service and "rolling" in spec.ports:
        wanted[spec.ports["rolling"]] = [{"Type": "forward", "TargetGroupArn": tgs["rolling"]}]
    listeners = {}
    for port, actions in wanted.items():
        listeners[str(port)] = existing.get(port) or elbv2.create_listener(
            LoadBalancerArn=lb_arn, Protocol="HTTP", Port=port, DefaultActions=actions)["Listeners"][0]["ListenerArn"]
        record("listener", f"{spec.load_balancer}:{port}", port not in existing)
    if spec.colours and spec.ports.get("test"):
        # the local traffic model sends no users to the test listener (smoke checks only)
        elbv2.add_tags(ResourceArns=[listeners[str(spec.ports["test"])]],
                       Tags=[{"Key": "pipeline-py:traffic-rate", "Value": "0"}])
    return listeners


def _alarm(cw: Any, spec: InfraSpec, alarm: str, lb_arn: str, record: Record) -> None:
    exists = bool(cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"])
    if not exists:
        cw.put_metric_alarm(
            AlarmName=alarm, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
            Dimensions=[{"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/", 1)[1]}],
            Statistic="Sum", Period=10, EvaluationPeriods=1, Threshold=50, ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching", AlarmDescription=f"{spec.name} 5XX > 50 in 10 s (local stack)",
        )
    record("alarm", alarm, not exists)


def _rule(elbv2: Any, listener: str, actions: list[dict[str, Any]]) -> str:
    """The listener's rule at priority 10 (path /*), created with ``actions`` when missing."""
    for rule in elbv2.describe_rules(ListenerArn=listener)["Rules"]:
        if str(rule.get("Priority")) == "10":
            return str(rule["RuleArn"])
    return str(elbv2.create_rule(ListenerArn=listener, Priority=10, Actions=actions, Conditions=[
        {"Field": "path-pattern", "Values": ["/*"]}])["Rules"][0]["RuleArn"])


def ensure_native(aws: AwsFactory, box: Sandbox, *, spec: InfraSpec | None = None, desired: int = 2,
                  container_port: int = 8080, deregistration_delay: int = 30, record: Record = _quiet) -> Sandbox:
    """A service for ECS-native blue/green, linear and canary on the sandbox's VPC, ALB and cluster
    (idempotent): the production and alternate target groups, a production listener whose rule weighs
    them 100/0, a test listener whose rule forwards to the alternate one, and the service with
    ``advancedConfiguration`` on its load balancer (strategy ROLLING until a deploy sets another) —
    what terraform's ecs-service module creates with ``native = true``."""
    if spec is None:
        spec = sample_spec(name=box.service, cluster=box.cluster, desired=desired, container_port=container_port,
                           deregistration_delay=deregistration_delay, native=True)
    ns = spec.native
    assert ns is not None
    elbv2, ecs = aws.client("elbv2"), aws.client("ecs")
    vpc = elbv2.describe_load_balancers(LoadBalancerArns=[box.load_balancer_arn])["LoadBalancers"][0]["VpcId"]
    tgs = {key: _target_group(elbv2, spec, tg_name, vpc, record) for key, tg_name in ns.target_groups.items()}
    existing = {li["Port"]: li["ListenerArn"]
                for li in elbv2.describe_listeners(LoadBalancerArn=box.load_balancer_arn)["Listeners"]}
    not_found = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain",
                                                                    "MessageBody": "no rule matched"}}]
    listeners = {}
    for port in (ns.production_port, ns.test_port):
        listeners[str(port)] = existing.get(port) or elbv2.create_listener(
            LoadBalancerArn=box.load_balancer_arn, Protocol="HTTP", Port=port,
            DefaultActions=not_found)["Listeners"][0]["ListenerArn"]
        record("listener", f"{spec.load_balancer}:{port}", port not in existing)
    production = _rule(elbv2, listeners[str(ns.production_port)], [{"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": tgs["production"], "Weight": 100},
                         {"TargetGroupArn": tgs["alternate"], "Weight": 0}]}}])
    test = _rule(elbv2, listeners[str(ns.test_port)], [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": tgs["production"], "Weight": 0}, {"TargetGroupArn": tgs["alternate"], "Weight": 100}]}}])
    # the local traffic model sends no users to the test listener (smoke checks only)
    elbv2.add_tags(ResourceArns=[listeners[str(ns.test_port)], test],
                   Tags=[{"Key": "pipeline-py:traffic-rate", "Value": "0"}])
    account = box.task_definition_arn.split(":")[4]
    role = f"arn:aws:iam::{account}:role/ecsInfrastructureRoleForLoadBalancers"
    found = [s for s in ecs.describe_services(cluster=box.cluster, services=[ns.service])["services"]
             if s.get("status") == "ACTIVE"]
    if not found:
        network = {"awsvpcConfiguration": {"subnets": box.subnets, "securityGroups": [box.security_group],
                                           "assignPublicIp": "DISABLED"}}
        ecs.create_service(
            cluster=box.cluster, serviceName=ns.service, taskDefinition=box.task_definition_arn,
            desiredCount=spec.desired, launchType="FARGATE", networkConfiguration=network,
            healthCheckGracePeriodSeconds=30,
            loadBalancers=[{"targetGroupArn": tgs["production"], "containerName": spec.container_name,
                            "containerPort": spec.container_port,
                            "advancedConfiguration": {"alternateTargetGroupArn": tgs["alternate"],
                                                      "productionListenerRule": production,
                                                      "testListenerRule": test, "roleArn": role}}],
            deploymentConfiguration={"strategy": "ROLLING", "minimumHealthyPercent": 100, "maximumPercent": 200,
                                     "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
            deploymentController={"type": "ECS"}, propagateTags="SERVICE", enableECSManagedTags=True,
            tags=[{"key": "app", "value": spec.name}])
    record("ECS service (native)", ns.service, not found)
    native = NativeSandbox(ns.service, tgs, production, test, listeners, role)
    return Sandbox(**{**box.__dict__, "native": native})


def ensure_lock_table(ddb: Any, table: str = "pipeline-py-locks", record: Record = _quiet) -> None:
    """The deploy lock's table (key LockId), as terraform's bootstrap makes it on AWS."""
    try:
        ddb.describe_table(TableName=table)
        created = False
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "LockId", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "LockId", "KeyType": "HASH"}])
        created = True
    record("deploy lock table", table, created)


def _ensure_log_group(logs: Any, group: str, record: Record = _quiet) -> None:
    try:
        logs.create_log_group(logGroupName=group)
        created = True
    except ClientError as exc:
        if error_code(exc) != "ResourceAlreadyExistsException":
            raise
        created = False
    record("log group", group, created)


def _bootstrap_task_definition(ecs: Any, spec: InfraSpec, record: Record) -> str:
    try:
        arn = str(ecs.describe_task_definition(taskDefinition=spec.family)["taskDefinition"]["taskDefinitionArn"])
        record("task definition", arn.rsplit("/", 1)[-1], False)
        return arn
    except ClientError:
        pass
    arn = str(ecs.register_task_definition(
        family=spec.family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{
            "name": spec.container_name, "image": spec.image, "essential": True,
            "portMappings": [{"containerPort": spec.container_port, "protocol": "tcp"}],
            "environment": [{"name": "APP_SCENARIO", "value": "healthy"}, {"name": "APP_VERSION", "value": "0"}],
        }],
    )["taskDefinition"]["taskDefinitionArn"])
    record("task definition", f"{arn.rsplit('/', 1)[-1]} (bootstrap, image {spec.image})", True)
    return arn

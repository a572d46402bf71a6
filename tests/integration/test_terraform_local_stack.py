"""The staging environment on the local stack, end to end through `pipeline-py terraform`.

One apply per module (the ``staging`` fixture: state backend bootstrapped into moto, staging
planned and applied from the shared root module with its S3/DynamoDB backend there, with every
feature on, then planned again); the tests then read what it created, deploy onto it, and plan
against it. The apply is ~100 s of fixed client-side waits in the AWS provider (RDS 80 s, ALB
2 × 30 s, VPC DNS 10 s; see docs/terraform.md), paid once.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline_py.config import load_config
from pipeline_py.context import Context
from pipeline_py.report import Reporter
from pipeline_py.terraform import outputs as tf_outputs
from pipeline_py.terraform.runner import Terraform
from tests.conftest import EXAMPLE, wait_for
from tests.integration.terraform_fixtures import (
    ACCOUNT,
    LOCK_TABLE,
    PROD_STATE_KEY,
    STATE_BUCKET,
    STATE_KEY,
    TfProject,
    apply_staging,
    make_project,
    stack_environment,
)

pytestmark = [pytest.mark.terraform, pytest.mark.slow]
RDS = "module.rds[0].aws_db_instance.this"


@pytest.fixture(scope="module")
def staging(local_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TfProject]:
    with stack_environment(local_server, tmp_path_factory.mktemp("aws-home")):
        yield apply_staging(make_project(tmp_path_factory.mktemp("tf-project"), local_server.url))


def client(service: str) -> Any:
    return boto3.client(service)


def outputs(project: TfProject) -> dict[str, Any]:
    return project.applied["staging"]["outputs"]


def shared_root(project: TfProject, env_dir: Path) -> Terraform:
    """terraform as pipeline-py runs it for an environment: the shared root, the environment's data dir."""
    return Terraform(project.stack_dir, Reporter(quiet=True), cwd=env_dir, data_dir=env_dir / ".terraform")


def plan_json(project: TfProject, plan_file: Path, env_dir: Path | None = None) -> dict[str, Any]:
    with shared_root(project, env_dir or project.staging_dir) as tf:
        return tf.show_json(plan_file)


NO_CHANGES = {"add": 0, "change": 0, "destroy": 0, "replace": 0, "addresses": {}, "outputs_changed": [],
              "has_changes": False}


def _changed_attributes(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for rc in plan["resource_changes"]:
        change = rc["change"]
        if change["actions"] != ["no-op"]:
            before, after = change.get("before") or {}, change.get("after") or {}
            out[rc["address"]] = {k: (before.get(k), after.get(k)) for k in sorted(set(before) | set(after))
                                  if before.get(k) != after.get(k)}
    return out


def assert_no_changes(project: TfProject, result: dict[str, Any]) -> None:
    summary = {k: v for k, v in result["summary"].items() if k != "drift"}
    if summary != NO_CHANGES or result["changes"] is not False:
        changed = _changed_attributes(plan_json(project, Path(result["plan_file"])))
        raise AssertionError(f"expected no changes, got {json.dumps(summary)}:\n{json.dumps(changed, indent=1)}")


def test_staging_applies_with_its_outputs(staging: TfProject) -> None:
    result = staging.applied["staging"]
    assert result["applied"] is True
    summary = result["summary"]
    assert summary["add"] >= 60 and summary["change"] == summary["destroy"] == summary["replace"] == 0
    assert RDS in summary["addresses"]["add"]
    assert result["protected"] == []
    out = outputs(staging)
    assert out["cluster_name"] == "task-api-staging"
    assert out["service_name"] == "task-api-staging-blue"
    assert out["service_names"] == {"blue": "task-api-staging-blue"}
    assert set(out["target_group_arns"]) == {"blue", "green"}
    assert out["production_listener_arn"].startswith("arn:aws:elasticloadbalancing:")
    assert out["test_listener_arn"].startswith("arn:aws:elasticloadbalancing:")
    assert out.get("production_rule_arn") is None  # terraform omits null outputs
    assert out["ecr_repository_url"].endswith(".amazonaws.com/task-api")
    assert out["deploy_alarm_names"] == ["task-api-staging-5xx", "task-api-staging-p99"]
    assert "task-api-staging-db-connections" in out["alarm_names"]
    assert {'module.ecs_service.aws_appautoscaling_target.this["blue"]',
            "module.monitoring.aws_budgets_budget.monthly[0]"} <= set(summary["addresses"]["add"]), \
        "staging runs with every feature on, as in AWS"


def test_a_plan_right_after_the_apply_changes_nothing(staging: TfProject) -> None:
    """What the emulator reports back is what AWS would: terraform sees nothing to change."""
    assert_no_changes(staging, staging.applied["replan"])


def test_state_of_each_environment_stays_its_own(staging: TfProject) -> None:
    """One root module, two environments: each initialises its own data dir and backend."""
    assert not (staging.stack_dir / ".terraform").exists()
    assert (staging.staging_dir / ".terraform" / "terraform.tfstate").is_file()
    backend = json.loads((staging.staging_dir / ".terraform" / "terraform.tfstate").read_text())["backend"]
    assert (backend["type"], backend["config"]["key"]) == ("s3", STATE_KEY)
    assert staging.applied["replan"]["root"] == str(staging.stack_dir)
    assert staging.applied["replan"]["var_files"] == [str(staging.staging_dir / "terraform.tfvars")]


def test_state_lives_in_the_bootstrapped_backend(staging: TfProject) -> None:
    s3 = client("s3")
    assert s3.get_bucket_versioning(Bucket=STATE_BUCKET)["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket=STATE_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=STATE_BUCKET)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    state = json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=STATE_KEY)["Body"].read())
    assert any(r["type"] == "aws_db_instance" for r in state["resources"])
    table = client("dynamodb").describe_table(TableName=LOCK_TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert not (staging.staging_dir / "terraform.tfstate").exists()
    # issue 14: the state bucket's access logs, and pipeline-py's deploy lock table, from the bootstrap
    assert s3.get_bucket_logging(Bucket=STATE_BUCKET)["LoggingEnabled"] == {
        "TargetBucket": f"{STATE_BUCKET}-access-logs", "TargetPrefix": "state-bucket/"}
    log_policy = json.loads(s3.get_bucket_policy(Bucket=f"{STATE_BUCKET}-access-logs")["Policy"])
    assert log_policy["Statement"][0]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    ddb = client("dynamodb")
    deploy_locks = ddb.describe_table(TableName="pipeline-py-locks")["Table"]
    assert deploy_locks["KeySchema"] == [{"AttributeName": "LockId", "KeyType": "HASH"}]
    ttl = ddb.describe_time_to_live(TableName="pipeline-py-locks")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "Expires")
    assert staging.applied["bootstrap"]["outputs"]["lock_table"] == "pipeline-py-locks"


def test_alb_access_logs_go_to_a_bucket_only_elb_log_delivery_writes(staging: TfProject) -> None:
    """issue 14: access logs can be enabled from terraform/stack (staging has them on)."""
    elb, s3 = client("elbv2"), client("s3")
    lb = elb.describe_load_balancers(Names=["task-api-staging"])["LoadBalancers"][0]
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]}
    bucket = f"task-api-staging-alb-logs-{ACCOUNT}"
    assert (attrs["access_logs.s3.enabled"], attrs["access_logs.s3.bucket"], attrs["access_logs.s3.prefix"]) == (
        "true", bucket, "task-api-staging")
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    principals = [st["Principal"] for st in policy["Statement"] if st["Effect"] == "Allow"]
    assert {"AWS": "arn:aws:iam::127311923021:root"} in principals
    assert {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"} in principals
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"]["Days"] == 30


def test_network_and_security_groups_follow_the_seed(staging: TfProject) -> None:
    ec2 = client("ec2")
    out = outputs(staging)
    private = ec2.describe_subnets(SubnetIds=out["private_subnet_ids"])["Subnets"]
    assert len({s["AvailabilityZone"] for s in private}) == 2
    vpc = private[0]["VpcId"]
    nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NatGateways"]
    assert len({n["SubnetId"] for n in nats}) == 2, "one NAT gateway per AZ"
    assert ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc]}])["FlowLogs"]

    groups = {g["GroupName"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]}
    alb, ecs, rds = (groups[f"task-api-staging-{n}"] for n in ("alb", "ecs", "rds"))

    def rules(group: dict[str, Any], egress: bool) -> set[tuple]:
        perms = group["IpPermissionsEgress" if egress else "IpPermissions"]
        return {(p["FromPort"], p["ToPort"], *(r["CidrIp"] for r in p.get("IpRanges", [])),
                 *(r["GroupId"] for r in p.get("UserIdGroupPairs", []))) for p in perms}

    assert rules(alb, False) == {(80, 80, "0.0.0.0/0")}  # no certificate in staging: 443 stays closed
    assert rules(alb, True) == {(8080, 8080, ecs["GroupId"])}
    assert rules(ecs, False) == {(8080, 8080, alb["GroupId"])}
    assert rules(ecs, True) == {(5432, 5432, rds["GroupId"]), (443, 443, "0.0.0.0/0")}
    assert rules(rds, False) == {(5432, 5432, ecs["GroupId"])}
    assert rules(rds, True) == set()


def test_autoscaling_and_budget(staging: TfProject) -> None:
    out = outputs(staging)
    aas = client("application-autoscaling")
    [target] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[
        f"service/task-api-staging/{out['service_name']}"])["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 2)
    tags = aas.list_tags_for_resource(ResourceARN=target["ScalableTargetARN"])["Tags"]
    assert tags["Environment"] == "staging" and tags["ManagedBy"] == "terraform"
    policies = aas.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=target["ResourceId"])
    assert {p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] for p in policies["ScalingPolicies"]} == {
        70.0, 80.0}

    budgets = client("budgets")
    budget = budgets.describe_budget(AccountId=ACCOUNT, BudgetName="task-api-staging-monthly")["Budget"]
    assert budget["BudgetLimit"]["Amount"] in ("300.00", "300.0") and budget["TimeUnit"] == "MONTHLY"
    [notification] = budgets.describe_notifications_for_budget(
        AccountId=ACCOUNT, BudgetName="task-api-staging-monthly")["Notifications"]
    assert (notification["NotificationType"], notification["Threshold"]) == ("ACTUAL", 80.0)
    subscribers = budgets.describe_subscribers_for_notification(
        AccountId=ACCOUNT, BudgetName="task-api-staging-monthly", Notification=notification)["Subscribers"]
    assert subscribers == [{"SubscriptionType": "SNS", "Address": out["alarm_topic_arn"]}]
    tags = budgets.list_tags_for_resource(
        ResourceARN=f"arn:aws:budgets::{ACCOUNT}:budget/task-api-staging-monthly")["ResourceTags"]
    assert {"Key": "Environment", "Value": "staging"} in tags


def test_load_balancer_and_ecs_service(staging: TfProject) -> None:
    out = outputs(staging)
    elb = client("elbv2")
    for tg in elb.describe_target_groups(TargetGroupArns=list(out["target_group_arns"].values()))["TargetGroups"]:
        assert (tg["HealthCheckPath"], tg["TargetType"], tg["Port"]) == ("/health", "ip", 8080)
    prod = elb.describe_listeners(ListenerArns=[out["production_listener_arn"]])["Listeners"][0]
    assert (prod["Port"], prod["Protocol"]) == (80, "HTTP")
    weights = {t["TargetGroupArn"]: t["Weight"] for t in prod["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]}
    assert weights == {out["target_group_arns"]["blue"]: 100, out["target_group_arns"]["green"]: 0}
    test = elb.describe_listeners(ListenerArns=[out["test_listener_arn"]])["Listeners"][0]
    assert test["Port"] == 8443 and test["DefaultActions"][0]["TargetGroupArn"] == out["target_group_arns"]["green"]

    ecs = client("ecs")
    cluster = ecs.describe_clusters(clusters=["task-api-staging"], include=["SETTINGS"])["clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    svc = ecs.describe_services(cluster="task-api-staging", services=[out["service_name"]])["services"][0]
    net = svc["networkConfiguration"]["awsvpcConfiguration"]
    assert svc["launchType"] == "FARGATE"
    assert sorted(net["subnets"]) == sorted(out["private_subnet_ids"]) and net["assignPublicIp"] == "DISABLED"
    assert net["securityGroups"] == [out["ecs_security_group_id"]]
    assert svc["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert svc["loadBalancers"][0]["targetGroupArn"] == out["target_group_arns"]["blue"]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert (td["cpu"], td["memory"], td["family"]) == ("256", "512", "task-api-staging")
    assert {s["name"] for s in td["containerDefinitions"][0]["secrets"]} == {"DB_USERNAME", "DB_PASSWORD"}


def test_iam_roles_are_least_privilege(staging: TfProject) -> None:
    iam = client("iam")
    out = outputs(staging)
    doc = iam.get_role_policy(RoleName="task-api-staging-execution", PolicyName="execution")["PolicyDocument"]
    statements = {s["Sid"]: s for s in doc["Statement"]}
    assert statements["EcrAuth"]["Resource"] == "*"
    assert statements["EcrPull"]["Resource"].endswith(":repository/task-api")
    assert statements["Logs"]["Resource"].endswith(":log-group:/ecs/task-api-staging:*")
    assert statements["InjectSecrets"]["Resource"] == out["db_secret_arn"]
    task = iam.get_role_policy(RoleName="task-api-staging-task", PolicyName="task")["PolicyDocument"]
    actions = {a for s in task["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions <= {"ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath", "kms:Decrypt"}


def test_repository_database_and_alarms(staging: TfProject) -> None:
    repo = client("ecr").describe_repositories(repositoryNames=["task-api"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE" and repo["imageScanningConfiguration"]["scanOnPush"]
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert client("ecr").get_lifecycle_policy(repositoryName="task-api")["lifecyclePolicyText"]

    db = client("rds").describe_db_instances(DBInstanceIdentifier="task-api-staging")["DBInstances"][0]
    assert (db["Engine"], db["DBInstanceClass"], db["MultiAZ"]) == ("postgres", "db.t3.micro", False)
    assert db["StorageEncrypted"] and db["DeletionProtection"] and not db["PubliclyAccessible"]
    assert db["BackupRetentionPeriod"] == 7
    key = client("kms").describe_key(KeyId=db["KmsKeyId"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"
    assert db["MasterUserSecret"]["SecretArn"] == outputs(staging)["db_secret_arn"]

    alarms = {a["AlarmName"]: a for a in client("cloudwatch").describe_alarms(
        AlarmNamePrefix="task-api-staging-")["MetricAlarms"]}
    five = alarms["task-api-staging-5xx"]
    assert (five["MetricName"], five["Statistic"], five["Period"], five["Threshold"]) == (
        "HTTPCode_Target_5XX_Count", "Sum", 300, 50.0)
    p99 = alarms["task-api-staging-p99"]
    assert (p99["ExtendedStatistic"], p99["Threshold"]) == ("p99", 0.5)
    topic = outputs(staging)["alarm_topic_arn"]
    assert all(a["AlarmActions"] == [topic] for a in alarms.values())


def test_outputs_command_and_config_overrides(staging: TfProject) -> None:
    res = staging.cli("staging", "terraform", "output", "--name", "cluster_name")
    assert res.code == 0, res.stderr
    assert res.json["outputs"] == {"cluster_name": "task-api-staging"}

    import argparse

    ctx = Context(args=argparse.Namespace(config=str(staging.config), env="staging"), reporter=Reporter(quiet=True))
    from pipeline_py.commands._shared import tf_workspace

    values = tf_outputs.read_outputs(ctx.settings(), tf_workspace(ctx))
    derived = tf_outputs.overrides_from_outputs(values, {})
    out = outputs(staging)
    assert derived["cluster"] == "task-api-staging"
    assert derived["ecs_service"] == "task-api-staging-blue"
    assert derived["blue_green.services.blue"] == "task-api-staging-blue"
    assert "blue_green.services.green" not in derived  # staging runs one colour
    assert derived["blue_green.target_groups.green"] == out["target_group_arns"]["green"]
    assert derived["blue_green.listener_arn"] == out["production_listener_arn"]
    assert derived["blue_green.test_listener_arn"] == out["test_listener_arn"]
    assert "blue_green.rule_arn" not in derived
    assert derived["alarms"] == ["task-api-staging-5xx", "task-api-staging-p99"]
    assert derived["image.repository"] == "task-api"
    assert derived["task_definition.vars.execution_role_arn"].endswith(":role/task-api-staging-execution")
    assert derived["task_definition.vars.log_group"] == "/ecs/task-api-staging"
    example = load_config(EXAMPLE / "pipeline.yaml").settings("staging", derived)  # it names no cluster/service
    assert (example.cluster, example.ecs_service) == ("task-api-staging", "task-api-staging-blue")
    assert example.alarms == ["task-api-staging-5xx", "task-api-staging-p99"]


def _push_image(tag: str) -> str:
    """An image in the repository terraform created (what `pipeline-py push` would leave there)."""
    ecr = client("ecr")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + "c" * 64, "size": 10,
                                      "mediaType": "application/vnd.docker.container.image.v1+json"},
                           "layers": []})
    ecr.put_image(repositoryName="task-api", imageManifest=manifest, imageTag=tag)
    return ecr.describe_repositories(repositoryNames=["task-api"])["repositories"][0]["repositoryUri"] + f":{tag}"


def test_rolling_deploy_onto_the_services_terraform_created(staging: TfProject) -> None:
    image = _push_image("v1")
    res = staging.cli("staging", "deploy", "--image", image)
    assert res.code == 0, res.stderr[-3000:]
    result = res.json
    assert result["status"] == "succeeded" and result["strategy"] == "rolling"
    ecs = client("ecs")
    svc = ecs.describe_services(cluster="task-api-staging", services=["task-api-staging-blue"])["services"][0]
    assert svc["taskDefinition"] == result["task_definition_arn"]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert td["family"] == "task-api-staging" and td["revision"] >= 2
    assert td["containerDefinitions"][0]["image"] == image
    assert td["executionRoleArn"] == outputs(staging)["execution_role_arn"]
    wait_for(lambda: ecs.describe_services(cluster="task-api-staging", services=["task-api-staging-blue"])[
        "services"][0]["runningCount"] == 1, what="the deployed task to run")


def test_native_canary_onto_the_service_terraform_made_ready(staging: TfProject) -> None:
    """staging has native_enabled: terraform made the alternate target group, the listener rules and ECS's
    role (provider 5.x cannot set advancedConfiguration or the strategy); an ECS-native canary sets them
    from the `native` outputs and ECS moves the rule's weights. The next test's plan (after this deploy
    and one of its own) must show no changes: terraform leaves what the native deploy set alone. The
    strategy goes back to ROLLING at the end (ECS keeps it until an UpdateService changes it), so the
    later tests' updates roll as before."""
    native = outputs(staging)["native"]
    elb, ecs = client("elbv2"), client("ecs")
    rule = elb.describe_rules(RuleArns=[native["production_listener_rule_arn"]])["Rules"][0]
    weights = {t["TargetGroupArn"]: t["Weight"] for t in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]}
    assert weights == {native["production_target_group_arn"]: 100, native["alternate_target_group_arn"]: 0}
    res = staging.cli("staging", "--set", "canary.bake_seconds=1", "--set", "canary.analysis.interval=0.5",
                      "--set", "canary.analysis.period=1", "--set", "canary.analysis.min_requests=10",
                      "--set", "native.canary_percent=50", "deploy", "--strategy", "ecs-canary",
                      "--image", _push_image("v-native"))
    assert res.code == 0, res.stderr[-3000:]
    assert res.json["status"] == "succeeded" and [a["weight"] for a in res.json["analysis"]] == [50, 100]
    svc = ecs.describe_services(cluster="task-api-staging", services=[native["service_name"]])["services"][0]
    assert svc["deploymentConfiguration"]["strategy"] == "CANARY"
    assert svc["loadBalancers"][0]["advancedConfiguration"]["alternateTargetGroupArn"] == \
        native["alternate_target_group_arn"]
    rule = elb.describe_rules(RuleArns=[native["production_listener_rule_arn"]])["Rules"][0]
    weights = {t["TargetGroupArn"]: t["Weight"] for t in rule["Actions"][0]["ForwardConfig"]["TargetGroups"]}
    assert weights == {native["production_target_group_arn"]: 0, native["alternate_target_group_arn"]: 100}
    ecs.update_service(cluster="task-api-staging", service=native["service_name"],
                       deploymentConfiguration={"strategy": "ROLLING", "lifecycleHooks": []})


def test_plan_after_a_deploy_leaves_pipeline_owned_attributes_alone(staging: TfProject) -> None:
    """terraform and the pipeline do not fight: after a deploy (new revision, count, weights moved,
    scalable-target bounds changed as a two-colour deploy does) a plan changes nothing."""
    out = outputs(staging)
    ecs, elb, aas = client("ecs"), client("elbv2"), client("application-autoscaling")
    cluster, name = "task-api-staging", "task-api-staging-blue"
    before = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
    listener = out["production_listener_arn"]
    actions = elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
    resource = f"service/{cluster}/{name}"
    [bounds] = aas.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[resource])["ScalableTargets"]
    # a deploy of its own (a new revision of the family), so this test depends on no other test's deploy
    td = ecs.describe_task_definition(taskDefinition=before["taskDefinition"])["taskDefinition"]
    deployed = ecs.register_task_definition(**{k: td[k] for k in (
        "family", "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities",
        "executionRoleArn", "taskRoleArn") if td.get(k)})["taskDefinition"]["taskDefinitionArn"]
    try:
        ecs.update_service(cluster=cluster, service=name, taskDefinition=deployed, desiredCount=2)
        tgs = out["target_group_arns"]
        elb.modify_listener(ListenerArn=listener, DefaultActions=[{
            "Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": tgs["blue"], "Weight": 20}, {"TargetGroupArn": tgs["green"], "Weight": 80}]}}])
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource,
                                     ScalableDimension="ecs:service:DesiredCount", MinCapacity=0, MaxCapacity=0)

        plan_file = staging.root / "after-deploy.tfplan"
        res = staging.cli("staging", "terraform", "plan", "--plan-file", str(plan_file))
        assert res.code == 0, res.stderr[-3000:]
        assert_no_changes(staging, res.json)
        after = {rc["address"]: rc["change"]["after"] for rc in plan_json(staging, plan_file)["resource_changes"]}
        svc = after['module.ecs_service.aws_ecs_service.this["blue"]']
        assert (svc["task_definition"], svc["desired_count"]) == (deployed, 2) and deployed != before["taskDefinition"]
        target = after['module.ecs_service.aws_appautoscaling_target.this["blue"]']
        assert (target["min_capacity"], target["max_capacity"]) == (0, 0)
    finally:  # the next tests see the bounds, weights and count as before (the revision's content is the same)
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=resource,
                                     ScalableDimension="ecs:service:DesiredCount", MinCapacity=bounds["MinCapacity"],
                                     MaxCapacity=bounds["MaxCapacity"])
        elb.modify_listener(ListenerArn=listener, DefaultActions=actions)
        ecs.update_service(cluster=cluster, service=name, desiredCount=before["desiredCount"])


def test_destroy_guard_refuses_replacing_the_database(staging: TfProject) -> None:
    plan_file = staging.root / "rename-db-user.tfplan"
    res = staging.cli("staging", "terraform", "plan", "--plan-file", str(plan_file), "--var", "db_username=app_owner")
    assert res.code == 1, res.stderr[-3000:]
    refused = res.json
    assert refused["status"] == "refused"
    assert {"address": RDS, "type": "aws_db_instance", "action": "replace"} in refused["protected"]
    assert RDS in refused["summary"]["addresses"]["replace"]
    assert refused["summary"]["replace_reasons"].get(RDS) == "replace_because_cannot_update"  # username forces it
    assert RDS in refused["message"] and "--allow-destroy" in refused["message"]
    assert not plan_file.exists(), "a refused plan must not be left around to apply"
    again = staging.cli("staging", "terraform", "apply", "--plan-file", str(plan_file))
    assert again.code == 2 and "refused" in again.json["message"] and "deletion protection" in again.json["message"]

    # issue 14: --allow-destroy used to let this through, and the apply then failed midway (exit 3) after
    # destroying other resources. The instance's deletion protection (prior state) refuses it at plan time.
    allowed = staging.cli("staging", "terraform", "plan", "--plan-file", str(plan_file), "--allow-destroy",
                          "--var", "db_username=app_owner")
    assert allowed.code == 1, allowed.stderr[-3000:]
    assert allowed.json["status"] == "refused" and allowed.json["allow_destroy"] is True
    assert allowed.json["blocked"] == [{"address": RDS, "type": "aws_db_instance", "action": "replace",
                                        "protection": "deletion_protection", "replace_paths": ["username"]}]
    message = allowed.json["message"]
    assert f"{RDS} would be replaced (the replacement is forced by username), but its deletion_protection is on" \
        in message
    assert "turn deletion protection off in a separate apply first" in message
    assert "avoid the replacement (revert the change to username)" in message
    assert "blocked: " in allowed.stderr
    assert not plan_file.exists()
    preview = staging.cli("staging", "--dry-run", "terraform", "apply", "--plan-file", str(plan_file))
    assert preview.code == 2 and "apply could not complete" in preview.json["message"]
    db = client("rds").describe_db_instances(DBInstanceIdentifier="task-api-staging")["DBInstances"][0]
    assert db["MasterUsername"] == "app_admin" and db["DeletionProtection"] is True


def test_state_lock_held_by_another_process(staging: TfProject) -> None:
    """Another terraform (an apply waiting for approval) holds the DynamoDB lock: plan waits
    lock_timeout, then fails naming the holder from the lock info."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_IN_AUTOMATION", "TF_INPUT")}
    env["TF_DATA_DIR"] = str(staging.staging_dir / ".terraform")
    holder = subprocess.Popen(  # -refresh=false: it takes the lock sooner; it waits for approval all the same
        ["terraform", f"-chdir={staging.stack_dir}", "apply", "-no-color", "-refresh=false",
         f"-var-file={staging.staging_dir / 'terraform.tfvars'}", "-var=log_retention_days=14"],
        cwd=staging.staging_dir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    dynamo = client("dynamodb")
    lock_id = f"{STATE_BUCKET}/{STATE_KEY}"
    try:
        item = wait_for(lambda: dynamo.get_item(TableName="task-api-terraform-locks",
                                                Key={"LockID": {"S": lock_id}}).get("Item"),
                        timeout=60, interval=0.2, what="the other terraform to take the state lock")
        info = json.loads(item["Info"]["S"])
        res = staging.cli("staging", "terraform", "plan", "--plan-file", str(staging.root / "locked.tfplan"))
    finally:
        holder.communicate("no\n", timeout=120)
    assert res.code == 1, res.stderr[-3000:]
    lock = res.json["lock"]
    assert lock["id"] == info["ID"] and lock["operation"] == "OperationTypeApply"
    assert lock["who"] == info["Who"]
    assert info["Who"] in res.json["message"] and "apply" in res.json["message"]
    assert "waited 2s" in res.json["message"]
    assert f"TF_DATA_DIR={staging.staging_dir / '.terraform'} terraform -chdir={staging.stack_dir} force-unlock " \
        f"{info['ID']}" in res.json["message"]
    assert not dynamo.get_item(TableName=LOCK_TABLE, Key={"LockID": {"S": lock_id}}).get("Item"), \
        "the holder released its lock"


def test_stale_plan_is_refused(staging: TfProject) -> None:
    """The plan made right after the apply was reviewed but not applied; another plan was applied
    since. Applying the first would act on a state it did not see: terraform refuses it."""
    reviewed = Path(staging.applied["replan"]["plan_file"])
    newer = staging.root / "newer.tfplan"
    res = staging.cli("staging", "terraform", "plan", "--plan-file", str(newer), "--var", "log_retention_days=60")
    assert res.code == 0, res.stderr[-2000:]
    assert "module.ecs_service.aws_cloudwatch_log_group.this" in res.json["summary"]["addresses"]["change"]
    applied = staging.cli("staging", "terraform", "apply", "--plan-file", str(newer))
    assert applied.code == 0, applied.stderr[-3000:]
    stale = staging.cli("staging", "terraform", "apply", "--plan-file", str(reviewed))
    assert stale.code == 1
    assert stale.json["stale"] is True and stale.json["applied"] is False
    assert "stale" in stale.json["message"]
    group = client("logs").describe_log_groups(logGroupNamePrefix="/ecs/task-api-staging")["logGroups"][0]
    assert group["retentionInDays"] == 60


def test_invalid_tfvars_is_bad_input_quoting_terraform(staging: TfProject) -> None:
    """prod (nothing to refresh: terraform reaches the validation in seconds)."""
    bad = staging.prod_dir / "one-az.tfvars"
    bad.write_text("az_count = 1\n")
    res = staging.cli("prod", "--set", "terraform.var_files=[local-stack.tfvars, one-az.tfvars]",
                      "terraform", "plan", "--plan-file", str(staging.root / "bad.tfvars.tfplan"))
    assert res.code == 2, res.stderr[-3000:]
    assert res.json["error"] == "bad_input"
    assert "az_count must be between 2 and 6" in res.json["message"]
    assert "Invalid value for variable" in res.json["message"]
    assert not (staging.root / "bad.tfvars.tfplan").exists()
    bad.unlink()


def test_prod_plans_the_seeds_production_shape(staging: TfProject) -> None:
    """prod is not applied here, but its plan (three AZs, two colours, HTTPS, Multi-AZ database,
    autoscaling 3-10, budget) is made against the local stack and checked value by value."""
    plan_file = staging.root / "prod.tfplan"
    result = staging.applied["prod plan"]  # planned while staging applied
    assert result["plan_file"] == str(plan_file) and result["root"] == str(staging.stack_dir)
    adds = set(result["summary"]["addresses"]["add"])
    assert result["summary"]["change"] == result["summary"]["destroy"] == 0
    assert sum("aws_nat_gateway.this[" in a for a in adds) == 3
    assert {'module.ecs_service.aws_ecs_service.this["blue"]', 'module.ecs_service.aws_ecs_service.this["green"]',
            "module.alb.aws_lb_listener.http_redirect[0]", "module.monitoring.aws_budgets_budget.monthly[0]"} <= adds
    plan = plan_json(staging, plan_file, staging.prod_dir)
    after = {rc["address"]: rc["change"]["after"] for rc in plan["resource_changes"]}
    db = after[RDS]
    assert (db["instance_class"], db["multi_az"], db["backup_retention_period"], db["deletion_protection"]) == (
        "db.t3.small", True, 30, True)
    assert db["storage_encrypted"] and db["manage_master_user_password"]
    assert (db["performance_insights_enabled"], db["performance_insights_retention_period"],
            db["monitoring_interval"]) == (True, 7, 60), "issue 14: Performance Insights and enhanced monitoring"
    assert after["module.rds[0].aws_iam_role_policy_attachment.monitoring[0]"]["policy_arn"].endswith(
        ":policy/service-role/AmazonRDSEnhancedMonitoringRole")
    alb = after["module.alb.aws_lb.this"]
    assert alb["access_logs"][0]["enabled"] and alb["access_logs"][0]["prefix"] == "task-api-prod"
    assert after["module.alb.aws_s3_bucket_lifecycle_configuration.logs[0]"]["rule"][0]["expiration"][0][
        "days"] == 365
    prod_listener = after["module.alb.aws_lb_listener.production"]
    assert (prod_listener["port"], prod_listener["protocol"]) == (443, "HTTPS")
    assert after["module.alb.aws_lb_listener.http_redirect[0]"]["default_action"][0]["redirect"][0]["port"] == "443"
    ports = sorted(v["from_port"] for a, v in after.items() if "alb_from_internet" in a)
    assert ports == [80, 443]
    for colour in ("blue", "green"):
        target = after[f'module.ecs_service.aws_appautoscaling_target.this["{colour}"]']
        assert (target["min_capacity"], target["max_capacity"]) == (3, 10)
        cpu = after[f'module.ecs_service.aws_appautoscaling_policy.cpu["{colour}"]']
        memory = after[f'module.ecs_service.aws_appautoscaling_policy.memory["{colour}"]']
        assert cpu["target_tracking_scaling_policy_configuration"][0]["target_value"] == 70
        assert memory["target_tracking_scaling_policy_configuration"][0]["target_value"] == 80
    budget = after["module.monitoring.aws_budgets_budget.monthly[0]"]
    assert budget["notification"][0]["threshold"] == 80 and budget["limit_amount"] == "1500.00"
    task = after["module.ecs_service.aws_ecs_task_definition.bootstrap"]
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    backend = json.loads((staging.prod_dir / ".terraform" / "terraform.tfstate").read_text())["backend"]
    assert backend["config"]["key"] == PROD_STATE_KEY, "prod initialised its own backend next to staging's"
    outputs = plan["planned_values"]["outputs"]
    loaded = load_config(EXAMPLE / "pipeline.yaml")  # prod names no cluster and no alarms itself
    known = {name: o["value"] for name, o in outputs.items() if "value" in o}
    prod = loaded.settings("prod", tf_outputs.overrides_from_outputs(known, {}))
    assert prod.cluster == "task-api-prod"
    assert prod.alarms == ["task-api-prod-5xx", "task-api-prod-p99"]
    assert prod.blue_green.services.green == "task-api-prod-green"


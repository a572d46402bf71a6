"""``pipeline-py diagnose`` on the local stack: every check healthy in one environment, then each broken
the way it breaks in production, with the verdict asserted (exit 1 and the check's own summary)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from tests.conftest import run_cli, wait_for
from tests.integration.deploy_fixtures import Project, project, service
from tests.integration.runbook_fixtures import SOURCE, wait_available

__all__ = ["project"]

ALL = ["load_balancer", "targets", "service", "stopped_tasks", "alarms", "error_rate", "error_logs", "resources",
       "database", "state_lock"]
STATE = {"bucket": "task-api-state", "key": "task-api/local/terraform.tfstate", "dynamodb_table": "tf-locks",
         "region": "us-east-1"}


def diagnose(p: Project, *only: str) -> tuple[int, dict[str, dict[str, Any]], dict[str, Any]]:
    res = run_cli(*p.args("--json", "diagnose", *[a for o in only for a in ("--only", o)]))
    assert res.code in (0, 1), (res.code, res.stdout, res.stderr[-3000:])
    out = res.json
    return res.code, {c["name"]: c for c in out["checks"]}, out


def with_terraform(p: Project, **env: Any) -> None:
    """The environment's terraform: an S3 backend whose lock table is terraform's (key LockID)."""
    tf = p.dir / "tf"
    tf.mkdir(exist_ok=True)
    (tf / "main.tf").write_text('terraform {\n  backend "s3" {}\n}\n')
    p.write(terraform={"dir": "tf", "backend_config": STATE}, **env)
    ddb = boto3.client("dynamodb")
    if STATE["dynamodb_table"] not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName=STATE["dynamodb_table"], BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}])


def utilisation(memory: list[float], cpu: float = 20.0, service_name: str = "task-api") -> None:
    """ECS service metrics as ECS publishes them, over the last 100 minutes (the local stack keeps two hours)."""
    now = datetime.now(timezone.utc)
    step = timedelta(minutes=100) / len(memory)
    dims = [{"Name": "ClusterName", "Value": "task-api-local"}, {"Name": "ServiceName", "Value": service_name}]
    data = []
    for i, value in enumerate(memory):
        at = now - step * (len(memory) - i) + timedelta(seconds=30)
        data.append({"MetricName": "MemoryUtilization", "Dimensions": dims, "Timestamp": at, "Value": value,
                     "Unit": "Percent"})
        data.append({"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": at, "Value": cpu,
                     "Unit": "Percent"})
    boto3.client("cloudwatch").put_metric_data(Namespace="AWS/ECS", MetricData=data)


def revision_with(scenario: str) -> str:
    """The service's task definition with another APP_SCENARIO (what a bad build would ship)."""
    ecs = boto3.client("ecs")
    td = ecs.describe_task_definition(taskDefinition=service()["taskDefinition"])["taskDefinition"]
    containers = json.loads(json.dumps(td["containerDefinitions"]))
    for item in containers[0]["environment"]:
        if item["name"] == "APP_SCENARIO":
            item["value"] = scenario
    return str(ecs.register_task_definition(
        family=td["family"], containerDefinitions=containers, networkMode=td["networkMode"],
        requiresCompatibilities=td.get("requiresCompatibilities", ["FARGATE"]), cpu=td["cpu"], memory=td["memory"],
    )["taskDefinition"]["taskDefinitionArn"])


def roll_out_without_circuit_breaker(arn: str, **extra: Any) -> None:
    boto3.client("ecs").update_service(cluster="task-api-local", service="task-api", taskDefinition=arn,
                                       deploymentConfiguration={
                                           "deploymentCircuitBreaker": {"enable": False, "rollback": False},
                                           "minimumHealthyPercent": 100, "maximumPercent": 200}, **extra)


def test_a_healthy_environment_passes_every_check_then_a_stopped_database_fails(project: Project) -> None:
    rds = boto3.client("rds")
    rds.create_db_instance(DBInstanceIdentifier=SOURCE, Engine="postgres", DBInstanceClass="db.t3.micro",
                           MasterUsername="app_admin", ManageMasterUserPassword=True, AllocatedStorage=20,
                           DBName="app", BackupRetentionPeriod=7)  # started first: it comes up meanwhile
    with_terraform(project, database={"instance": SOURCE})
    deployed = run_cli(*project.args("deploy", "--image", "task-api:v2"))
    assert deployed.code == 0, deployed.stderr[-2000:]
    utilisation([31, 30, 32, 31, 30, 31, 32, 31, 30, 31, 31, 30])
    wait_available(SOURCE)

    code, checks, out = diagnose(project)
    assert list(checks) == ALL
    assert {n: c["verdict"] for n, c in checks.items()} == dict.fromkeys(ALL, "ok"), json.dumps(out, indent=1)
    assert code == 0 and out["verdict"] == "ok" and out["problems"] == []
    assert "listeners forward to the service" in checks["load_balancer"]["summary"]
    assert any(":81 HTTP → task-api" in e for e in checks["load_balancer"]["evidence"])
    assert checks["targets"]["evidence"][0] == "task-api: 2 healthy"
    assert checks["error_logs"]["summary"] == "no error lines in the last 15m"
    assert checks["error_rate"]["summary"].startswith("5XX rate 0.00% over ")
    assert re.fullmatch(r"task-api: memory 3\d% → 3\d% \([-+]\d+\.\d%/h over 12 points\), CPU 20%",
                        checks["resources"]["evidence"][0]), checks["resources"]["evidence"]
    evidence = "\n".join(checks["database"]["evidence"])
    assert "connected as app_admin@127.0.0." in evidence and "Multi-AZ no" in evidence
    assert "pg_stat_activity:" in evidence and "pg_stat_statements: not installed" in evidence
    assert checks["state_lock"]["summary"] == f"{STATE['bucket']}/{STATE['key']}: not locked"

    rds.stop_db_instance(DBInstanceIdentifier=SOURCE)
    wait_available(SOURCE, "stopped")
    code, checks, out = diagnose(project, "database")
    assert code == 1 and out["problems"] == ["database"]
    assert checks["database"]["verdict"] == "problem"
    assert checks["database"]["summary"] == f"{SOURCE} is stopped"
    assert "start-db-instance" in checks["database"]["next_step"]


def test_no_running_tasks(project: Project) -> None:
    boto3.client("ecs").update_service(cluster="task-api-local", service="task-api", desiredCount=0)
    wait_for(lambda: service()["runningCount"] == 0, what="the tasks to stop")
    code, checks, _ = diagnose(project, "service", "targets")
    assert code == 1
    assert checks["service"]["verdict"] == "problem"
    assert "task-api has desired count 0: it runs no tasks" in checks["service"]["summary"]
    assert checks["targets"]["verdict"] == "problem"
    assert "receives traffic but has no healthy target" in checks["targets"]["summary"]


def test_unhealthy_targets_with_aws_reasons(project: Project) -> None:
    # a long grace period: ECS leaves the failing targets registered (as it does in its first minutes)
    roll_out_without_circuit_breaker(revision_with("unhealthy"), healthCheckGracePeriodSeconds=100_000)
    tg = project.infra.target_groups["rolling"]
    elb = boto3.client("elbv2")

    def unhealthy() -> list[dict[str, Any]]:
        return [d for d in elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
                if d["TargetHealth"]["State"] == "unhealthy"]

    reason = wait_for(unhealthy, what="a target to fail its health checks")[0]["TargetHealth"]["Reason"]
    code, checks, _ = diagnose(project, "targets")
    assert code == 1 and checks["targets"]["verdict"] == "problem"
    assert "unhealthy target(s) in task-api" in checks["targets"]["summary"]
    assert reason in checks["targets"]["summary"]
    assert any("unhealthy: " + reason in e for e in checks["targets"]["evidence"])


def test_error_lines_in_the_logs(project: Project) -> None:
    deployed = run_cli(*project.args("deploy", "--image", "task-api:v2", "--var", "scenario=error-rate=0.5"))
    assert deployed.code == 0, deployed.stderr[-2000:]
    logs = boto3.client("logs")
    wait_for(lambda: logs.filter_log_events(logGroupName="/ecs/task-api", filterPattern="[level = ERROR*, ...]")
             ["events"], what="an error line")
    code, checks, _ = diagnose(project, "error_logs", "error_rate")
    assert code == 1 and checks["error_logs"]["verdict"] == "problem"
    assert checks["error_rate"]["verdict"] == "problem", checks["error_rate"]
    assert "(limit 1.00%)" in checks["error_rate"]["summary"]
    assert checks["error_logs"]["summary"].endswith("error line(s) in the last 15m")
    assert any("ERROR GET /tasks 500" in e for e in checks["error_logs"]["evidence"])
    assert "--filter '[level = ERROR*, ...]'" in checks["error_logs"]["next_step"]


def test_a_stuck_deployment(project: Project) -> None:
    crash = revision_with("crash,exit-code=3")
    roll_out_without_circuit_breaker(crash)
    wait_for(lambda: any(d["taskDefinition"] == crash and d.get("failedTasks", 0) >= 1
                         for d in service()["deployments"]), what="the new revision's tasks to fail")
    code, checks, _ = diagnose(project, "service", "stopped_tasks")
    assert code == 1
    assert checks["service"]["verdict"] == "problem"
    assert "is stuck:" in checks["service"]["summary"] and "failed to start" in checks["service"]["summary"]
    assert checks["stopped_tasks"]["verdict"] == "problem"
    assert "container app exited with code 3" in checks["stopped_tasks"]["summary"]


def test_an_alarm_firing_the_state_lock_held_and_memory_growing(project: Project) -> None:
    """Three checks that read other sources than the service: broken one after the other on one sandbox."""
    cw = boto3.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="task-api-local-queue-depth", Namespace="TaskApi", MetricName="QueueDepth",
                        Statistic="Maximum", Period=10, EvaluationPeriods=1, Threshold=100,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="notBreaching")
    with_terraform(project)
    utilisation([40, 43, 46, 49, 52, 55, 58, 61, 64, 67, 70, 73])
    code, checks, _ = diagnose(project, "alarms", "state_lock")
    assert code == 0 and checks["alarms"]["verdict"] == checks["state_lock"]["verdict"] == "ok"

    cw.put_metric_data(Namespace="TaskApi", MetricData=[{"MetricName": "QueueDepth", "Value": 500}])
    wait_for(lambda: cw.describe_alarms(AlarmNames=["task-api-local-queue-depth"])["MetricAlarms"][0]["StateValue"]
             == "ALARM", what="the alarm to fire")
    info = {"ID": "2f1c2d3e-0000-4000-8000-000000000001", "Operation": "OperationTypeApply",
            "Info": "", "Who": "jenkins@agent-3", "Version": "1.11.4", "Created": "2026-01-02T03:04:05.123456789Z",
            "Path": f"{STATE['bucket']}/{STATE['key']}"}
    lock_id = f"{STATE['bucket']}/{STATE['key']}"
    boto3.client("dynamodb").put_item(TableName="tf-locks", Item={"LockID": {"S": lock_id},
                                                                  "Info": {"S": json.dumps(info)}})
    code, checks, out = diagnose(project, "alarms", "state_lock", "resources")
    assert code == 1 and out["problems"] == ["alarms", "resources", "state_lock"]
    assert checks["alarms"]["summary"] == "1 alarm(s) in ALARM: task-api-local-queue-depth"
    summary = checks["state_lock"]["summary"]
    assert "held by jenkins@agent-3 (apply, since 2026-01-02T03:04:05.123456789Z" in summary
    assert checks["state_lock"]["next_step"] == ("if that run is dead: pipeline-py terraform unlock --env local "
                                                 f"--lock-id {info['ID']}")
    assert "task-api: memory grows" in checks["resources"]["summary"] and "(a leak?)" in checks["resources"]["summary"]

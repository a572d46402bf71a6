"""``pipeline-py jenkins preflight`` (the automatic pre-deploy gates ecsPipeline runs) on the local stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import run_cli

CONFIG = """\
service: task-api
region: us-east-1
environments:
  staging: {cluster: task-api-staging}
  prod:
    cluster: task-api-prod
    alarms: [task-api-prod-5xx, task-api-prod-p99]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    p = tmp_path / "pipeline.yaml"
    p.write_text(CONFIG)
    return p


def alarm(cw: Any, name: str, state: str) -> None:
    cw.put_metric_alarm(AlarmName=name, MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=10,
                        ComparisonOperator="GreaterThanThreshold")
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"test: {state}")


@pytest.fixture
def cloudwatch(aws: Any) -> Any:
    return boto3.client("cloudwatch", region_name="us-east-1")


def test_alarms_all_ok_open_the_gate(config: Path, cloudwatch: Any) -> None:
    alarm(cloudwatch, "task-api-prod-5xx", "OK")
    alarm(cloudwatch, "task-api-prod-p99", "INSUFFICIENT_DATA")
    r = run_cli("--config", str(config), "--env", "prod", "--json", "jenkins", "preflight")
    assert r.code == 0, r.stderr
    assert r.json["alarms"] == {"task-api-prod-5xx": "OK", "task-api-prod-p99": "INSUFFICIENT_DATA"}
    assert r.json["snapshot"] is None


def test_an_alarm_in_alarm_closes_the_gate(config: Path, cloudwatch: Any) -> None:
    alarm(cloudwatch, "task-api-prod-5xx", "ALARM")
    alarm(cloudwatch, "task-api-prod-p99", "OK")
    r = run_cli("--config", str(config), "--env", "prod", "--json", "jenkins", "preflight")
    assert r.code == 1
    assert r.json["message"] == "not starting the deploy: alarm task-api-prod-5xx is in ALARM (test: ALARM)"
    assert r.json["firing"] == ["task-api-prod-5xx"]


def test_a_configured_alarm_that_does_not_exist_is_a_configuration_error(config: Path, cloudwatch: Any) -> None:
    alarm(cloudwatch, "task-api-prod-5xx", "OK")
    r = run_cli("--config", str(config), "--env", "prod", "--json", "jenkins", "preflight")
    assert r.code == 2 and "task-api-prod-p99" in r.json["message"]


def test_an_environment_without_alarms_passes(config: Path, aws: Any) -> None:
    r = run_cli("--config", str(config), "--env", "staging", "--json", "jenkins", "preflight")
    assert r.code == 0, r.stderr
    assert r.json["alarms"] == {}


def test_a_prod_deploy_snapshots_the_database_first(config: Path, cloudwatch: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    rds = boto3.client("rds", region_name="us-east-1")
    rds.create_db_instance(DBInstanceIdentifier="task-api-db", DBInstanceClass="db.t3.micro", Engine="postgres",
                           AllocatedStorage=20, MasterUsername="app", MasterUserPassword="not-a-real-password")
    alarm(cloudwatch, "task-api-prod-5xx", "OK")
    alarm(cloudwatch, "task-api-prod-p99", "OK")
    monkeypatch.setenv("BUILD_TAG", "jenkins-apps-task-api-main-42")
    # exactly the params file vars/ecsPipeline.groovy hands over for prod
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"env": "prod", "rds-snapshot": "task-api-db"}))
    r = run_cli("--config", str(config), "--params-file", str(params), "--json", "jenkins", "preflight")
    assert r.code == 0, r.stderr
    assert r.json["alarms"] == {"task-api-prod-5xx": "OK", "task-api-prod-p99": "OK"}
    snap = r.json["snapshot"]
    assert snap["instance"] == "task-api-db" and snap["status"] == "available"
    assert snap["id"].startswith("task-api-db-pre-deploy-")
    (found,) = rds.describe_db_snapshots(DBSnapshotIdentifier=snap["id"])["DBSnapshots"]
    assert found["DBInstanceIdentifier"] == "task-api-db"
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=found["DBSnapshotArn"])["TagList"]}
    assert tags == {"pipeline-py:service": "task-api", "pipeline-py:env": "prod",
                    "pipeline-py:build": "jenkins-apps-task-api-main-42"}


def test_dry_run_names_the_snapshot_without_taking_it(config: Path, aws: Any, tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"env": "prod", "skip-alarms": True, "rds-snapshot": "db_1",
                                  "snapshot-id": "db_1--before"}))
    r = run_cli("--config", str(config), "--params-file", str(params), "--dry-run", "--json", "jenkins", "preflight")
    assert r.code == 0, r.stderr
    assert r.json["snapshot"] == {"id": "db-1-before", "instance": "db_1", "status": "would create"}
    assert r.json["alarms"] == {}  # skipped, although prod's alarms do not exist here
    assert boto3.client("rds", region_name="us-east-1").describe_db_snapshots()["DBSnapshots"] == []


def test_an_unknown_database_is_named(config: Path, aws: Any) -> None:
    r = run_cli("--config", str(config), "--env", "staging", "--json", "jenkins", "preflight",
                "--rds-snapshot", "no-such-db")
    assert r.code == 2
    assert r.json["message"] == "RDS instance 'no-such-db' not found (--rds-snapshot)"

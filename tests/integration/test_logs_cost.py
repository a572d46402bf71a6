"""``pipeline-py logs --follow`` across a task replacement, and ``pipeline-py cost`` over cost data recorded
on the local stack (Cost Explorer by service, the budget's actual and forecast against its alert)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from typing import Any

import boto3
import requests

from tests.conftest import run_cli, wait_for
from tests.integration.deploy_fixtures import Project, project, service

__all__ = ["project"]


def running_tasks() -> set[str]:
    ecs = boto3.client("ecs")
    arns = ecs.list_tasks(cluster="task-api-local", serviceName="task-api", desiredStatus="RUNNING")["taskArns"]
    return {a.rsplit("/", 1)[-1] for a in arns}


def test_logs_follow_a_task_into_its_replacement(project: Project) -> None:
    deployed = run_cli(*project.args("deploy", "--image", "task-api:v2"))
    assert deployed.code == 0, deployed.stderr[-2000:]
    wait_for(lambda: len(running_tasks()) == 2 and len(service()["deployments"]) == 1, what="two tasks of v2")
    before = running_tasks()
    child = subprocess.Popen([sys.executable, "-m", "pipeline_py", *project.args(
        "logs", "--follow", "--since", "2m", "--poll-interval", "0.2")], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(child.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        def from_task(task: str, text: str) -> bool:
            return any(line.split()[1:2] == [task[:8]] and text in line for line in list(lines))

        wait_for(lambda: all(from_task(t, "INFO GET /tasks 200") for t in before), timeout=60,
                 what="request lines of both tasks")
        victim = sorted(before)[0]
        boto3.client("ecs").stop_task(cluster="task-api-local", task=victim, reason="replaced by the test")
        successor = wait_for(lambda: (running_tasks() - before) or None, timeout=60, what="ECS to start a successor")
        new = next(iter(successor))
        wait_for(lambda: from_task(new, "INFO starting task-api-local version=v2"), timeout=60,
                 what="the successor's first line in the followed output")
        wait_for(lambda: from_task(victim, "INFO received SIGTERM, shutting down"), timeout=60,
                 what="the replaced task's last line")
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=30)
    assert child.returncode == 0, err[-2000:]
    assert f"following task {new[:8]} too" in err and "stopped following" in err
    assert all(line.endswith("\n") and line[:4].isdigit() for line in lines)

    only = run_cli(*project.args("--json", "logs", "--since", "5m", "--task", new[:8]))
    assert only.code == 0, only.stderr
    assert only.json["events"] and {e["task"] for e in only.json["events"]} == {new}
    none = run_cli(*project.args("--json", "logs", "--since", "5m", "--filter", "[level = ERROR*, ...]"))
    assert none.code == 0 and none.json["events"] == []
    unknown = run_cli(*project.args("--json", "logs", "--task", "ffffffff"))
    assert unknown.code == 2 and "not a task of task-api" in unknown.json["message"]


def _month_start(d: date, back: int = 0) -> date:
    first = d.replace(day=1)
    for _ in range(back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def test_cost_by_service_and_the_budget(aws: Any, tmp_path: Any) -> None:
    today = datetime.now(timezone.utc).date()
    last_month = _month_start(today, 1)
    records = [
        {"date": today.isoformat(), "service": "Amazon Elastic Container Service", "amount": 120.5},
        {"date": today.replace(day=1).isoformat(), "service": "Amazon Relational Database Service", "amount": 60.25},
        {"date": today.isoformat(), "service": "Amazon Elastic Load Balancing", "amount": 19.25, "region": "eu-west-1"},
        {"date": last_month.isoformat(), "service": "Amazon Elastic Compute Cloud - Compute", "amount": 300},
    ]
    assert requests.post(aws.url + "/_pipeline_py/cost", json={"records": records}, timeout=10).ok
    boto3.client("budgets").create_budget(
        AccountId="123456789012",
        Budget={"BudgetName": "task-api-local-monthly", "BudgetLimit": {"Amount": "240", "Unit": "USD"},
                "TimeUnit": "MONTHLY", "BudgetType": "COST"},
        NotificationsWithSubscribers=[{"Notification": {"NotificationType": "ACTUAL",
                                                        "ComparisonOperator": "GREATER_THAN", "Threshold": 80,
                                                        "ThresholdType": "PERCENTAGE"},
                                       "Subscribers": [{"SubscriptionType": "EMAIL", "Address": "ops@example.com"}]}])
    (tmp_path / "pipeline.yaml").write_text("service: task-api\nregion: us-east-1\nenvironments:\n  local: {}\n")
    args = ["--config", str(tmp_path / "pipeline.yaml"), "--env", "local"]

    res = run_cli(*args, "--json", "cost")
    assert res.code == 0, res.stderr
    out = res.json
    assert out["month"] == today.strftime("%Y-%m") and out["estimated"] is True
    assert [(g["key"], g["amount"]) for g in out["groups"]] == [
        ("Amazon Elastic Container Service", 120.5), ("Amazon Relational Database Service", 60.25),
        ("Amazon Elastic Load Balancing", 19.25)]
    assert out["total"] == 200.0 and out["unit"] == "USD"
    budget = out["budget"]
    assert (budget["name"], budget["limit"], budget["actual"]) == ("task-api-local-monthly", 240.0, 200.0)
    assert budget["alert_threshold_percent"] == 80.0 and budget["alert_from"] == "notification"
    assert budget["actual_percent"] == 83.3 and budget["state"] == "alert"
    assert budget["forecast"] >= 200.0
    assert "budget task-api-local-monthly: 200.00 of 240.00 USD (83%, alert at 80%)" in res.stderr

    past = run_cli(*args, "--json", "cost", "--month", last_month.strftime("%Y-%m"), "--no-budget")
    assert past.code == 0 and past.json["estimated"] is False
    assert past.json["groups"] == [{"key": "Amazon Elastic Compute Cloud - Compute", "amount": 300.0, "unit": "USD"}]
    by_region = run_cli(*args, "--json", "cost", "--by", "region", "--no-budget")
    assert [(g["key"], g["amount"]) for g in by_region.json["groups"]] == [("us-east-1", 180.75), ("eu-west-1", 19.25)]
    bad = run_cli(*args, "--json", "cost", "--month", "2026-13")
    assert bad.code == 2 and bad.json["message"] == "--month '2026-13': expected YYYY-MM"

"""`pipeline-py local infra` for a user's own service: a second, differently named service gets the
infrastructure its pipeline.yaml names (idempotently, saying what it created), and a canary rehearses on
it; `deploy` against a stack without it says how to get it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import EXAMPLE, run_cli
from tests.integration.deploy_fixtures import client

ORDERS = {
    "service": "orders",
    "region": "us-east-1",
    "image": {"repository": "orders"},
    "task_definition": {"template": "deploy/taskdef.json.j2", "vars": {
        "cpu": 256, "memory": 512, "container_port": 9090, "scenario": "healthy", "log_group": "/ecs/orders",
        "execution_role_arn": "arn:aws:iam::123456789012:role/orders-execution",
        "task_role_arn": "arn:aws:iam::123456789012:role/orders-task"}},
    "environments": {"dev": {
        "cluster": "orders-dev", "ecs_service": "orders-api", "desired_count": 3, "poll_interval": 0.25,
        "timeout": 60, "rollback_timeout": 60, "alarms": ["orders-dev-errors"],
        "blue_green": {"services": {"blue": "orders-b", "green": "orders-g"},
                       "target_groups": {"blue": "orders-tg-b", "green": "orders-tg-g"},
                       "load_balancer": "orders-dev-alb", "listener_port": 8000, "test_listener_port": 9000,
                       "scale_down_delay": 0},
        "canary": {"steps": [20, 100], "bake_seconds": 1, "analysis": {
            "min_requests": 5, "interval": 0.5, "period": 1, "max_p99_ms": 2000}},
    }},
}


def project(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    shutil.copy(EXAMPLE / "deploy" / "taskdef.json.j2", tmp_path / "deploy" / "taskdef.json.j2")
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump(ORDERS, sort_keys=False))
    return config


def test_a_second_service_gets_its_infrastructure_and_a_canary(aws: Any, tmp_path: Path) -> None:
    config = project(tmp_path)
    args = ["--config", str(config), "--env", "dev", "--json"]
    missing = run_cli(*args, "deploy", "--strategy", "canary", "--image", "orders:v2")
    assert missing.code == 2 and "pipeline-py local infra" in missing.json["message"]

    first = run_cli(*args, "local", "infra")
    assert first.code == 0, first.stderr
    made = first.json["created"]
    for piece in ("ECS cluster orders-dev", "ECS service (rolling) orders-api", "ECS service (blue) orders-b",
                  "ECS service (green) orders-g", "target group orders-tg-b", "target group orders-tg-g",
                  "load balancer orders-dev-alb", "listener orders-dev-alb:8000", "listener orders-dev-alb:9000",
                  "alarm orders-dev-errors", "log group /ecs/orders", "deploy lock table pipeline-py-locks"):
        assert piece in made, (piece, made)
    tgs = client("elbv2").describe_target_groups(Names=["orders-tg-b"])["TargetGroups"]
    assert tgs[0]["Port"] == 9090 and tgs[0]["HealthCheckPath"] == "/health"
    blue = client("ecs").describe_services(cluster="orders-dev", services=["orders-b"])["services"][0]
    assert blue["desiredCount"] == 3 and blue["loadBalancers"][0]["containerPort"] == 9090

    again = run_cli(*args, "local", "infra")
    assert again.code == 0 and again.json["created"] == [] and len(again.json["existing"]) >= len(made) - 1

    r = run_cli(*args, "deploy", "--strategy", "canary", "--image", "orders:v2")
    assert r.code == 0, r.stderr
    assert r.json["status"] == "succeeded" and r.json["new_colour"] == "green"
    assert r.json["new_colour_desired"] == 3
    s = run_cli(*args, "status")
    assert s.json["two_colour"]["weights"] == {"blue": 0, "green": 100}
    assert [svc["service"] for svc in s.json["services"]] == ["orders-api", "orders-b", "orders-g"]


def test_local_infra_refuses_an_endpoint_that_is_not_a_local_stack(tmp_path: Path, monkeypatch: Any) -> None:
    config = project(tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://ecs.us-east-1.amazonaws.com")
    r = run_cli("--config", str(config), "--env", "dev", "--json", "local", "infra")
    assert r.code == 2 and "local stack only" in r.json["message"]

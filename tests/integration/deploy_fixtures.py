"""Fixtures for deploy tests on the local stack: the sample service's infrastructure (sandbox) and
a project directory with the sample's template and a `local` environment tuned for fast tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from pipeline_py.aws import AwsFactory
from pipeline_py.local import sandbox
from tests.conftest import EXAMPLE, wait_for

LOCAL_ENV: dict[str, Any] = {
    "cluster": "task-api-local",
    "ecs_service": "task-api",
    "desired_count": 2,
    "poll_interval": 0.25,
    "timeout": 30,
    "rollback_timeout": 30,
    "bake_seconds": 0,
    "max_failed_tasks": 3,
    "alarms": [],
    "blue_green": {
        "services": {"blue": "task-api-blue", "green": "task-api-green"},
        "target_groups": {"blue": "task-api-blue", "green": "task-api-green"},
        "load_balancer": "task-api-local",
        "listener_port": 80,
        "test_listener_port": 8080,
        "scale_down_delay": 0,
    },
    "canary": {
        "steps": [10, 25, 50, 100],
        "bake_seconds": 2,
        "analysis": {"max_error_rate": 0.01, "max_p99_ms": 500, "min_requests": 10, "interval": 0.5,
                     "period": 1, "failure_limit": 1, "consecutive_failure_limit": 2},
    },
}


@dataclass
class Project:
    dir: Path
    config: Path
    infra: sandbox.Sandbox

    def write(self, **env_overrides: Any) -> Path:
        data = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
        env = _merge(LOCAL_ENV, env_overrides)
        data["environments"] = {"local": env}
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))
        return self.config

    def args(self, *argv: str) -> list[str]:
        return ["--config", str(self.config), "--env", "local", *argv]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def client(service: str) -> Any:
    return boto3.client(service)


def service(name: str = "task-api", cluster: str = "task-api-local") -> dict[str, Any]:
    return client("ecs").describe_services(cluster=cluster, services=[name], include=["TAGS"])["services"][0]


def primary_td(name: str = "task-api") -> str:
    return next(d["taskDefinition"] for d in service(name)["deployments"] if d["status"] == "PRIMARY")


def steady(name: str = "task-api") -> bool:
    s = service(name)
    return len(s["deployments"]) == 1 and s["runningCount"] == s["desiredCount"]


@pytest.fixture
def project(aws: Any, tmp_path: Path) -> Project:
    infra = sandbox.ensure(AwsFactory())
    (tmp_path / "deploy").mkdir()
    shutil.copy(EXAMPLE / "deploy" / "taskdef.json.j2", tmp_path / "deploy" / "taskdef.json.j2")
    p = Project(tmp_path, tmp_path / "pipeline.yaml", infra)
    p.write()
    wait_for(lambda: steady("task-api") and steady("task-api-blue"), what="the sandbox services to settle")
    return p

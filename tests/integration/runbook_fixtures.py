"""Fixtures for the runbook commands on the local stack: an RDS instance backed by a real PostgreSQL
cluster, its credentials from the local Secrets Manager, and a project whose environment names it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml

from tests.conftest import wait_for

SOURCE = "task-api-local"


def create_instance(name: str = SOURCE, **extra: Any) -> dict[str, Any]:
    """An RDS for PostgreSQL instance as terraform/modules/rds makes it (managed master password)."""
    rds = boto3.client("rds")
    rds.create_db_instance(DBInstanceIdentifier=name, Engine="postgres", EngineVersion="15.4",
                           DBInstanceClass="db.t3.micro", MasterUsername="app_admin", ManageMasterUserPassword=True,
                           AllocatedStorage=20, DBName="app", BackupRetentionPeriod=7, **extra)
    return wait_available(name)


def instance(name: str) -> dict[str, Any]:
    return dict(boto3.client("rds").describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0])


def wait_available(name: str, status: str = "available") -> dict[str, Any]:
    return dict(wait_for(lambda: (lambda d: d if d["DBInstanceStatus"] == status else None)(instance(name)),
                         timeout=120, interval=0.1, what=f"RDS instance {name} to be {status}"))


def connect(name: str) -> Any:
    """A real connection as the master user, with the password from the instance's managed secret."""
    import pg8000.native

    db = instance(name)
    creds = json.loads(boto3.client("secretsmanager").get_secret_value(
        SecretId=db["MasterUserSecret"]["SecretArn"])["SecretString"])
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return pg8000.native.Connection(creds["username"], password=creds["password"], host=db["Endpoint"]["Address"],
                                    port=db["Endpoint"]["Port"], database=db.get("DBName") or "postgres",
                                    ssl_context=ctx, timeout=10)


def run_sql(name: str, *statements: str) -> list[list[list[Any]]]:
    """The statements in order on one connection (one session); each one's rows."""
    conn = connect(name)
    try:
        return [conn.run(sql) or [] for sql in statements]
    finally:
        conn.close()


def rows(name: str, sql: str) -> list[list[Any]]:
    return run_sql(name, sql)[0]


@dataclass
class DbProject:
    config: Path

    def args(self, *argv: str) -> list[str]:
        return ["--config", str(self.config), "--env", "local", *argv]


def write_db_config(directory: Path, **database: Any) -> Path:
    path = directory / "pipeline.yaml"
    path.write_text(yaml.safe_dump({
        "service": "task-api", "region": "us-east-1",
        "environments": {"local": {"cluster": "task-api-local",
                                   "database": {"instance": SOURCE, "poll_interval": 0.1, **database}}},
    }, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def db_stack(local_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbProject]:
    """One source instance for a module's tests (each restores into its own new instances): moto is reset
    once, before, and every cluster goes at the next reset."""
    from pipeline_py.local.stack import aws_environment

    home = tmp_path_factory.mktemp("db-stack")
    with pytest.MonkeyPatch.context() as mp:
        for k, v in aws_environment(local_server.url).items():
            mp.setenv(k, v)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(k, raising=False)
        mp.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
        requests.post(local_server.url + "/moto-api/reset", timeout=30)
        create_instance()
        yield DbProject(write_db_config(home))
        requests.post(local_server.url + "/moto-api/reset", timeout=30)

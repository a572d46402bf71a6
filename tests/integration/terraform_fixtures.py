"""Terraform on the local stack: a copy of terraform/ whose provider and S3 backend talk to the
in-process moto server through test-only files, and a project (pipeline.yaml) driving it.

Test-only files written into the copy (never into the repository):

- ``local_stack_override.tf`` (the shared root ``stack/`` and ``bootstrap/``): the AWS provider's
  endpoints, the emulator's credentials and the checks an emulator cannot pass. Terraform merges
  ``*_override.tf`` into the ``provider "aws"`` block, so the root module's own code is what runs.
- ``local-stack.s3.tfbackend`` (staging, prod): the S3 backend in the moto bucket the bootstrap
  created (a key per environment), locking in its DynamoDB table, reached over plain HTTP.
- ``local-stack.tfvars``: what cannot be as in AWS locally. The bootstrap's TLS-only bucket policy
  (``BOOTSTRAP_LOCAL``: every request to the emulator is plain HTTP), and for prod, which is
  planned only, its account guard (the emulator is one account) and a certificate (``PROD_PLAN``).
  Staging runs with its own terraform.tfvars: every feature on, as in AWS.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.conftest import EXAMPLE, REPO, CliResult, run_cli

ACCOUNT = "123456789012"
REGION = "us-east-1"
STATE_BUCKET = f"task-api-{ACCOUNT}-terraform-state"
LOCK_TABLE = "task-api-terraform-locks"
STATE_KEY = "task-api/staging/terraform.tfstate"

# Provider endpoint names (terraform-provider-aws `endpoints` block) of every service the
# environments use.
ENDPOINT_SERVICES = (
    "applicationautoscaling", "budgets", "cloudwatch", "cloudwatchlogs", "dynamodb", "ec2", "ecr", "ecs",
    "elbv2", "iam", "kms", "rds", "s3", "secretsmanager", "sns", "ssm", "sts",
)

PROD_STATE_KEY = "task-api/prod/terraform.tfstate"

# prod is only planned: the emulator is account 123456789012 (prod's guard names 210987654321), and a
# certificate (HTTPS listener, redirect) as a real prod would have.
PROD_PLAN = {
    "allowed_account_ids": None,
    "certificate_arn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/00000000-0000-0000-0000-000000000000",
}
BOOTSTRAP_LOCAL = {
    # every request to the emulator is plain HTTP, which the aws:SecureTransport deny rejects (moto
    # enforces bucket policies); the S3 backend could not read or write the state
    "enforce_tls": False,
}


def _hcl(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f'"{value}"'


def tfvars(values: dict[str, Any]) -> str:
    return "".join(f"{k} = {_hcl(v)}\n" for k, v in values.items())


def provider_override(url: str) -> str:
    endpoints = "\n".join(f'    {s:<22} = "{url}"' for s in ENDPOINT_SERVICES)
    return f"""# Test-only: the AWS provider talks to the local stack ({url}).
provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  max_retries                 = 2

  endpoints {{
{endpoints}
  }}
}}
"""


def backend_config(url: str, key: str = STATE_KEY) -> str:
    return f"""# Test-only: S3 state and DynamoDB locks on the local stack ({url}).
bucket         = "{STATE_BUCKET}"
key            = "{key}"
region         = "{REGION}"
dynamodb_table = "{LOCK_TABLE}"
encrypt        = true

access_key                  = "testing"
secret_key                  = "testing"
skip_credentials_validation = true
skip_requesting_account_id  = true
skip_metadata_api_check     = true
skip_region_validation      = true
use_path_style              = true

endpoints = {{
  s3       = "{url}"
  dynamodb = "{url}"
  sts      = "{url}"
}}
"""


def copy_terraform(dest: Path) -> Path:
    """terraform/ without anything a developer's own runs left behind."""
    target = dest / "terraform"
    shutil.copytree(REPO / "terraform", target, ignore=shutil.ignore_patterns(
        ".terraform", "*.tfplan", "*.tfplan.json", "*.tfstate", "*.tfstate.*", "*_override.tf", "local-stack*"))
    return target


@dataclass
class TfProject:
    root: Path
    url: str
    timings: dict[str, float] = field(default_factory=dict)
    applied: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        return self.root / "pipeline.yaml"

    @property
    def stack_dir(self) -> Path:
        return self.root / "terraform" / "stack"

    @property
    def staging_dir(self) -> Path:
        return self.root / "terraform" / "environments" / "staging"

    @property
    def prod_dir(self) -> Path:
        return self.root / "terraform" / "environments" / "prod"

    @property
    def bootstrap_dir(self) -> Path:
        return self.root / "terraform" / "bootstrap"

    def args(self, env: str, *argv: str) -> list[str]:
        return ["--config", str(self.config), "--env", env, *argv]

    def cli(self, env: str, *argv: str) -> CliResult:
        return run_cli(*self.args(env, "--json", *argv))

    def timed(self, label: str, env: str, *argv: str) -> CliResult:
        start = time.monotonic()
        res = self.cli(env, *argv)
        self.timings[label] = round(time.monotonic() - start, 1)
        return res

    def start(self, env: str, *argv: str) -> Running:
        """``pipeline-py`` in a child process (in parallel with in-process runs). Its output goes to
        files: terraform's narration would fill a pipe nobody reads until the end, and block it."""
        label = f"{env} {' '.join(argv[:2])}"
        out, err = (self.root / f"{label.replace(' ', '-')}.{s}" for s in ("stdout", "stderr"))
        with out.open("w") as stdout, err.open("w") as stderr:
            proc = subprocess.Popen([sys.executable, "-m", "pipeline_py", *self.args(env, "--json", *argv)],
                                    cwd=REPO, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
        return Running(proc, self, label, out, err)


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    project: TfProject
    label: str
    stdout: Path
    stderr: Path
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        def timed() -> None:
            self.proc.wait()
            self.project.timings[self.label] = round(time.monotonic() - self.started, 1)

        threading.Thread(target=timed, daemon=True).start()

    def result(self, timeout: float = 600) -> CliResult:
        self.proc.wait(timeout=timeout)
        return CliResult(self.proc.returncode, self.stdout.read_text(), self.stderr.read_text())


def project_config(staging: dict[str, Any] | None = None) -> dict[str, Any]:
    """pipeline.yaml of the test project: the sample's service and template, our environments."""
    return {
        "service": "task-api",
        "region": REGION,
        "image": {"repository": "task-api"},
        "task_definition": {
            "template": "deploy/taskdef.json.j2",
            "vars": {"cpu": 256, "memory": 512, "container_port": 8080, "scenario": "healthy"},
        },
        "environments": {
            "bootstrap": {
                "terraform": {"dir": "terraform/bootstrap", "var_files": ["local-stack.tfvars"]},
            },
            "staging": {
                "strategy": "rolling",
                "from_terraform_outputs": True,
                "poll_interval": 0.25,
                "timeout": 60,
                "rollback_timeout": 60,
                "bake_seconds": 0,
                "terraform": {
                    "root": "terraform/stack",
                    "dir": "terraform/environments/{env}",
                    "backend_config": "local-stack.s3.tfbackend",
                    "lock_timeout": "2s",
                },
                **(staging or {}),
            },
            "prod": {
                "terraform": {
                    "root": "terraform/stack",
                    "dir": "terraform/environments/{env}",
                    "backend_config": "local-stack.s3.tfbackend",
                    "var_files": ["local-stack.tfvars"],
                },
            },
        },
    }


def make_project(dest: Path, url: str) -> TfProject:
    project = TfProject(dest, url)
    copy_terraform(dest)
    for d in (project.bootstrap_dir, project.stack_dir):
        (d / "local_stack_override.tf").write_text(provider_override(url))
    (project.bootstrap_dir / "local-stack.tfvars").write_text(tfvars(BOOTSTRAP_LOCAL))
    (project.staging_dir / "local-stack.s3.tfbackend").write_text(backend_config(url))
    (project.prod_dir / "local-stack.s3.tfbackend").write_text(backend_config(url, PROD_STATE_KEY))
    (project.prod_dir / "local-stack.tfvars").write_text(tfvars(PROD_PLAN))
    (dest / "deploy").mkdir()
    shutil.copy(EXAMPLE / "deploy" / "taskdef.json.j2", dest / "deploy" / "taskdef.json.j2")
    project.config.write_text(yaml.safe_dump(project_config(), sort_keys=False))
    return project


@contextmanager
def stack_environment(server: Any, home: Path) -> Iterator[Any]:
    """Like the ``aws`` fixture but for a whole module (tests that share one applied environment):
    moto is reset once, at the start, not before every test."""
    from pipeline_py.local.stack import aws_environment

    requests.post(server.url + "/moto-api/reset", timeout=10)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in aws_environment(server.url, REGION).items():
            mp.setenv(k, v)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(k, raising=False)
        mp.setenv("AWS_CONFIG_FILE", str(home / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        yield server


def apply_staging(project: TfProject) -> TfProject:
    """The state backend bootstrapped and the staging environment applied on the local stack,
    entirely through ``pipeline-py terraform``, then planned once more (``applied["replan"]``).
    prod is planned (``applied["prod plan"]``, ``<root>/prod.tfplan``) in a child process while
    staging applies: the apply is mostly the provider's fixed waits."""
    for env in ("bootstrap", "staging"):
        res = project.timed(f"{env} plan", env, "terraform", "plan")
        assert res.code == 0, res.stderr[-4000:]
        prod = project.start("prod", "terraform", "plan", "--plan-file", str(project.root / "prod.tfplan")) \
            if env == "staging" else None
        res = project.timed(f"{env} apply", env, "terraform", "apply")
        assert res.code == 0, res.stderr[-4000:]
        project.applied[env] = res.json
    res = project.timed("staging replan", "staging", "terraform", "plan", "--plan-file",
                        str(project.root / "replan.tfplan"))
    assert res.code == 0, res.stderr[-4000:]
    project.applied["replan"] = res.json
    assert prod is not None
    res = prod.result()
    assert res.code == 0, res.stderr[-4000:]
    project.applied["prod plan"] = res.json
    return project

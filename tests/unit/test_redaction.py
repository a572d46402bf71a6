"""Issue 14, "Secrets": redaction by value (every printed form) and by shape, secrets known from the
environment, template variables and task-definition secrets by name, and the plain-text warning."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from pipeline_py.report import Redactor, high_entropy, looks_secret
from pipeline_py.taskdef.exposure import plain_text_secrets
from tests.conftest import EXAMPLE, run_cli

SECRET = 'pa"ss\\w0rd-Zq9'


@pytest.mark.parametrize("form", [
    SECRET, json.dumps(SECRET), json.dumps(json.dumps(SECRET)), repr(SECRET), json.dumps({"k": SECRET}),
    yaml.safe_dump({"k": SECRET}), quote(SECRET, safe=""), base64.b64encode(SECRET.encode()).decode(),
    base64.b64encode(b"user:" + SECRET.encode()).decode(), base64.urlsafe_b64encode(b"xy" + SECRET.encode()).decode(),
])
def test_a_known_secret_is_redacted_in_every_printed_form(form: str) -> None:
    redact = Redactor([SECRET])
    out = redact(f"before {form} after")
    assert "****" in out and form not in out and out.startswith("before ") and out.endswith(" after")


@pytest.mark.parametrize(("text", "expect"), [
    ("push to https://AWS:eyJwYXlsb2FkIjoi@123456789012.dkr.ecr.us-east-1.amazonaws.com/x",
     "push to https://AWS:****@123456789012.dkr.ecr.us-east-1.amazonaws.com/x"),
    ("pip install git+https://jenkins:ghp_x1@github.example/r.git", "pip install git+https://jenkins:****@github.example/r.git"),
    ("GITHUB_TOKEN=ghp_R2d2C3poBb8LukeLeia0123456789abcdef", "GITHUB_TOKEN=****"),
    ("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end", "key **** end"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "jwt ****"),
])
def test_secrets_by_shape(text: str, expect: str) -> None:
    assert Redactor()(text) == expect


@pytest.mark.parametrize("text", [
    "image 123456789012.dkr.ecr.us-east-1.amazonaws.com/task-api@sha256:" + "9f86d081884c7d659a2feaa0c55ad015" * 2,
    "registered arn:aws:ecs:us-east-1:123456789012:task-definition/task-api-local:7",
    "deployment ecs-svc/4611686018427387904 task 0f3c9b1e2d4a4c6e8f0a1b2c3d4e5f60",
    "request 7a62c49f-347e-4fc4-9331-6e8e1b2c3d4e", "/work/main/examples/task-api/deploy/taskdef.json.j2",
    "git@github.com:org/repo.git and https://user@host/x", "TaskDefinitionRegisteredSuccessfullyForService",
    "/tmp/pytest-of-root/pytest-363/test_a_dockerfile_syntax_error0/ctx/Dockerfile:2: unknown instruction",
    "tmp/pytest-of-root/pytest-363/test_a_dockerfile_syntax_error0/ctx/Dockerfile",
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0d1c2b3a-4e5f-6789-abcd-ef0123456789-NJUFfY",
    "TF_DATA_DIR=/tmp/pytest-of-root/pytest-363/test_a_shared_root_keeps_each_0/infra/environments/qa/.terraform",
])
def test_what_is_not_a_secret_stays(text: str) -> None:
    assert Redactor()(text) == text


def test_names_that_look_secret() -> None:
    assert all(map(looks_secret, ["db_pass", "DB_PASSWORD", "apiKey", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY",
                                  "AWS_SESSION_TOKEN", "private_key", "JENKINS_AUTH", "app_secrets", "dbPwd"]))
    assert not any(map(looks_secret, ["PWD", "OLDPWD", "AWS_ACCESS_KEY_ID", "DB_PASSWORD_ARN", "TOKEN_FILE",
                                      "cache_key_prefix", "author", "bypass", "KEYBOARD", "container_port",
                                      "SSH_AUTH_SOCK"]))
    assert high_entropy("R2d2C3poBb8LukeLeia0123456789") and not high_entropy("a" * 30)


def test_environment_secrets_by_name_and_references_kept() -> None:
    redact = Redactor.from_environ({"DB_PASS": "hunter2hunter2", "PWD": "/work/main", "DB_PASSWORD_ARN":
                                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:db", "HOME": "/root/xyz"})
    assert redact("cd /work/main; pw hunter2hunter2; /root/xyz") == "cd /work/main; pw ****; /root/xyz"


def test_template_variables_by_name() -> None:
    redact = Redactor()
    assert redact.add_named("db_pass", "s3cr3t-value") == ["db_pass"]
    assert redact.add_named("app_secrets", {"DB_PASSWORD": "arn:aws:ssm:us-east-1:123456789012:parameter/x",
                                            "API_TOKEN": "tok-123456"}) == ["API_TOKEN"]
    assert redact.add_named("cpu", 256) == [] and redact.add_named("api_key", "short") == []
    assert redact("s3cr3t-value tok-123456 arn:aws:ssm:us-east-1:123456789012:parameter/x") == \
        "**** **** arn:aws:ssm:us-east-1:123456789012:parameter/x"


def test_plain_text_secrets_in_a_task_definition() -> None:
    td = {"containerDefinitions": [{"name": "app", "environment": [
        {"name": "DB", "value": "from-the-var-123"}, {"name": "API_TOKEN", "value": "plain-token-1"},
        {"name": "CREDS", "value": "also-a-secret"}, {"name": "MODE", "value": "production"}],
        "secrets": [{"name": "CREDS", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:c"}]}]}
    found = {p.name: p.why for p in plain_text_secrets(td, {"db_pass": "from-the-var-123", "mode": "production"})}
    assert found == {"DB": "it carries template variable db_pass", "API_TOKEN": "its name looks like a secret's",
                     "CREDS": "CREDS is also one of the task definition's secrets"}


TEMPLATE = """{"family": "{{ family }}", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
 "cpu": "256", "memory": "512",
 "containerDefinitions": [{"name": "app", "image": "{{ image }}",
   "environment": {{ environment({"DB_URL": "postgres://app:" ~ db_pass ~ "@db:5432/app", "MODE": "x"}) }}}]}
"""


def sample(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "td.json.j2").write_text(TEMPLATE)
    data = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    data["task_definition"] = {"template": "deploy/td.json.j2", "vars": {}}
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump(data))
    return cfg


def test_var_db_pass_is_redacted_in_render_and_warned_about(tmp_path: Path) -> None:
    cfg = sample(tmp_path)
    value = 'Hunter"2\\Long'
    for as_json in (False, True):
        r = run_cli("--config", str(cfg), "--env", "local", *(["--json"] if as_json else []), "render",
                    "--image", "task-api:v2", "--var", f"db_pass={value}")
        assert r.code == 0, r.stderr
        for form in (value, json.dumps(value)[1:-1], json.dumps(json.dumps(value))[3:-3]):
            assert form not in r.stdout and form not in r.stderr
        assert "environment DB_URL is a secret in plain text (it carries template variable db_pass)" in r.stderr
        assert "secrets:" in r.stderr and "****" in r.stdout


def test_an_environment_secret_is_redacted_in_json_escaped_form(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A token with a quote and a backslash used to appear JSON-escaped in render --json and in a
    --set error message."""
    token = 'tok"en\\with-Quote9'
    monkeypatch.setenv("DEPLOY_TOKEN", token)
    cfg = sample(tmp_path)
    r = run_cli("--config", str(cfg), "--env", "local", "--json", "render", "--image", "task-api:v2",
                "--var", f"db_pass={token}")
    assert r.code == 0 and json.dumps(token)[1:-1] not in r.stdout and token not in r.stdout
    r = run_cli("--config", str(cfg), "--json", "--set", f"cluster={token}", "config")
    assert r.code == 2
    for out in (r.stdout, r.stderr):
        assert token not in out and json.dumps(token)[1:-1] not in out and repr(token)[1:-1] not in out
    assert "--set cluster" in r.json["message"]


def test_config_output_never_folds_a_secret_out_of_reach(tmp_path: Path) -> None:
    long_value = "a long pass phrase with spaces that YAML would fold past the eightieth column éü 42"
    r = run_cli("--config", str(sample(tmp_path)), "--set", f"task_definition.vars.db_pass={long_value}", "config")
    assert r.code == 0, r.stderr
    assert "db_pass: ****" in r.stdout and "pass phrase" not in r.stdout


def test_redacted_json_stays_json() -> None:
    """A token right after an escape (``\\n``) is cut after it, so the JSON result still parses."""
    text = json.dumps({"m": "Lock Info:\nAbCdEfGh1234567890XyZqWeRtY99\tQwErTy123456789012AsDfGhJk",
                       "s": SECRET + "\\" + SECRET})
    out = Redactor([SECRET])(text)
    assert json.loads(out) == {"m": "Lock Info:\n****\t****", "s": "****\\****"}

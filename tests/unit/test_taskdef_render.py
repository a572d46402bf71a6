"""Templating: context, helpers, JSON-safe insertion and the errors a template author sees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline_py import taskdef
from pipeline_py.config import Settings, load_config
from pipeline_py.errors import BadInput
from tests.conftest import EXAMPLE

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/svc:1.4.2@sha256:" + "ab" * 32

BASE = """\
{
  "family": "{{ family }}",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "{{ cpu }}",
  "memory": "{{ memory }}",
  "containerDefinitions": [
    {"name": "app", "image": "{{ image }}", "portMappings": [{"containerPort": 8080}]BODY}
  ]
}
"""


def settings(**over: Any) -> Settings:
    data: dict[str, Any] = {
        "service": "svc",
        "region": "eu-west-1",
        "cluster": "svc-staging",
        "task_definition": {"template": "td.json.j2", "vars": {"cpu": 256, "memory": 512}},
    }
    data.update(over)
    return Settings.model_validate(data)


def write(tmp_path: Path, text: str, name: str = "td.json.j2") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def render(tmp_path: Path, body: str = "", *, template: str | None = None, s: Settings | None = None,
           env: str | None = "staging", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    write(tmp_path, template if template is not None else BASE.replace("BODY", body))
    return taskdef.render(s or settings(), tmp_path, env=env, image=IMAGE, extra_vars=extra)


def bad(tmp_path: Path, **kw: Any) -> str:
    with pytest.raises(BadInput) as info:
        render(tmp_path, **kw)
    return info.value.message


def app(td: dict[str, Any]) -> dict[str, Any]:
    return td["containerDefinitions"][0]


def test_builtin_variables_and_defaults(tmp_path: Path) -> None:
    body = ', "environment": {{ environment(S=service, E=env, R=region, C=cluster, ES=ecs_service, V=version) }}'
    td = render(tmp_path, body)
    assert td["family"] == "svc-staging"
    assert app(td)["image"] == IMAGE
    env = {e["name"]: e["value"] for e in app(td)["environment"]}
    assert env == {"S": "svc", "E": "staging", "R": "eu-west-1", "C": "svc-staging", "ES": "svc", "V": "1.4.2"}


def test_family_from_vars_and_var_overrides_config(tmp_path: Path) -> None:
    s = settings(task_definition={"template": "td.json.j2", "vars": {"cpu": 256, "memory": 512, "family": "custom"}})
    td = render(tmp_path, s=s, extra={"memory": 1024})
    assert td["family"] == "custom"
    assert td["memory"] == "1024"


def test_family_without_env_is_the_service(tmp_path: Path) -> None:
    assert render(tmp_path, env=None)["family"] == "svc"


@pytest.mark.parametrize("name", ["image", "env", "service"])
def test_reserved_names_cannot_be_vars(tmp_path: Path, name: str) -> None:
    msg = bad(tmp_path, extra={name: "x"})
    assert "--var" in msg and name in msg


def test_environment_helper_sorts_merges_and_stringifies(tmp_path: Path) -> None:
    body = ', "environment": {{ environment({"B": true, "A": 3, "C": {"k": [1]}}, {"B": false}, D="x") }}'
    env = app(render(tmp_path, body))["environment"]
    assert env == [
        {"name": "A", "value": "3"},
        {"name": "B", "value": "false"},
        {"name": "C", "value": '{"k": [1]}'},
        {"name": "D", "value": "x"},
    ]


def test_awslogs_helper(tmp_path: Path) -> None:
    body = (', "logConfiguration": {{ awslogs("/ecs/svc", create_group=true, mode="non-blocking", '
            'max_buffer_size="25m") }}')
    log = app(render(tmp_path, body))["logConfiguration"]
    assert log == {"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/svc", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "svc",
        "awslogs-create-group": "true", "mode": "non-blocking", "max-buffer-size": "25m"}}
    log = app(render(tmp_path, ', "logConfiguration": {{ awslogs("g", prefix="web", region="us-west-2") | tojson }}'))
    assert log["logConfiguration"]["options"]["awslogs-stream-prefix"] == "web"
    assert log["logConfiguration"]["options"]["awslogs-region"] == "us-west-2"


def test_secrets_helper_references(tmp_path: Path) -> None:
    sm = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
    refs = {"DB": sm, "DB_USER": sm + ":username::", "KEY": "/svc/api-key",
            "P": "arn:aws:ssm:eu-west-1:123456789012:parameter/x"}
    body = ', "secrets": {{ secrets(' + json.dumps(refs) + ') }}'
    plain = app(render(tmp_path, body))["secrets"]
    assert plain == [
        {"name": "DB", "valueFrom": sm},
        {"name": "DB_USER", "valueFrom": sm + ":username::"},
        {"name": "KEY", "valueFrom": "/svc/api-key"},
        {"name": "P", "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/x"},
    ]
    with_account = app(render(tmp_path, body, extra={"account_id": "123456789012"}))["secrets"]
    assert with_account[2]["valueFrom"] == "arn:aws:ssm:eu-west-1:123456789012:parameter/svc/api-key"


def test_secrets_helper_rejects_other_arns_with_the_template_line(tmp_path: Path) -> None:
    msg = bad(tmp_path, body=',\n "secrets": {{ secrets({"X": "arn:aws:s3:::bucket/key"}) }}')
    assert msg.startswith(f"{tmp_path / 'td.json.j2'}:9: secret 'X'")
    assert "Secrets Manager" in msg


def test_strings_are_json_escaped_inside_string_literals(tmp_path: Path) -> None:
    body = ', "command": ["sh", "-c", "{{ cmd }}"]'
    cmd = 'echo "hi" \\ there\nnext'
    assert app(render(tmp_path, body, extra={"cmd": cmd}))["command"][2] == cmd


def test_whole_values_with_tojson_and_plain_insertion(tmp_path: Path) -> None:
    body = ', "dockerLabels": {{ labels | tojson }}, "essential": {{ flag }}, "command": {{ cmd }}'
    c = app(render(tmp_path, body, extra={"labels": {"a": "b\"c"}, "flag": True, "cmd": ["x", "y"]}))
    assert c["dockerLabels"] == {"a": 'b"c'} and c["essential"] is True and c["command"] == ["x", "y"]


def test_safe_inserts_raw_text(tmp_path: Path) -> None:
    body = ', "dockerLabels": {{ raw | safe }}'
    assert app(render(tmp_path, body, extra={"raw": '{"a": "b"}'}))["dockerLabels"] == {"a": "b"}


def test_undefined_variable_names_it_and_the_template_line(tmp_path: Path) -> None:
    msg = bad(tmp_path, body=',\n "user": "{{ run_as }}"')
    first = msg.splitlines()[0]
    assert first == (f"{tmp_path / 'td.json.j2'}:9: undefined variable 'run_as' (define it under "
                     "task_definition.vars, in the environment section, or pass --var run_as=VALUE)")
    assert '9 | "user": "{{ run_as }}"' in msg
    assert "variables: cluster, cpu," in msg
    assert "Traceback" not in msg


def test_undefined_variable_inside_tojson_and_helpers(tmp_path: Path) -> None:
    assert "undefined variable 'nope'" in bad(tmp_path, body=', "dockerLabels": {{ nope | tojson }}')
    assert "undefined variable 'grp'" in bad(tmp_path, body=', "logConfiguration": {{ awslogs(grp) }}')
    assert "undefined variable 'x'" in bad(tmp_path, body=', "environment": {{ environment(A=x) }}')


def test_undefined_variable_in_an_included_template_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, '"user": "{{ who }}"\n', "user.j2")
    msg = bad(tmp_path, body=',\n {% include "user.j2" %}')
    assert msg.startswith(f"{tmp_path / 'user.j2'}:1: undefined variable 'who'")


def test_undefined_attribute(tmp_path: Path) -> None:
    msg = bad(tmp_path, body=', "user": "{{ ids.user }}"', extra={"ids": {}})
    assert msg.startswith(f"{tmp_path / 'td.json.j2'}:8: undefined value: 'dict object' has no attribute 'user'")


def test_syntax_error(tmp_path: Path) -> None:
    msg = bad(tmp_path, body=',\n {% if x %}')
    assert msg.startswith(f"{tmp_path / 'td.json.j2'}:") and "template syntax error" in msg


def test_invalid_json_shows_rendered_line_and_column(tmp_path: Path) -> None:
    msg = bad(tmp_path, template=BASE.replace("BODY", "").replace('"{{ memory }}",', '{{ memory }}'))
    lines = msg.splitlines()
    assert lines[0] == (f"{tmp_path / 'td.json.j2'}: the rendered template is not valid JSON: Expecting ',' "
                        "delimiter at line 7 column 3 of the rendered output:")
    assert lines[1].strip() == '6 |   "memory": 512'
    assert lines[2].strip() == '7 |   "containerDefinitions": ['
    assert lines[-1].endswith("|   ^")


def test_invalid_json_hint_for_python_values(tmp_path: Path) -> None:
    msg = bad(tmp_path, body=', "dockerLabels": {{ labels | string }}', extra={"labels": {"a": "b"}})
    assert "hint:" in msg and "tojson" in msg


def test_duplicate_keys_rejected(tmp_path: Path) -> None:
    assert "duplicate key 'image'" in bad(tmp_path, body=', "image": "other"')


def test_not_an_object(tmp_path: Path) -> None:
    assert "must be a JSON object, not list" in bad(tmp_path, template="[]")


def test_missing_template_and_unset_template(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not found"):
        taskdef.render(settings(), tmp_path, env="x", image=IMAGE)
    with pytest.raises(BadInput, match=r"task_definition\.template is not set"):
        taskdef.render(settings(task_definition={}), tmp_path, env="x", image=IMAGE)


def test_validation_error_names_the_template(tmp_path: Path) -> None:
    msg = bad(tmp_path, extra={"memory": 4096})
    assert msg.startswith(f"{tmp_path / 'td.json.j2'}: invalid task definition:")
    assert "memory: 4096 MiB is not valid with cpu 256 on Fargate" in msg


def test_a_describe_output_works_as_template(tmp_path: Path) -> None:
    td = json.loads(BASE.replace("BODY", "").replace("{{ family }}", "f").replace("{{ cpu }}", "256")
                    .replace("{{ memory }}", "512").replace("{{ image }}", "img"))
    td.update(taskDefinitionArn="arn:aws:ecs:eu-west-1:1:task-definition/f:3", revision=3, status="ACTIVE",
              compatibilities=["EC2", "FARGATE"], requiresAttributes=[{"name": "x"}],
              registeredAt="2024-01-01T00:00:00Z", registeredBy="arn:aws:iam::1:user/u")
    write(tmp_path, json.dumps({"taskDefinition": td, "tags": [{"key": "k", "value": "v"}]}))
    rendered = taskdef.render_template(settings(), tmp_path, env="staging", image=IMAGE)
    assert rendered.dropped == ["compatibilities", "registeredAt", "registeredBy", "requiresAttributes",
                                "revision", "status", "taskDefinitionArn"]
    assert rendered.task_definition["tags"] == [{"key": "k", "value": "v"}]
    assert "revision" not in rendered.task_definition


@pytest.mark.parametrize("env", ["local", "staging", "prod"])
@pytest.mark.parametrize("sidecar", [False, True])
def test_sample_template_renders_for_every_environment(env: str, sidecar: bool) -> None:
    loaded = load_config(EXAMPLE / "pipeline.yaml")
    td = taskdef.render(loaded.settings(env), loaded.base_dir, env=env, image=IMAGE,
                        extra_vars={"sidecar": sidecar, "scenario": "error-rate=0.5"})
    names = [c["name"] for c in td["containerDefinitions"]]
    assert names == (["app", "heartbeat"] if sidecar else ["app"])
    a = td["containerDefinitions"][0]
    assert a["essential"] is True and a["portMappings"][0]["containerPort"] == 8080
    env_vars = {e["name"]: e["value"] for e in a["environment"]}
    assert env_vars["APP_SCENARIO"] == "error-rate=0.5" and env_vars["APP_VERSION"] == "1.4.2"
    assert a["healthCheck"]["command"][0] == "CMD"
    assert a["logConfiguration"]["logDriver"] == "awslogs"
    assert td["family"] == f"task-api-{env}"
    assert {"key": "environment", "value": env} in td["tags"]
    taskdef.validate(td, lb_container="app", lb_port=8080)

"""Issue 14, "Fuzzing" and "Template injection": each finding reproduced through the CLI (in process,
no AWS), and what it does now — exit 2 with one message naming the file, option or field."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline_py import inputs
from pipeline_py.config import load_config
from pipeline_py.errors import BadInput
from tests.conftest import EXAMPLE, REPO, CliResult, run_cli

ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True))


def project(tmp_path: Path, *, template: str | bytes | None = None, **top: object) -> Path:
    """The sample project (config + template) in tmp_path, with top-level overrides."""
    (tmp_path / "deploy").mkdir(exist_ok=True)
    src = template if template is not None else (EXAMPLE / "deploy" / "taskdef.json.j2").read_text()
    path = tmp_path / "deploy" / "taskdef.json.j2"
    if isinstance(src, bytes):
        path.write_bytes(src)
    else:
        path.write_text(src)
    data = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    data.update(top)
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    return cfg


def cli(cfg: Path, *argv: str) -> CliResult:
    return run_cli("--config", str(cfg), "--json", *argv)


def render(cfg: Path, *argv: str) -> CliResult:
    return cli(cfg, "--env", "local", "render", "--image", "task-api:v2", *argv)


def bad_input(r: CliResult, *names: str) -> str:
    """Exit 2, no traceback, exactly one ERROR line, and the message names every one of ``names``."""
    assert r.code == 2, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert sum(" ERROR " in line for line in r.stderr.splitlines()) == 1, r.stderr
    message = str(r.json["message"])
    for name in names:
        assert name in message, (name, message)
    return message


# ---- decoding errors, deep nesting, huge numbers in every input file


def test_invalid_utf8_in_a_params_file(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    params = tmp_path / "p.json"
    params.write_bytes(b'{"image": "\xff\xfe"}')
    msg = bad_input(cli(cfg, "--params-file", str(params), "--env", "local", "render"), f"params file {params}:1")
    assert "not UTF-8" in msg


def test_invalid_utf8_in_the_template(tmp_path: Path) -> None:
    cfg = project(tmp_path, template=b'{"family": "\xc3\x28"}')
    assert "not UTF-8" in bad_input(render(cfg), "deploy/taskdef.json.j2")


def test_invalid_utf8_in_the_config_and_on_the_command_line(tmp_path: Path) -> None:
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_bytes(b"service: t\xe9st\n")
    bad_input(cli(cfg, "config"), str(cfg), "not UTF-8")
    bad_input(render(project(tmp_path), "--var", "x=\udcff"), "not UTF-8")


def test_yaml_nested_thousands_of_levels(tmp_path: Path) -> None:
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("service: x\nalarms: " + "[" * 5000 + "]" * 5000 + "\n")
    bad_input(cli(cfg, "config"), f"{cfg}:2", "nested deeper than 50 levels")


def test_params_json_nested_fifty_thousand_levels(tmp_path: Path) -> None:
    params = tmp_path / "p.json"
    params.write_text('{"set": ' + "[" * 50_000 + "]" * 50_000 + "}")
    bad_input(cli(project(tmp_path), "--params-file", str(params), "config"), f"params file {params}", "nested")


def test_rendered_json_nested_twenty_thousand_levels(tmp_path: Path) -> None:
    cfg = project(tmp_path, template='{"family": "x", "deep": ' + "[" * 20_000 + "]" * 20_000 + "}")
    bad_input(render(cfg), "deploy/taskdef.json.j2", "nests deeper than 50 levels")


@pytest.mark.parametrize("where", ["yaml", "json", "set"])
def test_a_5000_digit_integer(tmp_path: Path, where: str) -> None:
    huge = "9" * 5000
    cfg = project(tmp_path)
    if where == "yaml":
        cfg.write_text(cfg.read_text() + f"desired_count: {huge}\n")
        bad_input(cli(cfg, "config"), str(cfg), "5000 digits")
    elif where == "json":
        params = tmp_path / "p.json"
        params.write_text('{"desired_count": ' + huge + "}")
        bad_input(cli(cfg, "--params-file", str(params), "--env", "local", "deploy", "--dry-run"), "params file",
                  "5000 digits")
    else:
        bad_input(cli(cfg, "--set", f"desired_count={huge}", "config"), "--set desired_count", "5000 digits")


def test_an_alias_bomb_exits_2_in_bounded_memory(tmp_path: Path) -> None:
    """A 600-byte YAML that expands to ~430 million values: refused before it is expanded. Run as a
    child process limited to 1 GiB of address space (it used to grow past 2.7 GB and hang)."""
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text(ALIAS_BOMB + "service: x\n")

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    p = subprocess.run([sys.executable, "-m", "pipeline_py", "--config", str(cfg), "--json", "config"], cwd=REPO,
                       capture_output=True, text=True, timeout=120, preexec_fn=limit)
    bad_input(CliResult(p.returncode, p.stdout, p.stderr), str(cfg), "alias bomb")


@pytest.mark.parametrize("where", ["alarms: *h", "--set"])
def test_an_alias_bomb_anywhere(tmp_path: Path, where: str) -> None:
    cfg = tmp_path / "pipeline.yaml"
    if where == "--set":
        cfg.write_text("service: x\n")
        flow = "{" + ALIAS_BOMB.strip().replace("\n", ", ") + "}"
        bad_input(cli(cfg, "--set", f"task_definition.vars.bomb={flow}", "config"), "--set task_definition.vars.bomb",
                  "alias bomb")
    else:
        cfg.write_text(ALIAS_BOMB.replace("a: &a", "x: &a") + "service: x\nalarms: *h\n")
        bad_input(cli(cfg, "config"), str(cfg), "alias bomb")


# ---- values within the ranges AWS documents


@pytest.mark.parametrize(("value", "expect"), [
    ("abc", "int: cannot convert 'abc' to a whole number"),
    ("-1", "containerPort: -1 is not a port (1–65535)"),
    ("1e999", "int: cannot convert '1e999'"),
    ("70000", "containerPort: 70000 is not a port (1–65535)"),
])
def test_container_port_from_var_is_converted_strictly_and_range_checked(tmp_path: Path, value: str,
                                                                         expect: str) -> None:
    bad_input(render(project(tmp_path), "--var", f"container_port={value}"), "deploy/taskdef.json.j2", expect)


def test_execution_role_must_be_an_arn(tmp_path: Path) -> None:
    bad_input(render(project(tmp_path), "--var", "execution_role_arn=not-an-arn"), "deploy/taskdef.json.j2",
              "executionRoleArn: 'not-an-arn' is not an IAM role ARN")


@pytest.mark.parametrize(("assignment", "expect"), [
    ("service=", "service: not a valid service name"),
    ("service=täsk-api", "service: not a valid service name"),
    ("service=" + "s" * 256, "service: not a valid service name"),
    ("timeout=.inf", "not a finite number"),
    ("timeout=999999999999999999999h", "timeout: not a duration"),
    ("timeout=100000h", "timeout: longer than the longest duration allowed (24h)"),
    ("desired_count=1e26", "desired_count:"),
    ("desired_count=100000000000000000000000000.0", "desired_count: Unable to parse input string as an integer"),
    ("desired_count=6000", "desired_count: Input should be less than or equal to 5000"),
    ("blue_green.listener_port=65536", "blue_green.listener_port: Input should be less than or equal to 65535"),
    ("cluster=a b", "cluster: not a valid ECS cluster name"),
    ("role_arn=not-an-arn", "role_arn: not a valid IAM role ARN"),
    ("blue_green.target_groups.blue=-tg", "blue_green.target_groups.blue: not a valid target group name"),
    ("blue_green.load_balancer=" + "l" * 33, "blue_green.load_balancer: not a valid load balancer name"),
    ("canary.analysis.period=7", "canary.analysis.period: CloudWatch takes a period of"),
    ("run_task.container=a.b", "run_task.container: not a valid container name"),
    ("region=mars", "region: not a valid AWS region name"),
])
def test_values_outside_what_aws_accepts_name_the_field_and_set(tmp_path: Path, assignment: str,
                                                                 expect: str) -> None:
    bad_input(cli(project(tmp_path), "--env", "local", "--set", assignment, "config"),
              f"--set {assignment.split('=')[0]}", expect)


def test_the_same_values_in_the_file_name_the_file_and_line(tmp_path: Path) -> None:
    cfg = project(tmp_path, service="", desired_count=6000)
    msg = bad_input(cli(cfg, "config"), f"{cfg}:1: service: not a valid service name")
    assert "desired_count: Input should be less than or equal to 5000" in msg


def test_a_service_too_long_for_its_family_fails_in_config_not_in_render(tmp_path: Path) -> None:
    cfg = project(tmp_path, service="s" * 250)
    bad_input(cli(cfg, "config"), f"{cfg}:1: service:", "longer than ECS's 255 characters", "environment 'local'")


def test_set_unknown_key_is_blamed_on_set(tmp_path: Path) -> None:
    msg = bad_input(cli(project(tmp_path), "--env", "local", "--set", "unknown.key=1", "config"),
                    "--set unknown.key: unknown: unknown key")
    assert "pipeline.yaml" not in msg


# ---- the template path


@pytest.mark.parametrize("template", ["/etc/passwd", "deploy", "../../..", "missing.j2"])
def test_config_checks_the_template_path(tmp_path: Path, template: str) -> None:
    (tmp_path / "proj").mkdir()
    cfg = project(tmp_path / "proj", task_definition={"template": template})
    expect = {"/etc/passwd": "outside the project directory", "deploy": "is not a regular file",
              "../../..": "is not a regular file", "missing.j2": "not found"}[template]
    bad_input(cli(cfg, "config"), f"{cfg}:", "task_definition.template", expect)
    bad_input(render(cfg), "task_definition.template", expect)


def test_a_template_outside_the_project_when_the_config_allows_it(tmp_path: Path) -> None:
    outside = tmp_path / "shared.json.j2"
    outside.write_text((EXAMPLE / "deploy" / "taskdef.json.j2").read_text())
    (tmp_path / "proj").mkdir()
    cfg = project(tmp_path / "proj", task_definition={"template": "../shared.json.j2", "allow_outside_project": True,
                                                      **yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())[
                                                          "task_definition"] | {"template": "../shared.json.j2"}})
    assert cli(cfg, "config").code == 0
    assert render(cfg).code == 0
    link = tmp_path / "proj" / "deploy" / "link.j2"
    link.symlink_to("/etc/hostname")
    cfg2 = project(tmp_path / "proj", task_definition={"template": "deploy/link.j2"})
    bad_input(cli(cfg2, "config"), "outside the project directory")


def test_an_include_may_not_escape_the_template_directory(tmp_path: Path) -> None:
    cfg = project(tmp_path, template='{% include "secret.txt" %}')
    (tmp_path / "deploy" / "secret.txt").symlink_to("/etc/hostname")
    bad_input(render(cfg), "outside the template directory")


# ---- template injection: the sandbox


PAYLOADS = {
    "{{ ''.__class__.__mro__[1].__subclasses__()|length }}": "access to attribute '__class__'",
    "{{ cycler.__init__.__globals__ }}": "",
    "{{ lipsum.__globals__['os'] }}": "",
    "{{ self.__dict__ }}": "access to attribute '__dict__'",
    "{{ environment.__globals__ }}": "access to attribute '__globals__'",
    "{{ ''.format.__globals__ }}": "access to attribute '__globals__'",
    "{{ 'a'|attr('__class__') }}": "access to attribute '__class__'",
    "{{ [1]|map(attribute='__class__')|list }}": "access to attribute '__class__'",
    "{{ range(10**9)|length }}": "range() of 1000000000 items",
    "{{ 'a' * 10**9 }}": "repeating 1 characters/items 1000000000 times",
    "{{ 10**(10**10) }}": "is larger than 4096 bits",
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}": "more than 100000 loop",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}":
        "more than 10000 calls",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}": "nests too deeply",
    "{% macro s(t) %}{{ s(t ~ t) }}{% endmacro %}{{ s('ab') }}": "characters/items long",
    "{{ '{:>999999999}'.format(1) }}": "format width or precision of 999999999",
    "{{ '%999999999d' % 1 }}": "%-format width or precision of 999999999",
    "{{ 'x'.center(999999999) }}": ".center() with 999999999",
    "{{ ('a' * 100000)|replace('a', 'a' * 1000) }}": "a replace that could build",
    "{{ {}|tojson(indent=100000) }}": "| tojson with 100000",
    "{{ namespace() }}": "undefined variable 'namespace'",
}


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_template_injection_is_refused_naming_the_template(tmp_path: Path, payload: str) -> None:
    msg = bad_input(render(project(tmp_path, template='{"family": "x", "n": "' + payload + '"}')),
                    "deploy/taskdef.json.j2")
    assert PAYLOADS[payload] in msg
    assert "not allowed in a template" in msg or "undefined" in msg or "nests too deeply" in msg


def test_a_template_may_use_the_documented_helpers_and_filters(tmp_path: Path) -> None:
    r = render(project(tmp_path), "--var", "sidecar=true", "--var", "app_secrets={DB_PASSWORD: /task-api/db}")
    assert r.code == 0, r.stderr
    td = r.json["task_definition"]
    assert [c["name"] for c in td["containerDefinitions"]] == ["app", "heartbeat"]
    assert td["containerDefinitions"][0]["portMappings"][0]["containerPort"] == 8080


def test_load_config_limits_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bounds hold for library callers of load_config (the value limit lowered to keep this fast)."""
    cfg = tmp_path / "pipeline.yaml"
    cfg.write_text("service: x\ntimeout: 1" + "0" * 30 + "\n")
    with pytest.raises(BadInput, match="31 digits is out of range"):
        load_config(cfg)
    monkeypatch.setattr(inputs, "MAX_NODES", 100)
    cfg.write_text(json.dumps({"service": "x", "alarms": ["a"] * 101}))
    with pytest.raises(BadInput, match="more than 100 values"):
        load_config(cfg)

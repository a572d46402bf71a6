"""Config loading, validation messages (field, file, line) and precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_py.config import load_config, parse_assignment
from pipeline_py.errors import BadInput
from tests.conftest import EXAMPLE, run_cli


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "pipeline.yaml"
    p.write_text(text)
    return p


def error_of(path: Path) -> str:
    with pytest.raises(BadInput) as exc:
        load_config(path)
    return exc.value.message


def test_the_example_config_is_valid_for_every_environment() -> None:
    loaded = load_config(EXAMPLE / "pipeline.yaml")
    assert loaded.environments == ["local", "prod", "staging"]
    prod = loaded.settings("prod")
    assert prod.strategy == "canary" and prod.canary.bake_seconds == 300
    assert prod.task_definition.vars["cpu"] == 512 and prod.task_definition.vars["container_port"] == 8080


def test_missing_file() -> None:
    assert "config file /nonexistent/pipeline.yaml not found" in error_of(Path("/nonexistent/pipeline.yaml"))


def test_unreadable_file(tmp_path: Path) -> None:
    assert "cannot be read" in error_of(tmp_path)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    p = write(tmp_path, "service: x\nenvironments:\n  staging: {cluster: [\n")
    msg = error_of(p)
    assert msg.startswith(f"{p}:") and "invalid YAML" in msg


def test_unknown_key_is_named_with_its_line(tmp_path: Path) -> None:
    p = write(tmp_path, "service: x\nimage:\n  repository: r\n  dockerfil: Dockerfile\n")
    msg = error_of(p)
    assert f"{p}:4: image.dockerfil: unknown key" in msg


def test_wrong_type_in_an_environment_names_env_and_line(tmp_path: Path) -> None:
    p = write(tmp_path, "service: x\nenvironments:\n  staging:\n    cluster: c\n    timeout: soon\n")
    msg = error_of(p)
    assert f"{p}:5: timeout:" in msg and "'soon'" in msg and "[environment staging]" in msg


def test_a_typo_in_prod_fails_a_staging_run_too(tmp_path: Path) -> None:
    p = write(tmp_path, "service: x\nenvironments:\n  staging: {cluster: a}\n  prod: {clustr: b}\n")
    msg = error_of(p)
    assert f"{p}:4: clustr: unknown key [environment prod]" in msg


def test_required_service(tmp_path: Path) -> None:
    assert "service: required field is missing" in error_of(write(tmp_path, "region: us-east-1\n"))


def test_unknown_environment_lists_known(tmp_path: Path) -> None:
    p = write(tmp_path, "service: x\nenvironments:\n  staging: {}\n  prod: {}\n")
    with pytest.raises(BadInput) as exc:
        load_config(p).settings("qa")
    assert "unknown environment 'qa' (known: prod, staging)" in exc.value.message


def test_env_section_overrides_nested_fields_by_deep_merge(tmp_path: Path) -> None:
    p = write(tmp_path, "service: x\ntask_definition:\n  template: t.j2\n  vars: {cpu: 256, memory: 512}\n"
                        "environments:\n  prod:\n    task_definition:\n      vars: {cpu: 1024}\n")
    s = load_config(p).settings("prod")
    assert s.task_definition.template == "t.j2"
    assert s.task_definition.vars == {"cpu": 1024, "memory": 512}


def test_overrides_win_and_are_validated(tmp_path: Path) -> None:
    p = write(tmp_path, "service: x\ntimeout: 60\n")
    loaded = load_config(p)
    assert loaded.settings(None, {"timeout": "5m"}).timeout == 300
    with pytest.raises(BadInput) as exc:
        loaded.settings(None, {"timeout": -1})
    assert "command-line/params override: timeout" in exc.value.message


def test_durations() -> None:
    from pipeline_py.config import _duration

    assert _duration("250ms") == 0.25 and _duration("90s") == 90 and _duration("2h") == 7200 and _duration(5) == 5.0
    with pytest.raises(ValueError):
        _duration("five")


def test_canary_steps_validation(tmp_path: Path) -> None:
    for steps, text in (("[10, 50]", "end at 100"), ("[50, 10, 100]", "increasing"), ("[0, 100]", "1..100"),
                        ("[]", "at least one")):
        p = write(tmp_path, f"service: x\ncanary:\n  steps: {steps}\n")
        assert text in error_of(p)


def test_parse_assignment() -> None:
    assert parse_assignment("a.b=3") == ("a.b", 3)
    assert parse_assignment("x=[1, 2]") == ("x", [1, 2])
    assert parse_assignment("s=error-rate=0.2") == ("s", "error-rate=0.2")
    with pytest.raises(BadInput):
        parse_assignment("novalue")


def test_config_command_needs_no_env_but_names_known_ones_for_deploy(tmp_path: Path) -> None:
    p = write(tmp_path, "service: x\nenvironments:\n  staging: {}\n")
    assert run_cli("--config", str(p), "config").code == 0
    r = run_cli("--config", str(p), "--json", "deploy", "--image", "x")
    assert r.code == 2 and "needs --env NAME (known environments: staging)" in r.json["message"]

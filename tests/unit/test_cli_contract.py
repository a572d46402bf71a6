from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

MINIMAL = """\
service: task-api
region: us-east-1
timeout: 600
environments:
  staging:
    cluster: c-staging
    timeout: 300
  prod:
    cluster: c-prod
    strategy: canary
"""


def write(tmp_path: Path, text: str = MINIMAL, name: str = "pipeline.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_json_result_is_one_object_on_stdout_and_narration_on_stderr(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    r = run_cli("--config", str(cfg), "--env", "staging", "--json", "config")
    assert r.code == 0
    obj = json.loads(r.stdout)
    assert obj["status"] == "ok"
    assert obj["config"]["cluster"] == "c-staging"
    assert "valid" in r.stderr and "valid" not in r.stdout


def test_global_options_after_the_command(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    r = run_cli("config", "--config", str(cfg), "--env", "prod", "--json")
    assert r.code == 0, r.stderr
    assert r.json["config"]["strategy"] == "canary"


def test_precedence_defaults_file_env_params_flags(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    # default 5.0 (poll_interval) < file top-level 600 < env 300 < params < flag
    r = run_cli("--config", str(cfg), "--env", "staging", "--json", "config")
    c = r.json["config"]
    assert c["poll_interval"] == 5.0 and c["timeout"] == 300
    prod = run_cli("--config", str(cfg), "--env", "prod", "--json", "config").json["config"]
    assert prod["timeout"] == 600
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"set": ["timeout=120", "poll_interval=2"]}))
    c = run_cli("--config", str(cfg), "--env", "staging", "--json", "--params-file", str(params), "config").json
    assert c["config"]["timeout"] == 120 and c["config"]["poll_interval"] == 2
    c = run_cli("--config", str(cfg), "--env", "staging", "--json", "--params-file", str(params),
                "--set", "timeout=60", "config").json
    assert c["config"]["timeout"] == 60 and c["config"]["poll_interval"] == 2


def test_params_file_can_carry_global_options(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"env": "prod", "config": str(cfg)}))
    r = run_cli("config", "--params-file", str(params), "--json")
    assert r.code == 0, r.stderr
    assert r.json["env"] == "prod"


def test_params_file_not_an_object_is_bad_input(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    params = tmp_path / "p.json"
    params.write_text("[1, 2]")
    r = run_cli("--config", str(cfg), "--json", "--params-file", str(params), "config")
    assert r.code == 2
    assert r.json["error"] == "bad_input"
    assert "must be a JSON object" in r.json["message"]
    assert "Traceback" not in r.stderr


def test_params_file_unknown_key_is_named(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"strategyy": "x"}))
    r = run_cli("--config", str(cfg), "--params-file", str(params), "config")
    assert r.code == 2
    assert "'strategyy'" in r.stderr


def test_params_file_invalid_json_names_line(tmp_path: Path) -> None:
    params = tmp_path / "p.json"
    params.write_text('{\n "env": "x",\n oops\n}')
    r = run_cli("--params-file", str(params), "config")
    assert r.code == 2
    assert "p.json:3" in r.stderr


def test_params_values_are_never_interpreted(tmp_path: Path) -> None:
    cfg = write(tmp_path)
    nasty = "a'b\"c $(touch pwned) `id`; rm -rf / \n next"
    params = tmp_path / "p.json"
    params.write_text(json.dumps({"set": [f"task_definition.vars.note={nasty}"]}))
    r = run_cli("--config", str(cfg), "--env", "staging", "--json", "--params-file", str(params), "config")
    assert r.code == 0, r.stderr
    assert r.json["config"]["task_definition"]["vars"]["note"].startswith("a'b\"c $(touch pwned)")
    assert not (tmp_path / "pwned").exists()


def test_unknown_command_is_bad_input() -> None:
    r = run_cli("frobnicate", "--json")
    assert r.code == 2
    assert "invalid choice" in r.json["message"]


def test_version() -> None:
    import io
    from contextlib import redirect_stdout

    import pytest

    from pipeline_py import __version__
    from pipeline_py.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf), pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in buf.getvalue()


def test_params_booleans_and_option_aliases_map_to_the_right_flags(tmp_path: Path) -> None:
    from pipeline_py.cli import parse

    params = tmp_path / "p.json"
    params.write_text(json.dumps({"registry": True, "timing": '{"scale": 0.01}'}))
    args = parse(["local", "up", "--params-file", str(params)])
    assert args.registry is True and args.timing == '{"scale": 0.01}'
    params.write_text(json.dumps({"registry": False}))
    assert parse(["local", "up", "--params-file", str(params)]).registry is False
    params.write_text(json.dumps({"timeout": "5m", "to": "arn:td:1"}))
    args = parse(["rollback", "--params-file", str(params)])
    assert args.rollback_timeout == "5m" and args.to == "arn:td:1"
    params.write_text(json.dumps({"rollback-timeout": "7m"}))
    assert parse(["rollback", "--params-file", str(params)]).rollback_timeout == "7m"


def test_set_before_and_after_the_command_accumulate_with_the_params_file_first(tmp_path: Path) -> None:
    """argparse replaces a subcommand's values over the top level's: `--set` before the command must
    not be lost when another `--set` follows it (the demo's native canary relied on both)."""
    from pipeline_py.cli import parse

    params = tmp_path / "p.json"
    params.write_text(json.dumps({"set": ["canary.bake_seconds=1"]}))
    ns = parse(["--set", "ecs_service=a", "deploy", "--params-file", str(params), "--set", "canary.bake_seconds=6"])
    assert ns.set == ["canary.bake_seconds=1", "ecs_service=a", "canary.bake_seconds=6"]
    assert not hasattr(ns, "set_after_command")


def test_a_required_option_may_come_from_the_params_file(tmp_path: Path) -> None:
    from pipeline_py.cli import parse
    from pipeline_py.errors import BadInput

    params = tmp_path / "p.json"
    params.write_text(json.dumps({"target": "orders-restored", "snapshot": "snap-1"}))
    ns = parse(["db", "restore", "--params-file", str(params)])
    assert ns.target == "orders-restored"
    with pytest.raises(BadInput, match="required: --target"):
        parse(["db", "restore", "--snapshot", "snap-1"])

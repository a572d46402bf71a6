"""``pipeline-py render`` without AWS: stdout, --json, --output, --var, params file and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import EXAMPLE, run_cli

CONFIG = str(EXAMPLE / "pipeline.yaml")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/task-api:7@sha256:" + "c" * 64


def test_prints_the_rendered_json_to_stdout() -> None:
    r = run_cli("--config", CONFIG, "--env", "local", "render", "--image", IMAGE)
    assert r.code == 0, r.stderr
    td = json.loads(r.stdout)
    assert td["family"] == "task-api-local"
    assert td["containerDefinitions"][0]["image"] == IMAGE
    assert "rendered task-api-local" in r.stderr


def test_json_result(tmp_path: Path) -> None:
    out = tmp_path / "td.json"
    r = run_cli("--config", CONFIG, "--env", "prod", "--json", "render", "--image", IMAGE,
                "--var", "scenario=crash", "--var", "sidecar=true", "--output", str(out))
    assert r.code == 0, r.stderr
    res = r.json
    assert res["status"] == "ok" and res["command"] == "render"
    assert res["family"] == "task-api-prod" and res["image"] == IMAGE and res["output"] == str(out)
    assert [c["name"] for c in res["task_definition"]["containerDefinitions"]] == ["app", "heartbeat"]
    assert json.loads(out.read_text()) == res["task_definition"]
    assert res["task_definition"]["cpu"] == "512"
    assert "diff" not in res and "task_definition_arn" not in res


def test_output_file_without_json_prints_nothing(tmp_path: Path) -> None:
    out = tmp_path / "td.json"
    r = run_cli("--config", CONFIG, "--env", "local", "render", "--image", IMAGE, "--output", str(out))
    assert r.code == 0 and r.stdout == ""
    assert json.loads(out.read_text())["family"] == "task-api-local"


def test_vars_from_a_params_file(tmp_path: Path) -> None:
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"image": IMAGE, "var": {"scenario": "slow-start=5", "memory": 1024}}))
    r = run_cli("--config", CONFIG, "--env", "local", "--json", "--params-file", str(params), "render")
    assert r.code == 0, r.stderr
    td = r.json["task_definition"]
    assert td["memory"] == "1024"
    env = {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}
    assert env["APP_SCENARIO"] == "slow-start=5"


def test_image_recorded_by_push(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "deploy").mkdir(parents=True)
    (project / "pipeline.yaml").write_text((EXAMPLE / "pipeline.yaml").read_text())
    (project / "deploy" / "taskdef.json.j2").write_text((EXAMPLE / "deploy" / "taskdef.json.j2").read_text())
    (project / ".pipeline-py").mkdir()
    (project / ".pipeline-py" / "last-push.json").write_text(json.dumps({
        "image": IMAGE, "repository_uri": IMAGE.split(":")[0], "digest": IMAGE.split("@")[1]}))
    r = run_cli("--env", "local", "--json", "render", cwd=project)
    assert r.code == 0, r.stderr
    assert r.json["image"] == IMAGE
    assert r.json["task_definition"]["containerDefinitions"][0]["environment"][-1] == {
        "name": "APP_VERSION", "value": "7"}


def test_bad_input_exits_2_with_one_message_and_json_error(tmp_path: Path) -> None:
    r = run_cli("--config", CONFIG, "--env", "local", "--json", "render", "--image", IMAGE, "--var", "memory=3000")
    assert r.code == 2
    res = r.json
    assert res["error"] == "bad_input" and res["exit_code"] == 2
    assert "memory: 3000 MiB is not valid with cpu 256 on Fargate" in res["message"]
    assert "Traceback" not in r.stderr


def test_no_image(tmp_path: Path) -> None:
    import shutil

    shutil.copy(CONFIG, tmp_path / "pipeline.yaml")
    shutil.copytree(EXAMPLE / "deploy", tmp_path / "deploy")
    r = run_cli("--config", str(tmp_path / "pipeline.yaml"), "--env", "local", "render")
    assert not (tmp_path / ".pipeline-py").exists()
    assert r.code == 2
    assert "no image: pass --image REF or run `pipeline-py push` first" in r.stderr


def test_env_is_required() -> None:
    r = run_cli("--config", CONFIG, "render", "--image", IMAGE)
    assert r.code == 2 and "needs --env" in r.stderr


def test_warns_about_plain_text_secrets_and_unused_image(tmp_path: Path) -> None:
    (tmp_path / "td.json.j2").write_text(json.dumps({
        "family": "x", "containerDefinitions": [{
            "name": "app", "image": "pinned:1", "memory": 128,
            "environment": [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}]}]}))
    (tmp_path / "pipeline.yaml").write_text("service: x\ntask_definition: {template: td.json.j2}\n"
                                            "environments: {dev: {}}\n")
    r = run_cli("--config", str(tmp_path / "pipeline.yaml"), "--env", "dev", "render", "--image", "repo:1")
    assert r.code == 0, r.stderr
    assert "no container uses the image repo:1" in r.stderr
    assert "environment DB_PASSWORD is a secret in plain text (its name looks like a secret's)" in r.stderr
    assert "hunter2hunter2" not in r.stdout + r.stderr

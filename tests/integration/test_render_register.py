"""render --register / --diff against the local stack (a real moto server)."""

from __future__ import annotations

from typing import Any

from pipeline_py import taskdef
from pipeline_py.aws import AwsFactory, AwsSettings
from pipeline_py.config import load_config
from tests.conftest import EXAMPLE, run_cli

CONFIG = str(EXAMPLE / "pipeline.yaml")
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/task-api:3@sha256:" + "d" * 64


def ecs() -> Any:
    return AwsFactory(AwsSettings(region="us-east-1")).client("ecs")


def render(*extra: str) -> Any:
    return run_cli("--config", CONFIG, "--env", "local", "--json", "render", "--image", IMAGE, *extra)


def arns() -> list[str]:
    return ecs().list_task_definitions(familyPrefix="task-api-local")["taskDefinitionArns"]


def env_of(td: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in td["containerDefinitions"][0]["environment"]}


def test_register_once_then_identical_is_not_registered_again(aws: Any) -> None:
    first = render("--register")
    assert first.code == 0, first.stderr
    res = first.json
    assert res["created"] is True and res["task_definition_arn"].endswith(":task-definition/task-api-local:1")
    assert res["api_calls"]["by_operation"]["ecs.RegisterTaskDefinition"] == 1

    live = ecs().describe_task_definition(taskDefinition=res["task_definition_arn"], include=["TAGS"])
    assert {"key": "environment", "value": "local"} in live["tags"]
    assert env_of(live["taskDefinition"])["APP_SCENARIO"] == "healthy"
    assert live["taskDefinition"]["containerDefinitions"][0]["image"] == IMAGE

    again = render("--register")
    assert again.code == 0, again.stderr
    assert again.json["created"] is False
    assert again.json["task_definition_arn"] == res["task_definition_arn"]
    assert "ecs.RegisterTaskDefinition" not in again.json["api_calls"]["by_operation"]
    assert "not registered again" in again.stderr

    changed = render("--register", "--var", "scenario=crash")
    assert changed.json["created"] is True and changed.json["task_definition_arn"].endswith(":2")
    assert len(arns()) == 2


def test_dry_run_register_registers_nothing(aws: Any) -> None:
    r = run_cli("--config", CONFIG, "--env", "local", "--json", "--dry-run", "render", "--image", IMAGE, "--register")
    assert r.code == 0, r.stderr
    assert r.json["would_register"] is True and r.json["task_definition_arn"] is None
    assert r.json["task_definition"]["family"] == "task-api-local"
    assert arns() == []

    registered = render("--register").json["task_definition_arn"]
    r = run_cli("--config", CONFIG, "--env", "local", "--json", "--dry-run", "render", "--image", IMAGE, "--register")
    assert r.json["would_register"] is False and r.json["task_definition_arn"] == registered
    assert arns() == [registered]


def test_diff_against_what_the_service_runs(aws: Any) -> None:
    none_yet = render("--diff")
    assert none_yet.code == 0, none_yet.stderr
    res = none_yet.json
    assert res["live_task_definition_arn"] is None and res["changed"] is True
    assert res["diff"].startswith("--- live (none)\n")
    assert "does not exist yet: diffing against nothing" in none_yet.stderr

    arn = render("--register").json["task_definition_arn"]
    client = ecs()
    ec2 = AwsFactory(AwsSettings(region="us-east-1")).client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="task-api", Description="task-api", VpcId=vpc)["GroupId"]
    client.create_cluster(clusterName="task-api-local")
    client.create_service(cluster="task-api-local", serviceName="task-api", taskDefinition=arn, desiredCount=0,
                          launchType="FARGATE", networkConfiguration={"awsvpcConfiguration": {
                              "subnets": [subnet], "securityGroups": [sg], "assignPublicIp": "DISABLED"}})
    assert taskdef.service_task_definition(client, "task-api-local", "task-api") == arn

    same = render("--diff")
    assert same.json["changed"] is False and same.json["diff"] == ""
    assert same.json["live_task_definition_arn"] == arn
    assert "no differences" in same.stderr

    crash = render("--diff", "--var", "scenario=crash")
    text = crash.json["diff"]
    assert crash.json["changed"] is True
    assert text.splitlines()[0] == f"--- {arn}"
    assert '-          "value": "healthy"' in text and '+          "value": "crash"' in text
    assert '"value": "crash"' in crash.stderr  # narrated too
    assert arns() == [arn]  # --diff registers nothing


def test_human_output_of_register(aws: Any) -> None:
    r = run_cli("--config", CONFIG, "--env", "local", "render", "--image", IMAGE, "--register")
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "✓ render: ok"
    assert "  new revision: task-api-local:1" in lines and "  changed: yes" in lines
    assert "containerDefinitions" not in r.stdout and len(lines) <= 10  # a summary, not the document


def test_api_register_from_live_and_deregistered_revisions(aws: Any) -> None:
    loaded = load_config(CONFIG)
    settings = loaded.settings("local")
    client = ecs()
    healthy = taskdef.render(settings, loaded.base_dir, env="local", image=IMAGE)
    slow = taskdef.render(settings, loaded.base_dir, env="local", image=IMAGE, extra_vars={"scenario": "slow-start=5"})

    assert taskdef.latest_active(client, "task-api-local") is None
    arn1, created = taskdef.register(client, healthy)
    assert created
    assert taskdef.from_live(client, arn1) == healthy
    assert taskdef.diff(taskdef.from_live(client, arn1), healthy) == ""

    arn2, created = taskdef.register(client, slow)
    assert created and arn2 != arn1
    client.deregister_task_definition(taskDefinition=arn2)
    # the latest ACTIVE revision is arn1 again: identical, so nothing new is registered
    assert taskdef.register(client, healthy) == (arn1, False)
    assert taskdef.service_task_definition(client, "task-api-local", "task-api") is None
    assert taskdef.service_task_definition(client, "no-such-cluster", "task-api") is None

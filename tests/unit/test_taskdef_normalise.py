"""Normalisation (describe-only keys, defaults ECS fills in, stable order), diff and image choice."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline_py import taskdef
from pipeline_py.errors import BadInput

DIGEST = "sha256:" + "0f" * 32


def rendered() -> dict[str, Any]:
    return {
        "family": "svc-prod",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "0.5 vCPU",
        "memory": "1 GB",
        "containerDefinitions": [{
            "name": "app",
            "image": "repo/app@" + DIGEST,
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
            "secrets": [{"name": "Z", "valueFrom": "/z"}, {"name": "Y", "valueFrom": "/y"}],
            "healthCheck": {"command": ["CMD", "true"], "interval": 10},
            "mountPoints": [],
            "command": None,
        }],
        "tags": [{"key": "team", "value": "a"}, {"key": "env", "value": "prod"}],
    }


def described() -> dict[str, Any]:
    """What ECS answers for the same registration (describe_task_definition(include=['TAGS']))."""
    return {
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/svc-prod:7",
            "family": "svc-prod",
            "revision": 7,
            "status": "ACTIVE",
            "networkMode": "awsvpc",
            "compatibilities": ["EC2", "FARGATE"],
            "requiresCompatibilities": ["FARGATE"],
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.task-eni"}],
            "cpu": "512",
            "memory": "1024",
            "volumes": [],
            "placementConstraints": [],
            "registeredAt": "2024-05-01T10:00:00+00:00",
            "registeredBy": "arn:aws:sts::123456789012:assumed-role/deployer/pipeline-py",
            "enableFaultInjection": False,
            "containerDefinitions": [{
                "name": "app",
                "image": "repo/app@" + DIGEST,
                "cpu": 0,
                "essential": True,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                "secrets": [{"name": "Y", "valueFrom": "/y"}, {"name": "Z", "valueFrom": "/z"}],
                "healthCheck": {"command": ["CMD", "true"], "interval": 10, "timeout": 5, "retries": 3},
                "mountPoints": [],
                "volumesFrom": [],
                "systemControls": [],
            }],
        },
        "tags": [{"key": "env", "value": "prod"}, {"key": "team", "value": "a"}],
    }


def test_rendered_and_described_normalise_to_the_same_thing() -> None:
    assert taskdef.normalise(rendered()) == taskdef.normalise(described())
    assert taskdef.same(rendered(), described())
    assert taskdef.diff(described(), rendered()) == ""


def test_describe_only_keys_are_stripped_and_tags_kept() -> None:
    n = taskdef.normalise(described())
    for key in taskdef.DESCRIBE_ONLY:
        assert key not in n
    assert n["tags"] == [{"key": "env", "value": "prod"}, {"key": "team", "value": "a"}]
    assert "enableFaultInjection" not in n and "volumes" not in n


def test_canonical_form() -> None:
    n = taskdef.normalise(rendered())
    c = n["containerDefinitions"][0]
    assert n["cpu"] == "512" and n["memory"] == "1024"
    assert [e["name"] for e in c["environment"]] == ["A", "B"]
    assert [s["name"] for s in c["secrets"]] == ["Y", "Z"]
    assert c["essential"] is True
    assert c["portMappings"] == [{"containerPort": 8080, "protocol": "tcp", "hostPort": 8080}]
    assert c["healthCheck"] == {"command": ["CMD", "true"], "interval": 10, "timeout": 5, "retries": 3}
    assert "mountPoints" not in c and "command" not in c


def test_normalise_is_idempotent_and_pure() -> None:
    r = rendered()
    before = copy.deepcopy(r)
    once = taskdef.normalise(r)
    assert taskdef.normalise(once) == once
    assert r == before


def test_no_host_port_filled_outside_awsvpc() -> None:
    d = rendered()
    d["networkMode"] = "bridge"
    assert taskdef.normalise(d)["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 8080, "protocol": "tcp"}]


def test_real_differences_survive() -> None:
    d = rendered()
    d["containerDefinitions"][0]["environment"][0]["value"] = "3"
    assert not taskdef.same(d, described())
    d = rendered()
    d["tags"] = d["tags"][:1]
    assert not taskdef.same(d, described())


def test_diff_is_unified_over_sorted_normalised_json() -> None:
    new = rendered()
    new["containerDefinitions"][0]["environment"][0]["value"] = "3"  # B
    text = taskdef.diff(described(), new, old_label="svc-prod:7", new_label="deploy/td.json.j2")
    lines = text.splitlines()
    assert lines[0] == "--- svc-prod:7" and lines[1] == "+++ deploy/td.json.j2"
    assert '-          "value": "2"' in lines and '+          "value": "3"' in lines
    assert sum(1 for line in lines if line[:1] in "+-" and not line.startswith(("---", "+++"))) == 2


def test_diff_against_nothing() -> None:
    text = taskdef.diff(None, rendered())
    assert text.startswith("--- live (none)\n+++ rendered\n")
    body = [line for line in text.splitlines()[3:]]
    assert body and all(line.startswith("+") for line in body)
    assert json.loads("".join(line[1:] for line in body)) == taskdef.normalise(rendered())


def test_resolve_image_explicit_and_recorded(tmp_path: Path) -> None:
    assert taskdef.resolve_image(" repo/app:1 ", tmp_path) == "repo/app:1"
    with pytest.raises(BadInput, match=r"no image: pass --image REF or run `pipeline-py push` first"):
        taskdef.resolve_image(None, tmp_path)
    rec = tmp_path / ".pipeline-py" / "last-push.json"
    rec.parent.mkdir()
    ref = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@" + DIGEST
    rec.write_text(json.dumps({"image": ref, "repository_uri": ref.split("@")[0], "digest": DIGEST,
                               "tags": ["abc123"]}))
    assert taskdef.resolve_image(None, tmp_path) == ref
    rec.write_text("{oops")
    with pytest.raises(BadInput, match=r"last-push\.json:1: not valid JSON"):
        taskdef.resolve_image(None, tmp_path)
    rec.write_text("{}")
    with pytest.raises(BadInput, match=r"last-push\.json: missing image"):
        taskdef.resolve_image(None, tmp_path)
    with pytest.raises(BadInput, match="is not an image reference"):
        taskdef.resolve_image("repo/app with space", tmp_path)


@pytest.mark.parametrize(("ref", "version"), [
    ("host:5000/team/app:1.2.3", "1.2.3"),
    ("host:5000/team/app:1.2.3@" + DIGEST, "1.2.3"),
    ("host:5000/team/app@" + DIGEST, "0f0f0f0f0f0f"),
    ("app", "latest"),
])
def test_version_label(ref: str, version: str) -> None:
    assert taskdef.version_of(ref) == version

"""Terraform outputs → config paths (``from_terraform_outputs``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline_py.config import LoadedConfig
from pipeline_py.errors import BadInput
from pipeline_py.terraform.outputs import DEFAULT_OUTPUTS_MAP, overrides_from_outputs

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/task-api-prod-{}/0123456789abcdef"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/task-api-prod/1/2"
TEST_LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/task-api-prod/1/3"


def wrapped(values: dict[str, Any]) -> dict[str, Any]:
    """As `terraform output -json` prints them."""
    return {k: {"sensitive": False, "type": "string", "value": v} for k, v in values.items()}


PROD = {
    "cluster_name": "task-api-prod",
    "service_name": "task-api-prod-blue",
    "service_names": {"blue": "task-api-prod-blue", "green": "task-api-prod-green"},
    "target_group_arns": {"blue": TG.format("blue"), "green": TG.format("green")},
    "production_listener_arn": LISTENER,
    "production_rule_arn": None,
    "test_listener_arn": TEST_LISTENER,
    "deploy_alarm_names": ["task-api-prod-5xx", "task-api-prod-p99"],
    "ecr_repository_url": "210987654321.dkr.ecr.us-east-1.amazonaws.com/task-api",
    "execution_role_arn": "arn:aws:iam::210987654321:role/task-api-prod-execution",
    "task_role_arn": "arn:aws:iam::210987654321:role/task-api-prod-task",
    "log_group_name": "/ecs/task-api-prod",
}


def test_default_map_covers_the_environments_outputs() -> None:
    out = overrides_from_outputs(wrapped(PROD), {})
    assert out == {
        "cluster": "task-api-prod",
        "ecs_service": "task-api-prod-blue",
        "blue_green.services.blue": "task-api-prod-blue",
        "blue_green.services.green": "task-api-prod-green",
        "blue_green.target_groups.blue": TG.format("blue"),
        "blue_green.target_groups.green": TG.format("green"),
        "blue_green.listener_arn": LISTENER,
        "blue_green.test_listener_arn": TEST_LISTENER,
        "alarms": ["task-api-prod-5xx", "task-api-prod-p99"],
        "image.repository": "task-api",
        "task_definition.vars.execution_role_arn": PROD["execution_role_arn"],
        "task_definition.vars.task_role_arn": PROD["task_role_arn"],
        "task_definition.vars.log_group": "/ecs/task-api-prod",
    }
    assert overrides_from_outputs(PROD, {}) == out, "plain values work as well as terraform's wrapped ones"


def test_the_overrides_validate_as_settings() -> None:
    loaded = LoadedConfig(path=Path("pipeline.yaml"),
                          data={"service": "task-api", "environments": {"prod": {"strategy": "canary"}}})
    s = loaded.settings("prod", overrides_from_outputs(PROD, {}))
    assert s.cluster == "task-api-prod" and s.blue_green.services.green == "task-api-prod-green"
    assert s.alarms == ["task-api-prod-5xx", "task-api-prod-p99"] and s.repository == "task-api"


def test_user_map_adds_overrides_and_drops_defaults() -> None:
    values = {**PROD, "private_subnet_ids": ["subnet-a", "subnet-b"], "shared": {"alb": {"rule": "arn:rule"}}}
    out = overrides_from_outputs(values, {
        "blue_green.rule_arn": "shared.alb.rule",
        "run_task.command": "",  # unmapped default-less path with '' is ignored
        "alarms": "",
        "task_definition.vars.subnet": "private_subnet_ids.1",
        "ecs_service": "service_names.green",
    })
    assert out["blue_green.rule_arn"] == "arn:rule"
    assert "alarms" not in out
    assert out["task_definition.vars.subnet"] == "subnet-b"
    assert out["ecs_service"] == "task-api-prod-green"


def test_missing_outputs_skip_defaults_but_fail_user_mappings() -> None:
    assert overrides_from_outputs({"cluster_name": "c"}, {}) == {"cluster": "c"}
    with pytest.raises(BadInput, match=r"outputs_map.blue_green.rule_arn: terraform output 'alb_rule' not found"):
        overrides_from_outputs({"cluster_name": "c"}, {"blue_green.rule_arn": "alb_rule"})
    with pytest.raises(BadInput, match="not found or null"):
        overrides_from_outputs({"ids": [1]}, {"desired_count": "ids.5"})


def test_single_colour_environment_takes_its_only_service_for_rolling() -> None:
    out = overrides_from_outputs({"service_names": {"blue": "task-api-staging-blue"}}, {})
    assert out["ecs_service"] == "task-api-staging-blue"
    assert "blue_green.services.green" not in out
    out = overrides_from_outputs({"service_names": {"blue": "b", "green": "g"}}, {})
    assert "ecs_service" not in out, "two colours and no service_name: a rolling target is not guessed"


def test_repository_name_keeps_paths_and_plain_names() -> None:
    assert overrides_from_outputs({"ecr_repository_url": "1.dkr.ecr.eu-west-1.amazonaws.com/team/app"}, {})[
        "image.repository"] == "team/app"
    assert overrides_from_outputs({"ecr_repository_url": "team/app"}, {})["image.repository"] == "team/app"


def test_defaults_name_real_config_paths() -> None:
    """Every path of the default map is a field of the config model (or a key of one of its dicts)."""
    import typing

    from pydantic import BaseModel

    from pipeline_py.config import Settings

    def model_in(annotation: Any) -> Any:
        for t in (annotation, *typing.get_args(annotation)):
            if isinstance(t, type) and issubclass(t, BaseModel):
                return t
        return None

    assert len(DEFAULT_OUTPUTS_MAP) >= 14
    for path in DEFAULT_OUTPUTS_MAP:
        model: Any = Settings
        for part in path.split("."):
            if model is dict:
                break  # a key of a dict field (task_definition.vars.NAME)
            assert model is not None and part in model.model_fields, f"{path}: no config field {part!r}"
            annotation = model.model_fields[part].annotation
            model = dict if typing.get_origin(annotation) is dict else model_in(annotation)

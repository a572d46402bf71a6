"""Config values from terraform outputs, so ARNs live in terraform and nowhere else.

With ``from_terraform_outputs: true`` the deploy reads ``terraform output -json`` in the
environment's terraform directory and maps outputs onto config paths. ``DEFAULT_OUTPUTS_MAP``
matches the outputs of the root module ``terraform/stack``; ``terraform.outputs_map`` adds to it or
overrides it (``''`` drops a default). A reference is an output name, optionally followed by
``.key`` / ``.0`` steps into maps and lists.

Defaults whose output is missing or null are skipped (an environment without a test listener
simply has none); a mapping the user wrote that names a missing output is bad input.
"""

from __future__ import annotations

from typing import Any

from pipeline_py.config import Settings
from pipeline_py.errors import BadInput
from pipeline_py.report import Reporter
from pipeline_py.terraform.env import Workspace

DEFAULT_OUTPUTS_MAP: dict[str, str] = {
    "cluster": "cluster_name",
    "ecs_service": "service_name",
    "blue_green.services.blue": "service_names.blue",
    "blue_green.services.green": "service_names.green",
    "blue_green.target_groups.blue": "target_group_arns.blue",
    "blue_green.target_groups.green": "target_group_arns.green",
    "blue_green.listener_arn": "production_listener_arn",
    "blue_green.rule_arn": "production_rule_arn",
    "blue_green.test_listener_arn": "test_listener_arn",
    "alarms": "deploy_alarm_names",
    "image.repository": "ecr_repository_url",
    "task_definition.vars.execution_role_arn": "execution_role_arn",
    "task_definition.vars.task_role_arn": "task_role_arn",
    "task_definition.vars.log_group": "log_group_name",
    "native.alternate_target_group": "native.alternate_target_group_arn",
    "native.production_listener_rule": "native.production_listener_rule_arn",
    "native.test_listener_rule": "native.test_listener_rule_arn",
    "native.role_arn": "native.infrastructure_role_arn",
}

_MISSING = object()


def _unwrap(outputs: dict[str, Any]) -> dict[str, Any]:
    """Accept ``terraform output -json`` (``{"name": {"value": …, "type": …}}``) or plain values."""
    plain: dict[str, Any] = {}
    for name, item in outputs.items():
        if isinstance(item, dict) and "value" in item and set(item) <= {"value", "type", "sensitive"}:
            plain[name] = item["value"]
        else:
            plain[name] = item
    return plain


def _lookup(values: dict[str, Any], ref: str) -> Any:
    name, *steps = ref.split(".")
    value = values.get(name, _MISSING)
    for step in steps:
        if value is _MISSING or value is None:
            return _MISSING
        if isinstance(value, dict):
            value = value.get(step, _MISSING)
        elif isinstance(value, list) and step.lstrip("-").isdigit():
            i = int(step)
            value = value[i] if -len(value) <= i < len(value) else _MISSING
        else:
            return _MISSING
    return value


def _repository_name(value: Any) -> Any:
    """``123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app`` → ``team/app`` (a name stays a name)."""
    if isinstance(value, str) and "/" in value and "." in value.split("/", 1)[0]:
        return value.split("/", 1)[1]
    return value


def overrides_from_outputs(outputs: dict[str, Any], outputs_map: dict[str, str]) -> dict[str, Any]:
    """Dotted config paths → values taken from terraform outputs."""
    values = _unwrap(outputs or {})
    mapping = {**DEFAULT_OUTPUTS_MAP, **(outputs_map or {})}
    overrides: dict[str, Any] = {}
    for path, ref in mapping.items():
        if not ref:
            continue
        value = _lookup(values, ref)
        if value is _MISSING or value is None:
            if path in (outputs_map or {}):
                known = ", ".join(sorted(values)) or "none"
                raise BadInput(f"terraform.outputs_map.{path}: terraform output {ref!r} not found or null "
                               f"(outputs: {known})")
            continue
        if path == "image.repository":
            value = _repository_name(value)
        overrides[path] = value
    if "ecs_service" not in overrides:
        services = _lookup(values, "service_names")
        if isinstance(services, dict) and len(services) == 1:
            overrides["ecs_service"] = next(iter(services.values()))
    return overrides


def read_outputs(settings: Settings, ws: Workspace) -> dict[str, Any]:
    """``terraform output -json`` in the environment's terraform directory, as ``{name: value}``."""
    from pipeline_py.terraform import env as terraform_env

    tfenv = terraform_env.resolve(settings, ws)
    with terraform_env.terraform(settings, tfenv, ws) as tf:
        terraform_env.ensure_init(tf, tfenv)
        outputs = tf.outputs()
    if not outputs:
        raise BadInput(f"terraform in {tfenv.dir} has no outputs (has the environment been applied? "
                       f"run `pipeline-py terraform apply --env {tfenv.env}`)")
    for item in outputs.values():
        if isinstance(item, dict) and item.get("sensitive"):
            _redact_value(ws.reporter, item.get("value"))
    return _unwrap(outputs)


def _redact_value(reporter: Reporter, value: Any) -> None:
    """Sensitive outputs never reach a log, whatever config path they end up in."""
    if isinstance(value, dict):
        for v in value.values():
            _redact_value(reporter, v)
    elif isinstance(value, list):
        for v in value:
            _redact_value(reporter, v)
    elif value is not None:
        reporter.redact.add(str(value))

"""The configuration model: ``pipeline.yaml`` + environment section + overrides, validated.

Precedence, lowest first: model defaults < the file's top level < ``environments.<env>`` <
params file < command-line flags. The top level of the file holds defaults for every
environment; an environment section may override any of them (deep-merged). Params-file and
flag overrides reach the model as dotted paths (``--set canary.bake_seconds=30`` or a command's
own options such as ``--strategy``), applied last.

Every error names the field, the file and, where YAML gives one, the line.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline_py.errors import BadInput

DEFAULT_CONFIG = "pipeline.yaml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _duration(value: Any) -> Any:
    """Seconds as a number, or a string such as ``90s``, ``5m``, ``1h``, ``250ms``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration (seconds, or a string like '30s', '5m')")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (seconds, or a string like '30s', '5m')")
        return float(m.group(1)) * _UNITS[m.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(_duration), Field(ge=0)]
PositiveSeconds = Annotated[float, BeforeValidator(_duration), Field(gt=0)]
Strategy = Literal["rolling", "blue-green", "canary", "linear"]  # = pipeline_py.deploy.STRATEGY_NAMES


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True)


class ImageConfig(Model):
    repository: str | None = Field(None, description="ECR repository name (created if missing)")
    context: str = "."
    dockerfile: str = "Dockerfile"
    build_args: dict[str, str] = Field(default_factory=dict)
    target: str | None = None
    platform: str | None = None
    cache_from: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list, description="extra tags added to the derived ones")
    tag_immutability: bool = True
    scan_on_push: bool = True
    encryption: Literal["AES256", "KMS"] = "AES256"
    kms_key: str | None = None
    registry_override: str | None = Field(
        None,
        description="host[:port] that receives the image bytes instead of the ECR registry host "
        "(the local stack); defaults to $PIPELINE_PY_REGISTRY_OVERRIDE",
    )
    push_retries: int = Field(4, ge=1, le=20)

    @model_validator(mode="after")
    def _kms(self) -> ImageConfig:
        if self.kms_key and self.encryption != "KMS":
            raise ValueError("kms_key is set but encryption is not 'KMS'")
        return self


class TaskDefinitionConfig(Model):
    template: str | None = Field(None, description="jinja2 JSON template, relative to the config file")
    vars: dict[str, Any] = Field(default_factory=dict)


class SmokeCheck(Model):
    url: str
    expected_status: int = Field(200, ge=100, le=599)
    retries: int = Field(5, ge=1, le=100)
    interval: PositiveSeconds = 2.0
    timeout: PositiveSeconds = 5.0
    contains: str | None = Field(None, description="text the response body must contain")


class ColourPair(Model):
    blue: str | None = None
    green: str | None = None


class BlueGreenConfig(Model):
    """The two-colour topology shared by blue-green, canary and linear."""

    services: ColourPair = Field(default_factory=ColourPair)
    target_groups: ColourPair = Field(default_factory=ColourPair, description="ARNs or target group names")
    listener_arn: str | None = Field(None, description="production listener forwarding to both colours")
    load_balancer: str | None = Field(None, description="ALB name: find the listeners by port instead of ARN")
    listener_port: int = Field(80, ge=1, le=65535)
    test_listener_port: int | None = Field(None, ge=1, le=65535)
    rule_arn: str | None = Field(None, description="use this listener rule instead of the default action")
    test_listener_arn: str | None = Field(None, description="forwards 100% to the idle colour")
    test_url: str | None = Field(None, description="smoke-check URL reaching the idle colour")
    scale_down_delay: Seconds = 0.0
    verify_retries: int = Field(5, ge=1, le=50)


InconclusivePolicy = Literal["wait", "fail", "pass"]


class AnalysisConfig(Model):
    max_error_rate: float = Field(0.01, ge=0, le=1, description="5XX / requests, absolute limit")
    max_p99_ms: float | None = Field(None, gt=0)
    max_error_rate_ratio: float | None = Field(
        3.0, gt=1, description="canary error rate may be at most this multiple of stable's"
    )
    max_p99_ratio: float | None = Field(2.0, gt=1, description="canary p99 at most this multiple of stable's")
    min_error_rate_delta: float = Field(
        0.005, ge=0, le=1, description="ignore ratio failures when the absolute difference is below this"
    )
    min_p99_delta_ms: float = Field(
        50.0, ge=0, description="ignore p99 ratio failures when the absolute difference is below this"
    )
    min_requests: int = Field(50, ge=0)
    confidence: float = Field(0.99, ge=0.5, le=0.9999,
                              description="one-sided confidence of the 5XX-rate bounds and the comparison with stable")
    inconclusive: InconclusivePolicy = "wait"
    max_inconclusive_extensions: int = Field(3, ge=0, le=100)
    failure_limit: int = Field(1, ge=0, description="roll back when more looks than this have failed")
    consecutive_failure_limit: int = Field(2, ge=1, description="roll back after this many failed looks in a row")
    interval: PositiveSeconds = Field(60.0, description="analysis sample interval within a step")
    initial_delay: Seconds = Field(0.0, description="wait for metric lag before the first sample")
    period: int = Field(60, ge=1, description="CloudWatch period in seconds (1 for high resolution)")


class CanaryConfig(Model):
    steps: list[int] = Field(default_factory=lambda: [10, 25, 50, 100])
    bake_seconds: Seconds = 300.0
    linear_step: int | None = Field(None, ge=1, le=100, description="linear: percent per equal step")
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[int]) -> list[int]:
        if not steps:
            raise ValueError("needs at least one step")
        for s in steps:
            if not 0 < s <= 100:
                raise ValueError(f"step {s} is not a percentage in 1..100")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError(f"steps must be increasing: {steps}")
        if steps[-1] != 100:
            raise ValueError(f"steps must end at 100: {steps}")
        return steps


class RunTaskConfig(Model):
    command: list[str] | None = None
    container: str | None = None
    timeout: PositiveSeconds = 1800.0


class TerraformConfig(Model):
    dir: str = Field(
        "terraform/environments/{env}",
        description="the environment's directory: its backend.hcl, terraform.tfvars and plan files ({env} is "
        "replaced; relative to the config file)",
    )
    root: str | None = Field(
        None, description="the root module terraform runs in, shared by the environments ({env} is replaced; "
        "relative to the config file); unset = dir (one root module per environment)"
    )
    backend_config: str | dict[str, str] | None = Field(
        None, description="a backend .hcl file (relative to dir) or key/value pairs; unset = dir/backend.hcl if present"
    )
    var_files: list[str] = Field(default_factory=list, description="extra .tfvars files, relative to dir")
    plugin_dir: str | None = Field(
        None, description="provider mirror; defaults to $PIPELINE_PY_TF_PLUGIN_DIR, then a well-known directory "
        "holding one ('none' = always the registry)"
    )
    lock_timeout: Seconds = 60.0
    protected_types: list[str] | None = Field(
        None, description="resource types (glob patterns) a plan may not destroy or replace without --allow-destroy; "
        "unset = pipeline_py.terraform.plan.DEFAULT_PROTECTED_TYPES"
    )
    outputs_map: dict[str, str] = Field(
        default_factory=dict,
        description="config path -> terraform output ('name', or 'name.key' / 'name.0' into maps and lists) for "
        "from_terraform_outputs, merged over pipeline_py.terraform.outputs.DEFAULT_OUTPUTS_MAP ('' drops a default)",
    )
    binary: str = Field("terraform", description="the terraform executable (name on PATH or a path)")
    parallelism: int | None = Field(None, ge=1, le=256, description="terraform -parallelism (default: terraform's 10)")


DEFAULT_LOCK_TABLE = "pipeline-py-locks"


class LockConfig(Model):
    """The deploy lock (see pipeline_py/deploy/locking.py): a lease in a DynamoDB table."""

    table: str = Field(DEFAULT_LOCK_TABLE, min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$",
                       description="DynamoDB table with partition key LockId (string)")
    ttl: Annotated[float, BeforeValidator(_duration), Field(ge=10, le=3600)] = Field(
        60.0, description="how long a lock outlives a holder that stopped renewing it")
    wait: Annotated[float, BeforeValidator(_duration), Field(ge=0, le=86400)] = Field(
        0.0, description="how long a deploy waits for a held lock before giving up (--wait-for-lock)")


class JenkinsConfig(Model):
    url: str | None = None
    user: str | None = None
    folder: str | None = None
    library_name: str = "pipeline-py"
    library_version: str = "v1"
    library_repo: str | None = None
    repo_url: str | None = None
    credentials_id: str | None = None


class Settings(Model):
    """The effective configuration for one environment (or the top level when none is chosen)."""

    service: str = Field(description="service identity: names images, stacks and locks")
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    image: ImageConfig = Field(default_factory=ImageConfig)
    task_definition: TaskDefinitionConfig = Field(default_factory=TaskDefinitionConfig)
    terraform: TerraformConfig = Field(default_factory=TerraformConfig)
    jenkins: JenkinsConfig = Field(default_factory=JenkinsConfig)

    cluster: str | None = None
    ecs_service: str | None = Field(None, alias="ecs_service", description="ECS service (default: service)")
    desired_count: int | None = Field(None, ge=0)
    strategy: Strategy = "rolling"
    timeout: PositiveSeconds = 900.0
    poll_interval: PositiveSeconds = 5.0
    rollback_timeout: PositiveSeconds = 600.0
    max_failed_tasks: int = Field(3, ge=1, description="stopped tasks of our deployment before failing fast")
    bake_seconds: Seconds = 0.0
    alarms: list[str] = Field(default_factory=list)
    preexisting_alarms: Literal["fail", "wait", "ignore"] = Field(
        "wait", description="an alarm already in ALARM when a deploy starts: fail the deploy at once; wait "
        "(fail only if it still fires alarm_grace after the new revision took all traffic); or ignore it")
    alarm_grace: Seconds = Field(300.0, description="see preexisting_alarms")
    smoke: SmokeCheck | None = None
    blue_green: BlueGreenConfig = Field(default_factory=BlueGreenConfig)
    canary: CanaryConfig = Field(default_factory=CanaryConfig)
    run_task: RunTaskConfig = Field(default_factory=RunTaskConfig)
    lock: LockConfig = Field(default_factory=LockConfig)
    from_terraform_outputs: bool = False

    @property
    def service_name(self) -> str:
        return self.ecs_service or self.service

    @property
    def repository(self) -> str:
        return self.image.repository or self.service


@dataclass
class LoadedConfig:
    """The parsed file: raw data, line numbers by key path, and where it came from."""

    path: Path
    data: dict[str, Any]
    lines: dict[tuple, int] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def environments(self) -> list[str]:
        return sorted((self.data.get("environments") or {}).keys())

    def settings(self, env: str | None = None, overrides: dict[str, Any] | None = None) -> Settings:
        """Validated effective settings for ``env`` with dotted-path ``overrides`` applied last."""
        top = {k: v for k, v in self.data.items() if k != "environments"}
        origin: dict[tuple, tuple] = {p[:]: p for p in self.lines if p and p[0] != "environments"}
        merged = copy.deepcopy(top)
        if env is not None:
            envs = self.data.get("environments") or {}
            if env not in envs:
                known = ", ".join(sorted(envs)) or "none defined"
                raise BadInput(f"{self.path}: unknown environment {env!r} (known: {known})")
            section = envs[env] or {}
            if not isinstance(section, dict):
                raise BadInput(f"{self._where(('environments', env))}: environments.{env} must be a mapping")
            if "environments" in section or "service" in section:
                bad = "environments" if "environments" in section else "service"
                raise BadInput(
                    f"{self._where(('environments', env, bad))}: environments.{env}.{bad} cannot be "
                    "set per environment (use ecs_service for the ECS service name)"
                )
            merged = deep_merge(merged, section)
            for p in self.lines:
                if p[:2] == ("environments", env) and len(p) > 2:
                    origin[p[2:]] = p
        overridden: set[tuple] = set()
        for dotted, value in (overrides or {}).items():
            path = tuple(dotted.split("."))
            set_path(merged, path, value)
            overridden.add(path)
        try:
            return Settings.model_validate(merged)
        except ValidationError as exc:
            raise BadInput(self._explain(exc, origin, overridden, env)) from None

    def validate_all(self) -> None:
        """Validate the top level and every environment, so a typo in prod fails a staging run too."""
        self.settings(None)
        for env in self.environments:
            self.settings(env)

    def _where(self, path: tuple) -> str:
        for n in range(len(path), 0, -1):
            line = self.lines.get(path[:n])
            if line:
                return f"{self.path}:{line}"
        return str(self.path)

    def _explain(self, exc: ValidationError, origin: dict, overridden: set, env: str | None) -> str:
        msgs = []
        for err in exc.errors():
            loc = tuple(str(x) for x in err["loc"])
            dotted = ".".join(loc) or "(top level)"
            src = None
            for n in range(len(loc), 0, -1):
                if loc[:n] in overridden:
                    src = "command-line/params override"
                    break
                if loc[:n] in origin:
                    src = self._where(origin[loc[:n]])
                    break
            src = src or str(self.path)
            text = err["msg"]
            if err["type"] == "extra_forbidden":
                text = "unknown key"
            elif err["type"] == "missing":
                text = "required field is missing"
            if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
                text += f" (got {err['input']!r})"
            scope = f" [environment {env}]" if env else ""
            msgs.append(f"{src}: {dotted}: {text}{scope}")
        return "invalid configuration:\n  " + "\n  ".join(msgs)


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_path(data: dict[str, Any], path: tuple, value: Any) -> None:
    cur = data
    for key in path[:-1]:
        nxt = cur.get(key)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[key] = nxt
        cur = nxt
    cur[path[-1]] = value


class _LineLoader(yaml.SafeLoader):
    pass


def _collect_lines(node: yaml.Node, path: tuple, out: dict[tuple, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key)] = key_node.start_mark.line + 1
            _collect_lines(value_node, (*path, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, str(i))] = item.start_mark.line + 1
            _collect_lines(item, (*path, str(i)), out)


def load_config(path: str | os.PathLike[str] | None = None) -> LoadedConfig:
    p = Path(path or DEFAULT_CONFIG)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"config file {p} not found (use --config FILE)") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise BadInput(f"config file {p} cannot be read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}" if mark else str(p)
        problem = getattr(exc, "problem", None) or str(exc)
        raise BadInput(f"{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadInput(f"{p}: the config must be a mapping at the top level, not {type(data).__name__}")
    lines: dict[tuple, int] = {}
    if node is not None:
        _collect_lines(node, (), lines)
    envs = data.get("environments")
    if envs is not None and not isinstance(envs, dict):
        raise BadInput(f"{p}:{lines.get(('environments',), '?')}: environments must be a mapping of name → section")
    loaded = LoadedConfig(path=p, data=data, lines=lines)
    loaded.validate_all()
    return loaded


def parse_assignment(text: str, what: str = "--set") -> tuple[str, Any]:
    """``a.b=value`` → (``a.b``, YAML-parsed value)."""
    if "=" not in text:
        raise BadInput(f"{what} {text!r}: expected KEY=VALUE")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise BadInput(f"{what} {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value

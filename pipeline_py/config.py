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
import math
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pipeline_py import inputs
from pipeline_py.errors import BadInput

DEFAULT_CONFIG = "pipeline.yaml"
MAX_DURATION = 86400.0  # no wait, timeout or interval of a deploy is longer than a day
MAX_DESIRED_COUNT = 5000  # ECS: tasks per service
MAX_KEY_DEPTH = 20  # dotted segments of a --set / --var key

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _duration(value: Any) -> Any:
    """Seconds as a number, or a string such as ``90s``, ``5m``, ``1h``, ``250ms``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration (seconds, or a string like '30s', '5m')")
    if isinstance(value, int | float | str):
        if isinstance(value, str):
            m = _DURATION.match(value)
            if not m or len(m.group(1)) > 20:
                raise ValueError("not a duration (seconds, or a string like '30s', '5m')")
            seconds = float(m.group(1)) * _UNITS[m.group(2)]
        else:
            seconds = float(value) if abs(value) < 1e300 else math.inf
        if not math.isfinite(seconds) or seconds > MAX_DURATION:
            raise ValueError("longer than the longest duration allowed (24h)")
        return seconds
    return value


Seconds = Annotated[float, BeforeValidator(_duration), Field(ge=0, le=MAX_DURATION)]
PositiveSeconds = Annotated[float, BeforeValidator(_duration), Field(gt=0, le=MAX_DURATION)]
Strategy = Literal["rolling", "blue-green", "canary", "linear", "ecs-blue-green", "ecs-linear",
                   "ecs-canary"]  # = pipeline_py.deploy.STRATEGY_NAMES


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, validate_default=True, allow_inf_nan=False)


# Names and ARNs as AWS documents them, checked here so that `config` fails on what AWS would refuse later.
_ECS_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ELB_NAME = re.compile(r"^(?!-)(?!internal-)[A-Za-z0-9-]{1,32}(?<!-)$")
_ARN = r"^arn:aws(?:-[a-z]+)*:"
_ECS_CLUSTER_ARN = re.compile(_ARN + r"ecs:[a-z0-9-]+:\d{12}:cluster/[A-Za-z0-9_-]{1,255}$")
_ECS_SERVICE_ARN = re.compile(_ARN + r"ecs:[a-z0-9-]+:\d{12}:service/(?:[A-Za-z0-9_-]{1,255}/)?[A-Za-z0-9_-]{1,255}$")
_ROLE_ARN = re.compile(_ARN + r"iam::\d{12}:role/(?:[A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$")
_ELB = _ARN + r"elasticloadbalancing:[a-z0-9-]+:\d{12}:"
_TG_ARN = re.compile(_ELB + r"targetgroup/[A-Za-z0-9-]{1,32}/[A-Za-z0-9]+$")
_LISTENER_ARN = re.compile(_ELB + r"listener/(?:app|net|gwy)/[A-Za-z0-9-]{1,32}/[A-Za-z0-9]+/[A-Za-z0-9]+$")
_RULE_ARN = re.compile(_ELB + r"listener-rule/(?:app|net)/[A-Za-z0-9-]{1,32}/[A-Za-z0-9]+/[A-Za-z0-9]+/[A-Za-z0-9]+$")
_KMS_KEY = re.compile(r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}"
                      r"|alias/[A-Za-z0-9/_-]{1,250}|" + _ARN[1:] + r"kms:[a-z0-9-]+:\d{12}:(?:key|alias)/.+)$")
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")
_EXTERNAL_ID = re.compile(r"^[A-Za-z0-9_+=,.@:/-]{2,1224}$")
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
_ENV_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ECS_NAME_RULE = "1–255 letters, digits, '-' and '_'"
ELB_NAME_RULE = "1–32 letters, digits and '-', not starting or ending with '-'"


def _named(kind: str, name: re.Pattern[str] | None, rule: str, arn: re.Pattern[str] | None = None) -> AfterValidator:
    """A validator accepting a name matching ``name`` (described by ``rule``) or an ARN matching ``arn``."""

    def check(value: str) -> str:
        if arn is not None and value.startswith("arn:"):
            if not arn.match(value):
                raise ValueError(f"not a valid {kind} ARN")
            return value
        if name is None or not name.match(value):
            wanted = f"{kind} name ({rule})" if name is not None else f"{kind} ARN"
            raise ValueError(f"not a valid {wanted}" + (" or ARN" if arn is not None and name is not None else ""))
        return value

    return AfterValidator(check)


def _no_control(kind: str, longest: int) -> AfterValidator:
    def check(value: str) -> str:
        if not value or len(value) > longest or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
            raise ValueError(f"not a valid {kind} (1–{longest} characters, no control characters)")
        return value

    return AfterValidator(check)


ClusterRef = Annotated[str, _named("ECS cluster", _ECS_NAME, ECS_NAME_RULE, _ECS_CLUSTER_ARN)]
ServiceRef = Annotated[str, _named("ECS service", _ECS_NAME, ECS_NAME_RULE, _ECS_SERVICE_ARN)]
ContainerName = Annotated[str, _named("container", _ECS_NAME, ECS_NAME_RULE)]
TargetGroupRef = Annotated[str, _named("target group", _ELB_NAME, ELB_NAME_RULE, _TG_ARN)]
LoadBalancerName = Annotated[str, _named("load balancer", _ELB_NAME, ELB_NAME_RULE)]
ListenerArn = Annotated[str, _named("listener", None, "", _LISTENER_ARN)]
RuleArn = Annotated[str, _named("listener rule", None, "", _RULE_ARN)]
RoleArn = Annotated[str, _named("IAM role", None, "", _ROLE_ARN)]
KmsKey = Annotated[str, _named("KMS key", _KMS_KEY, "a key id, alias/NAME or a key/alias ARN")]
Region = Annotated[str, _named("AWS region", _REGION, "like us-east-1")]
ExternalId = Annotated[str, _named("external id", _EXTERNAL_ID, "2–1224 letters, digits and +=,.@:/-")]
AlarmName = Annotated[str, _no_control("CloudWatch alarm name", 255)]
Url = Annotated[str, _named("URL", _URL, "http:// or https:// followed by a host")]
Port = Annotated[int, Field(ge=1, le=65535)]


ScanSeverity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"]  # = pipeline_py.images.scan.SEVERITIES
_FINDING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{1,127}$")


class ScanAllowlistEntry(Model):
    """A finding accepted until ``expires`` (inclusive, UTC), and why."""

    id: Annotated[str, _named("finding id", _FINDING_ID, "a CVE id such as CVE-2024-12345, or a finding name")]
    expires: date = Field(description="last day (UTC) the entry allows the finding; afterwards it fails the gate again")
    reason: str = Field(min_length=3, max_length=1000, description="why the finding is accepted (who, ticket)")


class ScanConfig(Model):
    """The image scan gate (``pipeline-py scan``): ECR's scan of the pushed digest, judged by severity."""

    fail_on: ScanSeverity = Field("HIGH", description="fail on findings of this severity or worse")
    timeout: PositiveSeconds = Field(600.0, description="how long to wait for the scan to complete")
    poll_interval: PositiveSeconds = Field(5.0, description="DescribeImageScanFindings every this often")
    start_scan: bool = Field(True, description="start a (basic) scan when the image has none (scan on push off)")
    allowlist: list[ScanAllowlistEntry] = Field(default_factory=list)


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
    prepare: list[list[str]] = Field(
        default_factory=list, max_length=20,
        description="commands run in the build context before the build (argv lists; `{python}` is the "
        "interpreter running pipeline-py), e.g. to put a binary the Dockerfile copies into the context")
    tag_immutability: bool = True
    scan_on_push: bool = True
    encryption: Literal["AES256", "KMS"] = "AES256"
    kms_key: KmsKey | None = None
    registry_override: str | None = Field(
        None,
        description="host[:port] that receives the image bytes instead of the ECR registry host "
        "(the local stack); defaults to $PIPELINE_PY_REGISTRY_OVERRIDE",
    )
    push_retries: int = Field(4, ge=1, le=20)
    scan: ScanConfig = Field(default_factory=ScanConfig, description="the image scan gate (`pipeline-py scan`)")

    @model_validator(mode="after")
    def _kms(self) -> ImageConfig:
        if self.kms_key and self.encryption != "KMS":
            raise ValueError("kms_key is set but encryption is not 'KMS'")
        return self


class TaskDefinitionConfig(Model):
    template: str | None = Field(None, min_length=1,
                                 description="jinja2 JSON template, relative to the config file")
    vars: dict[str, Any] = Field(default_factory=dict)
    allow_outside_project: bool = Field(
        False, description="let template (and what it includes) be a file outside the config file's directory")


class SmokeCheck(Model):
    url: Url
    expected_status: int = Field(200, ge=100, le=599)
    retries: int = Field(5, ge=1, le=100)
    interval: PositiveSeconds = 2.0
    timeout: PositiveSeconds = 5.0
    contains: str | None = Field(None, description="text the response body must contain")


class ColourPair(Model):
    """The blue and green ECS services."""

    blue: ServiceRef | None = None
    green: ServiceRef | None = None


class TargetGroupPair(Model):
    blue: TargetGroupRef | None = None
    green: TargetGroupRef | None = None


class BlueGreenConfig(Model):
    """The two-colour topology shared by blue-green, canary and linear."""

    services: ColourPair = Field(default_factory=ColourPair)
    target_groups: TargetGroupPair = Field(default_factory=TargetGroupPair,
                                           description="ARNs or target group names")
    listener_arn: ListenerArn | None = Field(None, description="production listener forwarding to both colours")
    load_balancer: LoadBalancerName | None = Field(None,
                                                   description="ALB name: find the listeners by port instead of ARN")
    listener_port: Port = 80
    test_listener_port: Port | None = None
    rule_arn: RuleArn | None = Field(None, description="use this listener rule instead of the default action")
    test_listener_arn: ListenerArn | None = Field(None, description="forwards 100% to the idle colour")
    test_url: Url | None = Field(None, description="smoke-check URL reaching the idle colour")
    scale_down_delay: Seconds = 0.0
    verify_retries: int = Field(5, ge=1, le=50)


InconclusivePolicy = Literal["wait", "fail", "pass"]


class AnalysisConfig(Model):
    max_error_rate: float = Field(0.01, ge=0, le=1, description="5XX / requests, absolute limit")
    max_p99_ms: float | None = Field(None, gt=0, le=600_000)
    max_error_rate_ratio: float | None = Field(
        3.0, gt=1, le=1000, description="canary error rate may be at most this multiple of stable's"
    )
    max_p99_ratio: float | None = Field(2.0, gt=1, le=1000,
                                        description="canary p99 at most this multiple of stable's")
    min_error_rate_delta: float = Field(
        0.005, ge=0, le=1, description="ignore ratio failures when the absolute difference is below this"
    )
    min_p99_delta_ms: float = Field(
        50.0, ge=0, le=600_000, description="ignore p99 ratio failures when the absolute difference is below this"
    )
    min_requests: int = Field(50, ge=0, le=1_000_000_000)
    confidence: float = Field(0.99, ge=0.5, le=0.9999,
                              description="one-sided confidence of the 5XX-rate bounds and the comparison with stable")
    inconclusive: InconclusivePolicy = "wait"
    max_inconclusive_extensions: int = Field(3, ge=0, le=100)
    failure_limit: int = Field(1, ge=0, le=10_000, description="roll back when more looks than this have failed")
    consecutive_failure_limit: int = Field(2, ge=1, le=10_000,
                                           description="roll back after this many failed looks in a row")
    interval: PositiveSeconds = Field(60.0, description="analysis sample interval within a step")
    initial_delay: Seconds = Field(0.0, description="wait for metric lag before the first sample")
    period: int = Field(60, ge=1, le=86400, description="CloudWatch period in seconds (1 for high resolution)")

    @field_validator("period")
    @classmethod
    def _period(cls, value: int) -> int:
        if value not in (1, 5, 10, 20, 30) and value % 60:
            raise ValueError(f"CloudWatch takes a period of 1, 5, 10, 20, 30 or a multiple of 60 seconds, not {value}")
        return value


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


class NativeConfig(Model):
    """ECS-native blue/green, linear and canary (``ecs-blue-green``, ``ecs-linear``, ``ecs-canary``): one
    service whose load balancer has ``advancedConfiguration``; ECS moves the listener-rule weights and
    pauses at pipeline-py's PAUSE hooks, where pipeline-py smoke-checks and analyses (see
    docs/native-vs-two-service.md). Times are ECS's whole minutes."""

    canary_percent: float = Field(10.0, ge=0.1, le=100, description="ecs-canary: share of production traffic "
                                  "of the canary step (canaryConfiguration.canaryPercent)")
    linear_step_percent: float = Field(25.0, ge=3, le=100, description="ecs-linear: production traffic per step "
                                       "(linearConfiguration.stepPercent)")
    step_bake_minutes: int = Field(0, ge=0, le=1440, description="ECS's own wait after a canary/linear step "
                                   "(canaryBakeTimeInMinutes / stepBakeTimeInMinutes); pipeline-py analyses "
                                   "at the PAUSE hook that follows, for canary.bake_seconds")
    bake_minutes: int = Field(0, ge=0, le=1440, description="bakeTimeInMinutes: both revisions run after "
                              "all traffic moved (instant rollback), then ECS scales the old one to 0")
    hook_timeout_minutes: int | None = Field(None, ge=1, le=20160, description="timeout of pipeline-py's PAUSE "
                                             "hooks (then ECS rolls back); unset = longer than the analysis "
                                             "or smoke check the hook waits for, so a crashed runner still "
                                             "ends in rollback")
    gate_timeout_minutes: int = Field(1440, ge=1, le=20160, description="timeout of the hook a --pause-at "
                                      "gate leaves waiting (then ECS rolls back)")
    ecs_alarms: list[str] | None = Field(None, description="alarms ECS itself watches and rolls back on "
                                         "(deploymentConfiguration.alarms); unset = `alarms`")
    test_url: str | None = Field(None, description="smoke-check URL reaching the test listener rule (the new "
                                 "revision); checked at POST_TEST_TRAFFIC_SHIFT")
    alternate_target_group: str | None = Field(None, description="advancedConfiguration for a service that has "
                                               "none yet (terraform's provider 5.x cannot set it): pipeline-py "
                                               "adds it to the service's load balancer with the first deploy")
    production_listener_rule: str | None = Field(None, description="see alternate_target_group")
    test_listener_rule: str | None = Field(None, description="see alternate_target_group")
    role_arn: str | None = Field(None, description="the role ECS assumes to modify the listener rules (see "
                                 "alternate_target_group)")

    @field_validator("canary_percent", "linear_step_percent")
    @classmethod
    def _tenths(cls, value: float) -> float:
        if abs(value * 10 - round(value * 10)) > 1e-9:
            raise ValueError(f"{value} is not a multiple of 0.1 (ECS takes percentages in tenths)")
        return value


class RunTaskConfig(Model):
    command: list[str] | None = None
    container: ContainerName | None = None
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


_RDS_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
RdsIdentifier = Annotated[str, _named("RDS instance", _RDS_ID, "1–63 letters, digits and single hyphens, "
                                      "starting with a letter")]


class DatabaseConfig(Model):
    """The environment's RDS instance, for ``diagnose`` and ``db`` (see pipeline_py/ops/db.py)."""

    instance: RdsIdentifier | None = Field(
        None, description="DBInstanceIdentifier (default: <service>-<env>, as terraform/modules/rds names it)")
    name: Annotated[str, _no_control("database name", 63)] | None = Field(
        None, description="database to connect to (default: the instance's DBName)")
    secret: Annotated[str, _no_control("secret id", 2048)] | None = Field(
        None, description="Secrets Manager secret (ARN or name) with username and password (default: the "
        "instance's managed master secret)")
    connect: bool = Field(True, description="diagnose opens a real connection (needs a route to the instance)")
    tls: Literal["require", "verify", "disable"] = Field(
        "require", description="require: encrypted; verify: and the certificate checked against ca_bundle")
    ca_bundle: str | None = Field(None, description="CA bundle for tls: verify (the RDS global bundle)")
    connect_timeout: PositiveSeconds = 10.0
    snapshot_timeout: PositiveSeconds = 1800.0
    restore_timeout: PositiveSeconds = 3600.0
    poll_interval: PositiveSeconds = 15.0


class DiagnoseConfig(Model):
    """Thresholds of ``pipeline-py diagnose`` (see pipeline_py/ops/diagnose.py)."""

    error_pattern: Annotated[str, _no_control("filter pattern", 1024)] = Field(
        "[level = ERROR*, ...]", description="CloudWatch Logs filter pattern of an error line")
    log_window: PositiveSeconds = Field(900.0, description="how far back to look for error lines")
    max_error_lines: int = Field(0, ge=0, description="more error lines than this in log_window is a problem")
    max_error_rate: float | None = Field(None, ge=0, le=1, description="5XX / requests at the load balancer over "
                                         "log_window that is a problem (default: canary.analysis.max_error_rate)")
    alarm_prefix: str | None = Field(None, description="alarms in ALARM named with this prefix count (default "
                                     "<service>-<env>-), besides the configured alarms")
    stuck_after: PositiveSeconds = Field(1800.0, description="a rollout in progress for longer is stuck")
    stopped_window: PositiveSeconds = Field(3600.0, description="stopped tasks younger than this are looked at")
    trend_window: PositiveSeconds = Field(10800.0, description="memory and CPU trend over this window")
    memory_limit: float = Field(90.0, gt=0, le=100, description="MemoryUtilization (%) that is a problem")
    cpu_limit: float = Field(90.0, gt=0, le=100, description="CPUUtilization (%) sustained that is a problem")
    leak_horizon: PositiveSeconds = Field(86400.0, description="memory growing to memory_limit within this is "
                                          "a leak")


class CostConfig(Model):
    budget: Annotated[str, _no_control("budget name", 100)] | None = Field(
        None, description="AWS Budgets budget (default: <service>-<env>-monthly, as terraform/modules/monitoring "
        "names it)")
    alert_threshold: float = Field(80.0, gt=0, le=1000, description="percent of the limit that alerts, when the "
                                   "budget has no ACTUAL notification")
    metric: Literal["UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost"] = "UnblendedCost"


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

    service: Annotated[str, _named("service", _ECS_NAME, ECS_NAME_RULE)] = Field(
        description="service identity: names images, stacks and locks")
    region: Region | None = None
    profile: Annotated[str, _no_control("AWS profile name", 255)] | None = None
    role_arn: RoleArn | None = None
    external_id: ExternalId | None = None
    image: ImageConfig = Field(default_factory=ImageConfig)
    task_definition: TaskDefinitionConfig = Field(default_factory=TaskDefinitionConfig)
    terraform: TerraformConfig = Field(default_factory=TerraformConfig)
    jenkins: JenkinsConfig = Field(default_factory=JenkinsConfig)

    cluster: ClusterRef | None = None
    ecs_service: ServiceRef | None = Field(None, alias="ecs_service", description="ECS service (default: service)")
    desired_count: int | None = Field(None, ge=0, le=MAX_DESIRED_COUNT,
                                      description=f"ECS runs at most {MAX_DESIRED_COUNT} tasks per service")
    strategy: Strategy = "rolling"
    timeout: PositiveSeconds = 900.0
    poll_interval: PositiveSeconds = 5.0
    rollback_timeout: PositiveSeconds = 600.0
    max_failed_tasks: int = Field(3, ge=1, le=MAX_DESIRED_COUNT,
                                  description="stopped tasks of our deployment before failing fast")
    bake_seconds: Seconds = 0.0
    alarms: list[AlarmName] = Field(default_factory=list)
    preexisting_alarms: Literal["fail", "wait", "ignore"] = Field(
        "wait", description="an alarm already in ALARM when a deploy starts: fail the deploy at once; wait "
        "(fail only if it still fires alarm_grace after the new revision took all traffic); or ignore it")
    alarm_grace: Seconds = Field(300.0, description="see preexisting_alarms")
    smoke: SmokeCheck | None = None
    blue_green: BlueGreenConfig = Field(default_factory=BlueGreenConfig)
    canary: CanaryConfig = Field(default_factory=CanaryConfig)
    native: NativeConfig = Field(default_factory=NativeConfig)
    run_task: RunTaskConfig = Field(default_factory=RunTaskConfig)
    lock: LockConfig = Field(default_factory=LockConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    diagnose: DiagnoseConfig = Field(default_factory=DiagnoseConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
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

    def settings(self, env: str | None = None, overrides: dict[str, Any] | None = None,
                 sources: dict[str, str] | None = None) -> Settings:
        """Validated effective settings for ``env`` with dotted-path ``overrides`` applied last;
        ``sources`` names where an override came from (``--set KEY``), for error messages."""
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
        overridden: dict[tuple, str] = {}
        for dotted, value in (overrides or {}).items():
            path = tuple(dotted.split("."))
            set_path(merged, path, value)
            overridden[path] = (sources or {}).get(dotted) or "command-line/params override"
        try:
            settings = Settings.model_validate(merged)
        except ValidationError as exc:
            raise BadInput(self._explain(exc, origin, overridden, env)) from None
        if env is not None and len(f"{settings.service}-{env}") > 255:
            raise BadInput(f"{self._where(('service',))}: service: {settings.service!r} with environment {env!r} "
                           f"makes a task definition family longer than ECS's 255 characters")
        return settings

    def check_templates(self) -> None:
        """``task_definition.template`` of the top level and every environment is a usable file."""
        for env in [None, *self.environments]:
            self.check_template(self.settings(env), env)

    def check_template(self, settings: Settings, env: str | None, source: str | None = None) -> None:
        """``settings``' template is a usable file; the error names where it was set (``source``, such
        as ``--set task_definition.template``, else the config file and line)."""
        problem = template_problem(settings, self.base_dir)
        if problem:
            key = ("task_definition", "template")
            env_key = ("environments", str(env), *key)
            where = source or self._where(env_key if env is not None and env_key in self.lines else key)
            raise BadInput(f"{where}: task_definition.template: {problem}")

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

    def _explain(self, exc: ValidationError, origin: dict, overridden: dict[tuple, str], env: str | None) -> str:
        msgs = []
        for err in exc.errors():
            loc = tuple(str(x) for x in err["loc"])
            dotted = ".".join(loc) or "(top level)"
            src = None
            for n in range(len(loc), 0, -1):
                if loc[:n] in overridden:
                    src = overridden[loc[:n]]
                    break
                if loc[:n] in origin:
                    src = self._where(origin[loc[:n]])
                    break
            # an override below the failing key (``--set unknown.key=1`` fails as ``unknown``)
            src = src or next((s for p, s in overridden.items() if p[:len(loc)] == loc), None)
            src = src or str(self.path)
            text = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                text = "unknown key"
            elif err["type"] == "missing":
                text = "required field is missing"
            if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
                shown = repr(err["input"])
                text += f" (got {shown if len(shown) <= 200 else shown[:200] + '…'})"
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


def template_problem(settings: Settings, base_dir: Path) -> str | None:
    """Why ``task_definition.template`` is not a usable template file (None when it is, or unset): it
    must be a regular file inside the project directory (the config file's) unless
    ``task_definition.allow_outside_project`` says otherwise."""
    rel = settings.task_definition.template
    if not rel:
        return None
    path = Path(base_dir) / rel
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{path} not found"
    except (OSError, ValueError) as exc:
        return f"{path} cannot be read: {getattr(exc, 'strerror', None) or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    if not settings.task_definition.allow_outside_project:
        root = Path(base_dir).resolve()
        if not path.resolve().is_relative_to(root):
            return (f"{path} is outside the project directory {root} "
                    "(set task_definition.allow_outside_project: true to allow it)")
    return None


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
    """The config file, read and parsed within the bounds of ``pipeline_py.inputs`` (size, UTF-8,
    depth, aliases, numbers) and validated for every environment."""
    p = Path(path or DEFAULT_CONFIG)
    if not p.exists() and not p.is_symlink():
        raise BadInput(f"config file {p} not found (use --config FILE)")
    text = inputs.read_text(p, "config file", limit=inputs.MAX_CONFIG_BYTES)
    try:
        data, node = inputs.load_yaml(text, str(p))
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
    for name in envs or {}:
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise BadInput(f"{p}:{lines.get(('environments', str(name)), '?')}: environments: {name!r} is not a valid "
                           "environment name (1–64 letters, digits, '-' and '_')")
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
    if key.count(".") >= MAX_KEY_DEPTH:
        raise BadInput(f"{what} {key[:80]}…: the key is nested deeper than {MAX_KEY_DEPTH} levels")
    return key, inputs.parse_value(raw, f"{what} {key}")

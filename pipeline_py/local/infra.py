"""The infrastructure an environment's configuration names, as an :class:`~pipeline_py.local.sandbox.InfraSpec`
for the local stack: the cluster, the rolling service, the two colours with their target groups and
listeners, the native service, the alarms, the log groups the task definition writes to, the lock table.
A user's own pipeline.yaml gets the same shape terraform's stack gives it on AWS, named as the config
names it."""

from __future__ import annotations

import re
from typing import Any

from pipeline_py.config import Settings
from pipeline_py.errors import BadInput
from pipeline_py.local.sandbox import InfraSpec, NativeSpec

TARGET_GROUP_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")


def _tg_name(value: str | None, default: str, field: str) -> str:
    name = value or default
    if name.startswith("arn:"):
        name = name.split("/")[-2] if name.count("/") >= 2 else default
    if not TARGET_GROUP_NAME.match(name):
        raise BadInput(f"{field}: {name!r} is not a target group name ELB accepts (1–32 letters, digits and "
                       "hyphens, not starting or ending with a hyphen)")
    return name


def _container(td: dict[str, Any] | None) -> tuple[str, int, list[str]]:
    """(essential container name, its first container port, the awslogs groups) of a rendered revision."""
    if not td:
        return "app", 8080, []
    containers = td.get("containerDefinitions") or []
    essential = next((c for c in containers if c.get("essential", True)), containers[0] if containers else {})
    ports = [pm.get("containerPort") for pm in essential.get("portMappings") or [] if pm.get("containerPort")]
    groups = sorted({str((c.get("logConfiguration") or {}).get("options", {}).get("awslogs-group"))
                     for c in containers
                     if (c.get("logConfiguration") or {}).get("logDriver") == "awslogs"
                     and (c.get("logConfiguration") or {}).get("options", {}).get("awslogs-group")})
    return str(essential.get("name") or "app"), int(ports[0]) if ports else 8080, groups


def spec_from_settings(settings: Settings, env: str, *, task_definition: dict[str, Any] | None, image: str,
                       native: bool = False, health_check_path: str = "/health") -> InfraSpec:
    """What ``local infra`` builds for ``env``: every service the environment may deploy to."""
    if not settings.cluster:
        raise BadInput(f"environment {env!r} names no cluster (set `cluster` in its section of the config)")
    name = settings.service
    bg = settings.blue_green
    colours: dict[str, str] = {}
    if bg.services.blue or bg.services.green:
        if not (bg.services.blue and bg.services.green):
            raise BadInput("blue_green.services needs both blue and green (or neither)")
        colours = {"blue": bg.services.blue, "green": bg.services.green}
    container, port, log_groups = _container(task_definition)
    target_groups = {"rolling": _tg_name(None, settings.service_name[:32], "ecs_service")}
    ports: dict[str, int] = {}
    if colours:
        for colour in ("blue", "green"):
            target_groups[colour] = _tg_name(getattr(bg.target_groups, colour), colours[colour][:32],
                                             f"blue_green.target_groups.{colour}")
        ports["production"] = bg.listener_port
        if bg.test_listener_port:
            ports["test"] = bg.test_listener_port
    taken = set(ports.values())
    ports["rolling"] = next(p for p in (80, 81, 8081, 9080) if p not in taken)
    native_spec = None
    if native or settings.strategy.startswith("ecs-"):
        service = settings.service_name if settings.strategy.startswith("ecs-") else f"{name}-native"
        native_spec = NativeSpec(service, {"production": _tg_name(None, f"{service}-a"[:32], "ecs_service"),
                                           "alternate": _tg_name(None, f"{service}-b"[:32], "ecs_service")},
                                 production_port=next(p for p in (82, 83, 84) if p not in ports.values()),
                                 test_port=next(p for p in (8082, 8083, 8084) if p not in ports.values()))
    return InfraSpec(
        name=name, env=env, cluster=settings.cluster,
        family=str((task_definition or {}).get("family") or f"{name}-{env}"),
        load_balancer=(bg.load_balancer or f"{name}-{env}")[:32],
        rolling_service=None if settings.strategy.startswith("ecs-") else settings.service_name,
        colours=colours, target_groups=target_groups, ports=ports,
        desired=settings.desired_count if settings.desired_count is not None else 2,
        container_name=container, container_port=port, health_check_path=health_check_path,
        alarms=list(settings.alarms), log_groups=log_groups, lock_table=settings.lock.table, image=image,
        native=native_spec,
    )

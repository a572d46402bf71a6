"""Validation: botocore's own ``RegisterTaskDefinition`` input model, then the semantic rules
the API would only enforce at registration or launch time (or not at all)."""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

from pipeline_py.errors import BadInput

# Fargate task size table (CPU units → allowed memory in MiB), from the ECS developer guide.
FARGATE_SIZES: dict[int, list[int]] = {
    256: [512, 1024, 2048],
    512: list(range(1024, 4096 + 1, 1024)),
    1024: list(range(2048, 8192 + 1, 1024)),
    2048: list(range(4096, 16384 + 1, 1024)),
    4096: list(range(8192, 30720 + 1, 1024)),
    8192: list(range(16384, 61440 + 1, 4096)),
    16384: list(range(32768, 122880 + 1, 8192)),
}

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_VCPU = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*vcpu\s*$", re.I)
_GB = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*gb\s*$", re.I)
_NUM = re.compile(r"^\s*(\d+)\s*$")


@functools.lru_cache(maxsize=1)
def ecs_model() -> Any:
    """The ECS service model botocore ships (no client, no credentials, no network)."""
    return botocore.session.get_session().get_service_model("ecs")


def input_shape() -> Any:
    return ecs_model().operation_model("RegisterTaskDefinition").input_shape


def register_keys() -> frozenset[str]:
    return frozenset(input_shape().members)


def _size(value: Any, unit: re.Pattern[str]) -> int | None:
    """A plain number, or a number of the 1024-multiple unit (``vCPU``, ``GB``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if m := _NUM.match(value):
            return int(m.group(1))
        if m := unit.match(value):
            return round(float(m.group(1)) * 1024)
    return None


def cpu_units(value: Any) -> int | None:
    """``"256"``, ``256`` or ``"0.25 vCPU"`` → 256; None when not a size ECS understands."""
    return _size(value, _VCPU)


def memory_mib(value: Any) -> int | None:
    """``"512"``, ``512`` or ``"0.5 GB"`` → 512; None when not a size ECS understands."""
    return _size(value, _GB)


def _botocore_errors(td: dict[str, Any]) -> list[str]:
    report = ParamValidator().validate(td, input_shape())
    if not report.has_errors():
        return []
    errors = getattr(report, "_errors", None)
    if errors is None:  # botocore changed its internals: fall back to its own text
        return report.generate_report().splitlines()
    out = []
    for error in errors:
        reason, name, extra = error
        path = name[1:] if name.startswith(".") else name
        if reason == "missing required field":
            path = f"{path}.{extra['required_name']}" if path else extra["required_name"]
        elif reason == "unknown field":
            path = f"{path}.{extra['unknown_param']}" if path else extra["unknown_param"]
        text = report._format_error(error)
        if reason == "invalid type" and path in ("cpu", "memory") and isinstance(extra.get("param"), int | float):
            text += ' (ECS takes task-level cpu/memory as strings: write "cpu": "{{ cpu }}")'
        out.append(f"{path or '(top level)'}: {text}")
    return out


def _fargate_size(td: dict[str, Any]) -> list[str]:
    errs: list[str] = []
    if td.get("networkMode") != "awsvpc":
        errs.append(f"networkMode: Fargate requires \"awsvpc\", got {td.get('networkMode')!r}")
    cpu_raw, mem_raw = td.get("cpu"), td.get("memory")
    if cpu_raw is None or mem_raw is None:
        errs.extend(f"{k}: Fargate requires a task-level {k}" for k in ("cpu", "memory") if td.get(k) is None)
        return errs
    cpu, mem = cpu_units(cpu_raw), memory_mib(mem_raw)
    if cpu is None:
        errs.append(f"cpu: {cpu_raw!r} is not a CPU size (CPU units like \"256\", or \"0.25 vCPU\")")
    if mem is None:
        errs.append(f"memory: {mem_raw!r} is not a memory size (MiB like \"512\", or \"0.5 GB\")")
    if cpu is None or mem is None:
        return errs
    if cpu not in FARGATE_SIZES:
        errs.append(f"cpu: {cpu} is not a Fargate CPU size (valid: {', '.join(map(str, FARGATE_SIZES))})")
    elif mem not in FARGATE_SIZES[cpu]:
        allowed = FARGATE_SIZES[cpu]
        span = ", ".join(map(str, allowed)) if len(allowed) <= 4 else (
            f"{allowed[0]}–{allowed[-1]} in steps of {allowed[1] - allowed[0]}")
        errs.append(f"memory: {mem} MiB is not valid with cpu {cpu} on Fargate (valid: {span})")
    return errs


def _containers(td: dict[str, Any], lb_container: str | None, lb_port: int | None) -> list[str]:
    errs: list[str] = []
    containers = [c for c in td.get("containerDefinitions") or [] if isinstance(c, dict)]
    if not containers:
        return ["containerDefinitions: at least one container is required"]
    names = [c.get("name") for c in containers]
    for name, n in Counter(names).items():
        if name is not None and n > 1:
            errs.append(f"containerDefinitions: container name {name!r} is used {n} times (names must be unique)")
    awsvpc = td.get("networkMode") == "awsvpc"
    task_memory = td.get("memory") is not None
    for i, c in enumerate(containers):
        where = f"containerDefinitions[{i}]"
        label = f" ({c['name']})" if isinstance(c.get("name"), str) else ""
        if not c.get("name"):
            errs.append(f"{where}.name: every container needs a name")
        elif not _NAME.match(c["name"]):
            errs.append(f"{where}.name: {c['name']!r} may only contain letters, digits, '-' and '_' (1–255)")
        if not c.get("image"):
            errs.append(f"{where}.image: every container needs an image{label}")
        if not task_memory and c.get("memory") is None and c.get("memoryReservation") is None:
            errs.append(f"{where}: needs memory or memoryReservation when the task has no task-level memory{label}")
        for j, pm in enumerate(c.get("portMappings") or []):
            if not isinstance(pm, dict):
                continue
            for key, low in (("containerPort", 1), ("hostPort", 0)):
                port = pm.get(key)
                if port is not None and not low <= port <= 65535:
                    errs.append(f"{where}.portMappings[{j}].{key}: {port} is not a port ({low}–65535){label}")
            if awsvpc and pm.get("hostPort") is not None and pm.get("containerPort") is not None \
                    and pm["hostPort"] != pm["containerPort"]:
                errs.append(f"{where}.portMappings[{j}].hostPort: must equal containerPort "
                            f"({pm['containerPort']}) in awsvpc mode, got {pm['hostPort']}")
        hc = c.get("healthCheck")
        if isinstance(hc, dict) and isinstance(hc.get("command"), list):
            cmd = hc["command"]
            if not cmd or cmd[0] not in ("CMD", "CMD-SHELL", "NONE"):
                errs.append(f"{where}.healthCheck.command: must start with \"CMD\" or \"CMD-SHELL\"{label}, "
                            f"got {cmd[:1]}")
        if isinstance(hc, dict):
            errs.extend(_in_ranges(hc, HEALTH_CHECK_RANGES, f"{where}.healthCheck", label))
        errs.extend(_in_ranges(c, CONTAINER_RANGES, where, label))
        for j, dep in enumerate(c.get("dependsOn") or []):
            if isinstance(dep, dict) and dep.get("containerName") not in names:
                errs.append(f"{where}.dependsOn[{j}].containerName: no container named {dep.get('containerName')!r} "
                            f"(containers: {', '.join(map(str, names))})")
    if not any(c.get("essential", True) is not False for c in containers):
        errs.append("containerDefinitions: at least one container must be essential (essential defaults to true)")
    errs.extend(_load_balancer(containers, lb_container, lb_port))
    return errs


def _ports(c: dict[str, Any]) -> list[int]:
    return [pm["containerPort"] for pm in c.get("portMappings") or [] if isinstance(pm, dict)
            and pm.get("containerPort") is not None]


def _load_balancer(containers: list[dict[str, Any]], lb_container: str | None, lb_port: int | None) -> list[str]:
    if lb_container is None and lb_port is None:
        return []
    if lb_container is not None:
        for i, c in enumerate(containers):
            if c.get("name") == lb_container:
                ports = _ports(c)
                if not ports:
                    return [f"containerDefinitions[{i}].portMappings: the load balancer targets container "
                            f"{lb_container!r}, which maps no containerPort"]
                if lb_port is not None and lb_port not in ports:
                    return [f"containerDefinitions[{i}].portMappings: the load balancer targets "
                            f"{lb_container}:{lb_port}, but the container maps {', '.join(map(str, ports))}"]
                return []
        names = ", ".join(str(c.get("name")) for c in containers)
        return [f"containerDefinitions: the load balancer targets container {lb_container!r}, "
                f"which is not defined (containers: {names})"]
    if not any(lb_port in _ports(c) for c in containers):
        return [f"containerDefinitions: the load balancer targets port {lb_port}, which no container maps"]
    return []


# Numeric fields with the ranges the ECS API reference documents (botocore's model carries none).
HEALTH_CHECK_RANGES = {"interval": (5, 300), "timeout": (2, 60), "retries": (1, 10), "startPeriod": (0, 300)}
CONTAINER_RANGES = {"stopTimeout": (2, 120), "startTimeout": (2, 600), "memory": (6, 10_000_000),
                    "memoryReservation": (6, 10_000_000), "cpu": (0, 196_608)}
_ROLE_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::\d{12}:role/(?:[A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$")
_ROLE_NAME = re.compile(r"^[A-Za-z0-9_+=,.@-]{1,64}$")


def _in_ranges(obj: dict[str, Any], ranges: dict[str, tuple[int, int]], where: str, label: str) -> list[str]:
    out = []
    for key, (low, high) in ranges.items():
        v = obj.get(key)
        if isinstance(v, int) and not low <= v <= high:
            out.append(f"{where}.{key}: {v} is out of range ({low}–{high}){label}")
    return out


def _roles(td: dict[str, Any]) -> list[str]:
    errs = []
    execution, task = td.get("executionRoleArn"), td.get("taskRoleArn")
    if execution is not None and not _ROLE_ARN.match(execution):
        errs.append(f"executionRoleArn: {execution!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    if task is not None and not (_ROLE_ARN.match(task) or _ROLE_NAME.match(task)):
        errs.append(f"taskRoleArn: {task!r} is neither an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME) "
                    "nor a role name")
    return errs


def problems(td: Any, lb_container: str | None = None, lb_port: int | None = None) -> list[str]:
    """Every problem found, as ``path: message`` lines (empty when valid)."""
    if not isinstance(td, dict):
        return [f"(top level): a task definition is a JSON object, not {type(td).__name__}"]
    errs = _botocore_errors(td)
    if errs:  # semantic checks assume the right shape
        return errs
    if "FARGATE" in (td.get("requiresCompatibilities") or []):
        errs.extend(_fargate_size(td))
    elif td.get("cpu") is not None and cpu_units(td["cpu"]) is None:
        errs.append(f"cpu: {td['cpu']!r} is not a CPU size (CPU units like \"256\", or \"0.25 vCPU\")")
    if not _NAME.match(td["family"]):
        errs.append(f"family: {td['family']!r} may only contain letters, digits, '-' and '_' (1–255)")
    errs.extend(_roles(td))
    errs.extend(_containers(td, lb_container, lb_port))
    return errs


def validate(td: dict[str, Any], source: str = "task definition", lb_container: str | None = None,
             lb_port: int | None = None) -> None:
    """Raise ``BadInput`` listing every problem with its field path, or return quietly."""
    errs = problems(td, lb_container, lb_port)
    if errs:
        raise BadInput(f"{source}: invalid task definition:\n  " + "\n  ".join(errs))

"""One canonical form for task definitions, so "rendered" and "live" compare equal when ECS
would run the same thing.

``normalise`` is applied to both sides: describe-only keys go, ``None`` and empty lists/maps go
(ECS answers ``"mountPoints": []`` for what was never set), name-keyed lists are sorted, sizes
written as ``"0.25 vCPU"``/``"1 GB"`` become the units ECS stores, and the defaults ECS fills in
on registration are made explicit (``essential``, port ``protocol``/``hostPort`` in awsvpc,
health-check timings) or dropped when they mean "unset" (container ``cpu: 0``).
"""

from __future__ import annotations

import copy
from typing import Any

from pipeline_py.taskdef.validation import cpu_units, memory_mib

# Keys DescribeTaskDefinition returns that RegisterTaskDefinition does not take.
DESCRIBE_ONLY = frozenset({
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
})

HEALTH_CHECK_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3}


def strip_describe_only(td: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Unwrap a ``describe-task-definition`` response and drop its describe-only keys.

    Returns the register-shaped dict and the names of the keys it dropped.
    """
    if set(td) <= {"taskDefinition", "tags", "ResponseMetadata"} and isinstance(td.get("taskDefinition"), dict):
        inner = dict(td["taskDefinition"])
        if td.get("tags"):
            inner["tags"] = td["tags"]
        td = inner
    dropped = sorted(k for k in td if k in DESCRIBE_ONLY)
    return {k: v for k, v in td.items() if k not in DESCRIBE_ONLY}, dropped


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _prune(v)
            if v is None or (isinstance(v, list | dict) and not v):
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value if v is not None]
    return value


def _by(key: str) -> Any:
    return lambda item: str(item.get(key, "")) if isinstance(item, dict) else ""


def _container(c: dict[str, Any], awsvpc: bool) -> dict[str, Any]:
    c.setdefault("essential", True)
    if c.get("cpu") == 0:
        del c["cpu"]
    for key in ("environment", "secrets"):
        if isinstance(c.get(key), list):
            c[key] = sorted(c[key], key=_by("name"))
    for pm in c.get("portMappings") or []:
        if not isinstance(pm, dict) or pm.get("containerPortRange"):
            continue
        pm.setdefault("protocol", "tcp")
        if awsvpc and pm.get("containerPort") is not None:
            pm.setdefault("hostPort", pm["containerPort"])
    hc = c.get("healthCheck")
    if isinstance(hc, dict):
        for k, v in HEALTH_CHECK_DEFAULTS.items():
            hc.setdefault(k, v)
    log = c.get("logConfiguration")
    if isinstance(log, dict) and isinstance(log.get("secretOptions"), list):
        log["secretOptions"] = sorted(log["secretOptions"], key=_by("name"))
    return c


def normalise(td: dict[str, Any]) -> dict[str, Any]:
    """The canonical, register-ready form of ``td`` (a new dict; ``td`` is not modified)."""
    out, _ = strip_describe_only(copy.deepcopy(td))
    out = _prune(out)
    for key, conv in (("cpu", cpu_units), ("memory", memory_mib)):
        if key in out:
            n = conv(out[key])
            if n is not None:
                out[key] = str(n)
    if out.get("enableFaultInjection") is False:
        del out["enableFaultInjection"]
    if isinstance(out.get("requiresCompatibilities"), list):
        out["requiresCompatibilities"] = sorted(out["requiresCompatibilities"])
    if isinstance(out.get("tags"), list):
        out["tags"] = sorted(out["tags"], key=_by("key"))
    awsvpc = out.get("networkMode") == "awsvpc"
    if isinstance(out.get("containerDefinitions"), list):
        out["containerDefinitions"] = [_container(c, awsvpc) if isinstance(c, dict) else c
                                       for c in out["containerDefinitions"]]
    return out

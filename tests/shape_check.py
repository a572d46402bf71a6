"""Checks an AWS answer against botocore's output shape of its operation: types, enums, required members,
no JSON ``null``, and the members AWS documents as always present where botocore's model does not mark them
required (:data:`ALWAYS_PRESENT`, :func:`documented_problems`).

Used by tests/integration/test_response_shapes.py on every answer the engine reads during deploys on the
local stack (a botocore ``after-call`` handler on the engine's clients)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

# (service, shape name) -> members every answer carries (AWS API references: each is returned for every
# resource of the kind, though botocore's model marks none of them required)
ALWAYS_PRESENT: dict[tuple[str, str], tuple[str, ...]] = {
    ("ecs", "Service"): ("placementConstraints", "placementStrategy", "createdBy", "enableExecuteCommand", "roleArn"),
    ("ecs", "TaskDefinition"): ("registeredAt", "registeredBy", "requiresAttributes"),
    ("elbv2", "LoadBalancer"): ("Scheme",),
}


def _fargate_task(value: dict[str, Any]) -> bool:
    return value.get("launchType") == "FARGATE" or str(value.get("capacityProviderName", "")).startswith("FARGATE")


# (service, shape name) -> (condition, members present when it holds)
PRESENT_WHEN: dict[tuple[str, str], tuple[Callable[[dict[str, Any]], bool], tuple[str, ...]]] = {
    ("ecs", "Task"): (_fargate_task, ("ephemeralStorage",)),
    ("elbv2", "Action"): (lambda v: v.get("Type") == "forward", ("ForwardConfig",)),
}


def shape_problems(shape: Any, value: Any, path: str = "$", service: str = "") -> list[str]:
    """What in ``value`` (as botocore parsed it) disagrees with ``shape``."""
    if value is None:
        return [f"{path}: null"]
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, expected a structure ({shape.name})"]
        out = [f"{path}.{name}: required member of {shape.name} missing"
               for name in shape.required_members if name not in value]
        out += documented_problems(service, shape.name, value, path)
        for name, item in value.items():
            if name == "ResponseMetadata" and path == "$":
                continue
            member = shape.members.get(name)
            if member is None:
                out.append(f"{path}.{name}: not a member of {shape.name}")
            else:
                out += shape_problems(member, item, f"{path}.{name}", service)
        return out
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, expected a list"]
        return [p for i, item in enumerate(value) for p in shape_problems(shape.member, item, f"{path}[{i}]", service)]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, expected a map"]
        return [p for k, item in value.items()
                for p in [*shape_problems(shape.key, k, f"{path}<key>", service),
                          *shape_problems(shape.value, item, f"{path}[{k!r}]", service)]]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: {type(value).__name__} {value!r}, expected a string"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} is not one of {shape.name}'s values {sorted(shape.enum)}"]
        return []
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {type(value).__name__} {value!r}, expected an integer"]
    if kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: {type(value).__name__} {value!r}, expected a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: {type(value).__name__} {value!r}, expected a boolean"]
    if kind == "timestamp":
        return [] if isinstance(value, datetime) else [f"{path}: {type(value).__name__} {value!r}, expected a time"]
    if kind == "blob":
        return [] if isinstance(value, (bytes, bytearray)) or hasattr(value, "read") else [f"{path}: expected bytes"]
    return []


def documented_problems(service: str, shape_name: str, value: dict[str, Any], path: str) -> list[str]:
    members = list(ALWAYS_PRESENT.get((service, shape_name), ()))
    conditional = PRESENT_WHEN.get((service, shape_name))
    if conditional is not None and conditional[0](value):
        members += conditional[1]
    return [f"{path}.{name}: missing (AWS always returns it for a {shape_name})" for name in members
            if name not in value]


def json_nulls(shape: Any, raw: Any, path: str = "$") -> list[str]:
    """Members sent as JSON ``null`` (botocore's JSON parser drops them, so they are looked for in the body)."""
    if shape is None:
        return []
    if raw is None:
        return [f"{path}: null in the JSON body"]
    kind = shape.type_name
    out: list[str] = []
    if kind == "structure" and isinstance(raw, dict) and not getattr(shape, "is_document_type", False):
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            if key in raw:
                out += json_nulls(member, raw[key], f"{path}.{name}")
    elif kind == "list" and isinstance(raw, list):
        for i, item in enumerate(raw):
            out += json_nulls(shape.member, item, f"{path}[{i}]")
    elif kind == "map" and isinstance(raw, dict):
        for k, item in raw.items():
            out += json_nulls(shape.value, item, f"{path}[{k!r}]")
    return out


def response_problems(model: Any, parsed: dict[str, Any], body: bytes | None) -> list[str]:
    """Everything wrong with one answer of operation ``model`` (a botocore OperationModel)."""
    shape = model.output_shape
    if shape is None or "Error" in parsed:
        return []
    service = model.service_model.service_name
    out = shape_problems(shape, parsed, "$", service)
    protocol = getattr(model.service_model, "resolved_protocol", model.service_model.protocol)
    if body and protocol in ("json", "rest-json"):
        try:
            raw = json.loads(body)
        except ValueError:
            return [*out, "$: the body is not JSON"]
        out += json_nulls(shape, raw)
    return [f"{service}.{model.name} {p}" for p in out]

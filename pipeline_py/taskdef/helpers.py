"""Template helpers: the pieces every task definition needs, as jinja2 globals.

Each helper returns a ``JsonDict``/``JsonList``: a plain dict/list whose ``str()`` is JSON, so
``"logConfiguration": {{ awslogs(log_group) }}`` inserts valid JSON without a filter (``| tojson``
works as well).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import Undefined
from markupsafe import Markup


class HelperError(ValueError):
    """A helper was called with bad arguments; reported with the template line that called it."""


def _json_default(o: Any) -> Any:
    if isinstance(o, Undefined):
        o._fail_with_undefined_error()  # raises the StrictUndefined error naming the variable
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default)


class JsonDict(dict):
    def __str__(self) -> str:
        return dumps(self)

    def __html__(self) -> str:
        return str(self)


class JsonList(list):
    def __str__(self) -> str:
        return dumps(self)

    def __html__(self) -> str:
        return str(self)


def tojson(value: Any, indent: int | None = None) -> Markup:
    """``| tojson`` without HTML escaping, and naming an undefined variable instead of a TypeError."""
    return Markup(json.dumps(value, default=_json_default, indent=indent))


def finalize(value: Any) -> Any:
    """How ``{{ value }}`` is written into the JSON text.

    Strings are JSON-escaped (without quotes) so ``"{{ x }}"`` stays valid whatever ``x`` holds;
    booleans, None, lists and dicts become JSON. ``Markup`` (``| tojson``, helpers) passes as is.
    """
    if isinstance(value, Markup | JsonDict | JsonList):
        return value
    if isinstance(value, Undefined):
        return value  # str() of a StrictUndefined raises the error naming the variable
    if isinstance(value, str):
        return json.dumps(value)[1:-1]
    if isinstance(value, bool) or value is None or isinstance(value, dict | list | tuple):
        return dumps(value)
    return value


def env_value(value: Any, name: str) -> str:
    """ECS environment values are strings; YAML-typed config values are turned into the text a
    shell would see (``true``, ``3``, JSON for structures)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        raise HelperError(f"environment variable {name!r} has no value (null)")
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return dumps(value)


def _mappings(args: tuple[Any, ...], kwargs: dict[str, Any], helper: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for m in args:
        if m is None:
            continue
        if isinstance(m, Undefined):
            m._fail_with_undefined_error()
        if not isinstance(m, Mapping):
            raise HelperError(f"{helper}() takes mappings of NAME: value, got {type(m).__name__}")
        merged.update(m)
    merged.update(kwargs)
    return merged


def environment(*mappings: Mapping[str, Any] | None, **extra: Any) -> JsonList:
    """``environment(common, {"APP_VERSION": version})`` → ``[{"name", "value"}]`` sorted by name.

    Later mappings (and keyword arguments) win over earlier ones.
    """
    merged = _mappings(mappings, extra, "environment")
    return JsonList({"name": str(k), "value": env_value(v, str(k))} for k, v in sorted(merged.items()))


_SM_ARN = re.compile(r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[^:]+(:[^:]*:[^:]*:[^:]*)?$")
_SSM_ARN = re.compile(r"^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter/.+$")
_SSM_NAME = re.compile(r"^/?[A-Za-z0-9_.\-/]+$")


def partition(region: str | None) -> str:
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def secret_ref(value: Any, name: str, *, region: str | None, account_id: str | None) -> str:
    """One ``valueFrom``: a Secrets Manager ARN (optionally ``:json-key:stage:version``) or an SSM
    parameter ARN is kept; an SSM parameter name becomes its ARN when the account is known
    (required when the parameter lives in another region; harmless otherwise)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if not isinstance(value, str) or not value:
        raise HelperError(f"secret {name!r}: expected a Secrets Manager ARN or an SSM parameter name, got {value!r}")
    if value.startswith("arn:"):
        if _SM_ARN.match(value) or _SSM_ARN.match(value):
            return value
        raise HelperError(
            f"secret {name!r}: {value!r} is neither a Secrets Manager secret ARN "
            "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[:json-key:stage:version]) "
            "nor an SSM parameter ARN (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME)"
        )
    if not _SSM_NAME.match(value):
        raise HelperError(f"secret {name!r}: {value!r} is not a valid SSM parameter name")
    if account_id and region:
        path = value if value.startswith("/") else "/" + value
        return f"arn:{partition(region)}:ssm:{region}:{account_id}:parameter{path}"
    return value


def make_secrets(region: str | None, account_id: str | None) -> Any:
    def secrets(*mappings: Mapping[str, Any] | None, **extra: Any) -> JsonList:
        """``secrets({"DB_PASSWORD": "arn:aws:secretsmanager:…", "API_KEY": "/task-api/api-key"})``."""
        merged = _mappings(mappings, extra, "secrets")
        return JsonList(
            {"name": str(k), "valueFrom": secret_ref(v, str(k), region=region, account_id=account_id)}
            for k, v in sorted(merged.items())
        )

    return secrets


def make_awslogs(default_region: str | None, default_prefix: str) -> Any:
    def awslogs(
        group: str,
        prefix: str | None = None,
        region: str | None = None,
        create_group: bool = False,
        **options: Any,
    ) -> JsonDict:
        """A ``logConfiguration`` for the awslogs driver; extra keyword arguments become options
        with underscores turned into dashes (``mode="non-blocking"``, ``max_buffer_size="25m"``)."""
        for label, v in (("group", group), ("prefix", prefix), ("region", region)):
            if isinstance(v, Undefined):
                v._fail_with_undefined_error()
            if label == "group" and (not isinstance(v, str) or not v):
                raise HelperError(f"awslogs(): the log group must be a non-empty string, got {v!r}")
        reg = region or default_region
        if not reg:
            raise HelperError("awslogs(): no region (set `region` in the config or pass region=...)")
        opts: dict[str, str] = {
            "awslogs-group": group,
            "awslogs-region": reg,
            "awslogs-stream-prefix": prefix or default_prefix,
        }
        if create_group:
            opts["awslogs-create-group"] = "true"
        for k, v in options.items():
            opts[k.replace("_", "-")] = env_value(v, k)
        return JsonDict({"logDriver": "awslogs", "options": opts})

    return awslogs

"""Secrets a rendered task definition carries in plain text.

A container's ``environment`` is readable by anyone who may describe the task definition (and is
printed by ``render``, ``--diff``, ``--register`` and ``deploy --dry-run``). A secret belongs in
``secrets`` (a Secrets Manager or SSM reference ECS resolves at launch). An environment entry is a
plain-text secret when its name looks secret (``DB_PASSWORD``), when a ``secrets`` entry of the task
definition has the same name, or when its value comes from a template variable whose name looks
secret (``--var db_pass=...``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pipeline_py.report import is_reference, looks_secret

MIN_LEN = 6  # shorter values are not treated as secrets (see pipeline_py.report)


@dataclass(frozen=True)
class PlainSecret:
    container: str
    name: str
    value: str
    why: str


def secret_variables(context: dict[str, Any]) -> dict[str, str]:
    """Template variables (flattened: ``app.db_pass``) whose name looks secret, with their text."""
    out: dict[str, str] = {}

    def walk(prefix: str, name: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{name}.", str(k), v)
        elif isinstance(value, list):
            for v in value:
                walk(prefix, name, v)
        elif value is not None and not isinstance(value, bool) and looks_secret(name):
            text = str(value)
            if len(text) >= MIN_LEN and not is_reference(text):
                out[prefix + name] = text

    for k, v in context.items():
        walk("", str(k), v)
    return out


def _containers(td: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for c in td.get("containerDefinitions") or []:
        if isinstance(c, dict):
            yield c


def plain_text_secrets(td: dict[str, Any], context: dict[str, Any]) -> list[PlainSecret]:
    secret_names = {str(s.get("name")) for c in _containers(td) for s in c.get("secrets") or []
                    if isinstance(s, dict)}
    variables = secret_variables(context)
    found: list[PlainSecret] = []
    for c in _containers(td):
        for e in c.get("environment") or []:
            if not isinstance(e, dict) or not isinstance(e.get("value"), str) or len(e["value"]) < MIN_LEN:
                continue
            name, value = str(e.get("name")), e["value"]
            carried = next((var for var, text in variables.items() if text in value), None)
            if carried is not None:
                why = f"it carries template variable {carried}"
            elif name in secret_names:
                why = f"{name} is also one of the task definition's secrets"
            elif looks_secret(name):
                why = "its name looks like a secret's"
            else:
                continue
            found.append(PlainSecret(str(c.get("name")), name, value, why))
    return found


def advice(p: PlainSecret) -> str:
    return (f"container {p.container}: environment {p.name} is a secret in plain text ({p.why}); anyone who "
            f"can describe the task definition reads it. Keep the value in Secrets Manager or SSM and reference "
            f"it under secrets: (in the template: secrets({{\"{p.name}\": \"arn:aws:secretsmanager:…\"}}) or "
            "an SSM parameter name); pipeline-py redacts it from its own output")

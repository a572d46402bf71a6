"""Narration (always stderr) and the command result (stdout).

With ``--json`` stdout carries exactly one JSON object; without it the result is printed as
indented ``key: value`` lines. Every line that leaves the process passes through the redactor,
so secret values bound into the environment never reach a log.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any, TextIO

_SECRET_ENV = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY|CREDENTIAL)", re.I)
# Values that are far too common to redact without destroying the log.
_MIN_SECRET_LEN = 6


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= _MIN_SECRET_LEN:
            self._secrets.add(secret)

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Redactor:
        env = os.environ if environ is None else environ
        return cls(v for k, v in env.items() if _SECRET_ENV.search(k))

    def __call__(self, text: str) -> str:
        for s in sorted(self._secrets, key=len, reverse=True):
            if s in text:
                text = text.replace(s, "****")
        return text


class Reporter:
    """Human narration on stderr; thread-safe; timestamps in UTC."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        redactor: Redactor | None = None,
        quiet: bool = False,
        timestamps: bool = True,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.redact = redactor or Redactor.from_environ()
        self.quiet = quiet
        self.timestamps = timestamps
        self._lock = threading.Lock()
        self.lines: list[str] = []

    def _emit(self, prefix: str, message: str) -> None:
        message = self.redact(message)
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S ") if self.timestamps else ""
        with self._lock:
            for i, line in enumerate(message.splitlines() or [""]):
                text = f"{stamp}{prefix if i == 0 else ' ' * len(prefix)}{line}"
                self.lines.append(text)
                if not self.quiet:
                    print(text, file=self.stream, flush=True)

    def info(self, message: str) -> None:
        self._emit("", message)

    def step(self, message: str) -> None:
        self._emit("==> ", message)

    def detail(self, message: str) -> None:
        self._emit("    ", message)

    def warn(self, message: str) -> None:
        self._emit("WARN ", message)

    def error(self, message: str) -> None:
        self._emit("ERROR ", message)

    def raw(self, text: str) -> None:
        """Pass-through output of a child tool (docker build, terraform), redacted."""
        text = self.redact(text)
        with self._lock:
            if not self.quiet:
                self.stream.write(text if text.endswith("\n") else text + "\n")
                self.stream.flush()


def _default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat()
    if isinstance(o, set | frozenset):
        return sorted(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    return str(o)


def to_json(result: dict[str, Any]) -> str:
    return json.dumps(result, default=_default, sort_keys=False)


def print_result(result: dict[str, Any], *, as_json: bool, redact: Redactor, stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stdout
    if as_json:
        out.write(redact(to_json(result)) + "\n")
    else:
        human = {k: v for k, v in result.items() if not (k == "api_calls" and not (v or {}).get("total"))}
        out.write(redact(_human(human)) + "\n")
    out.flush()


def _human(value: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, dict | list) and v:
                lines.append(f"{pad}{k}:")
                lines.append(_human(v, indent + 1))
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
        return "\n".join(lines)
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, dict | list):
                body = _human(item, indent + 1).lstrip()
                lines.append(f"{pad}- {body}")
            else:
                lines.append(f"{pad}- {_scalar(item)}")
        return "\n".join(lines)
    return pad + _scalar(value)


def _scalar(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, dict | list):
        return json.dumps(v)
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)

"""What a task of the sample app does, read from its task definition.

The contract is the ``APP_SCENARIO`` environment variable of the essential container, shared by
the simulator (which models it) and the real sample app (whose CGI scripts obey it), so a
failing deploy can be rehearsed on purpose. Comma-separated tokens, e.g.
``slow-start=20,error-rate=0.02``:

- ``healthy`` (default)            starts, passes health checks
- ``crash``                        the essential container exits right after starting
- ``crash-after=S``                runs S seconds, then exits
- ``exit-code=N``                  exit code for crash / run-task (default 1 for crash, 0 otherwise)
- ``unhealthy``                    runs but /health answers 503: ELB health checks fail
- ``slow-start=S``                 /health passes only S seconds after start
- ``pull-error``                   the image cannot be pulled (CannotPullContainerError)
- ``error-rate=F``                 fraction F of requests answer 5XX
- ``latency-ms=M``                 typical response time (median) in milliseconds
- ``p99-ms=M``                     99th percentile response time in milliseconds
- ``run-seconds=S``                run-task: how long the one-off task runs before exiting
- ``listen-port=N``                the app listens on port N instead of ``APP_PORT`` (a task definition
                                   whose container port is wrong: nothing answers the health checks)
- ``health-status=N``              ``/health`` answers HTTP N (e.g. 404: a wrong health-check path)
- ``memory-mb=N``                  the app allocates N MiB right after starting and keeps it; beyond the
                                   container's memory limit it is killed (exit 137, ``OutOfMemoryError``)

How the ECS simulator (``ecs_sim``/``task_sim``) reads them: ``crash`` exits before ECS reports the
task RUNNING (PENDING → STOPPED, so ECS counts a task that failed to start and throttles launches);
``crash-after`` reaches RUNNING first; ``unhealthy`` and ``slow-start`` fail the target group's and
the container's health checks (HTTP 503); ``run-seconds`` only applies to tasks not started by a
service; ``listen-port`` fails every health check without an answer, ``health-status`` fails them
with that code; ``memory-mb`` above the container's (else the task's) memory makes the container
exit 137 with ``OutOfMemoryError: Container killed due to memory usage``. Seconds are AWS seconds,
scaled by the timing model (the real runtime's app sleeps real seconds). An ``APP_SCENARIO`` the parser rejects
makes the container exit with code 2 before RUNNING, as the sample app refuses to start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENV_VAR = "APP_SCENARIO"


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True)
class Scenario:
    crash: bool = False
    crash_after: float | None = None
    exit_code: int | None = None
    unhealthy: bool = False
    slow_start: float = 0.0
    pull_error: bool = False
    error_rate: float = 0.0
    latency_ms: float = 20.0
    p99_ms: float = 60.0
    run_seconds: float = 0.5
    listen_port: int | None = None
    health_status: int | None = None
    memory_mb: float = 0.0
    text: str = "healthy"

    @property
    def effective_exit_code(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        return 1 if (self.crash or self.crash_after is not None) else 0


def parse(text: str | None) -> Scenario:
    text = (text or "healthy").strip() or "healthy"
    fields: dict[str, Any] = {"text": text}
    for raw in text.split(","):
        token = raw.strip()
        if not token:
            continue
        key, _, value = token.partition("=")
        key = key.strip().lower()
        try:
            if key == "healthy":
                continue
            if key in ("crash", "unhealthy", "pull-error"):
                fields[key.replace("-", "_")] = True
            elif key in ("crash-after", "slow-start", "run-seconds"):
                fields[key.replace("-", "_")] = float(value)
            elif key in ("error-rate",):
                rate = float(value)
                if not 0 <= rate <= 1:
                    raise ScenarioError(f"error-rate {rate} is not within 0..1")
                fields["error_rate"] = rate
            elif key in ("latency-ms", "p99-ms"):
                fields[key.replace("-", "_")] = float(value)
            elif key == "exit-code":
                fields["exit_code"] = int(value)
            elif key in ("listen-port", "health-status"):
                number = int(value)
                low, high = (1, 65535) if key == "listen-port" else (100, 599)
                if not low <= number <= high:
                    raise ScenarioError(f"{key} {number} is not within {low}..{high}")
                fields[key.replace("-", "_")] = number
            elif key == "memory-mb":
                fields["memory_mb"] = float(value)
                if fields["memory_mb"] < 0:
                    raise ScenarioError(f"memory-mb {value} is negative")
            else:
                raise ScenarioError(f"unknown scenario token {token!r}")
        except ValueError as exc:
            if isinstance(exc, ScenarioError):
                raise
            raise ScenarioError(f"bad value in scenario token {token!r}") from None
    if "latency_ms" in fields and "p99_ms" not in fields:
        fields["p99_ms"] = max(fields["latency_ms"] * 3, Scenario.p99_ms)
    if "p99_ms" in fields and "latency_ms" not in fields:
        fields["latency_ms"] = min(Scenario.latency_ms, fields["p99_ms"])
    return Scenario(**fields)


def from_container_environment(environment: list[dict[str, str]] | None) -> Scenario:
    for item in environment or []:
        if item.get("name") == ENV_VAR:
            return parse(item.get("value"))
    return parse(None)

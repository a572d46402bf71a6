"""The deploy result: one object built up phase by phase, returned as JSON and mapped to exit codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline_py.clock import Clock
from pipeline_py.errors import HumanNeeded, OperationFailed
from pipeline_py.report import Reporter

SUCCEEDED = "succeeded"
ROLLED_BACK = "rolled_back"
FAILED = "failed"
PAUSED = "paused"
NOT_STARTED = "not_started"
DRY_RUN = "dry_run"


@dataclass
class DeployReport:
    strategy: str
    cluster: str
    service: str
    clock: Clock
    reporter: Reporter
    status: str = "in_progress"
    reason: str | None = None
    phase: str = "preflight"
    phases: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    """What happened when (seconds since the start): weight changes, pauses, rollbacks — the report's
    time axis."""
    _start: float = 0.0
    _phase_start: float = 0.0

    def __post_init__(self) -> None:
        self._start = self._phase_start = self.clock.monotonic()
        self.phases.append({"phase": self.phase, "at": 0.0})

    def enter(self, phase: str, message: str | None = None) -> None:
        now = self.clock.monotonic()
        self.timings[f"{self.phase}_seconds"] = round(now - self._phase_start, 3)
        self.phase = phase
        self._phase_start = now
        self.phases.append({"phase": phase, "at": round(now - self._start, 3)})
        self.reporter.step(message or phase.replace("_", " "))

    def event(self, kind: str, **data: Any) -> None:
        self.timeline.append({"t": round(self.elapsed, 3), "kind": kind, **data})

    @property
    def origin(self) -> float:
        """The monotonic time the deploy started (the report's zero)."""
        return self._start

    def mark(self, name: str) -> None:
        """Record an elapsed-since-start timing such as ``to_steady_state_seconds``."""
        self.timings[name] = round(self.clock.monotonic() - self._start, 3)

    @property
    def elapsed(self) -> float:
        return self.clock.monotonic() - self._start

    def finish(self, status: str, reason: str | None = None) -> dict[str, Any]:
        now = self.clock.monotonic()
        self.timings.setdefault(f"{self.phase}_seconds", round(now - self._phase_start, 3))
        self.timings["total_seconds"] = round(now - self._start, 3)
        self.status = status
        self.reason = reason
        return self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "strategy": self.strategy,
            "cluster": self.cluster,
            "service": self.service,
        }
        out.update(self.data)
        out["reason"] = self.reason
        out["phases"] = self.phases
        out["timeline"] = self.timeline
        out["timings"] = self.timings
        return out


def raise_for(result: dict[str, Any]) -> dict[str, Any]:
    """Return a successful result; raise the error that carries a failed one to its exit code."""
    status = result.get("status")
    if status in (SUCCEEDED, PAUSED, DRY_RUN, "ok"):
        return result
    message = result.get("reason") or status or "deploy failed"
    if status in (ROLLED_BACK, NOT_STARTED):
        raise OperationFailed(message, result=result)
    raise HumanNeeded(message, result=result)

"""How fast the simulated AWS world moves, kept apart from the simulator's state.

Two kinds of durations:

- **phase durations** (``provisioning``, ``pending``, ``activating``, ``stopping``,
  ``deprovisioning``, ``crash_delay``) are wall-clock seconds of this machine: how long a simulated
  Fargate task spends in each lifecycle phase;
- **AWS durations** come from the user's configuration or the scenario (target-group health-check
  interval, deregistration delay, health-check grace period, ``slow-start=S``, ``crash-after=S``,
  ``run-seconds=S``, container health checks, ECS's launch back-off). They are in AWS seconds and
  are multiplied by ``scale`` (default 0.004: one AWS second lasts 4 ms), so their ratios stay
  those of AWS — a slow start of 20 s still beats two 30 s health checks, a grace period longer
  than the slow start still saves the task. The ``*_scale`` knobs override ``scale`` per kind.

A third kind, **wall seconds of the real clock**, drives what clients compare with their own clock:
the traffic model and CloudWatch (``traffic_rate`` requests per second per forwarding route,
``metric_retention``, ``metric_high_resolution``, ``alarm_set_state_hold``) are never scaled,
because a deploy engine queries CloudWatch over windows of real time.

With the defaults, a healthy 2-task rolling deploy behind a default target group (30 s interval,
5 healthy checks, 300 s deregistration delay) reaches a steady state in about 2 s.

Configure with ``LocalServer(timing={...})``, ``pipeline-py local up --timing JSON`` or at run time
with ``POST /_pipeline_py/timing`` (a partial object merges; ``PUT`` replaces).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

# ECS's documented upper bound for the launch back-off of a service whose tasks fail to start.
ECS_THROTTLE_MAX_SECONDS = 27 * 60


@dataclass(frozen=True)
class TimingModel:
    scale: float = 0.004
    provisioning: float = 0.05
    pending: float = 0.1
    activating: float = 0.05
    stopping: float = 0.05
    deprovisioning: float = 0.05
    crash_delay: float = 0.05
    health_check_interval: float | None = None
    healthy_threshold: int | None = None
    unhealthy_threshold: int | None = None
    deregistration_delay_scale: float | None = None
    grace_period_scale: float | None = None
    scenario_scale: float | None = None
    throttle_after: int = 2
    throttle_base: float = 10.0
    throttle_max: float = float(ECS_THROTTLE_MAX_SECONDS)
    stopped_tasks_kept: int = 100
    retry_failed_deployments: bool = False
    traffic_rate: float = 200.0
    metric_retention: float = 7200.0
    metric_high_resolution: float = 900.0
    alarm_set_state_hold: float = 5.0
    lifecycle_hook_scale: float = 1.0
    """ECS-native lifecycle hook timeouts: wall seconds per AWS second (1 = real time: whoever answers a
    hook works on the real clock; tests of a hook timing out lower it)."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or isinstance(value, bool):
                continue
            if value < 0:
                raise ValueError(f"timing knob {f.name!r} must not be negative (got {value})")
        if self.scale <= 0:
            raise ValueError("timing knob 'scale' must be positive")
        for name in ("metric_retention", "metric_high_resolution"):
            if getattr(self, name) < 60:
                raise ValueError(f"timing knob {name!r} must be at least 60 (seconds)")
        for name in ("healthy_threshold", "unhealthy_threshold"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"timing knob {name!r} must be at least 1")

    def aws(self, seconds: float) -> float:
        """Wall seconds for ``seconds`` of AWS time."""
        return float(seconds) * self.scale

    def health_check_seconds(self, interval_seconds: float) -> float:
        if self.health_check_interval is not None:
            return self.health_check_interval
        return self.aws(interval_seconds)

    def deregistration_delay(self, seconds: float) -> float:
        return float(seconds) * (self.deregistration_delay_scale if self.deregistration_delay_scale is not None
                                 else self.scale)

    def grace_period(self, seconds: float) -> float:
        return float(seconds) * (self.grace_period_scale if self.grace_period_scale is not None else self.scale)

    def scenario_seconds(self, seconds: float) -> float:
        return float(seconds) * (self.scenario_scale if self.scenario_scale is not None else self.scale)

    def throttle_delay(self, level: int) -> float:
        """Wall seconds ECS waits before the next launch after ``level`` back-off steps."""
        if level <= 0:
            return 0.0
        return self.aws(min(self.throttle_base * 2 ** (level - 1), self.throttle_max))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def merged(self, changes: dict[str, Any] | None) -> TimingModel:
        """A copy with ``changes`` applied; unknown knobs or bad values raise ``ValueError``."""
        if not changes:
            return self
        if not isinstance(changes, dict):
            raise ValueError("timing must be a JSON object")
        known = {f.name: f for f in fields(self)}
        values = self.to_dict()
        for key, raw in changes.items():
            if key not in known:
                raise ValueError(f"unknown timing knob {key!r}; known: {', '.join(sorted(known))}")
            values[key] = _coerce(key, known[key].type, raw)
        return TimingModel(**values)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TimingModel:
        return cls().merged(data)


def _coerce(key: str, annotation: Any, raw: Any) -> Any:
    kind = str(annotation)
    if raw is None:
        if "None" in kind:
            return None
        raise ValueError(f"timing knob {key!r} cannot be null")
    if "bool" in kind:
        if isinstance(raw, bool):
            return raw
        raise ValueError(f"timing knob {key!r} must be true or false")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError(f"timing knob {key!r} must be a number (got {raw!r})")
    if kind.startswith("int"):
        if float(raw) != int(raw):
            raise ValueError(f"timing knob {key!r} must be a whole number")
        return int(raw)
    return float(raw)

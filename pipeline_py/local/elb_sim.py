"""Target health of ELBv2 target groups, as a state machine on injected time.

A registered target starts ``initial`` (``Elb.InitialHealthChecking``) and is probed every
health-check interval; after *healthy threshold* consecutive passes it is ``healthy``, after
*unhealthy threshold* consecutive failures ``unhealthy`` (``Target.ResponseCodeMismatch`` when the
app answered with the wrong code, ``Target.FailedHealthChecks`` when nothing answered). A
deregistered target is ``draining`` (``Target.DeregistrationInProgress``) for the target group's
``deregistration_delay.timeout_seconds`` and then gone. Target groups that no load balancer uses
report ``unused`` (``Target.NotInUse``); with health checks disabled targets are ``unavailable``.

What a probe answers is not decided here: ``advance`` takes a ``probe(target, at)`` callable (the
ECS simulator asks the task's runtime; targets registered by hand answer 200). With a real data
plane the checks are real HTTP requests made elsewhere: targets for which ``external(target)`` is
true are not probed by ``advance``; each real check's answer arrives through :meth:`ElbSim.record`
and moves the same state machine (``Target.Timeout`` when the check timed out). Durations come from
the :class:`~pipeline_py.local.timing.TimingModel`. Nothing in this module reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline_py.local.timing import TimingModel

INITIAL = "initial"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
DRAINING = "draining"
UNUSED = "unused"
UNAVAILABLE = "unavailable"

_REASONS = {
    INITIAL: ("Elb.InitialHealthChecking", "Initial health checks in progress"),
    DRAINING: ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    UNUSED: ("Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"),
    UNAVAILABLE: ("Target.HealthCheckDisabled", "Health checks are disabled"),
}

# A long pause (a stopped debugger, a suspended laptop) must not make one tick run thousands of probes.
_MAX_PROBES_PER_ADVANCE = 64


@dataclass(frozen=True)
class TargetGroupConfig:
    """What the simulator needs to know about a target group (AWS seconds, AWS defaults)."""

    arn: str
    target_type: str = "ip"
    port: int | None = None
    protocol: str | None = "HTTP"
    health_check_enabled: bool = True
    health_check_port: str = "traffic-port"
    interval: float = 30.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    deregistration_delay: float = 300.0
    in_use: bool = True
    health_check_path: str = "/"
    health_check_protocol: str = "HTTP"
    health_check_timeout: float = 5.0
    matcher: str = "200"


@dataclass(frozen=True)
class Probe:
    """One health-check answer: ``code`` is the HTTP status, None when the connection failed."""

    ok: bool
    code: int | None = None
    timed_out: bool = False


HEALTHY_PROBE = Probe(True, 200)


@dataclass
class Target:
    target_group_arn: str
    id: str
    port: int
    registered_at: float
    owner: str | None = None
    availability_zone: str | None = None
    state: str = INITIAL
    reason: str | None = _REASONS[INITIAL][0]
    description: str | None = _REASONS[INITIAL][1]
    next_probe_at: float = 0.0
    ok_streak: int = 0
    fail_streak: int = 0
    last_probe: Probe | None = None
    drain_until: float | None = None
    changed_at: float = 0.0

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.target_group_arn, self.id, self.port)

    def describe(self, health_check_port: str | None = None) -> dict[str, Any]:
        """A ``TargetHealthDescription`` as ``DescribeTargetHealth`` returns it."""
        target: dict[str, Any] = {"Id": self.id, "Port": self.port}
        if self.availability_zone:
            target["AvailabilityZone"] = self.availability_zone
        health: dict[str, Any] = {"State": self.state}
        if self.reason:
            health["Reason"] = self.reason
        if self.description:
            health["Description"] = self.description
        out: dict[str, Any] = {"Target": target, "TargetHealth": health}
        hc_port = health_check_port or "traffic-port"
        out["HealthCheckPort"] = str(self.port) if hc_port == "traffic-port" else hc_port
        return out


@dataclass
class ElbSim:
    """Target registrations and their health, keyed by (target group ARN, target id, port)."""

    timing: TimingModel = field(default_factory=TimingModel)
    targets: dict[tuple[str, str, int], Target] = field(default_factory=dict)
    external: Callable[[Target], bool] | None = None

    def get(self, target_group_arn: str, target_id: str, port: int) -> Target | None:
        return self.targets.get((target_group_arn, target_id, int(port)))

    def in_group(self, target_group_arn: str) -> list[Target]:
        return [t for t in self.targets.values() if t.target_group_arn == target_group_arn]

    def owned_by(self, owner: str) -> list[Target]:
        return [t for t in self.targets.values() if t.owner == owner]

    def register(self, tg: TargetGroupConfig, target_id: str, port: int, now: float, *,
                 owner: str | None = None, availability_zone: str | None = None) -> Target:
        key = (tg.arn, target_id, int(port))
        current = self.targets.get(key)
        if current is not None and current.state != DRAINING:
            return current
        target = Target(tg.arn, target_id, int(port), now, owner=owner, availability_zone=availability_zone,
                        changed_at=now)
        target.next_probe_at = now + self._interval(tg)
        self._settle_static_state(target, tg, now)
        self.targets[key] = target
        return target

    def deregister(self, target_group_arn: str, target_id: str, port: int, now: float,
                   deregistration_delay: float) -> Target | None:
        """Start draining; ``deregistration_delay`` is the group's attribute in AWS seconds."""
        target = self.targets.get((target_group_arn, target_id, int(port)))
        if target is None or target.state == DRAINING:
            return target
        self._set(target, DRAINING, now)
        target.drain_until = now + self.timing.deregistration_delay(deregistration_delay)
        return target

    def forget(self, keys: Iterable[tuple[str, str, int]]) -> None:
        for key in keys:
            self.targets.pop(key, None)

    def advance(self, now: float, config_of: Callable[[str], TargetGroupConfig | None],
                probe: Callable[[Target, float], Probe]) -> list[Target]:
        """Run due health checks and finish due drains; returns the targets that are now gone."""
        gone: list[Target] = []
        for target in list(self.targets.values()):
            tg = config_of(target.target_group_arn)
            if target.state == DRAINING:
                if tg is None or target.drain_until is None or now >= target.drain_until:
                    gone.append(target)
                continue
            if tg is None:
                gone.append(target)
                continue
            if self._settle_static_state(target, tg, now):
                target.next_probe_at = now + self._interval(tg)
                continue
            if self.external is not None and self.external(target):
                continue
            self._run_probes(target, tg, now, probe)
        for target in gone:
            self.targets.pop(target.key, None)
        return gone

    def _interval(self, tg: TargetGroupConfig) -> float:
        return max(self.timing.health_check_seconds(tg.interval), 1e-3)

    def _settle_static_state(self, target: Target, tg: TargetGroupConfig, now: float) -> bool:
        """Targets of unused groups or groups without health checks are not probed."""
        if not tg.in_use:
            if target.state != UNUSED:
                self._set(target, UNUSED, now)
            return True
        if not tg.health_check_enabled:
            if target.state != UNAVAILABLE:
                self._set(target, UNAVAILABLE, now)
            return True
        if target.state in (UNUSED, UNAVAILABLE):
            self._set(target, INITIAL, now)
            target.ok_streak = target.fail_streak = 0
            target.next_probe_at = now + self._interval(tg)
        return False

    def record(self, target: Target, tg: TargetGroupConfig, result: Probe, at: float) -> bool:
        """One health check's answer, made outside (a real check of a real target); returns True
        when the target's state changed. Ignored for targets that are gone, draining or not probed."""
        if self.targets.get(target.key) is not target or target.state in (DRAINING, UNUSED, UNAVAILABLE):
            return False
        before = target.state
        self._apply(target, tg, result, at)
        return target.state != before

    def _apply(self, target: Target, tg: TargetGroupConfig, result: Probe, at: float) -> None:
        healthy_after = self.timing.healthy_threshold or tg.healthy_threshold
        unhealthy_after = self.timing.unhealthy_threshold or tg.unhealthy_threshold
        target.last_probe = result
        if result.ok:
            target.ok_streak += 1
            target.fail_streak = 0
            if target.state != HEALTHY and target.ok_streak >= healthy_after:
                self._set(target, HEALTHY, at)
        else:
            target.fail_streak += 1
            target.ok_streak = 0
            if target.state != UNHEALTHY and target.fail_streak >= unhealthy_after:
                self._set(target, UNHEALTHY, at, result)
            elif target.state == UNHEALTHY:
                target.reason, target.description = _failure_reason(result)

    def _run_probes(self, target: Target, tg: TargetGroupConfig, now: float,
                    probe: Callable[[Target, float], Probe]) -> None:
        interval = self._interval(tg)
        probes = 0
        while target.next_probe_at <= now:
            at = target.next_probe_at
            self._apply(target, tg, probe(target, at), at)
            target.next_probe_at = at + interval
            probes += 1
            if probes >= _MAX_PROBES_PER_ADVANCE:
                target.next_probe_at = now + interval
                break

    @staticmethod
    def _set(target: Target, state: str, at: float, probe: Probe | None = None) -> None:
        target.state = state
        target.changed_at = at
        if state == HEALTHY:
            target.reason = target.description = None
        elif state == UNHEALTHY:
            target.reason, target.description = _failure_reason(probe)
        else:
            target.reason, target.description = _REASONS[state]


def _failure_reason(probe: Probe | None) -> tuple[str, str]:
    if probe is not None and probe.timed_out:
        return "Target.Timeout", "Request timed out"
    if probe is not None and probe.code is not None:
        return "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{probe.code}]"
    return "Target.FailedHealthChecks", "Health checks failed"

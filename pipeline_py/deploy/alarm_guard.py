"""Alarms judged by transition, the same way for every strategy.

An alarm that goes into ALARM while a deploy runs fails it at once: something changed, and the deploy
is the likeliest cause. An alarm that was already in ALARM when the deploy started is a different
case: the live revision may be the broken one, and the deploy the fix. Failing the fix because of the
alarm it is meant to clear rolls a healthy revision back onto the broken one. So a pre-existing alarm
is reported when the deploy starts, and judged by the policy ``preexisting_alarms``:

- ``wait`` (default): it fails the deploy only if it still fires ``alarm_grace`` seconds after the new
  revision took all the traffic;
- ``fail``: the deploy does not start (exit 1: nothing was changed; an alarm is never bad input);
- ``ignore``: it never fails the deploy (a fresh transition into ALARM still does).

"Went into ALARM" means: not in ALARM at the start, or in ALARM with a newer state-change timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline_py.clock import Clock, Deadline
from pipeline_py.deploy.ports import Alarms
from pipeline_py.errors import OperationFailed
from pipeline_py.report import Reporter

POLICIES = ("fail", "wait", "ignore")


@dataclass
class AlarmGuard:
    alarms: Alarms
    names: list[str]
    policy: str
    grace: float
    clock: Clock
    reporter: Reporter
    baseline: dict[str, dict[str, Any]] = field(default_factory=dict)
    full_traffic_at: float | None = None

    @classmethod
    def start(cls, alarms: Alarms, names: list[str], *, policy: str, grace: float, clock: Clock,
              reporter: Reporter) -> AlarmGuard:
        """Record every alarm's state and when it last changed; apply ``fail`` to pre-existing ones."""
        guard = cls(alarms, list(names), policy, grace, clock, reporter)
        if names:
            guard.baseline = alarms.states(guard.names)
        firing = guard.preexisting()
        if firing:
            lines = "; ".join(f"{n} ({guard.baseline[n].get('reason') or 'no reason'})" for n in firing)
            if policy == "fail":
                raise OperationFailed(f"refusing to start while alarms are in ALARM (preexisting_alarms: fail): "
                                      f"{lines}", result={"status": "not_started", "alarms_in_alarm": firing})
            then = (f"they fail the deploy only if still firing {grace:g}s after the new revision takes all "
                    "traffic" if policy == "wait" else "ignored (preexisting_alarms: ignore)")
            reporter.warn(f"already in ALARM when the deploy started: {lines}; {then}")
        return guard

    def preexisting(self) -> list[str]:
        return sorted(n for n, s in self.baseline.items() if s.get("state") == "ALARM")

    def took_all_traffic(self) -> None:
        if self.full_traffic_at is None:
            self.full_traffic_at = self.clock.monotonic()

    def _fresh(self, name: str, state: dict[str, Any]) -> bool:
        before = self.baseline.get(name)
        if before is None or before.get("state") != "ALARM":
            return True
        old, new = before.get("updated"), state.get("updated")
        return old is not None and new is not None and new > old

    def check(self) -> str | None:
        """The reason the deploy fails because of an alarm now, or None."""
        if not self.names:
            return None
        fresh: list[str] = []
        stale: list[str] = []
        for name, state in self.alarms.states(self.names).items():
            if state.get("state") != "ALARM":
                continue
            (fresh if self._fresh(name, state) else stale).append(f"{name} ({state.get('reason') or ''})")
        if fresh:
            return "alarm went into ALARM during the deploy: " + "; ".join(fresh)
        if stale and self.policy == "wait" and self.full_traffic_at is not None and \
                self.clock.monotonic() - self.full_traffic_at >= self.grace:
            return (f"alarm still in ALARM {self.grace:g}s after the new revision took all traffic (it was "
                    "already firing when the deploy started): " + "; ".join(stale))
        return None

    def still_preexisting(self) -> list[str]:
        """Pre-existing alarms still in ALARM (and not re-triggered since)."""
        states = self.alarms.states(self.preexisting()) if self.preexisting() else {}
        return sorted(n for n, s in states.items() if s.get("state") == "ALARM")

    def settle(self, poll_interval: float) -> str | None:
        """After the new revision took all traffic: under ``wait``, wait (at most the rest of the grace)
        for pre-existing alarms to clear. The failure reason, or None."""
        if self.policy != "wait" or not self.still_preexisting():
            return self.check()
        assert self.full_traffic_at is not None
        remaining = self.grace - (self.clock.monotonic() - self.full_traffic_at)
        self.reporter.info(f"waiting up to {max(remaining, 0):.0f}s for alarms that fired before the deploy to "
                           f"clear: {', '.join(self.still_preexisting())}")
        deadline = Deadline(self.clock, max(remaining, 0.0))
        while True:
            failure = self.check()
            if failure is not None:
                return failure
            if not self.still_preexisting():
                self.reporter.info("the alarms that fired before the deploy have cleared")
                return None
            self.clock.sleep(min(poll_interval, max(deadline.remaining, 0.0) + 0.001))

"""Requests through ALB listeners, turned into the metrics an ALB publishes — on injected time.

moto stores a listener's weighted forward action but nothing flows through it. This model sends a
request rate through every forwarding route (a listener's default action or a listener rule),
splits it by the target-group weights, spreads each group's share round-robin over its targets and
answers every request as the target's scenario says (``error-rate``, ``latency-ms``, ``p99-ms``).
Each completed second it hands the ALB's metrics (namespace ``AWS/ApplicationELB``) to a sink:

- per target group (dimensions ``LoadBalancer`` + ``TargetGroup``) and per load balancer
  (``LoadBalancer``): ``RequestCount``, ``HTTPCode_Target_2XX_Count``, ``HTTPCode_Target_5XX_Count``,
  ``TargetResponseTime`` (a latency distribution with the request count, so percentiles are those
  of the scenario however few requests a second carries);
- per target group: ``HealthyHostCount``, ``UnHealthyHostCount``, ``RequestCountPerTarget``;
- per load balancer: ``HTTPCode_ELB_5XX_Count`` with ``HTTPCode_ELB_503_Count`` (a group with weight
  but no target to send to) and ``HTTPCode_ELB_502_Count`` (a fail-open target that does not answer).

As on an ALB, count metrics are only published when non-zero (``RequestCount`` only when requests
reached a target), host counts every second. Healthy targets get the traffic; when a group has
none but has unhealthy ones, the ALB fails open and sends to those; with neither (no targets, or
only ``initial``/``draining`` ones) it answers 503 itself.

Counts are deterministic: fractional requests and errors carry over to the next slice, so a
rate of 200/s at 10 % gives 20 requests a second and ``error-rate=0.2`` four errors of them.
Nothing here reads a clock: :meth:`TrafficSim.advance` takes ``now`` (epoch seconds) and a
:class:`Topology` snapshot.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline_py.local.cloudwatch_sim import Histogram, lognormal
from pipeline_py.local.scenario import Scenario

NAMESPACE = "AWS/ApplicationELB"
DEFAULT_RATE = 200.0
_EPS = 1e-9


@dataclass(frozen=True)
class Behaviour:
    """How a target answers requests: its scenario's error rate and latency distribution."""

    error_rate: float = 0.0
    latency_ms: float = Scenario.latency_ms
    p99_ms: float = Scenario.p99_ms

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Behaviour:
        return cls(scenario.error_rate, scenario.latency_ms, scenario.p99_ms)

    @property
    def latency(self) -> Histogram:
        return lognormal(self.latency_ms / 1000.0, self.p99_ms / 1000.0)


@dataclass(frozen=True)
class Backend:
    """A registered target as the ALB sees it; ``behaviour`` None: nothing answers (502)."""

    key: str
    behaviour: Behaviour | None = Behaviour()


@dataclass(frozen=True)
class Group:
    arn: str
    healthy: tuple[Backend, ...] = ()
    unhealthy: tuple[Backend, ...] = ()


@dataclass(frozen=True)
class Route:
    """One forwarding action: a listener's default action or a listener rule."""

    key: str
    load_balancer_arn: str
    rate: float
    forwards: tuple[tuple[str, int], ...]
    label: str = ""


@dataclass(frozen=True)
class Topology:
    routes: tuple[Route, ...] = ()
    groups: Mapping[str, Group] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricPoint:
    """One datapoint for the sink: a value, or latency distributions with their request counts."""

    account: str
    region: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    second: int
    unit: str
    value: float | None = None
    distribution: tuple[tuple[Histogram, float], ...] = ()
    namespace: str = NAMESPACE


def lb_dimension(arn: str) -> str:
    """``app/<name>/<id>`` from a load balancer ARN."""
    return arn.split(":loadbalancer/", 1)[-1]


def tg_dimension(arn: str) -> str:
    """``targetgroup/<name>/<id>`` from a target group ARN."""
    return arn.split(":", 5)[-1]


def account_region(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return (parts[4], parts[3]) if len(parts) > 5 else ("123456789012", "us-east-1")


@dataclass
class _Counts:
    requests: int = 0
    ok: int = 0
    errors: int = 0
    latency: dict[Behaviour, int] = field(default_factory=dict)

    def add(self, behaviour: Behaviour | None, n: int, errors: int) -> None:
        self.requests += n
        if behaviour is None:
            return
        self.errors += errors
        self.ok += n - errors
        self.latency[behaviour] = self.latency.get(behaviour, 0) + n


@dataclass
class _Second:
    groups: dict[tuple[str, str], _Counts] = field(default_factory=dict)
    balancers: dict[str, _Counts] = field(default_factory=dict)
    elb: dict[tuple[str, int], int] = field(default_factory=dict)


class TrafficSim:
    """Advances request flow to ``now`` and publishes each completed second through ``sink``."""

    def __init__(self, sink: Callable[[MetricPoint], None], *, max_catch_up: float = 300.0) -> None:
        self.sink = sink
        self.max_catch_up = max_catch_up
        self.last: float | None = None
        self.second = 0
        self.current: _Second = _Second()
        self.carry: dict[tuple[str, str | None], float] = {}
        self.error_carry: dict[str, float] = {}
        self.next_target: dict[str, int] = {}
        self.published = 0
        self.rng: random.Random | None = None
        """None: each target's errors are its error rate of the requests exactly (a deterministic model);
        a generator: each request fails with that probability (binomial noise, for statistics)."""

    def reset(self) -> None:
        self.rng = None
        self.last = None
        self.current = _Second()
        self.carry.clear()
        self.error_carry.clear()
        self.next_target.clear()
        self.published = 0

    def advance(self, now: float, topology: Topology) -> None:
        if self.last is None or now - self.last > self.max_catch_up:
            # the first call, or a suspended machine: no traffic is invented for the gap
            self.last = now
            self.second = math.floor(now)
            self.current = _Second()
            return
        if now <= self.last:
            return
        t = self.last
        while math.floor(now) > self.second:
            boundary = self.second + 1
            self._slice(boundary - t, topology)
            self._publish(self.second, topology)
            self.second, t = boundary, float(boundary)
        self._slice(now - t, topology)
        self.last = now

    # ---- one slice of time

    def _take(self, store: dict[Any, float], key: Any, amount: float) -> int:
        acc = store.get(key, 0.0) + amount
        n = math.floor(acc + _EPS)
        store[key] = acc - n
        return n

    def _slice(self, dt: float, topology: Topology) -> None:
        if dt <= 0:
            return
        for route in topology.routes:
            if route.rate <= 0:
                continue
            total = route.rate * dt
            weight = sum(max(w, 0) for _, w in route.forwards)
            lb = route.load_balancer_arn
            if weight <= 0:
                self._elb(lb, 503, self._take(self.carry, (route.key, None), total))
                continue
            for tg, w in route.forwards:
                if w > 0:
                    n = self._take(self.carry, (route.key, tg), total * w / weight)
                    if n:
                        self._serve(lb, topology.groups.get(tg), tg, n)
        live = {(route.key, tg) for route in topology.routes for tg, _ in route.forwards} | {
            (route.key, None) for route in topology.routes}
        for key in [k for k in self.carry if k not in live]:
            del self.carry[key]

    def _elb(self, lb: str, code: int, n: int) -> None:
        if n:
            self.current.elb[(lb, code)] = self.current.elb.get((lb, code), 0) + n

    def _serve(self, lb: str, group: Group | None, tg: str, n: int) -> None:
        targets = (group.healthy or group.unhealthy) if group is not None else ()
        if not targets:
            self._elb(lb, 503, n)
            return
        start = self.next_target.get(tg, 0) % len(targets)
        self.next_target[tg] = (start + n) % len(targets)
        base, extra = divmod(n, len(targets))
        for i in range(len(targets)):
            count = base + (1 if (i - start) % len(targets) < extra else 0)
            if count:
                self._answer(lb, tg, targets[i], count)

    def _answer(self, lb: str, tg: str, backend: Backend, n: int) -> None:
        cur = self.current
        errors = 0
        if backend.behaviour is None:
            self._elb(lb, 502, n)
        else:
            rate = backend.behaviour.error_rate
            if self.rng is not None:
                errors = sum(1 for _ in range(n) if self.rng.random() < rate)
            else:
                errors = min(self._take(self.error_carry, backend.key, n * rate), n)
        cur.groups.setdefault((lb, tg), _Counts()).add(backend.behaviour, n, errors)
        cur.balancers.setdefault(lb, _Counts()).add(backend.behaviour, n, errors)

    # ---- publishing a completed second

    def _publish(self, second: int, topology: Topology) -> None:
        cur, self.current = self.current, _Second()
        emit = self._emitter(second)
        pairs = {(route.load_balancer_arn, tg) for route in topology.routes for tg, _ in route.forwards}
        for lb, tg in sorted(pairs):
            group = topology.groups.get(tg)
            dims = (("LoadBalancer", lb_dimension(lb)), ("TargetGroup", tg_dimension(tg)))
            healthy = len(group.healthy) if group else 0
            emit(lb, "HealthyHostCount", dims, "Count", healthy)
            emit(lb, "UnHealthyHostCount", dims, "Count", len(group.unhealthy) if group else 0)
            counts = cur.groups.get((lb, tg))
            if counts is not None:
                emit(lb, "RequestCountPerTarget", dims, "Count",
                     counts.requests / max(healthy or (len(group.unhealthy) if group else 0), 1))
                self._emit_counts(emit, lb, dims, counts)
        for lb, counts in sorted(cur.balancers.items()):
            self._emit_counts(emit, lb, (("LoadBalancer", lb_dimension(lb)),), counts)
        elb_totals: dict[str, int] = {}
        for (lb, code), n in sorted(cur.elb.items()):
            lb_dims: tuple[tuple[str, str], ...] = (("LoadBalancer", lb_dimension(lb)),)
            emit(lb, f"HTTPCode_ELB_{code}_Count", lb_dims, "Count", n)
            elb_totals[lb] = elb_totals.get(lb, 0) + n
        for lb, n in sorted(elb_totals.items()):
            emit(lb, "HTTPCode_ELB_5XX_Count", (("LoadBalancer", lb_dimension(lb)),), "Count", n)
        self.published = second

    def _emitter(self, second: int) -> Callable[..., None]:
        def emit(lb: str, name: str, dims: tuple[tuple[str, str], ...], unit: str, value: float | None = None,
                 distribution: tuple[tuple[Histogram, float], ...] = ()) -> None:
            account, region = account_region(lb)
            self.sink(MetricPoint(account, region, name, dims, second, unit, value, distribution))

        return emit

    @staticmethod
    def _emit_counts(emit: Callable[..., None], lb: str, dims: tuple[tuple[str, str], ...], counts: _Counts) -> None:
        if counts.requests:
            emit(lb, "RequestCount", dims, "Count", counts.requests)
        if counts.ok:
            emit(lb, "HTTPCode_Target_2XX_Count", dims, "Count", counts.ok)
        if counts.errors:
            emit(lb, "HTTPCode_Target_5XX_Count", dims, "Count", counts.errors)
        if counts.latency:
            emit(lb, "TargetResponseTime", dims, "Seconds", None,
                 tuple((b.latency, float(n)) for b, n in counts.latency.items() if n))

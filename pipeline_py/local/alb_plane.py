"""The ALB's data plane on real requests: target health checks against the real containers, and the
ALB's CloudWatch metrics computed from the proxy's per-request records.

- :class:`HealthChecker` makes each target group's health check for real: ``GET <path>`` on
  ``address:port`` (the health-check port, or the traffic port) with the group's timeout, judged by
  its matcher (``200``, ``200-299``, ``200,302``). The answers feed the ELB state machine of
  :mod:`pipeline_py.local.elb_sim` (thresholds, ``Target.ResponseCodeMismatch`` with the codes,
  ``Target.Timeout``, ``Target.FailedHealthChecks`` when nothing answered). Only loopback addresses
  are ever contacted; any other target fails its checks without a connection being attempted.
- :class:`RequestMetrics` turns :class:`~pipeline_py.local.haproxy.RequestRecord` s into the metrics
  an ALB publishes (namespace ``AWS/ApplicationELB``, dimensions ``LoadBalancer`` and
  ``LoadBalancer``+``TargetGroup``), one datapoint per completed second, into the same sink as the
  traffic model: ``RequestCount``, ``HTTPCode_Target_2XX/3XX/4XX/5XX_Count``, ``TargetResponseTime``
  (every request's own time, so percentiles are the real ones), ``HTTPCode_ELB_5XX_Count`` with
  ``HTTPCode_ELB_502/503/504_Count``, ``TargetConnectionErrorCount``, ``HTTP_Fixed_Response_Count``,
  ``RequestCountPerTarget``, ``HealthyHostCount`` and ``UnHealthyHostCount``. CloudWatch's 60-second
  (and longer) periods are sums of these seconds.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pipeline_py.local.cloudwatch_sim import Histogram
from pipeline_py.local.docker_runtime import is_loopback
from pipeline_py.local.elb_sim import Probe
from pipeline_py.local.haproxy import RequestRecord
from pipeline_py.local.traffic_sim import MetricPoint, account_region, lb_dimension, tg_dimension

USER_AGENT = "ELB-HealthChecker/2.0"


# --------------------------------------------------------------------------------------------
# health checks


def matcher(spec: str) -> Callable[[int], bool]:
    """An ELB ``Matcher.HttpCode``: ``200``, ``200,202`` or ``200-299`` (ranges and lists mixed)."""
    ranges: list[tuple[int, int]] = []
    for part in (spec or "200").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        ranges.append((int(low), int(high or low)))
    return lambda code: any(lo <= code <= hi for lo, hi in ranges)


@dataclass(frozen=True)
class CheckSpec:
    address: str
    port: int
    path: str = "/"
    timeout: float = 5.0
    matcher: str = "200"


def check(spec: CheckSpec) -> Probe:
    """One real health check (never connects outside 127.0.0.0/8)."""
    if not is_loopback(spec.address):
        return Probe(False, None)
    conn = http.client.HTTPConnection(spec.address, spec.port, timeout=spec.timeout)
    try:
        conn.request("GET", spec.path or "/", headers={"User-Agent": USER_AGENT, "Connection": "close"})
        resp = conn.getresponse()
        resp.read(65536)
        return Probe(matcher(spec.matcher)(resp.status), resp.status)
    except TimeoutError:
        return Probe(False, None, timed_out=True)
    except (OSError, http.client.HTTPException, ValueError):
        return Probe(False, None)
    finally:
        conn.close()


class HealthChecker:
    """Runs checks on a few threads; at most one in flight per target; answers are collected with the
    (monotonic) time they completed."""

    def __init__(self, workers: int = 8, clock: Callable[[], float] = time.monotonic,
                 run: Callable[[CheckSpec], Probe] = check) -> None:
        self.clock = clock
        self.run = run
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="health-check")
        self._lock = threading.Lock()
        self._inflight: set[Any] = set()
        self._results: deque[tuple[Any, Probe, float]] = deque()
        self.checks = 0

    def submit(self, key: Any, spec: CheckSpec) -> bool:
        with self._lock:
            if key in self._inflight:
                return False
            self._inflight.add(key)
        self._pool.submit(self._check, key, spec)
        return True

    def _check(self, key: Any, spec: CheckSpec) -> None:
        try:
            result = self.run(spec)
        except Exception:  # a checker bug reads as "nothing answered"
            result = Probe(False, None)
        with self._lock:
            self._inflight.discard(key)
            self._results.append((key, result, self.clock()))
            self.checks += 1

    def drain(self) -> list[tuple[Any, Probe, float]]:
        with self._lock:
            out = list(self._results)
            self._results.clear()
            return out

    def reset(self) -> None:
        with self._lock:
            self._results.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------------------------
# metrics from request records


@dataclass
class _Counts:
    requests: int = 0
    codes: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def count(self, name: str, n: int = 1) -> None:
        self.codes[name] = self.codes.get(name, 0) + n


@dataclass
class _Second:
    groups: dict[tuple[str, str], _Counts] = field(default_factory=dict)
    balancers: dict[str, _Counts] = field(default_factory=dict)


Resolver = Callable[[RequestRecord], "tuple[str | None, str | None, bool]"]


class RequestMetrics:
    """Per-second ALB metrics from request records; ``resolve(record)`` names the record's load
    balancer ARN, target group ARN and whether the backend is a fixed response."""

    def __init__(self, sink: Callable[[MetricPoint], None], resolve: Resolver) -> None:
        self.sink = sink
        self.resolve = resolve
        self._lock = threading.Lock()
        self._seconds: dict[int, _Second] = {}
        self.published: int | None = None
        self.records = 0

    def add(self, record: RequestRecord, at: float) -> None:
        """Account ``record`` in the second it completed (``at``, epoch seconds)."""
        lb, tg, fixed = self.resolve(record)
        if lb is None:
            return
        second = math.floor(at)
        with self._lock:
            if self.published is not None and second <= self.published:
                second = self.published + 1  # late: the next open second
            cur = self._seconds.setdefault(second, _Second())
            self.records += 1
            balancer = cur.balancers.setdefault(lb, _Counts())
            if fixed:
                balancer.count("HTTP_Fixed_Response_Count")
                return
            if record.server is None:
                balancer.count(f"HTTPCode_ELB_{record.status}_Count")
                if record.status >= 500:
                    balancer.count("HTTPCode_ELB_5XX_Count")
                elif record.status >= 400:
                    balancer.count("HTTPCode_ELB_4XX_Count")
                return
            group = cur.groups.setdefault((lb, tg or ""), _Counts())
            for counts in (group, balancer):
                counts.requests += 1
            if record.response_ms is None:
                if record.termination[:1] == "S" and record.termination[1:2] == "C":
                    for counts in (group, balancer):
                        counts.count("TargetConnectionErrorCount")
                balancer.count(f"HTTPCode_ELB_{record.status}_Count")
                if record.status >= 500:
                    balancer.count("HTTPCode_ELB_5XX_Count")
                return
            name = f"HTTPCode_Target_{record.status // 100}XX_Count"
            for counts in (group, balancer):
                counts.count(name)
                counts.latencies.append(record.response_ms / 1000.0)

    def publish(self, now: float, hosts: Mapping[tuple[str, str], tuple[int, int]]) -> None:
        """Publish every second before ``now``'s (epoch seconds); ``hosts`` holds, per (load balancer,
        target group) a listener forwards to, (healthy, unhealthy) target counts at this moment."""
        current = math.floor(now)
        with self._lock:
            start = self.published + 1 if self.published is not None else current - 1
            due = {s: self._seconds.pop(s) for s in sorted(self._seconds) if s < current}
            if self.published is None and not due:
                self.published = current - 1
                return
            seconds = range(min([start, *due]), current) if due else range(start, current)
            if len(seconds) > 120:  # a long pause: host counts for the last two minutes only
                seconds = range(current - 120, current)
            self.published = current - 1
        for second in seconds:
            self._emit_second(second, due.get(second, _Second()), hosts)

    def _emit_second(self, second: int, cur: _Second, hosts: Mapping[tuple[str, str], tuple[int, int]]) -> None:
        def emit(lb: str, name: str, dims: tuple[tuple[str, str], ...], unit: str, value: float | None = None,
                 distribution: tuple[tuple[Histogram, float], ...] = ()) -> None:
            account, region = account_region(lb)
            self.sink(MetricPoint(account, region, name, dims, second, unit, value, distribution))

        for (lb, tg), (healthy, unhealthy) in sorted(hosts.items()):
            dims = (("LoadBalancer", lb_dimension(lb)), ("TargetGroup", tg_dimension(tg)))
            emit(lb, "HealthyHostCount", dims, "Count", healthy)
            emit(lb, "UnHealthyHostCount", dims, "Count", unhealthy)
            counts = cur.groups.get((lb, tg))
            if counts is not None and counts.requests:
                emit(lb, "RequestCountPerTarget", dims, "Count", counts.requests / max(healthy or unhealthy, 1))
        for (lb, tg), counts in sorted(cur.groups.items()):
            if tg:
                self._emit_counts(emit, lb, (("LoadBalancer", lb_dimension(lb)), ("TargetGroup", tg_dimension(tg))),
                                  counts)
        for lb, counts in sorted(cur.balancers.items()):
            self._emit_counts(emit, lb, (("LoadBalancer", lb_dimension(lb)),), counts)

    @staticmethod
    def _emit_counts(emit: Callable[..., None], lb: str, dims: tuple[tuple[str, str], ...], counts: _Counts) -> None:
        if counts.requests:
            emit(lb, "RequestCount", dims, "Count", counts.requests)
        for name, n in sorted(counts.codes.items()):
            if n:
                emit(lb, name, dims, "Count", n)
        if counts.latencies:
            emit(lb, "TargetResponseTime", dims, "Seconds", None,
                 ((Histogram(counts.latencies, [1.0] * len(counts.latencies)), float(len(counts.latencies))),))

    def reset(self) -> None:
        with self._lock:
            self._seconds.clear()
            self.published = None

"""The handle the server holds: one lock, the clock, the simulations advanced by ``tick()``, and the
``/_pipeline_py/<route>`` control routes."""


from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pipeline_py.local.ecs_sim import (
    EcsSim,
)
from pipeline_py.local.moto_ext.cloudwatch import CloudWatchWorld
from pipeline_py.local.moto_ext.core import ControlRoute, Ticker
from pipeline_py.local.moto_ext.ecs import MotoWorld, ServiceView
from pipeline_py.local.moto_ext.faults import Faults
from pipeline_py.local.moto_ext.traffic import TrafficWorld
from pipeline_py.local.timing import TimingModel

log = logging.getLogger("pipeline_py.local")




class Fidelity:
    """The handle the server holds: ``tick()`` advances simulations; ``control`` serves /_pipeline_py/."""

    def __init__(self, timing: dict[str, Any] | None = None, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.wall = wall
        self.configured_timing = TimingModel.from_dict(timing)
        self.timing = self.configured_timing
        self.world = MotoWorld()
        self.ecs = EcsSim(self.timing, self.world, epoch=(clock(), wall()))
        self.metrics = CloudWatchWorld(self)
        self.traffic = TrafficWorld(self)
        self.faults = Faults()
        self.endpoint: str | None = None  # the server's own URL, once it serves
        self.dataplane: Any = None  # the real data plane (moto_ext.dataplane) while the docker runtime runs
        # order matters: target health moves first, then requests flow, then alarms look at the data
        self.tickers: list[Ticker] = [self.ecs, self.traffic, self.metrics]
        self.routes: dict[str, ControlRoute] = {}
        self.closers: list[Callable[[], None]] = []
        self.add_route("status", self._route_status)
        self.add_route("timing", self._route_timing)
        self.add_route("traffic", self.traffic.route)
        self.add_route("faults", self.faults.route)

    @property
    def elb(self) -> Any:
        return self.ecs.elb

    def now(self) -> float:
        return self.clock()

    def wall_seconds(self) -> float:
        """Epoch seconds of the wall clock: metrics carry real UTC timestamps, because clients
        query CloudWatch with windows on their own (real) clock."""
        return self.wall().timestamp()

    def advance_metrics(self) -> None:
        """Bring target health, traffic and alarms to now (API calls that read or change what
        they depend on call this, so answers are never a tick old)."""
        with self.lock:
            now = self.clock()
            self.ecs.advance(now)
            self.traffic.tick(now)
            if self.dataplane is not None:
                self.dataplane.publish(now)
            self.metrics.tick(now)

    def add_ticker(self, ticker: Ticker) -> None:
        with self.lock:
            self.tickers.append(ticker)

    def add_route(self, name: str, handler: ControlRoute) -> None:
        self.routes[name] = handler

    def add_closer(self, closer: Callable[[], None]) -> None:
        """Run by ``close()``: what an extension started outside this process (PostgreSQL clusters)."""
        self.closers.append(closer)

    def close(self) -> None:
        """The server stops: stop what the extensions started (each closer once per start)."""
        for closer in list(self.closers):
            try:
                closer()
            except Exception:  # one failing closer must not keep the others' processes running
                log.exception("closing %r failed", closer)

    def tick(self) -> None:
        now = self.clock()
        with self.lock:
            for ticker in list(self.tickers):
                try:
                    ticker.tick(now)
                except Exception:  # one broken simulation must not stop the others
                    log.exception("simulation tick of %s failed", type(ticker).__name__)

    def reset(self) -> None:
        """moto was reset: forget all simulated state and return to the configured timing."""
        with self.lock:
            for ticker in self.tickers:
                ticker.reset()
            self.faults.clear()
            self.set_timing(self.configured_timing)

    def configure(self, timing: dict[str, Any] | None) -> None:
        with self.lock:
            self.configured_timing = TimingModel.from_dict(timing)
            self.set_timing(self.configured_timing)

    def set_timing(self, timing: TimingModel) -> None:
        with self.lock:
            self.timing = timing
            for ticker in self.tickers:
                setter = getattr(ticker, "set_timing", None)
                if setter is not None:
                    setter(timing)

    def control(self, route: str, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        handler = self.routes[route]
        with self.lock:
            return handler(method, payload)

    def _route_status(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        import moto

        out: dict[str, Any] = {"ok": True, "moto": moto.__version__, "timing": self.timing.to_dict()}
        for ticker in self.tickers:
            out.update(ticker.status())
        return out

    def _route_timing(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method == "POST":
            self.set_timing(self.timing.merged(payload))
        elif method == "PUT":
            self.set_timing(TimingModel.from_dict(payload))
        elif method == "DELETE":
            self.set_timing(self.configured_timing)
        elif method != "GET":
            raise ValueError(f"timing: method {method} not allowed (GET, POST merges, PUT replaces, DELETE restores)")
        return {"timing": self.timing.to_dict()}

    # ---- helpers for the patched actions

    def service_view(self, service: Any) -> Any:
        sim = self.ecs.services.get(getattr(service, "arn", ""))
        if sim is None:
            return service
        return ServiceView(service, self.ecs.service_overrides(sim))

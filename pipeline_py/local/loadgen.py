"""A steady, bounded load through a listener of the local stack (``pipeline-py local traffic``).

Open loop: request *i* leaves at ``start + i / rate`` whatever the earlier ones are doing, so a slow
or failing target does not slow the offered load down (closed-loop tools such as ``ab``, ``wrk`` or
``hey``'s per-worker limiter send less exactly when the service struggles, which hides failures; none of
Debian's or PyPI's load tools combines an open-loop rate with per-request records small enough to
embed). Every request is a fresh connection (``Connection: close``), as most clients of a load
balancer behave across a reload; each one is recorded with the second it left, its status and its
time. A second is reported once all its requests ended (or timed out): sent, 2xx, 4xx, 5xx,
errors (no HTTP answer: refused, reset, timed out) and p99.

Bounded: loopback URLs only, at most :data:`MAX_RATE` requests a second for at most
:data:`MAX_DURATION` seconds, at most :data:`MAX_IN_FLIGHT` at once (beyond that a request is counted
as an error, not queued), and it stops by itself.

    python -m pipeline_py.local.loadgen --url http://127.0.0.1:PORT/ --rate 50 --duration 30 [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MAX_RATE = 1000.0
MAX_DURATION = 3600.0
MAX_IN_FLIGHT = 512


class LoadError(ValueError):
    pass


def check_target(url: str) -> tuple[str, int, str]:
    """(host, port, path) of a loopback ``http://`` URL; ``LoadError`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise LoadError(f"{url!r}: only http:// URLs of this machine")
    host = parts.hostname
    if host != "localhost":
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise LoadError(f"{url!r}: the load goes to loopback addresses only (127.0.0.0/8, ::1, localhost)")
        except ValueError:
            raise LoadError(f"{url!r}: the load goes to loopback addresses only, not to names") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, parts.port or 80, path


def check_bounds(rate: float, duration: float) -> None:
    if not 0 < rate <= MAX_RATE:
        raise LoadError(f"rate must be within (0, {MAX_RATE:g}] requests per second (got {rate:g})")
    if not 0 < duration <= MAX_DURATION:
        raise LoadError(f"duration must be within (0, {MAX_DURATION:g}] seconds (got {duration:g})")


def p99(values: list[float]) -> float | None:
    """Nearest-rank 99th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class Second:
    """The requests that left during one second (``at``: its epoch second)."""

    at: int
    sent: int = 0
    done: int = 0
    codes: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def count(self, status: int | None, seconds: float, error: str | None) -> None:
        self.done += 1
        if status is None:
            self.errors += 1
            kind = error or "error"
            self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
            return
        self.codes[status] = self.codes.get(status, 0) + 1
        self.latencies.append(seconds)

    def klass(self, k: int) -> int:
        return sum(n for code, n in self.codes.items() if code // 100 == k)

    def summary(self) -> dict[str, Any]:
        q = p99(self.latencies)
        return {"at": self.at, "sent": self.sent, "2xx": self.klass(2), "3xx": self.klass(3), "4xx": self.klass(4),
                "5xx": self.klass(5), "errors": self.errors, "error_kinds": dict(self.error_kinds),
                "p99_ms": round(q * 1000, 1) if q is not None else None}


def line(s: dict[str, Any]) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(s["at"]))
    p = f"{s['p99_ms']:.0f} ms" if s.get("p99_ms") is not None else "n/a"
    out = f"{stamp}  sent {s['sent']:>4}  2xx {s['2xx']:>4}  5xx {s['5xx']:>4}  errors {s['errors']:>3}  p99 {p:>8}"
    if s.get("4xx"):
        out += f"  4xx {s['4xx']}"
    return out


def totals(seconds: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("sent", "2xx", "3xx", "4xx", "5xx", "errors")
    out: dict[str, Any] = {k: sum(s.get(k, 0) for s in seconds) for k in keys}
    out["failed"] = out["5xx"] + out["errors"]
    out["seconds"] = len(seconds)
    return out


class LoadGenerator:
    """Sends ``rate`` requests a second to ``url`` for ``duration`` seconds; ``on_second`` receives
    each second's summary as soon as it is complete."""

    def __init__(self, url: str, rate: float, duration: float, *, timeout: float = 5.0,
                 on_second: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time, keep_records: bool = False) -> None:
        check_bounds(rate, duration)
        self.host, self.port, self.path = check_target(url)
        self.url = url
        self.rate = rate
        self.duration = duration
        self.timeout = timeout
        self.on_second = on_second or (lambda s: None)
        self.clock = clock
        self.seconds: dict[int, Second] = {}
        self.reported: list[dict[str, Any]] = []
        self.in_flight = 0
        self._stop = False
        # with keep_records: (sent at, ended at, status or None, error or None) of every request (epoch seconds)
        self.records: list[tuple[float, float, int | None, str | None]] | None = [] if keep_records else None

    def stop(self) -> None:
        self._stop = True

    async def _one(self, sec: Second) -> None:
        started = time.monotonic()
        sent_at = self.clock()
        status: int | None = None
        error: str | None = None
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
            request = (f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                       "User-Agent: pipeline-py-loadgen\r\nConnection: close\r\n\r\n").encode()
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readline(), self.timeout - (time.monotonic() - started))
            parts = head.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                error = "bad response" if head else "empty reply"
            else:
                status = int(parts[1])
                await asyncio.wait_for(reader.read(), max(0.01, self.timeout - (time.monotonic() - started)))
        except (asyncio.TimeoutError, TimeoutError):
            status, error = None, "timeout"
        except ConnectionRefusedError:
            error = "refused"
        except (ConnectionResetError, BrokenPipeError):
            status, error = None, "reset"
        except (OSError, ValueError) as exc:
            status, error = None, exc.__class__.__name__
        finally:
            if writer is not None:
                writer.close()
            self.in_flight -= 1
        sec.count(status, time.monotonic() - started, error)
        if self.records is not None:
            self.records.append((sent_at, self.clock(), status, error))

    async def run_async(self) -> dict[str, Any]:
        start_wall, start = self.clock(), time.monotonic()
        total = round(self.rate * self.duration)
        tasks: set[asyncio.Task[None]] = set()
        reporter = asyncio.create_task(self._report_loop())
        for i in range(total):
            if self._stop:
                break
            due = start + i / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            at = math.floor(start_wall + (time.monotonic() - start))
            sec = self.seconds.setdefault(at, Second(at))
            sec.sent += 1
            if self.in_flight >= MAX_IN_FLIGHT:
                sec.count(None, 0.0, "overload")
                continue
            self.in_flight += 1
            task = asyncio.create_task(self._one(sec))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks), timeout=self.timeout + 1)
        self._stop = True
        await reporter
        self._report(final=True)
        return {"url": self.url, "rate": self.rate, "duration": self.duration, "totals": totals(self.reported),
                "seconds": self.reported}

    async def _report_loop(self) -> None:
        while not self._stop:
            self._report(final=False)
            await asyncio.sleep(0.1)

    def _report(self, *, final: bool) -> None:
        now = self.clock()
        for at in sorted(self.seconds):
            sec = self.seconds[at]
            complete = sec.done >= sec.sent
            if not final and (now < at + 1 or (not complete and now < at + 1 + self.timeout)):
                break
            del self.seconds[at]
            summary = sec.summary()
            self.reported.append(summary)
            self.on_second(summary)

    def run(self) -> dict[str, Any]:
        return asyncio.run(self.run_async())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipeline_py.local.loadgen", description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--out", help="append one JSON line per second here (else print a table)")
    a = ap.parse_args(argv)
    out = open(a.out, "a", buffering=1) if a.out else None  # noqa: SIM115 - open for the whole run

    def emit(s: dict[str, Any]) -> None:
        if out is not None:
            out.write(json.dumps(s) + "\n")
        else:
            print(line(s), flush=True)

    try:
        gen = LoadGenerator(a.url, a.rate, a.duration, timeout=a.timeout, on_second=emit)
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: gen.stop())
    result = gen.run()
    if out is not None:
        out.write(json.dumps({"done": True, "totals": result["totals"]}) + "\n")
        out.close()
    else:
        print(json.dumps(result["totals"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A deploy lock per service, held in AWS for the whole of a deploy, promote, abort or rollback.

Two deploys of one service must never interleave: the second would prepare the same idle colour,
scale down what the first is shifting traffic to, or roll back onto a revision nobody verified. A
Jenkins ``lock()`` serialises only the builds of one controller; laptops, ``ecsDeploy`` steps and
other controllers need a lock all of them see. So the lock is a lease in a DynamoDB table, taken
with a conditional write (compare-and-set: the item is written only if absent or expired), renewed
while the deploy runs, and left to expire if its holder dies. The holder is recorded (who, which
command, pid, host, since when) so the second deploy can say whom it waits for.

Renewal rides on the clock: every wait of the deploy (polls, bakes, delays) sleeps through a
:class:`RenewingClock`, which renews the lease when a quarter of its time-to-live has passed. A
deploy that loses its lease (it was frozen longer than the TTL and someone broke or took the lock)
stops at once without touching anything more: another deploy may be acting.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pipeline_py.clock import Clock
from pipeline_py.deploy.ports import Locks, Ports
from pipeline_py.errors import BadInput, HumanNeeded
from pipeline_py.report import Reporter


@dataclass(frozen=True)
class Holder:
    """Who holds (or asks for) a lock."""

    who: str
    command: str
    pid: int
    host: str
    url: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], command: str) -> Holder:
        """A Jenkins build (``JOB_NAME#BUILD_NUMBER``, which every ``sh`` step has in its environment)
        or ``user@host``."""
        host = socket.gethostname()
        if environ.get("JOB_NAME") and environ.get("BUILD_NUMBER"):
            who = f"jenkins {environ['JOB_NAME']}#{environ['BUILD_NUMBER']}"
        else:
            who = f"{environ.get('USER') or environ.get('LOGNAME') or _login()}@{host}"
        return cls(who=who, command=command, pid=os.getpid(), host=host, url=environ.get("BUILD_URL") or None)

    def to_dict(self) -> dict[str, Any]:
        return {"who": self.who, "command": self.command, "pid": self.pid, "host": self.host, "url": self.url}


@dataclass(frozen=True)
class LockInfo:
    """A lock as the table holds it."""

    key: str
    lock_id: str
    holder: Holder
    since: datetime
    expires: datetime

    def expired(self, now: datetime) -> bool:
        return self.expires <= now

    def describe(self, now: datetime) -> str:
        age = (now - self.since).total_seconds()
        left = (self.expires - now).total_seconds()
        state = f"expires in {left:.0f}s" if left > 0 else f"EXPIRED {-left:.0f}s ago"
        return (f"held by {self.holder.who} ({self.holder.command}, pid {self.holder.pid} on {self.holder.host}) "
                f"since {self.since.isoformat(timespec='seconds')} ({age:.0f}s), {state}; lock id {self.lock_id}"
                + (f"; {self.holder.url}" if self.holder.url else ""))

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "lock_id": self.lock_id, **self.holder.to_dict(),
                "since": self.since.isoformat(), "expires": self.expires.isoformat()}


class LockHeld(Exception):
    def __init__(self, info: LockInfo) -> None:
        super().__init__(info.key)
        self.info = info


class LockLost(BaseException):
    """Our lease was broken or taken while we held it. A BaseException, like ``Aborted``, so that no
    ``except Exception`` in a poller swallows it; unlike an abort, nothing is rolled back."""


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def lock_key(cluster: str, services: list[str]) -> str:
    """One lock per service; a two-colour pair shares one (both colours change in one deploy)."""
    return f"{cluster}/{'+'.join(sorted(services))}"


def new_lock_id() -> str:
    return uuid.uuid4().hex


class RenewingClock:
    """The deploy's clock while it holds the lock: sleeps in chunks, renewing the lease on time."""

    def __init__(self, inner: Clock, locks: Locks, lease: LockInfo, ttl: float) -> None:
        self.inner = inner
        self.locks = locks
        self.lease = lease
        self.ttl = ttl
        self.every = ttl / 4
        self._last = inner.monotonic()

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def utcnow(self) -> datetime:
        return self.inner.utcnow()

    def sleep(self, seconds: float) -> None:
        remaining = seconds
        while True:
            chunk = min(remaining, max(self.every - (self.inner.monotonic() - self._last), 0.0))
            self.inner.sleep(chunk)
            remaining -= chunk
            if self.inner.monotonic() - self._last >= self.every:
                self.renew()
            if remaining <= 0:
                return

    def renew(self) -> None:
        self.lease = self.locks.renew(self.lease, self.ttl, self.inner.utcnow())
        self._last = self.inner.monotonic()


@contextmanager
def holding(ports: Ports, key: str, holder: Holder, *, ttl: float, wait: float) -> Iterator[LockInfo]:
    """Hold the lock ``key`` for the body: taken (or waited for up to ``wait`` seconds), renewed through
    the ports' clock, released at the end. ``BadInput`` naming the holder when it stays taken;
    ``HumanNeeded`` when the lease is lost midway."""
    reporter, clock = ports.reporter, ports.clock
    lease = acquire(ports.locks, key, holder, ttl=ttl, wait=wait, clock=clock, reporter=reporter)
    renewing = RenewingClock(clock, ports.locks, lease, ttl)
    ports.clock = renewing
    try:
        yield lease
    except LockLost as exc:
        raise HumanNeeded(
            f"lost the deploy lock {key} while acting ({exc}): another deploy may be changing the service "
            "now; check `pipeline-py status` before doing anything — MANUAL ACTION REQUIRED",
            result={"status": "failed", "lock": lease.to_dict()},
        ) from None
    finally:
        ports.clock = clock
        ports.locks.release(renewing.lease)
        reporter.info(f"deploy lock {key} released")


def acquire(locks: Locks, key: str, holder: Holder, *, ttl: float, wait: float, clock: Clock,
            reporter: Reporter) -> LockInfo:
    start = clock.monotonic()
    said = ""
    while True:
        now = clock.utcnow()
        try:
            lease = locks.acquire(key, holder, ttl, now)
        except LockHeld as held:
            info = held.info
            waited = clock.monotonic() - start
            if waited >= wait:
                hint = (f"; waited {waited:.0f}s" if wait else "; pass --wait-for-lock DURATION to queue") + (
                    ", or if that holder is dead, `pipeline-py unlock` once it expires" if not info.expired(now)
                    else "")
                raise BadInput(f"another deploy is in progress: lock {key} {info.describe(now)}{hint}",
                               result={"status": "locked", "lock": info.to_dict()}) from None
            line = f"waiting for the deploy lock {key}: {info.describe(now)}"
            if line.split(" since ")[0] != said:
                reporter.info(line)
                said = line.split(" since ")[0]
            clock.sleep(min(max(ttl / 6, 1.0), max(wait - waited, 0.1)))
            continue
        reporter.info(f"deploy lock {key} taken by {holder.who} (lock id {lease.lock_id}, renewed every "
                      f"{ttl / 4:g}s, expires {ttl:g}s after its holder stops)")
        return lease


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)

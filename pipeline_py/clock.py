"""Injectable time: everything that waits takes a Clock, so tests run on fake time."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def utcnow(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def utcnow(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock whose ``sleep`` advances time instantly; ``on_sleep`` hooks let tests react."""

    def __init__(self, start: datetime | None = None) -> None:
        self._mono = 1000.0
        self._wall = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._lock = threading.Lock()
        self.sleeps: list[float] = []
        self.on_sleep: list = []

    def monotonic(self) -> float:
        return self._mono

    def utcnow(self) -> datetime:
        return self._wall

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._mono += seconds
            self._wall += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))
        for hook in list(self.on_sleep):
            hook(self)


class Deadline:
    """A timeout measured on a Clock."""

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.start = clock.monotonic()

    @property
    def elapsed(self) -> float:
        return self.clock.monotonic() - self.start

    @property
    def remaining(self) -> float:
        return self.seconds - self.elapsed

    @property
    def expired(self) -> bool:
        return self.remaining <= 0


def age_text(delta: timedelta) -> str:
    """A duration for people: "45s", "12m", "3h", "3h05m" (negative counts as 0)."""
    seconds = int(max(delta.total_seconds(), 0))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m" if seconds % 3600 else f"{seconds // 3600}h"

"""pytest plugin for moto's own test suite (``-p moto_conformance_plugin``), loaded by
tests/integration/test_moto_conformance.py into a pytest run of moto's tests/test_ecs, tests/test_elbv2 and
tests/test_cloudwatch (from the moto source distribution that scripts/setup.sh keeps under $SETUP_STATE).

What it does to that run:

- applies the local stack's patches (``moto_ext.install()``) and runs the simulation loop, one
  ``Fidelity.tick()`` every 50 ms on a thread, as :class:`pipeline_py.local.server.LocalServer` does; moto's
  tests use moto in-process (``mock_aws``), so every call reaches the patched backend;
- makes botocore waiters poll every 50 ms instead of every 6-15 s (the same total time): the local stack
  compresses AWS time, so a waiter that would find a target healthy on its second poll need not sleep 15 s
  first. Nothing else about what a waiter accepts changes;
- writes one JSON report (``MOTO_CONFORMANCE_REPORT``): every test's outcome and, for failures, the message,
  and whether it was a hang (pytest-timeout's per-test timeout), plus how many simulation ticks raised.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from typing import Any

import pytest

TICK_SECONDS = 0.05
WAITER_DELAY = 0.05

_stop = threading.Event()
_results: dict[str, dict[str, Any]] = {}
_state: dict[str, Any] = {"ticks": 0, "tick_errors": 0, "collected": 0, "collection_errors": []}
log = logging.getLogger("pipeline_py.local")


def pytest_configure(config: pytest.Config) -> None:
    from pipeline_py.local import moto_ext

    fidelity = moto_ext.install()

    def loop() -> None:
        while not _stop.wait(TICK_SECONDS):
            _state["ticks"] += 1
            try:
                fidelity.tick()
            except Exception:  # counted and reported: the suite fails when the loop broke
                _state["tick_errors"] += 1
                log.exception("simulation tick failed")

    threading.Thread(target=loop, name="simulation", daemon=True).start()
    _fast_waiters()


def _fast_waiters() -> None:
    from botocore.waiter import Waiter

    original = Waiter.wait

    def wait(self: Any, **kwargs: Any) -> Any:
        config = dict(kwargs.pop("WaiterConfig", None) or {})
        delay = float(config.get("Delay", self.config.delay))
        attempts = int(config.get("MaxAttempts", self.config.max_attempts))
        if delay > WAITER_DELAY:
            config["Delay"] = WAITER_DELAY
            config["MaxAttempts"] = max(attempts, math.ceil(delay * attempts / WAITER_DELAY))
        return original(self, WaiterConfig=config, **kwargs)

    Waiter.wait = wait


def pytest_collection_finish(session: pytest.Session) -> None:
    _state["collected"] = len(session.items)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _state["collection_errors"].append({"nodeid": report.nodeid, "message": _message(report)})


def _message(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)
    return str(report.longrepr)[-2000:]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _results.setdefault(report.nodeid, {"outcome": "passed", "seconds": 0.0})
    entry["seconds"] = round(entry["seconds"] + report.duration, 3)
    if report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
    elif report.failed:
        message = _message(report)
        entry["outcome"] = "failed" if report.when == "call" else "error"
        entry.setdefault("message", message)
        if "Timeout (>" in message and "pytest-timeout" in message:
            entry["hang"] = True


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import moto

    _stop.set()
    path = os.environ.get("MOTO_CONFORMANCE_REPORT")
    if not path:
        return
    report = {"moto": moto.__version__, "exitstatus": int(exitstatus), **_state, "tests": _results}
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1, sort_keys=True)

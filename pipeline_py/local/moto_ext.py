"""Every extension we make to moto lives in this module (moto's internals change between
releases; tests in tests/unit/test_moto_pins.py fail loudly when they do).

STUB: the ECS rollout simulator, ELB target health, CloudWatch fixes and the traffic model are
installed from here.
"""

from __future__ import annotations

from typing import Any


class Fidelity:
    """The handle the server holds: ``tick()`` advances simulations; ``control`` serves /_pipeline_py/."""

    def __init__(self, timing: dict[str, float] | None = None) -> None:
        self.timing = timing or {}

    def tick(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def control(self, route: str, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if route == "status":
            return {"ok": True}
        raise KeyError(route)


_installed: Fidelity | None = None


def install(timing: dict[str, float] | None = None) -> Fidelity:
    global _installed
    if _installed is None:
        _installed = Fidelity(timing)
    return _installed

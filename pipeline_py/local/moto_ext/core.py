"""The patch registry, the ticker protocol, the process's installed :class:`Fidelity` handle, and the
moto versions the patches were tested with."""


from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("pipeline_py.local")




# The moto releases this package was tested with (also the `local`/`dev` extras in pyproject.toml).
MOTO_RANGE = (">=5.2.1", "<5.3")


class Ticker(Protocol):
    """A simulation advanced by the loop: pure in ``now``; ``reset`` when moto resets."""

    def tick(self, now: float) -> None: ...

    def reset(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


ControlRoute = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass
class Patch:
    owner: type
    name: str
    original: Any
    replacement: Any


_PATCHES: list[Patch] = []


def patch_moto(owner: type, name: str, replacement: Callable[..., Any] | classmethod[Any, Any, Any] | property) -> None:
    """Replace (or add, when moto lacks it) ``owner.name``; the original stays reachable."""
    original = owner.__dict__.get(name)
    _PATCHES.append(Patch(owner, name, original, replacement))
    setattr(owner, name, replacement)


def original_of(owner: type, name: str) -> Any:
    for p in _PATCHES:
        if p.owner is owner and p.name == name:
            return p.original
    raise KeyError(f"{owner.__name__}.{name} is not patched")


def patches() -> list[Patch]:
    return list(_PATCHES)


_installed: Any = None


def install_reset_hook() -> None:
    """moto resets every backend through ``BackendDict.reset`` (``/moto-api/reset``, ``mock_aws``);
    the simulations are reset right after, once moto's backend lock is released."""
    from moto.core.base_backend import BackendDict

    original = BackendDict.__dict__["reset"]

    def reset(cls: type) -> None:
        original.__func__(cls)
        if _installed is not None:
            _installed.reset()

    patch_moto(BackendDict, "reset", classmethod(reset))


def current() -> Any:
    if _installed is None:  # pragma: no cover - patches are only applied by install()
        raise RuntimeError("moto_ext.install() was not called")
    return _installed


def warn_if_untested_moto() -> None:
    import moto

    if not moto_version_supported(moto.__version__):
        log.warning("moto %s is outside the tested range %s; the local stack may misbehave",
                     moto.__version__, ",".join(MOTO_RANGE))


def moto_version_supported(version: str) -> bool:
    def parse(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v)[:3])

    low, high = parse(MOTO_RANGE[0]), parse(MOTO_RANGE[1])
    return low <= parse(version) < high


def set_installed(fidelity: Any) -> None:
    global _installed
    _installed = fidelity


def installed() -> Any:
    return _installed

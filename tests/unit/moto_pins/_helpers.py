"""Helpers shared by the moto pin tests."""

from __future__ import annotations

from typing import Any

from pipeline_py.local import moto_ext
from pipeline_py.local.moto_ext.core import original_of


def original(owner: type, name: str) -> Any:
    """moto's own implementation of a patched ``owner.name``."""
    moto_ext.install()
    return original_of(owner, name)

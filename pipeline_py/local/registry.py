"""A real registry (Debian's ``docker-registry``, CNCF distribution) standing in for ECR's data plane.

STUB — to be implemented: htpasswd user ``AWS`` with the password inside moto's ECR token, and
registry notifications mirrored into moto's ECR so ``describe_images`` sees pushed images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def available() -> tuple[bool, str]:
    """(True, '') when a Docker engine answers and the registry binary exists; else (False, why)."""
    return False, "registry support not implemented yet"


def start(state_dir: Path, port: int, moto_url: str) -> dict[str, Any]:
    raise NotImplementedError


def environment(info: dict[str, Any]) -> dict[str, str]:
    return {}

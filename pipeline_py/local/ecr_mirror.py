"""Mirrors pushes to the local registry into moto's ECR (registry notifications → ``put_image``),
so ``describe_images`` answers as ECR would after a push.

STUB — to be implemented.
"""

from __future__ import annotations

from typing import Any


def handle(payload: dict[str, Any], server_url: str) -> dict[str, Any]:
    return {"mirrored": 0}

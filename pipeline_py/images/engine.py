"""The Docker engine connection (docker SDK, ``DOCKER_HOST`` and friends from the environment)."""

from __future__ import annotations

from typing import Any

import docker
import requests

from pipeline_py.errors import OperationFailed


def connect(timeout: int = 600) -> Any:
    """A ``docker.DockerClient`` that answered a ping; ``OperationFailed`` naming the cause if not."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException) as exc:
        raise OperationFailed(
            f"no Docker engine answers ({exc}); start dockerd or point DOCKER_HOST at one"
        ) from None
    return client

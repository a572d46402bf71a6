"""Fixtures on real components: the Docker engine, a real ``docker-registry`` standing in for ECR's
data plane (its notifications mirrored into the in-process local stack's ECR), the sample app.

Nothing here skips: the engine and the registry are installed by scripts/setup.sh.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE, free_port, serve_http

ACCOUNT = "123456789012"
REGION = "us-east-1"
ECR_HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


@pytest.fixture(scope="session")
def docker_client() -> Any:
    from pipeline_py.images.engine import connect

    return connect()


@pytest.fixture(scope="session")
def registry(local_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A docker-registry on a free port for the session: htpasswd user AWS with the password of
    the local stack's ECR token; notifications to the local stack."""
    from pipeline_py.local import registry as reg

    ok, why = reg.available()
    assert ok, f"the registry tests need docker-registry, htpasswd and a Docker engine: {why}"
    info = reg.start(tmp_path_factory.mktemp("registry"), free_port(), local_server.url)
    yield info
    reg.stop(info)


@pytest.fixture
def registry_env(aws: Any, registry: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``aws`` plus the registry override, as ``local up`` prints it."""
    from pipeline_py.local import registry as reg

    for k, v in reg.environment(registry).items():
        monkeypatch.setenv(k, v)
    return registry


@pytest.fixture(scope="session")
def sample_app_dir() -> Path:
    from pipeline_py.local.busybox import ensure_busybox

    ensure_busybox(EXAMPLE)
    return EXAMPLE


def _remove_repository_images(client: Any, repo: str) -> None:
    """Remove every tag and digest reference in ``repo`` (local or behind any registry host); an
    image goes away with its last reference, so images other users also reference stay."""
    for image in client.images.list(all=True):
        refs = [*image.tags, *(image.attrs.get("RepoDigests") or [])]
        for ref in refs:
            name = ref.split("@", 1)[0] if "@" in ref else ref.rsplit(":", 1)[0]
            if name == repo or name.endswith("/" + repo):
                try:
                    client.api.remove_image(ref)
                except Exception:  # already gone with a sibling reference: cleanup is best effort
                    pass


@pytest.fixture
def unique_repo(docker_client: Any) -> Iterator[str]:
    """A repository name of this test alone (the engine is shared); its images are removed after."""
    repo = f"it-{uuid.uuid4().hex[:10]}"
    yield repo
    _remove_repository_images(docker_client, repo)


def write_config(directory: Path, image: dict[str, Any], *, service: str = "task-api") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pipeline.yaml"
    path.write_text(yaml.safe_dump({
        "service": service,
        "region": REGION,
        "image": image,
        "environments": {"local": {"cluster": "c-local"}},
    }, sort_keys=False))
    return path


@pytest.fixture
def tiny_app(tmp_path: Path) -> Callable[..., Path]:
    """A two-step ``FROM scratch`` build context (fast on vfs); returns the config path."""

    def make(repo: str, content: str = "hello", *, dockerfile: str | None = None, **image: Any) -> Path:
        ctx = tmp_path / "ctx"
        ctx.mkdir(exist_ok=True)
        (ctx / "hello.txt").write_text(content + "\n")
        (ctx / "Dockerfile").write_text(dockerfile or "FROM scratch\nCOPY hello.txt /hello.txt\n")
        return write_config(tmp_path, {"repository": repo, "context": "ctx", "dockerfile": "ctx/Dockerfile",
                                       **image})

    return make


class _Failing(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"broken")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_url() -> Iterator[str]:
    """A loopback /health that answers 500 (a smoke check or test listener that fails)."""
    with serve_http(_Failing) as port:
        yield f"http://127.0.0.1:{port}/health"

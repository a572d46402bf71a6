"""The sample app in a real container: /health and / answer as the APP_SCENARIO contract says
(the same tokens the local stack's simulator models), on a loopback port of the engine."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pipeline_py.local.stack import wait_until
from tests.conftest import run_cli
from tests.integration.conftest import _remove_repository_images, write_config

pytestmark = [pytest.mark.docker]


@pytest.fixture(scope="module")
def sample_image(sample_app_dir: Path, docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    repo = f"it-app-{uuid.uuid4().hex[:8]}"
    config = write_config(tmp_path_factory.mktemp("app"), {"repository": repo, "context": str(sample_app_dir),
                                                          "dockerfile": str(sample_app_dir / "Dockerfile")})
    r = run_cli("--config", str(config), "--json", "build", "--build-arg", "APP_VERSION=v-test")
    assert r.code == 0, r.stderr
    yield r.json["image_id"]
    _remove_repository_images(docker_client, repo)


@pytest.fixture
def start(docker_client: Any, sample_image: str) -> Iterator[Callable[..., Any]]:
    """Start the app (``docker run -d -p 127.0.0.1::8080``); returns the container with ``.url``."""
    started: list[Any] = []

    def run(scenario: str | None = None, *, env: dict[str, str] | None = None, command: list[str] | None = None,
            wait: bool = True) -> Any:
        environment = {"APP_ENV": "it", **(env or {})}
        if scenario is not None:
            environment["APP_SCENARIO"] = scenario
        c = docker_client.containers.run(sample_image, command=command, detach=True, environment=environment,
                                         ports={"8080/tcp": ("127.0.0.1", None)})
        started.append(c)
        if not wait:
            return c
        c.reload()
        port = c.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        c.url = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: _answers(c.url), timeout=20), c.logs().decode()
        return c

    yield run
    for c in started:
        try:
            c.remove(force=True)
        except Exception:  # already removed
            pass


def _answers(url: str) -> bool:
    try:
        requests.get(url + "/health", timeout=2)
        return True
    except requests.RequestException:
        return False


def exit_code(container: Any, timeout: float = 20) -> int:
    return int(container.wait(timeout=timeout)["StatusCode"])


def test_healthy_app_answers_health_index_and_404(start: Callable[..., Any]) -> None:
    c = start()
    health = requests.get(c.url + "/health", timeout=5)
    assert (health.status_code, health.text) == (200, "ok\n")
    index = requests.get(c.url + "/?probe=1", timeout=5)
    assert index.status_code == 200 and index.headers["Content-Type"] == "application/json"
    body = index.json()
    assert body["service"] == "task-api" and body["version"] == "v-test"
    assert body["scenario"] == "healthy" and body["env"] == "it" and body["host"]
    assert requests.get(c.url + "/nope", timeout=5).status_code == 404
    assert requests.post(c.url + "/", timeout=5).status_code == 405
    head = requests.head(c.url + "/health", timeout=5)
    assert head.status_code == 200 and head.text == ""
    logs = c.logs().decode()
    assert "GET /health 200" in logs and "GET /nope 404" in logs


def test_app_version_comes_from_the_environment(start: Callable[..., Any]) -> None:
    c = start(env={"APP_VERSION": "v9"})
    assert requests.get(c.url + "/", timeout=5).json()["version"] == "v9"


def test_unhealthy_fails_health_but_serves(start: Callable[..., Any]) -> None:
    c = start("unhealthy")
    r = requests.get(c.url + "/health", timeout=5)
    assert (r.status_code, r.text) == (503, "unhealthy\n")
    assert requests.get(c.url + "/", timeout=5).status_code == 200


def test_slow_start_fails_health_until_the_delay_passed(start: Callable[..., Any]) -> None:
    c = start("slow-start=5")  # long enough to be still starting at the first request on a loaded machine
    seen: list[tuple[int, str]] = []

    def healthy() -> bool:
        r = requests.get(c.url + "/health", timeout=5)
        seen.append((r.status_code, r.text))
        return r.status_code == 200

    assert wait_until(healthy, timeout=30)
    assert seen[0] == (503, "starting\n") and seen[-1] == (200, "ok\n")
    assert set(seen[:-1]) == {(503, "starting\n")}  # starting, then healthy: never back and forth
    assert all(requests.get(c.url + "/health", timeout=5).status_code == 200 for _ in range(3))


def test_error_rate_fractions(start: Callable[..., Any]) -> None:
    always = start("error-rate=1")
    r = requests.get(always.url + "/", timeout=5)
    assert r.status_code == 500 and "injected failure" in r.json()["error"]
    assert requests.get(always.url + "/health", timeout=5).status_code == 200

    half = start("error-rate=0.5")
    codes = [requests.get(half.url + "/", timeout=5).status_code for _ in range(80)]
    assert set(codes) == {200, 500}
    assert 0.25 <= codes.count(500) / len(codes) <= 0.75


def test_latency_is_added_to_the_index(start: Callable[..., Any]) -> None:
    slow = start("latency-ms=250")
    fast = start()

    def seconds(url: str) -> float:
        t = time.monotonic()
        assert requests.get(url + "/", timeout=10).status_code == 200
        return time.monotonic() - t

    # a lower bound on the difference of interleaved pairs: a loaded machine slows both, never shortens one
    assert statistics.median(seconds(slow.url) - seconds(fast.url) for _ in range(5)) >= 0.2


def test_crash_scenarios_exit_with_the_scenario_code(start: Callable[..., Any]) -> None:
    crash = start("crash,exit-code=7", wait=False)
    assert exit_code(crash) == 7
    assert "scenario crash" in crash.logs().decode()
    later = start("crash-after=3")
    assert requests.get(later.url + "/health", timeout=5).status_code == 200
    assert exit_code(later) == 1


def test_a_bad_scenario_exits_2_naming_the_token(start: Callable[..., Any]) -> None:
    bad = start("slow-start=soon", wait=False)
    assert exit_code(bad) == 2
    assert "bad value in scenario token 'slow-start=soon'" in bad.logs().decode()
    unknown = start("explode", wait=False)
    assert exit_code(unknown) == 2 and "unknown scenario token 'explode'" in unknown.logs().decode()


def test_job_mode_runs_and_exits_with_the_scenario_code(start: Callable[..., Any]) -> None:
    job = start("run-seconds=0.3,exit-code=3", command=["job"], wait=False)
    assert exit_code(job) == 3
    assert "job: done, exit code 3" in job.logs().decode()


def test_runs_unprivileged_and_stops_promptly_on_sigterm(start: Callable[..., Any], docker_client: Any,
                                                          sample_image: str) -> None:
    uid = docker_client.containers.run(sample_image, ["id", "-u"], remove=True)
    assert uid.decode().strip() == "65534"
    c = start()
    c.stop(timeout=10)
    assert exit_code(c) == 0  # a container still running after 10 s would be SIGKILLed: exit 137

"""Fixtures for the real rehearsal: the in-process local stack switched to the Docker runtime (tasks are
containers of the pushed sample image, listeners are HAProxy frontends), the sample service's
infrastructure on it, and a load generator through a listener.

One stack per test module (the slow part is real: building the image, starting containers), reset and
switched back to the simulated runtime afterwards whatever the tests did; every container it started
carries the module's stack id and is gone when the fixture ends.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
import yaml

from pipeline_py.local.docker_runtime import LABEL_STACK
from pipeline_py.local.loadgen import LoadGenerator
from tests.conftest import EXAMPLE, run_cli, wait_for
from tests.integration.conftest import _remove_repository_images
from tests.integration.deploy_fixtures import LOCAL_ENV, _merge

# AWS seconds last 50 ms: a 10 s health-check interval is 0.5 s, the 30 s deregistration delay 1.5 s.
REAL_TIMING = {"scale": 0.05}

# The deploy tests' environment with more time for real containers, and the canary judged by p99s that
# are noisy at a few requests a second on a busy 2-core machine: 2 s absolute, or 5x the stable colour's
# and 400 ms more (a real regression to 2.5 s trips the first whatever the load).
REAL_ENV: dict[str, Any] = _merge(LOCAL_ENV, {
    "timeout": 60,
    "rollback_timeout": 60,
    "canary": {
        "steps": [10, 50, 100],
        "bake_seconds": 3,
        "analysis": {"max_p99_ms": 2000, "max_p99_ratio": 5, "min_p99_delta_ms": 400},
    },
})


@dataclass
class RealStack:
    url: str
    stack_id: str
    project: Path
    config: Path
    image: str
    infra: Any
    listeners: dict[int, str]

    def args(self, *argv: str) -> list[str]:
        return ["--config", str(self.config), "--env", "local", *argv]

    def deploy(self, strategy: str, *extra: str) -> Any:
        return run_cli(*self.args("--json", "deploy", "--strategy", strategy, "--image", self.image, *extra))

    def runtime(self) -> dict[str, Any]:
        return dict(requests.get(self.url + "/_pipeline_py/runtime", timeout=10).json())


class Traffic:
    """``LoadGenerator`` through a listener on a thread, for the duration of a ``with`` block."""

    def __init__(self, url: str, rate: float, duration: float = 120.0) -> None:
        self.gen = LoadGenerator(url, rate, duration, timeout=5.0)
        self.result: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._run, name="test-traffic", daemon=True)

    def _run(self) -> None:
        self.result = self.gen.run()

    def __enter__(self) -> Traffic:
        self._thread.start()
        wait_for(lambda: self.gen.reported, timeout=10, what="the first second of traffic")
        return self

    def __exit__(self, *exc: object) -> None:
        self.gen.stop()
        self._thread.join(timeout=30)

    @property
    def totals(self) -> dict[str, Any]:
        return dict(self.result["totals"])


def _steady(ecs: Any, cluster: str, names: list[str]) -> bool:
    services = ecs.describe_services(cluster=cluster, services=names)["services"]
    return all(len(s["deployments"]) == 1 and s["runningCount"] == s["desiredCount"]
               and s["deployments"][0]["rolloutState"] == "COMPLETED" for s in services)


def _answers_200(url: str) -> bool:
    try:
        return requests.get(url + "/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def real_stack(local_server: Any, registry: dict[str, Any], sample_app_dir: Path, docker_client: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealStack]:
    from pipeline_py.aws import AwsFactory
    from pipeline_py.local import registry as reg
    from pipeline_py.local import sandbox
    from pipeline_py.local.stack import aws_environment

    url = local_server.url
    stack_id = f"it-{uuid.uuid4().hex[:8]}"
    repo = f"it-real-{uuid.uuid4().hex[:8]}"
    project = tmp_path_factory.mktemp("real-project")
    (project / "deploy").mkdir()
    (project / "deploy" / "taskdef.json.j2").write_text((EXAMPLE / "deploy" / "taskdef.json.j2").read_text())
    data = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text())
    data["image"] = {**data["image"], "repository": repo, "context": str(sample_app_dir),
                     "dockerfile": str(sample_app_dir / "Dockerfile"), "tag_immutability": False}
    data["environments"] = {"local": REAL_ENV}
    config = project / "pipeline.yaml"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    requests.post(url + "/moto-api/reset", timeout=30)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {**aws_environment(url), **reg.environment(registry)}.items():
            mp.setenv(k, v)
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            mp.delenv(k, raising=False)
        mp.setenv("AWS_CONFIG_FILE", str(project / "aws-config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(project / "aws-credentials"))
        try:
            assert requests.post(url + "/_pipeline_py/timing", json=REAL_TIMING, timeout=10).ok
            switched = requests.post(url + "/_pipeline_py/runtime", timeout=120, json={
                "runtime": "docker", "stack_id": stack_id, "registry": {"host": registry["host"]}})
            assert switched.ok, switched.text
            built = run_cli("--config", str(config), "--env", "local", "--json", "build")
            assert built.code == 0, built.stderr
            pushed = run_cli("--config", str(config), "--env", "local", "--json", "push")
            assert pushed.code == 0, pushed.stderr
            image = pushed.json["image"]
            infra = sandbox.ensure(AwsFactory(), image=image)
            ecs = boto3.client("ecs")
            wait_for(lambda: _steady(ecs, infra.cluster, [infra.service, infra.blue]), timeout=120,
                     interval=0.25, what="the sandbox's first tasks (real containers) to be steady")
            listeners = {int(li["port"]): li["url"] for li in
                         requests.get(url + "/_pipeline_py/listeners", timeout=10).json()["listeners"]}
            wait_for(lambda: _answers_200(listeners[80]) and _answers_200(listeners[81]), timeout=30,
                     what="the listeners to route to the first tasks")
            yield RealStack(url, stack_id, project, config, image, infra, listeners)
        finally:
            requests.post(url + "/_pipeline_py/runtime", json={"runtime": "simulated"}, timeout=180)
            requests.delete(url + "/_pipeline_py/timing", timeout=10)
            requests.post(url + "/moto-api/reset", timeout=30)
            _remove_repository_images(docker_client, repo)
    left = docker_client.api.containers(all=True, filters={"label": f"{LABEL_STACK}={stack_id}"})
    assert left == [], f"containers of stack {stack_id} left behind: {[c['Names'] for c in left]}"

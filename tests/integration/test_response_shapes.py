"""The engine's reads, checked against botocore's output shapes during a rolling deploy (and a one-off task)
and a canary deploy on the local stack: every answer any of the engine's clients parses goes through
tests/shape_check.py (types, enums, required members, no JSON null, the members AWS always returns). A
rehearsal whose answers AWS would never give proves nothing about the engine's handling of the real ones."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline_py.aws import AwsFactory
from tests.conftest import run_cli
from tests.integration.deploy_fixtures import Project, project
from tests.shape_check import response_problems

__all__ = ["project"]


class Recorder:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked: Counter[str] = Counter()

    def __call__(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}.{model.name}"
        self.checked[name] += 1
        body = getattr(http_response, "content", None)
        for problem in response_problems(model, parsed, body):
            if problem not in self.problems:
                self.problems.append(problem)


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Every client the engine makes (AwsFactory, the one place clients are made) reports its answers."""
    rec = Recorder()
    original = AwsFactory._count

    def count(self: AwsFactory, client: Any) -> None:
        original(self, client)
        client.meta.events.register("after-call", rec)

    monkeypatch.setattr(AwsFactory, "_count", count)
    yield rec


def test_rolling_deploy_reads_match_botocore_shapes(project: Project, recorder: Recorder) -> None:
    r = run_cli(*project.args("--json", "deploy", "--image", "task-api:v2"))
    assert r.code == 0, r.stderr
    job = run_cli(*project.args("--json", "run-task", "--command", "migrate --yes"))  # a one-off Fargate task
    assert job.code == 0, job.stderr
    assert recorder.problems == []
    for op in ("ecs.DescribeServices", "ecs.DescribeTaskDefinition", "ecs.RegisterTaskDefinition",
               "ecs.UpdateService", "elbv2.DescribeTargetHealth", "dynamodb.PutItem", "ecs.RunTask",
               "ecs.DescribeTasks"):
        assert recorder.checked[op] >= 1, (op, " ".join(sorted(recorder.checked)))


def test_canary_deploy_reads_match_botocore_shapes(project: Project, recorder: Recorder) -> None:
    project.write(canary={"steps": [50, 100], "bake_seconds": 1})
    r = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v2"))
    assert r.code == 0, r.stderr
    assert r.json["status"] == "succeeded"
    assert recorder.problems == []
    for op in ("ecs.DescribeServices", "elbv2.DescribeLoadBalancers", "elbv2.DescribeListeners", "elbv2.ModifyListener",
               "elbv2.DescribeTargetGroups", "elbv2.DescribeTargetHealth", "cloudwatch.GetMetricData",
               "application-autoscaling.DescribeScalableTargets"):
        assert recorder.checked[op] >= 1, (op, " ".join(sorted(recorder.checked)))

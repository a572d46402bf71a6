"""Faults rehearsed on the local stack (``/_pipeline_py/faults`` rules): each protocol's own error shape,
per service / operation / percentage from a seeded RNG, and deploys that end as they do without
faults under 20 % of mixed throttling, 503 and "applied, then 500" — with no duplicate deployment
when an UpdateService was applied and its answer lost."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import run_cli
from tests.integration.deploy_fixtures import Project, client, primary_td, project, service
from tests.integration.test_traffic_deploy import desired, weights

__all__ = ["project"]

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# 20 % of every AWS call pipeline-py makes fails: 10 % throttled, 5 % 503 before the call, 5 % applied then 500
MIXED = [{"fault": "throttle", "percent": 10}, {"fault": "error", "status": 503, "percent": 5 / 0.9},
         {"fault": "error_after", "status": 500, "percent": 5 / 0.85}]


def faults(aws: Any, method: str = "GET", payload: dict[str, Any] | None = None) -> dict[str, Any]:
    r = requests.request(method, aws.url + "/_pipeline_py/faults", json=payload, timeout=5)
    r.raise_for_status()
    return dict(r.json())


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as exc:
        call()
    return {"status": exc.value.response["ResponseMetadata"]["HTTPStatusCode"], **exc.value.response["Error"]}


def test_each_protocol_answers_in_its_own_shape(aws: Any) -> None:
    """botocore 1.44: ECS, DynamoDB are JSON (``__type``), ELBv2 query XML, CloudWatch JSON that is
    query-compatible (its old ``Throttling`` code in ``x-amzn-query-error``)."""
    ecs, ddb = boto3.client("ecs", config=NO_RETRIES), boto3.client("dynamodb", config=NO_RETRIES)
    elb, cw = boto3.client("elbv2", config=NO_RETRIES), boto3.client("cloudwatch", config=NO_RETRIES)
    faults(aws, "PUT", {"rules": [{"fault": "throttle"}]})
    assert error_of(ecs.list_clusters) == {"status": 400, "Code": "ThrottlingException", "Message": "Rate exceeded"}
    assert error_of(ddb.list_tables)["Code"] == "ThrottlingException"
    assert error_of(elb.describe_load_balancers) == {"status": 400, "Code": "Throttling", "Type": "Sender",
                                                     "Message": "Rate exceeded"}
    cw_error = error_of(cw.describe_alarms)
    assert cw_error["Code"] == "Throttling" and cw_error["Type"] == "Sender"
    faults(aws, "PUT", {"rules": [{"fault": "error", "status": 503}]})
    assert error_of(ecs.list_clusters)["status"] == 503
    assert error_of(elb.describe_load_balancers)["Code"] == "ServiceUnavailable"
    faults(aws, "PUT", {"rules": [{"fault": "error_after", "service": "ecs", "operation": "CreateCluster"}]})
    assert error_of(lambda: ecs.create_cluster(clusterName="applied"))["Code"] == "InternalFailure"
    assert any(a.endswith("/applied") for a in ecs.list_clusters()["clusterArns"])  # other operations pass
    faults(aws, "PUT", {"rules": [{"fault": "latency", "ms": 5, "service": "elbv2"}]})
    elb.describe_load_balancers()
    state = faults(aws)
    assert state["injected"]["by_fault"] == {"latency": 1}
    # botocore's own retries (pipeline-py's clients retry 8 times) ride through throttling
    faults(aws, "PUT", {"rules": [{"fault": "throttle", "service": "ecs", "count": 2}]})
    assert boto3.client("ecs", config=Config(retries={"max_attempts": 3, "mode": "standard"})).list_clusters()
    assert faults(aws)["injected"]["by_fault"] == {"throttle": 2}


def test_rules_by_service_operation_and_percentage_are_reproducible(aws: Any) -> None:
    ecs = boto3.client("ecs", config=NO_RETRIES)

    def outcomes() -> list[bool]:
        out = []
        for _ in range(40):
            try:
                ecs.list_clusters()
                out.append(True)
            except ClientError:
                out.append(False)
        ecs.describe_clusters(clusters=["default"])  # another operation: never faulted
        return out

    rule = {"fault": "error", "service": "ecs", "operation": "ListClusters", "percent": 30}
    faults(aws, "PUT", {"rules": [rule], "seed": 7})
    first = outcomes()
    faults(aws, "PUT", {"rules": [rule], "seed": 7})
    assert outcomes() == first
    assert 4 <= first.count(False) <= 20  # about 30 % of 40
    state = faults(aws)
    assert state["seed"] == 7 and state["injected"]["by_operation"] == {"ecs.ListClusters error": first.count(False)}
    faults(aws, "DELETE")
    assert faults(aws)["rules"] == [] and all(outcomes())
    for bad in ({"rules": [{"fault": "explode"}]}, {"rules": [{"fault": "error", "status": 404}]},
                {"rules": [{"fault": "throttle", "percent": 120}]}, {"rules": "all"}, {"seed": "x"}):
        assert requests.post(aws.url + "/_pipeline_py/faults", json=bad, timeout=5).status_code == 400


def deployments_of(name: str) -> list[str]:
    return client("ecs").list_service_deployments(cluster="task-api-local", service=name)["serviceDeployments"]


def test_applied_then_500_never_leaves_a_duplicate(project: Project, aws: Any) -> None:
    """The first UpdateService of each deploy (rolling: the new revision; canary: green with
    forceNewDeployment) and the deploy lock's PutItem are applied and answered 500. pipeline-py sees
    the deployment it started (and the lock it holds) instead of sending the call again: one new
    deployment per service, and the deploys succeed."""
    once = [{"fault": "error_after", "service": "ecs", "operation": "UpdateService", "count": 1},
            {"fault": "error_after", "service": "dynamodb", "operation": "PutItem", "count": 1}]
    rolling_before, green_before = len(deployments_of("task-api")), len(deployments_of("task-api-green"))
    faults(aws, "PUT", {"rules": once})
    r = run_cli(*project.args("--json", "deploy", "--image", "task-api:v2"))
    assert r.code == 0, r.stderr
    assert faults(aws)["injected"]["by_operation"] == {"ecs.UpdateService error_after": 1,
                                                       "dynamodb.PutItem error_after": 1}
    assert len(deployments_of("task-api")) == rolling_before + 1
    assert primary_td() == r.json["task_definition_arn"]
    project.write(canary={"steps": [50, 100], "bake_seconds": 1})
    faults(aws, "PUT", {"rules": once})
    r = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v3"))
    assert r.code == 0, r.stderr
    assert sum(faults(aws)["injected"]["by_fault"].values()) == 2
    assert len(deployments_of("task-api-green")) == green_before + 1
    assert weights(project) == {"blue": 0, "green": 100}
    assert client("dynamodb").scan(TableName="pipeline-py-locks")["Items"] == []


def steady_on(arn: str, name: str = "task-api") -> bool:
    s = service(name)
    return len(s["deployments"]) == 1 and s["deployments"][0]["taskDefinition"] == arn


def test_rolling_deploys_under_20_percent_mixed_faults(project: Project, aws: Any) -> None:
    """Three deploys, each with its own seed: every one succeeds and ends where a deploy without
    faults ends (steady on the new revision, recorded as known-good, the lock released)."""
    for seed in (11, 12, 13):
        faults(aws, "PUT", {"rules": MIXED, "seed": seed})
        r = run_cli(*project.args("--json", "deploy", "--image", f"task-api:v{seed}"))
        injected = faults(aws, "DELETE")["injected"]
        assert r.code == 0, r.stderr
        res = r.json
        assert res["status"] == "succeeded" and steady_on(res["task_definition_arn"])
        tags = {t["key"]: t["value"] for t in service()["tags"]}
        assert tags["pipeline-py:known-good"].split()[0] == res["task_definition_arn"].rsplit("/", 1)[1]
        assert injected["by_fault"].get("throttle", 0) + injected["by_fault"].get("error", 0) > 0
        assert client("dynamodb").scan(TableName="pipeline-py-locks")["Items"] == []


def test_canary_deploys_under_20_percent_mixed_faults(project: Project, aws: Any) -> None:
    project.write(canary={"steps": [25, 100], "bake_seconds": 1})
    for seed, new, old in ((21, "green", "blue"), (22, "blue", "green")):
        faults(aws, "PUT", {"rules": MIXED, "seed": seed})
        r = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", f"task-api:v{seed}"))
        injected = faults(aws, "DELETE")["injected"]
        assert r.code == 0, r.stderr
        res = r.json
        assert res["status"] == "succeeded" and [w[new] for w in res["weight_changes"]] == [25, 100]
        assert weights(project) == {new: 100, old: 0}
        assert desired(f"task-api-{new}") == 2 and desired(f"task-api-{old}") == 0
        assert steady_on(res["task_definition_arn"], f"task-api-{new}")
        assert sum(injected["by_fault"].values()) > 0

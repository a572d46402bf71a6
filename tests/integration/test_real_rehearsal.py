"""The real rehearsal: deploys on the local stack's Docker runtime, where every task is a container of the
pushed image, every listener an HAProxy frontend, every health check a real HTTP request and every
ALB metric counted from real requests. Each test asserts what the containers and the load balancer
did (exit codes, reasons, target health, the load tool's own counts), not what a model said.

The slow real cases are here and only here; everything else stays on the simulated runtime.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
import requests

from tests.conftest import run_cli, wait_for
from tests.integration.real_fixtures import RealStack, Traffic, real_stack

pytestmark = [pytest.mark.docker, pytest.mark.slow]
__all__ = ["real_stack"]

ACCOUNT, REGION = "123456789012", "us-east-1"


# ---- helpers


def weights(stack: RealStack) -> dict[str, int]:
    listener = boto3.client("elbv2").describe_listeners(ListenerArns=[stack.infra.listeners["80"]])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    colour = {stack.infra.target_groups["blue"]: "blue", stack.infra.target_groups["green"]: "green"}
    return {colour[g["TargetGroupArn"]]: g["Weight"] for g in groups}


def primary_td(stack: RealStack, service: str = "task-api") -> str:
    svc = boto3.client("ecs").describe_services(cluster=stack.infra.cluster, services=[service])["services"][0]
    return next(d["taskDefinition"] for d in svc["deployments"] if d["status"] == "PRIMARY")


class HealthWatch:
    """Records every target-health reason DescribeTargetHealth reports for a group while a deploy runs."""

    def __init__(self, target_group: str) -> None:
        self.target_group = target_group
        self.seen: set[tuple[str, str, str]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        elbv2 = boto3.client("elbv2")
        while not self._stop.wait(0.1):
            for h in elbv2.describe_target_health(TargetGroupArn=self.target_group)["TargetHealthDescriptions"]:
                th = h["TargetHealth"]
                self.seen.add((th["State"], th.get("Reason") or "", th.get("Description") or ""))

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def alb_sum(metric: str, target_group: str, *, period: int) -> float:
    """Sum of an ALB metric of one target group over the last 10 minutes."""
    from datetime import datetime, timedelta, timezone

    elbv2 = boto3.client("elbv2")
    tg = elbv2.describe_target_groups(TargetGroupArns=[target_group])["TargetGroups"][0]
    lb = tg["LoadBalancerArns"][0].split(":loadbalancer/", 1)[1]
    end = datetime.now(timezone.utc) + timedelta(seconds=60)
    resp = boto3.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/ApplicationELB", MetricName=metric, StartTime=end - timedelta(minutes=10), EndTime=end,
        Period=period, Statistics=["Sum"], Dimensions=[{"Name": "LoadBalancer", "Value": lb},
                                                       {"Name": "TargetGroup", "Value": target_group.split(":", 5)[5]}])
    return float(sum(d["Sum"] for d in resp["Datapoints"]))


def task_definition(stack: RealStack, family: str = "it-real", task_memory: str = "512", **container: Any) -> str:
    base = {"name": "app", "image": stack.image, "essential": True,
            "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "APP_VERSION", "value": "it"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/task-api", "awslogs-region": REGION, "awslogs-stream-prefix": "app"}}}
    base.update(container)
    return boto3.client("ecs").register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory=task_memory,
        containerDefinitions=[base])["taskDefinition"]["taskDefinitionArn"]


def run_one(stack: RealStack, td: str) -> dict[str, Any]:
    """RunTask on the sandbox's network; the task as DescribeTasks shows it once STOPPED."""
    ecs = boto3.client("ecs")
    network = {"awsvpcConfiguration": {"subnets": stack.infra.subnets, "securityGroups": [stack.infra.security_group]}}
    arn = ecs.run_task(cluster=stack.infra.cluster, taskDefinition=td, launchType="FARGATE",
                       networkConfiguration=network)["tasks"][0]["taskArn"]

    def stopped() -> dict[str, Any] | None:
        task = ecs.describe_tasks(cluster=stack.infra.cluster, tasks=[arn])["tasks"][0]
        return task if task["lastStatus"] == "STOPPED" else None

    return dict(wait_for(stopped, timeout=90, interval=0.2, what=f"task {arn} to stop"))


def containers_of(stack: RealStack, task_arn: str) -> list[Any]:
    """The task's containers (ids and states; the low-level list does not race with their removal)."""
    import docker

    return list(docker.from_env().api.containers(all=True, filters={"label": f"pipeline-py.task-arn={task_arn}"}))


def _deploy_under(stack: RealStack, port: int, rate: float, deploy: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    with Traffic(stack.listeners[port], rate) as traffic:
        result = deploy()
    failing = [s for s in traffic.result["seconds"] if s["5xx"] or s["errors"]]
    if failing:  # what the proxy did around them, for the failure message
        print("seconds with failed requests:", failing, "routing changes:", stack.runtime().get("routing_changes"))
    return result, traffic.totals


# ---- rolling


def test_good_rolling_deploy_under_traffic_fails_no_request(real_stack: RealStack, docker_client: Any) -> None:
    r, load = _deploy_under(real_stack, 81, 20, lambda: real_stack.deploy("rolling", "--var", "version=v2"))
    assert r.code == 0, r.stderr
    assert r.json["status"] == "succeeded"
    assert load["sent"] >= 60 and load["failed"] == 0, load
    # the containers run the pushed digest, at the loopback addresses the targets and the ENIs name
    ecs, elbv2 = boto3.client("ecs"), boto3.client("elbv2")
    arns = ecs.list_tasks(cluster=real_stack.infra.cluster, serviceName="task-api")["taskArns"]
    tasks = ecs.describe_tasks(cluster=real_stack.infra.cluster, tasks=arns)["tasks"]
    assert len(tasks) == 2 and all(t["taskDefinitionArn"] == primary_td(real_stack) for t in tasks)
    digest = real_stack.image.rsplit("@", 1)[1]
    addresses = set()
    for task in tasks:
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        addresses.add(details["privateIPv4Address"])
        assert task["containers"][0]["imageDigest"] == digest
        [listed] = containers_of(real_stack, task["taskArn"])
        container = docker_client.containers.get(listed["Id"])
        assert container.status == "running"
        assert container.attrs["Config"]["Env"] and "APP_VERSION=v2" in container.attrs["Config"]["Env"]
        bindings = container.attrs["HostConfig"]["PortBindings"]["8080/tcp"]
        assert bindings == [{"HostIp": details["privateIPv4Address"], "HostPort": "8080"}]
    assert all(a.startswith("127.") for a in addresses)
    health = elbv2.describe_target_health(TargetGroupArn=real_stack.infra.target_groups["rolling"])
    assert {(h["Target"]["Id"], h["Target"]["Port"], h["TargetHealth"]["State"])
            for h in health["TargetHealthDescriptions"]} == {(a, 8080, "healthy") for a in addresses}
    wait_for(lambda: requests.get(real_stack.listeners[81] + "/", timeout=5).json()["version"] == "v2", timeout=15,
             what="the listener to answer from v2")


def test_draining_lets_in_flight_requests_finish(real_stack: RealStack) -> None:
    slow = real_stack.deploy("rolling", "--var", "version=slow", "--var", "scenario=latency-ms=800,p99-ms=800")
    assert slow.code == 0, slow.stderr
    with HealthWatch(real_stack.infra.target_groups["rolling"]) as watch:
        r, load = _deploy_under(real_stack, 81, 10, lambda: real_stack.deploy("rolling", "--var", "version=v3"))
    assert r.code == 0, r.stderr
    # requests still running on the old (slow) targets when they were deregistered completed
    assert load["sent"] >= 30 and load["failed"] == 0, load
    assert ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress") in watch.seen
    wait_for(lambda: requests.get(real_stack.listeners[81] + "/", timeout=5).json()["version"] == "v3", timeout=15,
             what="the listener to answer from v3")


def unhealthy_events(stack: RealStack, since: datetime) -> list[str]:
    """ECS's "is unhealthy in (target-group …) due to (reason …)" events since ``since``: what the ELB health
    check found when the service replaced a task for it."""
    svc = boto3.client("ecs").describe_services(cluster=stack.infra.cluster, services=["task-api"])["services"][0]
    return [e["message"] for e in svc["events"]
            if e["createdAt"] >= since and "is unhealthy in (target-group" in e["message"]]


def test_wrong_container_port_is_never_healthy_and_rolls_back(real_stack: RealStack) -> None:
    before, began = primary_td(real_stack), datetime.now(timezone.utc)
    with HealthWatch(real_stack.infra.target_groups["rolling"]) as watch:
        r = real_stack.deploy("rolling", "--var", "scenario=listen-port=9090", "--var", "version=wrong-port")
    assert r.code == 1, r.stderr
    assert r.json["status"] == "rolled_back"
    assert "health check" in r.json["reason"]
    events = unhealthy_events(real_stack, began)
    assert events and all(e.endswith("due to (reason Health checks failed).") for e in events), events
    new_targets = {t for t in watch.seen if t[0] == "healthy"}
    assert primary_td(real_stack) == before and new_targets  # the old tasks stayed healthy all along


def test_health_path_answering_404_is_a_response_code_mismatch(real_stack: RealStack) -> None:
    before, began = primary_td(real_stack), datetime.now(timezone.utc)
    r = real_stack.deploy("rolling", "--var", "scenario=health-status=404", "--var", "version=404")
    assert r.code == 1, r.stderr
    assert r.json["status"] == "rolled_back"
    events = unhealthy_events(real_stack, began)
    assert any(e.endswith("due to (reason Health checks failed with these codes: [404]).") for e in events), events
    assert primary_td(real_stack) == before


def test_crash_on_start_reports_the_real_exit_code(real_stack: RealStack) -> None:
    before = primary_td(real_stack)
    r = real_stack.deploy("rolling", "--var", "scenario=crash,exit-code=3", "--var", "version=crash")
    assert r.code == 1, r.stderr
    assert r.json["status"] == "rolled_back"
    assert "exit code 3" in r.json["reason"]
    crashed = [t for t in r.json["stopped_tasks"] if t["stop_code"] == "EssentialContainerExited"]
    assert crashed and all(c["exitCode"] == 3 for t in crashed for c in t["containers"])
    assert primary_td(real_stack) == before


# ---- tasks that fail as ECS reports it


def test_out_of_memory_is_exit_137_with_ecs_reason(real_stack: RealStack) -> None:
    td = task_definition(real_stack, memory=48, environment=[{"name": "APP_SCENARIO", "value": "memory-mb=96"}])
    task = run_one(real_stack, td)
    [app] = task["containers"]
    assert app["exitCode"] == 137
    assert app["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert task["stopCode"] == "EssentialContainerExited"
    wait_for(lambda: containers_of(real_stack, task["taskArn"]) == [], timeout=30, what="the task's containers removed")


def test_missing_secret_fails_the_task_and_a_present_one_is_injected(real_stack: RealStack) -> None:
    sm = boto3.client("secretsmanager")
    arn = sm.create_secret(Name="it-real-db", SecretString="s3cret")["ARN"]
    boto3.client("ssm").put_parameter(Name="/it-real/token", Value="t0ken", Type="SecureString")
    # the secrets arrive as variables; user, working directory and a read-only root are the container's
    check = ["sh", "-c", 'test "$DB_PASSWORD" = s3cret && test "$TOKEN" = t0ken && test "$(id -u)" = 1234 '
                         '&& test "$(pwd)" = /app && ! touch /made-here 2>/dev/null']
    ok = run_one(real_stack, task_definition(
        real_stack, family="it-secret", command=check, user="1234", workingDirectory="/app",
        readonlyRootFilesystem=True, secrets=[{"name": "DB_PASSWORD", "valueFrom": arn},
                                              {"name": "TOKEN", "valueFrom": "/it-real/token"}]))
    assert ok["containers"][0]["exitCode"] == 0, ok
    missing = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:it-real-nope-AbCdEf"
    task = run_one(real_stack, task_definition(real_stack, family="it-secret", command=check,
                                               secrets=[{"name": "DB_PASSWORD", "valueFrom": missing}]))
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("ResourceInitializationError: unable to pull secrets or registry auth")
    assert missing in task["stoppedReason"] and "ResourceNotFoundException" in task["stoppedReason"]
    assert "exitCode" not in task["containers"][0]


def test_pull_error_for_a_digest_the_registry_does_not_have(real_stack: RealStack) -> None:
    absent = real_stack.image.rsplit("@", 1)[0] + "@sha256:" + "0" * 64
    task = run_one(real_stack, task_definition(real_stack, image=absent))
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError:")
    assert absent in task["stoppedReason"] and "manifest unknown" in task["stoppedReason"].lower()


def test_depends_on_and_one_network_namespace_per_task(real_stack: RealStack) -> None:
    """init must succeed before web starts; check (essential) reaches web on 127.0.0.1 inside the task."""
    ecs = boto3.client("ecs")
    logs = {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/task-api", "awslogs-region": REGION,
                                                "awslogs-stream-prefix": "deps"}}
    probe = ("for i in $(seq 1 40); do wget -q -O /dev/null http://127.0.0.1:8080/health && exit 0; "
             "usleep 250000; done; exit 1")
    td = ecs.register_task_definition(
        family="it-deps", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[
            {"name": "init", "image": real_stack.image, "essential": False, "command": ["sh", "-c", "echo migrated"],
             "logConfiguration": logs},
            {"name": "web", "image": real_stack.image, "essential": False, "portMappings": [{"containerPort": 8080}],
             "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
            {"name": "check", "image": real_stack.image, "essential": True, "command": ["sh", "-c", probe],
             "dependsOn": [{"containerName": "web", "condition": "START"}]},
        ])["taskDefinition"]["taskDefinitionArn"]
    task = run_one(real_stack, td)
    codes = {c["name"]: c.get("exitCode") for c in task["containers"]}
    assert codes["init"] == 0 and codes["check"] == 0, task
    assert task["stopCode"] == "EssentialContainerExited"
    wait_for(lambda: containers_of(real_stack, task["taskArn"]) == [], timeout=30, what="the task's containers removed")


def test_logs_of_a_crashed_task_are_in_cloudwatch_logs(real_stack: RealStack) -> None:
    task = run_one(real_stack, task_definition(real_stack, environment=[
        {"name": "APP_SCENARIO", "value": "crash,exit-code=7"}]))
    assert task["containers"][0]["exitCode"] == 7
    stream = f"app/app/{task['taskArn'].rsplit('/', 1)[1]}"
    logs = boto3.client("logs")

    def messages() -> list[str]:
        try:
            events = logs.get_log_events(logGroupName="/ecs/task-api", logStreamName=stream)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return [e["message"] for e in events]

    found = wait_for(lambda: [m for m in messages() if "scenario crash: exiting with code 7" in m], timeout=30,
                     what="the crashed container's log line in CloudWatch Logs")
    assert found


def test_run_task_migrations_exit_0_and_3(real_stack: RealStack) -> None:
    ok = run_cli(*real_stack.args("--json", "run-task", "--image", real_stack.image, "--command", "job",
                                  "--var", "scenario=run-seconds=0.2"))
    assert ok.code == 0, ok.stderr
    assert ok.json["container_exit_code"] == 0 and ok.json["stop_code"] == "EssentialContainerExited"
    bad = run_cli(*real_stack.args("--json", "run-task", "--image", real_stack.image, "--command", "job",
                                   "--var", "scenario=run-seconds=0.2,exit-code=3"))
    assert bad.code == 1, bad.stderr
    assert bad.json["container_exit_code"] == 3 and "exited with code 3" in bad.json["message"]


# ---- canary and blue-green on real traffic


def test_canary_answering_real_5xx_is_rolled_back_at_the_first_step(real_stack: RealStack) -> None:
    before = weights(real_stack)
    r, load = _deploy_under(real_stack, 80, 80, lambda: real_stack.deploy(
        "canary", "--var", "scenario=error-rate=0.2", "--var", "version=bad"))
    assert r.code == 1, r.stderr
    res = r.json
    assert res["status"] == "rolled_back" and "5XX rate" in res["reason"]
    assert res["analysis"][-1]["result"] == "fail" and res["analysis"][-1]["weight"] in (10, 50)
    assert load["5xx"] > 0  # the container's own 500s, seen by the load tool through the proxy
    assert weights(real_stack) == before
    # ALB metrics counted from those very requests, at a 60 s period as alarms read them
    canary_tg = real_stack.infra.target_groups[r.json["new_colour"]]

    def target_5xx() -> float:
        return alb_sum("HTTPCode_Target_5XX_Count", canary_tg, period=60)

    wait_for(lambda: target_5xx() == load["5xx"], timeout=10, what="the canary's 5XX in CloudWatch")
    assert alb_sum("RequestCount", canary_tg, period=1) > load["5xx"]


def test_canary_with_a_real_latency_regression_is_rolled_back(real_stack: RealStack) -> None:
    before = weights(real_stack)
    r, _ = _deploy_under(real_stack, 80, 60, lambda: real_stack.deploy(
        "canary", "--var", "scenario=latency-ms=2500,p99-ms=2500", "--var", "version=slow"))
    assert r.code == 1, r.stderr
    assert r.json["status"] == "rolled_back" and "p99" in r.json["reason"]
    samples = [s for a in r.json["analysis"] for s in a["samples"]]
    assert any((s["canary"]["p99_ms"] or 0) >= 2400 for s in samples)
    assert weights(real_stack) == before


def test_good_canary_and_blue_green_switch_fail_no_request(real_stack: RealStack) -> None:
    with Traffic(real_stack.listeners[80], 40) as traffic:
        canary = real_stack.deploy("canary", "--var", "version=c1")
        assert canary.code == 0, canary.stderr
        assert [a["weight"] for a in canary.json["analysis"]] == [10, 50, 100]
        assert all(sum(s["canary"]["requests"] for s in a["samples"]) > 0 for a in canary.json["analysis"])
        switch = real_stack.deploy("blue-green", "--var", "version=b1")
        assert switch.code == 0, switch.stderr
    load = traffic.totals
    failing = [s for s in traffic.result["seconds"] if s["5xx"] or s["errors"]]
    assert load["sent"] >= 200 and load["failed"] == 0, (load, failing, real_stack.runtime().get("routing_changes"))
    new = switch.json["new_colour"]
    assert weights(real_stack)[new] == 100
    # the proxy follows the listener within a reload (an ALB's changes take a moment as well)
    wait_for(lambda: requests.get(real_stack.listeners[80] + "/", timeout=5).json()["version"] == "b1", timeout=15,
             what="the listener to answer from the switched colour")


def test_local_status_lists_listeners_that_answer_from_the_app(real_stack: RealStack, tmp_path: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_PY_STATE_DIR", str(tmp_path))
    r = run_cli("--json", "local", "status")
    assert r.code == 0, r.stderr
    listeners = r.json["listeners"]
    assert {(li["load_balancer"], li["port"]) for li in listeners} == {
        ("task-api-local", 80), ("task-api-local", 81), ("task-api-local", 8080)}
    by_port = {li["port"]: li["url"] for li in listeners}
    assert all(url.startswith("http://127.0.0.1:") for url in by_port.values())
    body = requests.get(by_port[81] + "/", timeout=5).json()
    assert body["service"] == "task-api" and body["host"]
    traffic = run_cli("--json", "local", "traffic", "--listener", "81", "--rate", "10", "--duration", "1")
    assert traffic.code == 0, traffic.stderr
    assert traffic.json["totals"]["sent"] == 10 and traffic.json["totals"]["2xx"] == 10


def test_local_down_removes_what_the_stack_left_behind(real_stack: RealStack, docker_client: Any, tmp_path: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`local up --runtime docker` in the background; a container labelled with its stack id stays
    behind whatever happens to the server; `local down` stops the server and removes the container."""
    from pipeline_py.local.docker_runtime import LABEL_STACK
    from pipeline_py.local.procs import pid_alive
    from tests.conftest import free_port

    monkeypatch.setenv("PIPELINE_PY_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("PIPELINE_PY_REGISTRY_OVERRIDE", raising=False)
    # not the module's in-process stack, nor a stack someone runs on the default port
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    up = run_cli("--json", "local", "up", "--runtime", "docker", "--no-registry", "--port", str(free_port()))
    try:
        assert up.code == 0, up.stderr
        assert up.json["runtime"] == "docker" and up.json["listeners"] == []
        state = __import__("json").loads((tmp_path / "local" / "stack.json").read_text())
        stack_id, pid = state["runtime"]["stack_id"], state["moto"]["pid"]
        image = docker_client.images.list()[0].id
        left = docker_client.containers.create(image, command=["true"], labels={LABEL_STACK: stack_id})
        os.kill(pid, signal.SIGKILL)  # the server dies without cleaning up
        wait_for(lambda: not pid_alive(pid), timeout=10, what="the server to die")
    finally:
        down = run_cli("--json", "local", "down")
    assert down.code == 0, down.stderr
    assert down.json["stopped"] == [] and down.json["containers_removed"] == 1
    assert docker_client.api.containers(all=True, filters={"id": left.id}) == []

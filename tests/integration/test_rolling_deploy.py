"""Rolling deploys end to end on the local stack: real moto server, the ECS rollout simulator,
the CLI as users and Jenkins run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

from tests.conftest import REPO, run_cli
from tests.integration.deploy_fixtures import Project, client, primary_td, project, service, steady, wait_for

__all__ = ["project"]


def deploy(p: Project, *extra: str) -> Any:
    return run_cli(*p.args("--json", "deploy", "--image", "task-api:v2", *extra))


def td_count() -> int:
    return len(client("ecs").list_task_definitions(familyPrefix="task-api-local")["taskDefinitionArns"])


def test_happy_path(project: Project) -> None:
    before = primary_td()
    r = deploy(project)
    assert r.code == 0, r.stderr
    res = r.json
    assert res["status"] == "succeeded" and res["strategy"] == "rolling"
    assert res["previous_task_definition_arn"] == before
    assert res["task_definition_arn"] != before and res["task_definition_arn"].endswith(":2")
    assert primary_td() == res["task_definition_arn"]
    assert res["deployment_id"].startswith("ecs-svc/")
    assert res["timings"]["to_steady_state_seconds"] <= res["timings"]["total_seconds"]
    assert any("steady state" in e["message"] for e in res["events"])
    assert res["api_calls"]["total"] == sum(res["api_calls"]["by_operation"].values())
    assert res["api_calls"]["by_operation"]["ecs.UpdateService"] == 1
    targets = next(iter(res["target_health"]["targets"].values()))
    assert len(targets) == 2 and set(targets.values()) == {"healthy"}
    assert "reached a steady state" in r.stderr
    tags = {t["key"]: t["value"] for t in service()["tags"]}
    assert tags["pipeline-py:known-good"] == res["task_definition_arn"].rsplit("/", 1)[1]


def test_unchanged_revision_is_not_redeployed(project: Project) -> None:
    assert deploy(project).code == 0
    r = deploy(project)
    assert r.code == 0
    assert r.json["changed"] is False
    assert len(service()["deployments"]) == 1


def test_dry_run_changes_nothing(project: Project) -> None:
    before, count = primary_td(), td_count()
    r = deploy(project, "--dry-run")
    assert r.code == 0, r.stderr
    res = r.json
    assert res["status"] == "dry_run"
    assert '"image": "task-api:v2"' in res["diff"] or "task-api:v2" in res["diff"]
    assert any(step.startswith("ecs:UpdateService") for step in res["plan"])
    assert primary_td() == before and td_count() == count
    assert "UpdateService" not in json.dumps(res["api_calls"]) and "RegisterTaskDefinition" not in json.dumps(
        res["api_calls"])


def test_crash_on_start_is_rolled_back(project: Project) -> None:
    before = primary_td()
    r = deploy(project, "--var", "scenario=crash,exit-code=3")
    assert r.code == 1, r.stderr
    res = r.json
    assert res["status"] == "rolled_back"
    assert res["rollback"]["status"] == "succeeded"
    assert primary_td() == before
    wait_for(steady, what="the service to settle on the old revision")
    stopped = res["stopped_tasks"]
    assert stopped and all(t["containers"][0]["exitCode"] == 3 for t in stopped)
    assert "Essential container in task exited" in r.stderr
    assert "exit code 3" in r.stderr


def test_failing_health_checks_are_rolled_back(project: Project) -> None:
    before = primary_td()
    r = deploy(project, "--var", "scenario=unhealthy")
    assert r.code == 1, r.stderr
    assert r.json["status"] == "rolled_back"
    assert "ELB health checks" in r.stderr
    assert primary_td() == before


def test_alarm_during_bake_rolls_back(project: Project) -> None:
    """The alarm fires only once the deploy narrates that it is baking (read from its stderr)."""
    project.write(bake_seconds=60, alarms=["task-api-local-5xx"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline_py", *project.args("--json", "deploy", "--image", "task-api:v2")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if "==> baking" in line:
            client("cloudwatch").set_alarm_state(
                AlarmName="task-api-local-5xx", StateValue="ALARM",
                StateReason="Threshold Crossed: 1 datapoint [120.0] was greater than the threshold (50.0)")
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, "".join(seen) + err
    res = json.loads(out)
    assert res["status"] == "rolled_back"
    assert res["reason"].startswith("alarm went into ALARM during the deploy: task-api-local-5xx (Threshold Crossed")
    assert res["reason"].endswith("(during the bake)")
    assert res["failure_cause"] == "bake"
    assert primary_td().endswith(":1")


def test_timeout_rolls_back_and_says_why(project: Project) -> None:
    """The classic silent waiter timeout: old tasks drain for the target group's deregistration
    delay. The deploy must name that as the blocker."""
    client("elbv2").modify_target_group_attributes(
        TargetGroupArn=project.infra.target_groups["rolling"],
        Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "1000"}])
    before = primary_td()
    r = deploy(project, "--timeout", "2")
    assert r.code == 1, r.stderr
    res = r.json
    assert res["status"] == "rolled_back"
    assert res["rollback"]["task_definition_arn"] == before and primary_td() == before
    assert res["task_definition_arn"] != before
    assert res["failure_cause"] == "timeout"
    assert res["reason"].startswith("timed out after 2s")
    assert "draining" in res["reason"] and "deregistration delay 1000s" in res["reason"]


def test_ecs_circuit_breaker_rollback_is_a_failure(project: Project) -> None:
    """ECS's circuit breaker fails and rolls back the deployment between two of our polls (a slow
    poll interval here); the deploy must report that as a failure (rolled_back, exit 1) with
    ECS's reason, never as success."""
    project.write(max_failed_tasks=100, poll_interval=3)
    before = primary_td()
    r = deploy(project, "--var", "scenario=crash")
    assert r.code == 1, r.stderr
    res = r.json
    assert res["status"] == "rolled_back"
    assert res["failure_cause"] == "rollout_failed"
    assert res["reason"].startswith("ECS failed deployment")
    assert "Essential container in task exited" in res["reason"]
    assert primary_td() == before


def test_rollback_that_fails_exits_3(project: Project) -> None:
    """The rollback target itself cannot start (its image is gone, as when an ECR lifecycle policy
    expired it): the deploy must say a human is needed."""
    ecr = client("ecr")
    repo = ecr.create_repository(repositoryName="task-api")["repository"]["repositoryUri"]
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + "1" * 64, "size": 1,
                                      "mediaType": "application/vnd.docker.container.image.v1+json"},
                           "layers": []})
    digest = ecr.put_image(repositoryName="task-api", imageManifest=manifest, imageTag="v1")["image"]["imageId"][
        "imageDigest"]
    good = run_cli(*project.args("--json", "deploy", "--image", f"{repo}@{digest}"))
    assert good.code == 0, good.stderr
    ecr.batch_delete_image(repositoryName="task-api", imageIds=[{"imageDigest": digest}])
    client("ecs").update_service(cluster="task-api-local", service="task-api", deploymentConfiguration={
        "minimumHealthyPercent": 0, "maximumPercent": 100,
        "deploymentCircuitBreaker": {"enable": False, "rollback": False}})
    r = run_cli(*project.args("--json", "deploy", "--image", "task-api:v3", "--var", "scenario=crash",
                              "--rollback-timeout", "5"))
    assert r.code == 3, r.stderr
    res = r.json
    assert res["status"] == "failed"
    assert "MANUAL ACTION REQUIRED" in res["message"]
    assert res["rollback"]["status"] == "failed"
    # the rollback went to the revision that once succeeded, and the service is left on it (its tasks cannot
    # start: the image is gone), not on the crashing v3
    assert res["rollback"]["task_definition_arn"] == good.json["task_definition_arn"] == primary_td()


def test_abort_signal_rolls_back(project: Project) -> None:
    project.write(timeout=60)
    before = primary_td()
    env = {**os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline_py", *project.args("--json", "deploy", "--image", "task-api:v2",
                                                            "--var", "scenario=slow-start=60")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    wait_for(lambda: len(service()["deployments"]) == 2, timeout=30, what="the deployment to start")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    res = json.loads(out)
    assert res["status"] == "rolled_back"
    assert "aborted by SIGTERM" in res["reason"]
    assert primary_td() == before


def test_run_task_success_and_failure(project: Project) -> None:
    ok = run_cli(*project.args("--json", "run-task", "--command", "migrate --yes"))
    assert ok.code == 0, ok.stderr
    assert ok.json["container_exit_code"] == 0 and ok.json["container"] == "app"
    bad = run_cli(*project.args("--json", "run-task", "--command", '["migrate"]', "--var",
                                "APP_SCENARIO=exit-code=3"))
    assert bad.code == 1, bad.stderr
    assert bad.json["container_exit_code"] == 3
    assert "exited with code 3" in bad.json["message"]
    task = client("ecs").describe_tasks(cluster="task-api-local", tasks=[bad.json["task_arn"]])["tasks"][0]
    assert task["overrides"]["containerOverrides"][0]["command"] == ["migrate"]


def test_rollback_goes_to_the_last_known_good_revision_or_to(project: Project) -> None:
    first = primary_td()
    assert deploy(project).code == 0
    second = primary_td()
    assert deploy(project, "--var", "scenario=latency-ms=1").code == 0
    third = primary_td()
    r = run_cli(*project.args("--json", "rollback"))
    assert r.code == 0, r.stderr
    assert r.json["found_by"].startswith("last known-good") and primary_td() == second
    assert r.json["previous_task_definition_arn"] == third and r.json["target_known_good"] is True
    r = run_cli(*project.args("--json", "rollback", "--to", first))
    assert r.code == 0, r.stderr
    assert primary_td() == first and r.json["target_known_good"] is False


def test_rollback_without_a_known_good_revision_needs_a_human(project: Project) -> None:
    """The revision the service ran before pipeline-py never succeeded through it: nothing is known-good
    but the current one, so rollback refuses to guess and lists the candidates."""
    first = primary_td()
    assert deploy(project).code == 0
    second = primary_td()
    r = run_cli(*project.args("--json", "rollback"))
    assert r.code == 3, r.stderr
    assert primary_td() == second
    assert r.json["known_good"] == [second.rsplit("/", 1)[1]]
    assert r.json["candidates"] == [second.rsplit("/", 1)[1], first.rsplit("/", 1)[1]]
    assert "never recorded as succeeded" in r.json["message"] and "--to" in r.json["message"]


def test_status_shows_deployments_events_and_targets(project: Project) -> None:
    r = run_cli(*project.args("--json", "status"))
    assert r.code == 0, r.stderr
    svc = r.json["services"][0]
    assert svc["deployments"][0]["status"] == "PRIMARY"
    assert svc["target_health"] and svc["events"]


def test_bad_input(project: Project) -> None:
    cases = [
        (["--set", "cluster=nope", "deploy", "--image", "x"], "ECS cluster 'nope' not found"),
        (["--set", "ecs_service=ghost", "deploy", "--image", "x"], "ECS service 'ghost' not found"),
        (["deploy", "--image", "x", "--timeout", "-5"], "timeout"),
        (["deploy", "--image", "x", "--poll-interval", "soon"], "poll_interval"),
        (["rollback", "--to", "arn:aws:ecs:us-east-1:123456789012:task-definition/nope:9"], "no such task definition"),
    ]
    before = primary_td()
    for argv, text in cases:
        r = run_cli(*project.args("--json", *argv))
        assert r.code == 2, (argv, r.stderr)
        assert text in r.json["message"], (argv, r.json["message"])
        assert "Traceback" not in r.stderr
    assert primary_td() == before


def test_code_deploy_controller_is_refused_with_advice(project: Project) -> None:
    ecs = client("ecs")
    ecs.create_service(cluster="task-api-local", serviceName="legacy", taskDefinition=primary_td(), desiredCount=1,
                       launchType="FARGATE", deploymentController={"type": "CODE_DEPLOY"},
                       networkConfiguration={"awsvpcConfiguration": {
                           "subnets": project.infra.subnets, "securityGroups": [project.infra.security_group]}})
    r = run_cli(*project.args("--json", "--set", "ecs_service=legacy", "deploy", "--image", "x"))
    assert r.code == 2
    assert "CODE_DEPLOY" in r.json["message"] and "blue-green" in r.json["message"]

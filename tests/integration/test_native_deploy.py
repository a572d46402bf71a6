"""ECS-native blue/green, linear and canary deploys (one service; the simulated ECS moves the production
listener rule's weights and waits at pipeline-py's PAUSE hooks) on the local stack. After every
scenario: the rule's weights as ELBv2 reports them, the service's revision, the service deployment's
status as ECS reports it, and the JSON result."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory
from pipeline_py.local import sandbox
from tests.conftest import EXAMPLE, REPO, run_cli, wait_for
from tests.integration.deploy_fixtures import Project, client, primary_td, service, steady

NATIVE = "task-api-native"
NATIVE_ENV: dict[str, Any] = {
    "ecs_service": NATIVE,
    "strategy": "ecs-canary",
    "native": {"canary_percent": 10, "linear_step_percent": 50, "bake_minutes": 0},
}


def configure(p: Project, **over: Any) -> None:
    """The native environment with ``over`` merged in (one level deep)."""
    env = {k: (dict(v) if isinstance(v, dict) else v) for k, v in NATIVE_ENV.items()}
    for k, v in over.items():
        env[k] = {**env[k], **v} if isinstance(v, dict) and isinstance(env.get(k), dict) else v
    p.write(**env)


@pytest.fixture
def native(aws: Any, tmp_path: Path) -> Project:
    infra = sandbox.ensure(AwsFactory(), native=True)
    (tmp_path / "deploy").mkdir()
    shutil.copy(EXAMPLE / "deploy" / "taskdef.json.j2", tmp_path / "deploy" / "taskdef.json.j2")
    p = Project(tmp_path, tmp_path / "pipeline.yaml", infra)
    p.write(**NATIVE_ENV)
    wait_for(lambda: steady(NATIVE), what="the native service to settle")
    return p


def rule_weights(p: Project, which: str = "production") -> dict[str, int]:
    """Weights of the production (or test) listener rule, keyed a / b (the two target groups)."""
    assert p.infra.native is not None
    arn = p.infra.native.production_rule if which == "production" else p.infra.native.test_rule
    rule = client("elbv2").describe_rules(RuleArns=[arn])["Rules"][0]
    groups = rule["Actions"][0]["ForwardConfig"]["TargetGroups"]
    name = {p.infra.native.target_groups["production"]: "a", p.infra.native.target_groups["alternate"]: "b"}
    return {name[g["TargetGroupArn"]]: g["Weight"] for g in groups}


def service_deployment(arn: str | None = None) -> dict[str, Any]:
    ecs = client("ecs")
    if arn is None:
        arn = ecs.list_service_deployments(cluster="task-api-local", service=NATIVE)["serviceDeployments"][0][
            "serviceDeploymentArn"]
    return ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def deploy(p: Project, *extra: str, strategy: str = "ecs-canary") -> Any:
    return run_cli(*p.args("--json", "deploy", "--strategy", strategy, "--image", "task-api:v2", *extra))


def popen(p: Project, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "pipeline_py", *p.args("--json", "deploy", "--strategy",
                                                                          "ecs-canary", "--image", "task-api:v2",
                                                                          *extra)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_good_canary_is_promoted_with_every_stage_narrated(native: Project) -> None:
    before = primary_td(NATIVE)
    r = deploy(native)
    assert r.code == 0, r.stderr
    res = r.json
    assert res["status"] == "succeeded"
    assert [s["stage"] for s in res["lifecycle"]] == [
        "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME",
        "CLEAN_UP"]
    for stage in ("SCALE_UP", "PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "CLEAN_UP"):
        assert f"ECS: {stage}" in r.stderr
    assert "event: (service task-api-native) shifted 10% of production traffic" in r.stderr
    assert [(h["stage"], h["action"], h["weight"]) for h in res["hooks"]] == [
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", "CONTINUE", 0), ("PRE_PRODUCTION_TRAFFIC_SHIFT", "CONTINUE", 10),
        ("POST_PRODUCTION_TRAFFIC_SHIFT", "CONTINUE", 100)]
    assert [a["weight"] for a in res["analysis"]] == [10, 100]
    canary = res["analysis_samples"][0]
    assert canary["canary"]["requests"] > 0 and canary["stable"]["requests"] > canary["canary"]["requests"]
    assert rule_weights(native) == {"a": 0, "b": 100}
    assert rule_weights(native, "test") == {"a": 0, "b": 100}
    assert primary_td(NATIVE) != before and primary_td(NATIVE) == res["task_definition_arn"]
    sd = service_deployment(res["service_deployment_arn"])
    assert sd["status"] == "SUCCESSFUL" and sd["deploymentConfiguration"]["strategy"] == "CANARY"
    assert sd["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100
    tags = {t["key"]: t["value"] for t in service(NATIVE).get("tags", [])}
    assert tags["pipeline-py:known-good"].split()[0] == res["task_definition_arn"].rsplit("/", 1)[1]
    reports = list((native.dir / ".pipeline-py" / "reports").glob("*ecs-canary*.html"))
    assert reports and "weights-green" in reports[0].read_text()
    # the next deploy goes to the other target group: ECS swapped the roles
    again = deploy(native, "--var", "version=3")
    assert again.code == 0, again.stderr
    assert again.json["target_groups"]["green"] == native.infra.native.target_groups["production"]  # type: ignore[union-attr]
    assert rule_weights(native) == {"a": 100, "b": 0}


def test_a_bad_canary_is_rolled_back_by_the_analysis_with_the_numbers(native: Project) -> None:
    before = primary_td(NATIVE)
    r = deploy(native, "--var", "scenario=error-rate=0.2")
    assert r.code == 1, r.stderr
    res = r.json
    assert res["status"] == "rolled_back" and res["failure_cause"] == "analysis"
    assert res["rolled_back_by"] == "pipeline-py" and "5XX rate" in res["reason"]
    assert [a["weight"] for a in res["analysis"]] == [10]
    bad = [s for s in res["analysis"][0]["samples"] if s["result"] == "fail"]
    assert bad and all(s["canary"]["error_rate"] > 0.05 and s["stable"]["error_rate"] == 0 for s in bad)
    assert res["hooks"][-1]["action"] == "ROLLBACK" and res["hooks"][-1]["stage"] == "PRE_PRODUCTION_TRAFFIC_SHIFT"
    assert "analysis at 10%: FAIL" in r.stderr and "traffic restored: weights now blue 100%, green 0%" in r.stderr
    assert rule_weights(native) == {"a": 100, "b": 0}
    assert primary_td(NATIVE) == before
    sd = service_deployment(res["service_deployment_arn"])
    assert sd["status"] == "ROLLBACK_SUCCESSFUL" and sd["rollback"]["reason"]
    wait_for(lambda: steady(NATIVE), what="the new tasks to be gone")


def test_a_linear_deploy_is_judged_at_every_step(native: Project) -> None:
    r = deploy(native, strategy="ecs-linear")
    assert r.code == 0, r.stderr
    res = r.json
    assert res["steps"] == [50, 100] and [a["weight"] for a in res["analysis"]] == [50, 100]
    assert [w["green"] for w in res["weight_changes"]] == [0, 50, 100]
    assert service(NATIVE)["deploymentConfiguration"]["linearConfiguration"]["stepPercent"] == 50
    assert rule_weights(native) == {"a": 0, "b": 100}


def test_blue_green_with_a_failing_smoke_check_on_the_test_listener(native: Project, failing_url: str) -> None:
    configure(native, smoke={"url": failing_url, "retries": 2, "interval": 0.1}, native={"test_url": failing_url})
    before = primary_td(NATIVE)
    r = deploy(native, strategy="ecs-blue-green")
    assert r.code == 1, r.stderr
    res = r.json
    assert res["status"] == "rolled_back" and res["failure_cause"] == "smoke" and "HTTP 500" in res["reason"]
    assert [(h["stage"], h["action"]) for h in res["hooks"]] == [("POST_TEST_TRAFFIC_SHIFT", "ROLLBACK")]
    assert all(w["green"] == 0 for w in res["weight_changes"])  # production never moved
    assert rule_weights(native) == {"a": 100, "b": 0} and rule_weights(native, "test") == {"a": 100, "b": 0}
    assert primary_td(NATIVE) == before
    assert requests.get(failing_url, timeout=5).status_code == 500


def test_a_human_gate_paused_then_promoted(native: Project) -> None:
    r = deploy(native, "--pause-at", "10")
    assert r.code == 0, r.stderr
    assert r.json["status"] == "paused" and r.json["paused"]["weight"] == 10
    assert rule_weights(native) == {"a": 90, "b": 10}
    sd = service_deployment()
    hook = next(h for h in sd["lifecycleHookDetails"] if h["status"] == "AWAITING_ACTION")
    assert hook["targetType"] == "PAUSE" and hook["timeoutAction"] == "ROLLBACK" and hook["expiresAt"]
    assert hook["hookId"] == r.json["paused"]["hook_id"]
    again = deploy(native)
    assert again.code == 2 and "deploy promote" in again.json["message"]
    p = run_cli(*native.args("--json", "deploy", "promote"))
    assert p.code == 0, p.stderr
    assert p.json["status"] == "succeeded" and [a["weight"] for a in p.json["analysis"]] == [100]
    assert p.json["hooks"][0]["action"] == "CONTINUE" and p.json["hooks"][0]["reason"] == "promoted by request"
    assert rule_weights(native) == {"a": 0, "b": 100}
    assert service_deployment()["status"] == "SUCCESSFUL"


def test_a_human_gate_paused_then_aborted(native: Project) -> None:
    before = primary_td(NATIVE)
    r = deploy(native, "--pause-at", "POST_TEST_TRAFFIC_SHIFT")
    assert r.code == 0, r.stderr
    assert r.json["paused"]["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert rule_weights(native) == {"a": 100, "b": 0} and rule_weights(native, "test") == {"a": 0, "b": 100}
    a = run_cli(*native.args("--json", "deploy", "abort"))
    assert a.code == 1, a.stderr
    assert a.json["status"] == "rolled_back" and "aborted by request at 0%" in a.json["reason"]
    assert rule_weights(native) == {"a": 100, "b": 0} and rule_weights(native, "test") == {"a": 100, "b": 0}
    assert primary_td(NATIVE) == before and service_deployment()["status"] == "ROLLBACK_SUCCESSFUL"


def test_sigterm_mid_deploy_rolls_back_through_ecs(native: Project) -> None:
    configure(native, canary={"bake_seconds": 30})
    before = primary_td(NATIVE)
    proc = popen(native)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "analysing the new revision at 10%" in line:
            assert rule_weights(native) == {"a": 90, "b": 10}
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    res = json.loads(out)
    assert res["status"] == "rolled_back" and "SIGTERM" in res["reason"] and res["failure_cause"] == "aborted"
    assert res["hooks"][-1]["action"] == "ROLLBACK"
    assert rule_weights(native) == {"a": 100, "b": 0} and primary_td(NATIVE) == before
    assert service_deployment(res["service_deployment_arn"])["status"] == "ROLLBACK_SUCCESSFUL"


def test_ecs_own_alarm_rollback_is_reported_as_a_failure(native: Project) -> None:
    alarm = native.infra.alarm
    configure(native, alarms=[], native={"ecs_alarms": [alarm]}, canary={"bake_seconds": 4})
    proc = popen(native)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "analysing the new revision at 10%" in line:
            client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM",
                                                 StateReason="Threshold Crossed (test)")
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    res = json.loads(out)
    assert res["status"] == "rolled_back" and res["rolled_back_by"] == "ECS"
    assert res["reason"].startswith("ECS rolled the deployment back") and alarm in res["reason"]
    sd = service_deployment(res["service_deployment_arn"])
    assert sd["status"] == "ROLLBACK_SUCCESSFUL" and sd["alarms"]["triggeredAlarmNames"] == [alarm]
    assert rule_weights(native) == {"a": 100, "b": 0}


def test_a_gate_that_times_out_is_rolled_back_by_ecs(native: Project, aws: Any) -> None:
    configure(native, native={"gate_timeout_minutes": 1})
    requests.post(f"{aws.url}/_pipeline_py/timing", json={"lifecycle_hook_scale": 0.02}, timeout=10)  # 1 min = 1.2 s
    r = deploy(native, "--pause-at", "POST_TEST_TRAFFIC_SHIFT")
    assert r.code == 0 and r.json["status"] == "paused", r.stderr
    wait_for(lambda: service_deployment()["status"] == "ROLLBACK_SUCCESSFUL", timeout=20,
             what="ECS to time the hook out and roll back")
    hooks = service_deployment()["lifecycleHookDetails"]
    assert [h["status"] for h in hooks] == ["TIMED_OUT"]
    p = run_cli(*native.args("--json", "deploy", "promote"))
    assert p.code == 1, p.stderr
    assert p.json["status"] == "rolled_back" and "timed out" in p.json["message"]
    assert rule_weights(native) == {"a": 100, "b": 0}


def test_ecs_refuses_invalid_native_requests(native: Project) -> None:
    ecs = client("ecs")
    td = primary_td(NATIVE)
    for stage in ("TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
        with pytest.raises(ClientError, match=f"not supported for the {stage} lifecycle stage") as exc:
            ecs.update_service(cluster="task-api-local", service=NATIVE, taskDefinition=td, deploymentConfiguration={
                "strategy": "BLUE_GREEN", "bakeTimeInMinutes": 0,
                "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": [stage]}]})
        assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError, match="only valid when the deployment strategy is CANARY"):
        ecs.update_service(cluster="task-api-local", service="task-api", deploymentConfiguration={
            "strategy": "LINEAR", "canaryConfiguration": {"canaryPercent": 5}})
    with pytest.raises(ClientError, match="requires advancedConfiguration"):
        ecs.update_service(cluster="task-api-local", service="task-api", deploymentConfiguration={
            "strategy": "CANARY"})
    r = deploy(native, "--pause-at", "POST_TEST_TRAFFIC_SHIFT")
    assert r.code == 0, r.stderr
    arn = r.json["paused"]["service_deployment_arn"]
    with pytest.raises(ClientError, match=r"not in AWAITING_ACTION|was not found") as exc:
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="ecs-pause-not-a-hook", action="CONTINUE")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=r.json["paused"]["hook_id"], action="ROLLBACK")
    with pytest.raises(ClientError, match="not in AWAITING_ACTION"):
        ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=r.json["paused"]["hook_id"],
                                        action="CONTINUE")
    wait_for(lambda: service_deployment(arn)["status"] == "ROLLBACK_SUCCESSFUL", what="the rollback")

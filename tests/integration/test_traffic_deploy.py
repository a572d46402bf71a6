"""Blue-green, canary and linear deploys on the local stack: the listener's weights, the services'
desired counts and the JSON result are asserted after every scenario."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import pytest
import requests

from tests.conftest import REPO, run_cli
from tests.integration.deploy_fixtures import Project, client, project, service

__all__ = ["project"]


def weights(p: Project) -> dict[str, int]:
    listener = client("elbv2").describe_listeners(ListenerArns=[p.infra.listeners["80"]])["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    colour = {p.infra.target_groups["blue"]: "blue", p.infra.target_groups["green"]: "green"}
    return {colour[g["TargetGroupArn"]]: g["Weight"] for g in groups}


def desired(name: str) -> int:
    return service(name)["desiredCount"]


def live_revision() -> str:
    """The revision of blue, the colour serving before each deploy here: a rollback must leave it serving."""
    return str(service("task-api-blue")["taskDefinition"])


def deploy(p: Project, strategy: str, *extra: str) -> Any:
    return run_cli(*p.args("--json", "deploy", "--strategy", strategy, "--image", "task-api:v2", *extra))


def test_canary_good_version_promoted_through_every_step(project: Project) -> None:
    r = deploy(project, "canary")
    assert r.code == 0, r.stderr
    res = r.json
    assert res["status"] == "succeeded"
    assert [a["weight"] for a in res["analysis"]] == [10, 25, 50, 100]
    assert all(a["result"] == "pass" for a in res["analysis"])
    samples = [s for a in res["analysis"] for s in a["samples"]]
    assert len(samples) >= 4 and all(s["canary"]["requests"] > 0 for s in samples)
    assert [w["green"] for w in res["weight_changes"]] == [10, 25, 50, 100]
    assert weights(project) == {"blue": 0, "green": 100}
    assert desired("task-api-green") == 2 and desired("task-api-blue") == 0
    assert res["new_colour"] == "green" and res["live_colour"] == "blue"


def test_linear_uses_equal_steps(project: Project) -> None:
    project.write(canary={"linear_step": 50, "bake_seconds": 1})
    r = deploy(project, "linear")
    assert r.code == 0, r.stderr
    assert [w["green"] for w in r.json["weight_changes"]] == [50, 100]
    assert weights(project) == {"blue": 0, "green": 100}


def test_elevated_5xx_rolled_back_at_the_first_step(project: Project) -> None:
    before = live_revision()
    r = deploy(project, "canary", "--var", "scenario=error-rate=0.2")
    assert r.code == 1, r.stderr
    res = r.json
    assert res["status"] == "rolled_back"
    assert [a["weight"] for a in res["analysis"]] == [10]
    assert res["analysis"][0]["result"] == "fail"
    bad = [s for s in res["analysis"][0]["samples"] if s["result"] == "fail"]
    assert bad and all(s["canary"]["error_rate"] > 0.05 for s in bad)
    assert "5XX rate" in res["reason"]
    assert weights(project) == {"blue": 100, "green": 0}
    assert desired("task-api-green") == 0 and desired("task-api-blue") == 2
    assert live_revision() == before == res["previous_task_definition_arn"]
    assert "analysis at 10%: FAIL" in r.stderr


def test_high_p99_rolled_back(project: Project) -> None:
    before = live_revision()
    r = deploy(project, "canary", "--var", "scenario=p99-ms=900")
    assert r.code == 1, r.stderr
    assert "p99" in r.json["reason"]
    assert weights(project) == {"blue": 100, "green": 0}
    assert desired("task-api-green") == 0 and live_revision() == before


@pytest.mark.parametrize("policy, code", [("fail", 1), ("pass", 0)])
def test_low_traffic_guard(project: Project, policy: str, code: int) -> None:
    project.write(canary={"steps": [50, 100], "bake_seconds": 1,
                          "analysis": {"min_requests": 10_000_000, "inconclusive": policy}})
    r = deploy(project, "canary")
    assert r.code == code, r.stderr
    samples = [s for a in r.json["analysis"] for s in a["samples"]]
    assert samples and all(s["result"] == "inconclusive" for s in samples)
    if policy == "fail":
        assert "inconclusive" in r.json["reason"]
        assert weights(project) == {"blue": 100, "green": 0}
    else:
        assert weights(project) == {"blue": 0, "green": 100}


def test_alarm_during_canary_bake(project: Project) -> None:
    project.write(alarms=["task-api-local-5xx"], canary={"bake_seconds": 30})
    proc = subprocess.Popen([sys.executable, "-m", "pipeline_py",
                             *project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v2")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "analysing green at 10%" in line:
            client("cloudwatch").set_alarm_state(AlarmName="task-api-local-5xx", StateValue="ALARM",
                                                 StateReason="Threshold Crossed (test)")
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    res = json.loads(out)
    assert res["status"] == "rolled_back" and "task-api-local-5xx" in res["reason"]
    assert weights(project) == {"blue": 100, "green": 0}
    assert live_revision() == res["previous_task_definition_arn"] and desired("task-api-green") == 0


def test_blue_green_switches_in_one_step_and_scales_the_old_colour_down(project: Project) -> None:
    r = deploy(project, "blue-green")
    assert r.code == 0, r.stderr
    res = r.json
    assert res["weight_changes"] == [{"blue": 0, "green": 100}]
    assert weights(project) == {"blue": 0, "green": 100}
    assert desired("task-api-blue") == 0 and desired("task-api-green") == 2
    # the next deploy goes to blue: the live colour is read from the listener
    r2 = deploy(project, "blue-green", "--var", "version=3")
    assert r2.code == 0, r2.stderr
    assert r2.json["new_colour"] == "blue"
    assert weights(project) == {"blue": 100, "green": 0}


def test_blue_green_smoke_failure_never_takes_traffic(project: Project, failing_url: str) -> None:
    project.write(blue_green={"test_url": failing_url}, smoke={"url": failing_url, "retries": 2, "interval": 0.1})
    r = deploy(project, "blue-green")
    assert r.code == 1, r.stderr
    res = r.json
    assert res["status"] == "rolled_back" and res["failure_cause"] == "smoke"
    assert "HTTP 500" in res["reason"]
    assert res["weight_changes"] == [{"blue": 100, "green": 0}]  # only the rollback's (verified) restore
    assert weights(project) == {"blue": 100, "green": 0}
    assert desired("task-api-green") == 0 and live_revision() == res["previous_task_definition_arn"]
    assert requests.get(failing_url, timeout=5).status_code == 500


def test_abort_signal_mid_shift_restores_stable(project: Project) -> None:
    project.write(canary={"bake_seconds": 30})
    proc = subprocess.Popen([sys.executable, "-m", "pipeline_py",
                             *project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v2")],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "weights now" in line and "green 10%" in line:
            assert weights(project) == {"blue": 90, "green": 10}
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    res = json.loads(out)
    assert res["status"] == "rolled_back" and "SIGTERM" in res["reason"]
    assert weights(project) == {"blue": 100, "green": 0}
    assert desired("task-api-green") == 0 and live_revision() == res["previous_task_definition_arn"]


def test_pause_then_promote(project: Project) -> None:
    r = deploy(project, "canary", "--pause-at", "25")
    assert r.code == 0, r.stderr
    assert r.json["status"] == "paused"
    assert weights(project) == {"blue": 75, "green": 25}
    tags = {t["key"]: t["value"] for t in service("task-api-green")["tags"]}
    assert tags["pipeline-py:rollout"] == "paused" and tags["pipeline-py:rollout-stable"] == "blue"
    again = deploy(project, "canary")
    assert again.code == 2 and "paused" in again.json["message"]
    p = run_cli(*project.args("--json", "deploy", "promote"))
    assert p.code == 0, p.stderr
    assert p.json["status"] == "succeeded"
    assert [a["weight"] for a in p.json["analysis"]] == [50, 100]
    assert weights(project) == {"blue": 0, "green": 100}
    assert desired("task-api-blue") == 0
    assert "pipeline-py:rollout" not in {t["key"] for t in service("task-api-green").get("tags", [])}


def test_pause_then_abort(project: Project) -> None:
    before = live_revision()
    r = deploy(project, "canary", "--pause-at", "10")
    assert r.code == 0 and r.json["status"] == "paused", r.stderr
    assert weights(project) == {"blue": 90, "green": 10}
    a = run_cli(*project.args("--json", "deploy", "abort"))
    assert a.code == 1, a.stderr
    assert a.json["status"] == "rolled_back" and "aborted by request at 10%" in a.json["reason"]
    assert weights(project) == {"blue": 100, "green": 0}
    assert desired("task-api-green") == 0 and desired("task-api-blue") == 2
    assert live_revision() == before


def test_bad_input(project: Project) -> None:
    cases = [
        (["--set", "canary.steps=[10, 50]"], "steps must end at 100"),
        (["--set", "canary.steps=[50, 25, 100]"], "steps must be increasing"),
        (["--set", "canary.analysis.max_error_rate=2"], "max_error_rate"),
        (["--set", "blue_green.services.green=null"], "missing: blue_green.services.green"),
    ]
    for extra, text in cases:
        r = run_cli(*project.args("--json", *extra, "deploy", "--strategy", "canary", "--image", "x"))
        assert r.code == 2, (extra, r.stderr)
        assert text in r.json["message"], (extra, r.json["message"])
    assert weights(project) == {"blue": 100, "green": 0}
    r = run_cli(*project.args("--json", "deploy", "--strategy", "blue-green", "--image", "x", "--pause-at", "50"))
    assert r.code == 2 and "canary and linear" in r.json["message"]


def _bounds(name: str) -> tuple[int, int]:
    t = client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/task-api-local/{name}"])["ScalableTargets"][0]
    return t["MinCapacity"], t["MaxCapacity"]


@pytest.mark.parametrize("scenario, code", [("healthy", 0), ("error-rate=0.5", 1)])
def test_the_deploy_owns_autoscaling_bounds_of_the_colours(project: Project, scenario: str, code: int) -> None:
    """Autoscaling would bring a colour scaled to 0 back to its minimum: the deploy copies the live
    colour's bounds to the new colour and parks the colour it takes out of service at 0/0."""
    aas = client("application-autoscaling")
    for name, bounds in (("task-api-blue", (2, 6)), ("task-api-green", (1, 1))):
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=f"service/task-api-local/{name}",
                                     ScalableDimension="ecs:service:DesiredCount",
                                     MinCapacity=bounds[0], MaxCapacity=bounds[1])
    project.write(canary={"steps": [50, 100], "bake_seconds": 1})
    r = deploy(project, "canary", "--var", f"scenario={scenario}")
    assert r.code == code, r.stderr
    if code == 0:
        assert _bounds("task-api-green") == (2, 6) and _bounds("task-api-blue") == (0, 0)
        assert desired("task-api-blue") == 0
    else:
        assert _bounds("task-api-green") == (0, 0) and _bounds("task-api-blue") == (2, 6)
        assert desired("task-api-green") == 0 and desired("task-api-blue") == 2

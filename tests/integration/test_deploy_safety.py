"""Deploy safety on the local stack, each case a reproduction of what broke before: two deploys of one
service at once (two real CLI processes), a failed abort, fixing forward while an alarm fires, the
new colour's capacity. Every case asserts the state AWS ends in (weights, desired counts, tags,
revision), not only the exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import requests

from tests.conftest import REPO, run_cli, wait_for
from tests.integration.deploy_fixtures import Project, client, primary_td, project, service
from tests.integration.test_traffic_deploy import desired, weights

__all__ = ["project"]


def start(p: Project, *argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen([sys.executable, "-m", "pipeline_py", *p.args("--json", *argv)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def wait_for_line(proc: subprocess.Popen[str], text: str, seen: list[str]) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never narrated:\n{''.join(seen)}")


def tags(name: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in service(name)["tags"]}


def test_two_canaries_of_one_service_never_interleave(project: Project) -> None:
    """The second deploy exits 2 naming the first (a Jenkins build), and never touches the colours;
    with --wait-for-lock it queues and deploys after the first."""
    project.write(canary={"bake_seconds": 3})
    first = start(project, "deploy", "--strategy", "canary", "--image", "task-api:v2",
                  env={"JOB_NAME": "task-api/main", "BUILD_NUMBER": "41", "BUILD_URL": "http://jenkins/41/"})
    seen: list[str] = []
    wait_for_line(first, "weights now", seen)
    second = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v3"))
    assert second.code == 2, second.stderr
    assert second.json["status"] == "locked"
    assert "jenkins task-api/main#41" in second.json["message"] and "--wait-for-lock" in second.json["message"]
    assert second.json["lock"]["url"] == "http://jenkins/41/"
    queued = start(project, "deploy", "--strategy", "canary", "--image", "task-api:v3", "--wait-for-lock", "120s")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, "".join(seen) + err
    out2, err2 = queued.communicate(timeout=180)
    assert queued.returncode == 0, err2
    assert "waiting for the deploy lock" in err2
    first_res, queued_res = json.loads(out), json.loads(out2)
    assert first_res["new_colour"] == "green" and queued_res["new_colour"] == "blue"
    assert weights(project) == {"blue": 100, "green": 0}
    assert desired("task-api-blue") == 2 and desired("task-api-green") == 0
    assert client("dynamodb").scan(TableName="pipeline-py-locks")["Items"] == []


def test_two_rolling_deploys_never_interleave(project: Project) -> None:
    project.write(bake_seconds=3)
    first = start(project, "deploy", "--image", "task-api:v2")
    seen: list[str] = []
    wait_for_line(first, "deploy lock task-api-local/task-api taken", seen)
    second = run_cli(*project.args("--json", "deploy", "--image", "task-api:v3"))
    assert second.code == 2 and second.json["status"] == "locked"
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    res = json.loads(out)
    assert primary_td() == res["task_definition_arn"]
    assert tags("task-api")["pipeline-py:known-good"] == res["task_definition_arn"].rsplit("/", 1)[1]


def test_a_failed_abort_keeps_the_canary_serving_and_abort_finishes_later(project: Project, aws: Any) -> None:
    """Paused at 25%; the listener then ignores every change. `deploy abort` must exit 3 without
    scaling down the colour carrying 25% of the traffic, and keep what a later abort needs."""
    r = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v2",
                              "--pause-at", "25"))
    assert r.code == 0 and r.json["status"] == "paused", r.stderr
    assert weights(project) == {"blue": 75, "green": 25}
    requests.post(aws.url + "/_pipeline_py/faults", json={"elbv2.ignore_weight_changes": 1000},
                  timeout=5).raise_for_status()
    failed = run_cli(*project.args("--json", "deploy", "abort"))
    assert failed.code == 3, failed.stderr
    assert failed.json["status"] == "failed" and "traffic NOT restored" in failed.json["message"]
    assert "still carries 25% of the traffic" in failed.json["message"]
    assert weights(project) == {"blue": 75, "green": 25}
    assert desired("task-api-green") == 2 and desired("task-api-blue") == 2
    assert tags("task-api-green")["pipeline-py:rollout"] == "restore-failed"
    again = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v3"))
    assert again.code == 2 and "unfinished" in again.json["message"]
    requests.delete(aws.url + "/_pipeline_py/faults", timeout=5).raise_for_status()
    done = run_cli(*project.args("--json", "deploy", "abort"))
    assert done.code == 1, done.stderr
    assert done.json["status"] == "rolled_back" and done.json["resumed_at"] == 25
    assert weights(project) == {"blue": 100, "green": 0}
    assert desired("task-api-green") == 0 and desired("task-api-blue") == 2
    assert "pipeline-py:rollout" not in tags("task-api-green")


def test_weights_that_never_take_effect_roll_back_cleanly(project: Project, aws: Any) -> None:
    """The first shift is ignored every time: no request ever reached green, so the rollback is clean
    (exit 1) and green is scaled back to 0."""
    requests.post(aws.url + "/_pipeline_py/faults", json={"elbv2.ignore_weight_changes": 3},
                  timeout=5).raise_for_status()
    project.write(blue_green={"verify_retries": 3})
    r = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v2"))
    assert r.code == 1, r.stderr
    assert r.json["status"] == "rolled_back" and "did not take effect after 3 attempts" in r.json["reason"]
    assert r.json["rollback"]["restored"] is True
    assert weights(project) == {"blue": 100, "green": 0}
    assert desired("task-api-green") == 0 and desired("task-api-blue") == 2
    assert "pipeline-py:rollout" not in tags("task-api-green")


def test_fixing_forward_while_an_alarm_fires(project: Project) -> None:
    """The live revision set the alarm off; the fix takes traffic, the alarm clears within the grace,
    and the deploy succeeds instead of rolling the fix back onto the broken revision."""
    project.write(alarms=["task-api-local-5xx"], alarm_grace=60, bake_seconds=1)
    cw = client("cloudwatch")
    cw.set_alarm_state(AlarmName="task-api-local-5xx", StateValue="ALARM",
                       StateReason="Threshold Crossed: the live revision answers 5XX")
    proc = start(project, "deploy", "--image", "task-api:v2")
    seen: list[str] = []
    wait_for_line(proc, "waiting up to", seen)
    cw.set_alarm_state(AlarmName="task-api-local-5xx", StateValue="OK", StateReason="fixed")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, "".join(seen) + err
    res = json.loads(out)
    assert res["status"] == "succeeded" and res["alarms_in_alarm_at_start"] == ["task-api-local-5xx"]
    assert primary_td() == res["task_definition_arn"]
    assert "already in ALARM when the deploy started" in "".join(seen)


def test_an_alarm_never_exits_2(project: Project) -> None:
    project.write(alarms=["task-api-local-5xx"], preexisting_alarms="fail")
    client("cloudwatch").set_alarm_state(AlarmName="task-api-local-5xx", StateValue="ALARM", StateReason="x")
    before = primary_td("task-api-blue")
    r = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v2"))
    assert r.code == 1 and r.json["status"] == "not_started", r.stderr
    assert "preexisting_alarms: fail" in r.json["message"]
    assert primary_td("task-api-blue") == before and weights(project) == {"blue": 100, "green": 0}


def test_the_new_colour_gets_the_live_colours_count(project: Project) -> None:
    client("ecs").update_service(cluster="task-api-local", service="task-api-blue", desiredCount=3)
    wait_for(lambda: service("task-api-blue")["runningCount"] == 3, 30, what="blue at 3 tasks")
    project.write(desired_count=2)
    r = run_cli(*project.args("--json", "deploy", "--strategy", "blue-green", "--image", "task-api:v2"))
    assert r.code == 0, r.stderr
    assert r.json["new_colour_desired"] == 3
    assert desired("task-api-green") == 3 and desired("task-api-blue") == 0


def test_unlock_breaks_only_expired_locks_or_forced_with_the_id(project: Project) -> None:
    ddb = client("dynamodb")
    key = "task-api-local/task-api"
    ddb.put_item(TableName="pipeline-py-locks", Item={
        "LockId": {"S": key}, "LeaseId": {"S": "deadbeef"}, "Who": {"S": "jenkins old#1"},
        "Command": {"S": "deploy"}, "Pid": {"N": "99"}, "Host": {"S": "agent"},
        "Since": {"S": "2026-01-01T00:00:00+00:00"}, "Expires": {"N": "4102444800"}})
    r = run_cli(*project.args("--json", "unlock"))
    assert r.code == 2 and "has not expired" in r.json["message"] and "--lock-id deadbeef" in r.json["message"]
    r = run_cli(*project.args("--json", "unlock", "--force", "--lock-id", "other"))
    assert r.code == 2 and "is not the lock's id" in r.json["message"]
    r = run_cli(*project.args("--json", "unlock", "--force", "--lock-id", "deadbeef"))
    assert r.code == 0 and r.json["removed"] is True
    assert "Item" not in ddb.get_item(TableName="pipeline-py-locks", Key={"LockId": {"S": key}})

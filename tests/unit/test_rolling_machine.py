"""The rolling phase machine on fakes and the fake clock: every transition, each asserting the state
the service ends in (its revision, its desired count, the known-good record), not only the status."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_py.deploy import engine
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.rollback import KNOWN_GOOD_TAG
from pipeline_py.deploy.views import td_label
from pipeline_py.errors import Aborted, BadInput
from tests.fakes import HOLDER, Behaviour, World, client_error, world

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1"


def setup(**behaviour: Any) -> tuple[World, str, str]:
    w = world()
    old = w.ecs.revision("app")
    new = w.ecs.revision("app", Behaviour(**behaviour))
    w.ecs.add_service("app", old, desired=2, target_groups=[TG])
    return w, old, new


def request(arn: str | None, **kw: Any) -> DeployRequest:
    base: dict[str, Any] = {"strategy": "rolling", "cluster": "c", "service": "app", "task_definition_arn": arn,
                            "timeout": 60, "poll_interval": 5, "rollback_timeout": 60}
    base.update(kw)
    return DeployRequest(**base)


def primary(w: World) -> str:
    return next(d["taskDefinition"] for d in w.ecs.services["app"].deployments if d["status"] == "PRIMARY")


def test_a_good_revision_succeeds_and_is_recorded_as_known_good() -> None:
    w, old, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "succeeded" and res["reason"] is None
    assert primary(w) == new and w.ecs.services["app"].desired == 2
    assert res["previous_task_definition_arn"] == old and res["task_definition_arn"] == new
    assert w.ecs.services["app"].tags[KNOWN_GOOD_TAG] == "app:2"
    assert [p["phase"] for p in res["phases"]] == ["preflight", "register", "update", "watch", "verify_targets",
                                                   "succeeded"]
    assert "all 2 targets of our tasks are healthy" in w.narration


def test_the_known_good_history_keeps_the_newest_first() -> None:
    w, _old, new = setup()
    w.ecs.services["app"].tags[KNOWN_GOOD_TAG] = "app:1"
    engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert w.ecs.services["app"].tags[KNOWN_GOOD_TAG] == "app:2 app:1"


def test_an_unchanged_revision_is_not_deployed_again() -> None:
    w, old, _ = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(old))
    assert res["status"] == "succeeded" and res["changed"] is False
    assert not [c for c in w.ecs.calls if c[0] == "update"]


def test_a_crashing_revision_is_rolled_back_to_the_snapshot() -> None:
    w, old, new = setup(kind="crash", exit_code=3)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "rolled_back"
    assert "exit code 3" in res["reason"] and res["failure_cause"] == "failed_tasks"
    assert primary(w) == old and w.ecs.services["app"].desired == 2
    assert res["rollback"]["status"] == "succeeded" and res["rollback"]["task_definition_arn"] == old
    assert KNOWN_GOOD_TAG not in w.ecs.services["app"].tags
    assert res["stopped_tasks"] and res["stopped_tasks"][0]["containers"][0]["exitCode"] == 3


def test_unhealthy_targets_fail_the_deploy_with_the_reason() -> None:
    w, old, new = setup(kind="unhealthy")
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, timeout=20))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "targets"
    assert "Target.ResponseCodeMismatch" in res["reason"]
    assert primary(w) == old


def test_a_timeout_says_what_blocks_and_rolls_back() -> None:
    w, old, new = setup(kind="hang")
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, timeout=20))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "timeout"
    assert "0/2 of our tasks running (2 pending)" in res["reason"]
    assert primary(w) == old


def test_an_alarm_during_the_bake_rolls_back() -> None:
    w, old, new = setup()
    w.alarms.set("5xx", "OK")
    polls = {"n": 0}

    def fire(clock: Any) -> None:
        polls["n"] += 1
        if polls["n"] == 3:
            w.alarms.set("5xx", "ALARM", "Threshold Crossed")

    w.clock.on_sleep.append(fire)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, bake_seconds=30, alarms=["5xx"]))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "bake"
    assert "5xx" in res["reason"] and primary(w) == old


def test_an_aws_error_during_the_update_rolls_back() -> None:
    w, old, new = setup()
    w.ecs.fail["update"] = [client_error("ServiceUnavailableException")]
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "rolled_back"
    assert "ServiceUnavailableException" in res["reason"] and "during update" in res["reason"]
    assert primary(w) == old


def test_an_abort_signal_during_the_watch_rolls_back() -> None:
    w, old, new = setup(kind="hang")

    def abort(clock: Any) -> None:
        w.clock.on_sleep.clear()
        raise Aborted("SIGTERM")

    w.clock.on_sleep.append(abort)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "rolled_back" and res["reason"] == "aborted by SIGTERM during watch"
    assert primary(w) == old


def test_an_abort_before_the_update_changes_nothing() -> None:
    w, old, _new = setup()
    w.ecs.fail["register"] = [Aborted("SIGINT")]  # type: ignore[list-item]
    td = {"family": "app", "containerDefinitions": []}
    res = engine.deploy(w.ports, holder=HOLDER, req=request(None, task_definition=td))
    assert res["status"] == "not_started"
    assert primary(w) == old and not [c for c in w.ecs.calls if c[0] == "update"]


def test_a_failed_rollback_is_reported_as_needing_a_human() -> None:
    w, old, new = setup(kind="crash")
    w.ecs.behaviours[old] = Behaviour(kind="crash")  # the old revision cannot start either now
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "failed"
    assert "MANUAL ACTION REQUIRED" in res["reason"] and res["rollback"]["status"] == "failed"
    assert primary(w) == old and res["rollback"]["task_definition_arn"] == old  # it went back, and stays there


def test_the_dry_run_plans_and_changes_nothing() -> None:
    w, old, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, bake_seconds=10, alarms=[]), dry_run=True)
    assert res["status"] == "dry_run" and res["previous_task_definition_arn"] == old
    assert res["plan"][0] == f"ecs:UpdateService c/app taskDefinition={new}"
    assert res["plan"][-1] == "on failure: ecs:UpdateService back to app:1 and watch up to 60s"
    assert "bake 10s watching alarms and the deployment" in res["plan"]
    assert not [c for c in w.ecs.calls if c[0] in ("update", "register", "tag")]


def test_preflight_refuses_other_controllers_and_missing_revisions() -> None:
    w, _old, new = setup()
    w.ecs.services["app"].controller = "CODE_DEPLOY"
    with pytest.raises(BadInput, match="CODE_DEPLOY"):
        engine.deploy(w.ports, holder=HOLDER, req=request(new))
    w.ecs.services["app"].controller = "ECS"
    with pytest.raises(BadInput, match="does not exist"):
        engine.deploy(w.ports, holder=HOLDER, req=request(f"{new[:-1]}9"))
    assert td_label(primary(w)) == "app:1"

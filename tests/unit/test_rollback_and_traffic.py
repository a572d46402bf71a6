"""Where a rollback goes and how traffic moves, pinned on fakes: the choice among known-good revisions,
the revision the service ends on, the known-good record, and the weight read-back that never takes a
listener's 200 for a change (the mutations of issue 21 that only the integration tier used to catch)."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.deploy.rollback import (
    KNOWN_GOOD_KEEP,
    KNOWN_GOOD_TAG,
    RollbackOutcome,
    RollbackRequest,
    Snapshot,
    arn_of,
    known_good_value,
    roll_back,
    run_rollback,
)
from pipeline_py.deploy.topology import TrafficError
from pipeline_py.deploy.traffic import set_and_verify
from pipeline_py.errors import BadInput, HumanNeeded
from tests.fakes import ACCOUNT_ARN, HOLDER, TOPOLOGY, Behaviour, FakeRouter, World, client_error, world

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1"


def service_with(revisions: int, current: int, known_good: str, **behaviours: Behaviour) -> tuple[World, list[str]]:
    """A service on revision ``current`` (1-based) of ``revisions``; ``known_good`` is its tag value."""
    w = world()
    arns = [w.ecs.revision("app", behaviours.get(f"r{i}")) for i in range(1, revisions + 1)]
    w.ecs.add_service("app", arns[current - 1], desired=2, target_groups=[TG])
    if known_good:
        w.ecs.services["app"].tags[KNOWN_GOOD_TAG] = known_good
    return w, arns


def rollback(w: World, **kw: Any) -> dict[str, Any]:
    return run_rollback(w.ports, RollbackRequest(cluster="c", service="app", timeout=60, poll_interval=5, **kw),
                        holder=HOLDER)


def serving(w: World) -> str:
    return next(d["taskDefinition"] for d in w.ecs.services["app"].deployments if d["status"] == "PRIMARY")


def test_rollback_picks_the_newest_of_several_known_good_revisions() -> None:
    w, arns = service_with(4, current=4, known_good="app:3 app:2 app:1", r4=Behaviour(kind="crash"))
    res = rollback(w)
    assert res["status"] == "succeeded" and res["task_definition_arn"] == arns[2]
    assert serving(w) == arns[2] and w.ecs.services["app"].task_definition == arns[2]
    assert res["previous_task_definition_arn"] == arns[3] and res["current_known_good"] is False
    assert w.ecs.services["app"].tags[KNOWN_GOOD_TAG] == "app:3 app:2 app:1"


def test_rollback_to_a_given_revision_ends_on_it_even_if_never_recorded() -> None:
    w, arns = service_with(3, current=3, known_good="app:3")
    res = rollback(w, to="app:1")
    assert res["found_by"] == "--to" and res["target_known_good"] is False
    assert serving(w) == arns[0] and res["task_definition_arn"] == arns[0]
    assert w.ecs.services["app"].tags[KNOWN_GOOD_TAG] == "app:1 app:3"


def test_rollback_to_an_unknown_revision_is_bad_input_and_changes_nothing() -> None:
    w, arns = service_with(2, current=2, known_good="app:1")
    with pytest.raises(BadInput, match="--to app:9: no such task definition revision"):
        rollback(w, to="app:9")
    assert serving(w) == arns[1] and not [c for c in w.ecs.calls if c[0] == "update"]


def test_rollback_to_the_current_revision_changes_nothing() -> None:
    w, arns = service_with(2, current=2, known_good="app:2 app:1")
    res = rollback(w, to="app:2")
    assert res["status"] == "succeeded" and res["changed"] is False
    assert serving(w) == arns[1] and not [c for c in w.ecs.calls if c[0] == "update"]


def test_a_rollback_dry_run_names_the_target_and_changes_nothing() -> None:
    w, arns = service_with(3, current=3, known_good="app:2")
    res = run_rollback(w.ports, RollbackRequest(cluster="c", service="app"), holder=HOLDER, dry_run=True)
    assert res["status"] == "dry_run" and res["task_definition_arn"] == arns[1]
    assert res["plan"][0] == f"ecs:UpdateService c/app taskDefinition={arns[1]}"
    assert serving(w) == arns[2] and not [c for c in w.ecs.calls if c[0] == "update"]
    assert w.locks.items == {}


def test_a_rollback_that_cannot_reach_steady_state_needs_a_human_and_says_where_it_went() -> None:
    w, arns = service_with(3, current=3, known_good="app:1", r1=Behaviour(kind="crash"))
    with pytest.raises(HumanNeeded) as err:
        rollback(w)
    assert err.value.exit_code == 3 and "rollback to app:1 did not reach steady state" in err.value.message
    assert err.value.result["status"] == "failed" and err.value.result["task_definition_arn"] == arns[0]
    assert err.value.result["reason"] is not None and err.value.message.endswith(err.value.result["reason"])
    assert serving(w) == arns[0]
    assert w.ecs.services["app"].tags[KNOWN_GOOD_TAG] == "app:1"
    assert w.locks.items == {}


def test_roll_back_starts_a_deployment_of_the_snapshot_revision_at_its_count() -> None:
    w, arns = service_with(2, current=2, known_good="")
    failed = w.ecs.services["app"].deployments[0]["id"]
    outcome = roll_back(w.ports, cluster="c", service="app", snapshot=Snapshot(arns[0], 3, None),
                        failed_deployment_id=failed, timeout=60, poll_interval=5, max_failed_tasks=3)
    assert outcome.ok is True and outcome.task_definition == arns[0] and outcome.deployment_id != failed
    assert outcome.deployment_id == w.ecs.services["app"].deployments[0]["id"]
    assert [c for c in w.ecs.calls if c[0] == "update"] == [("update", ("app", arns[0], 3, True))]
    assert serving(w) == arns[0] and w.ecs.services["app"].desired == 3
    assert outcome.to_dict() == {"status": "succeeded", "task_definition_arn": arns[0],
                                 "deployment_id": outcome.deployment_id, "reason": None,
                                 "seconds": round(outcome.elapsed, 3)}
    assert outcome.elapsed == 5.0  # one poll of 5 s on the fake clock


def test_roll_back_watches_the_rollback_ecs_already_started_instead_of_starting_another() -> None:
    w, arns = service_with(2, current=1, known_good="")
    ecs_rollback = w.ecs.services["app"].deployments[0]["id"]
    outcome = roll_back(w.ports, cluster="c", service="app", snapshot=Snapshot(arns[0], 2, None),
                        failed_deployment_id="ecs-svc/failed", timeout=60, poll_interval=5, max_failed_tasks=3)
    assert outcome.ok is True and outcome.deployment_id == ecs_rollback
    assert [c for c in w.ecs.calls if c[0] == "update"] == []
    assert serving(w) == arns[0]


def test_roll_back_watching_ecs_rollback_still_restores_the_snapshot_count() -> None:
    w, arns = service_with(2, current=1, known_good="")
    ecs_rollback = w.ecs.services["app"].deployments[0]["id"]
    outcome = roll_back(w.ports, cluster="c", service="app", snapshot=Snapshot(arns[0], 4, None),
                        failed_deployment_id="ecs-svc/failed", timeout=60, poll_interval=5, max_failed_tasks=3)
    assert outcome.ok is True and outcome.deployment_id == ecs_rollback
    assert [c for c in w.ecs.calls if c[0] == "update"] == [("update", ("app", None, 4, False))]
    assert w.ecs.services["app"].desired == 4 and serving(w) == arns[0]


def test_roll_back_never_takes_the_failed_deployment_for_ecs_rollback() -> None:
    """The failed deployment runs the target revision too (a redeploy of the same revision failed):
    it is not a rollback in progress, so a new deployment is started."""
    w, arns = service_with(2, current=1, known_good="")
    failed = w.ecs.services["app"].deployments[0]["id"]
    outcome = roll_back(w.ports, cluster="c", service="app", snapshot=Snapshot(arns[0], 2, None),
                        failed_deployment_id=failed, timeout=60, poll_interval=5, max_failed_tasks=3)
    assert outcome.ok is True and outcome.deployment_id != failed
    assert [c for c in w.ecs.calls if c[0] == "update"] == [("update", ("app", arns[0], 2, True))]


def test_roll_back_reports_an_api_error_as_a_failed_outcome() -> None:
    w, arns = service_with(2, current=2, known_good="")
    w.ecs.fail["update"] = [client_error("AccessDeniedException")]
    outcome = roll_back(w.ports, cluster="c", service="app", snapshot=Snapshot(arns[0], 2, None),
                        failed_deployment_id=None, timeout=60, poll_interval=5, max_failed_tasks=3)
    assert outcome.ok is False and outcome.deployment_id is None and outcome.task_definition == arns[0]
    assert outcome.reason is not None and outcome.reason.startswith("rollback API call failed: ")
    assert "AccessDeniedException" in outcome.reason and outcome.elapsed == 0.0
    assert outcome.to_dict()["status"] == "failed" and serving(w) == arns[1]


def test_a_rollback_that_does_not_settle_says_why_and_which_deployment() -> None:
    w, arns = service_with(2, current=2, known_good="", r1=Behaviour(kind="crash"))
    outcome = roll_back(w.ports, cluster="c", service="app", snapshot=Snapshot(arns[0], 2, None),
                        failed_deployment_id=None, timeout=60, poll_interval=5, max_failed_tasks=3)
    assert outcome.ok is False and outcome.task_definition == arns[0]
    assert outcome.deployment_id == w.ecs.services["app"].deployments[0]["id"]
    assert outcome.reason is not None and "exit code 1" in outcome.reason


def test_the_known_good_record_is_newest_first_unique_bounded() -> None:
    labels = [f"app:{n}" for n in (9, 8, 9, 7, 6, 5, 4, 3)]
    assert known_good_value(labels) == "app:9 app:8 app:7 app:6 app:5"
    assert len(known_good_value(labels).split()) == KNOWN_GOOD_KEEP
    long = [f"{'f' * 100}:{n}" for n in range(3)]
    assert known_good_value(long) == " ".join(long[:2])  # a third would pass ECS's 256 characters
    exact = ["a" * 125 + ":1", "b" * 126 + ":2"]
    assert len(known_good_value(exact)) == 256 and known_good_value(exact).split() == exact


def test_arn_of_a_label_takes_the_account_and_region_of_the_current_revision() -> None:
    like = f"{ACCOUNT_ARN}:task-definition/app:7"
    assert arn_of("app:3", like) == f"{ACCOUNT_ARN}:task-definition/app:3"
    assert arn_of("app:3", "app:7") == "app:3"


# ---- the weight read-back ---------------------------------------------------------------------------


def test_weights_are_verified_by_reading_them_back() -> None:
    router, clock = FakeRouter(TOPOLOGY), FakeClock()
    assert set_and_verify(router, {"green": 10, "blue": 90}, clock) == {"blue": 90, "green": 10}
    assert router.history == [{"blue": 90, "green": 10}] and clock.sleeps == []


def test_a_listener_that_ignores_a_change_is_retried_until_it_reads_back() -> None:
    router, clock = FakeRouter(TOPOLOGY), FakeClock()
    router.ignore_changes = 2
    assert set_and_verify(router, {"green": 100}, clock, retries=3, interval=1.5) == {"blue": 0, "green": 100}
    assert clock.sleeps == [1.5, 1.5] and router.current == {"blue": 0, "green": 100}


def test_a_listener_that_never_takes_the_change_is_a_traffic_error() -> None:
    router, clock = FakeRouter(TOPOLOGY), FakeClock()
    router.ignore_changes = 1000
    with pytest.raises(TrafficError) as err:
        set_and_verify(router, {"blue": 0, "green": 100}, clock, retries=4, interval=2)
    assert str(err.value) == ("listener weights did not take effect after 4 attempts: wanted {'blue': 0, "
                              "'green': 100}, read back {'blue': 100, 'green': 0}")
    assert clock.sleeps == [2, 2, 2] and router.current == {"blue": 100, "green": 0}


def test_aws_errors_while_setting_weights_are_retried_and_named() -> None:
    router, clock = FakeRouter(TOPOLOGY), FakeClock()
    router.fail_set = [client_error("Throttling", "ModifyListener")] * 2
    with pytest.raises(TrafficError, match=r"after 2 attempts: .*Throttling"):
        set_and_verify(router, {"green": 50, "blue": 50}, clock, retries=2)
    router.fail_set = [client_error("Throttling", "ModifyListener")]
    assert set_and_verify(router, {"green": 50, "blue": 50}, clock, retries=2) == {"blue": 50, "green": 50}


def test_a_rollback_result_says_where_from_where_to_and_under_which_lock() -> None:
    w, arns = service_with(3, current=3, known_good="app:2 app:1", r3=Behaviour(kind="unhealthy"))
    lock_ids: list[str] = []
    acquire = w.locks.acquire

    def spy(*args: Any, **kwargs: Any) -> Any:
        info = acquire(*args, **kwargs)
        lock_ids.append(info.lock_id)
        assert info.key == "c/app"
        return info

    w.locks.acquire = spy  # type: ignore[method-assign]
    res = rollback(w)
    assert {k: res[k] for k in ("status", "cluster", "service", "task_definition_arn", "previous_task_definition_arn",
                                "found_by", "known_good", "target_known_good", "current_known_good")} == {
        "status": "succeeded", "cluster": "c", "service": "app", "task_definition_arn": arns[1],
        "previous_task_definition_arn": arns[2], "found_by": f"last known-good revision (tag {KNOWN_GOOD_TAG})",
        "known_good": ["app:2", "app:1"], "target_known_good": True, "current_known_good": False}
    assert res["lock"] == {"key": "c/app", "lock_id": lock_ids[0], "holder": HOLDER.to_dict()}
    assert res["deployment_id"] == w.ecs.services["app"].deployments[0]["id"] and res["stopped_tasks"] == []
    assert [e["message"] for e in res["events"]] == ["(service app) has started 2 tasks"]
    assert res["api_calls"] == {"total": 0, "by_operation": {}} and w.locks.items == {} and len(lock_ids) == 1
    assert res["strategy"] == "rollback"


def test_a_rollback_dry_run_plans_the_update_and_the_watch() -> None:
    w, arns = service_with(3, current=3, known_good="app:2")
    res = run_rollback(w.ports, RollbackRequest(cluster="c", service="app", timeout=90), holder=HOLDER, dry_run=True)
    assert res["plan"] == [f"ecs:UpdateService c/app taskDefinition={arns[1]}", "watch to steady state up to 90s"]
    assert res["known_good"] == ["app:2"] and res["current_known_good"] is False and "lock" not in res


def test_without_a_known_good_revision_a_human_chooses_from_the_newest_ten() -> None:
    w, arns = service_with(12, current=12, known_good="app:12 app:10")
    w.ecs.revisions[arns[9]]["status"] = "INACTIVE"  # app:10: deregistered, so neither chosen nor listed
    never = "never recorded as succeeded"
    with pytest.raises(HumanNeeded) as err:
        rollback(w)
    listed = ", ".join([f"app:{n} ({never})" for n in (11, 9, 8, 7, 6, 5, 4, 3, 2)])
    assert err.value.message == (
        "no known-good revision of app other than the current app:12 is recorded (tag pipeline-py:known-good: "
        f"app:12 app:10), so there is nothing safe to roll back to automatically; candidates: app:12 (current), "
        f"{listed}. Choose one with --to")
    assert err.value.result == {"status": "failed", "cluster": "c", "service": "app", "current": arns[11],
                                "known_good": ["app:12", "app:10"],
                                "candidates": [f"app:{n}" for n in (12, 11, 9, 8, 7, 6, 5, 4, 3, 2)]}
    assert serving(w) == arns[11] and not [c for c in w.ecs.calls if c[0] == "update"]


def test_with_nothing_recorded_the_message_says_none() -> None:
    w, _ = service_with(1, current=1, known_good="")
    with pytest.raises(HumanNeeded, match=r"\(tag pipeline-py:known-good: none\).*candidates: app:1 \(current\)\."):
        rollback(w)


def test_a_rollback_to_a_given_count_scales_the_service_to_it() -> None:
    w, arns = service_with(2, current=2, known_good="app:1")
    rollback(w, desired_count=4)
    assert serving(w) == arns[0] and w.ecs.services["app"].desired == 4


def test_a_snapshot_is_what_the_service_ran_before() -> None:
    w, arns = service_with(1, current=1, known_good="")
    w.ecs.services["app"].config = {"minimumHealthyPercent": 50}
    view = w.ecs.view("app")
    snap = Snapshot.of(view)
    assert snap == Snapshot(arns[0], 2, w.ecs.services["app"].deployments[0]["id"], {"minimumHealthyPercent": 50})
    assert snap.to_dict() == {"task_definition": arns[0], "desired_count": 2, "deployment_id": snap.deployment_id}


def test_a_rollback_outcome_rounds_its_seconds() -> None:
    assert RollbackOutcome(True, None, "ecs-svc/1", 1.23456, "td").to_dict() == {
        "status": "succeeded", "task_definition_arn": "td", "deployment_id": "ecs-svc/1", "reason": None,
        "seconds": 1.235}

"""The safety invariants of the deploy engine, each on fakes: one lock per service, never traffic to
(or a scale-down of) the wrong colour, rollback only to known-good revisions, alarms judged by
transition."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from pipeline_py.config import AnalysisConfig, BlueGreenConfig, CanaryConfig, ColourPair
from pipeline_py.deploy import engine
from pipeline_py.deploy.locking import Holder, LockInfo, lock_key
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.rollback import KNOWN_GOOD_TAG, RollbackRequest, run_rollback
from pipeline_py.deploy.two_colour import TAG_STATE
from pipeline_py.errors import BadInput, HumanNeeded, OperationFailed
from tests.fakes import HOLDER, TOPOLOGY, Behaviour, World, world

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/1"
BG = BlueGreenConfig(services=ColourPair(blue="app-blue", green="app-green"), scale_down_delay=0)
ANALYSIS = AnalysisConfig(max_error_rate=0.01, min_requests=10, interval=5, period=1, failure_limit=0,
                          consecutive_failure_limit=1)
OTHER = Holder(who="jenkins deploy/main#41", command="deploy", pid=4242, host="agent-7",
               url="https://jenkins/job/deploy/41/")


def rolling(**behaviour: Any) -> tuple[World, str, str]:
    w = world()
    old = w.ecs.revision("app")
    new = w.ecs.revision("app", Behaviour(**behaviour))
    w.ecs.add_service("app", old, desired=2, target_groups=[TG])
    return w, old, new


def two_colour(live_desired: int = 3, **behaviour: Any) -> tuple[World, str, str]:
    w = world()
    old = w.ecs.revision("app")
    new = w.ecs.revision("app", Behaviour(**behaviour))
    w.ecs.add_service("app-blue", old, desired=live_desired, target_groups=[TOPOLOGY.target_groups["blue"]])
    w.ecs.add_service("app-green", old, desired=0, target_groups=[TOPOLOGY.target_groups["green"]])
    return w, old, new


def req(arn: str, strategy: str = "rolling", **kw: Any) -> DeployRequest:
    base: dict[str, Any] = {"strategy": strategy, "cluster": "c", "service": "app", "task_definition_arn": arn,
                            "timeout": 60, "poll_interval": 5, "rollback_timeout": 60, "blue_green": BG,
                            "canary": CanaryConfig(steps=[10, 100], bake_seconds=10, analysis=ANALYSIS)}
    base.update(kw)
    return DeployRequest(**base)


def desired(w: World) -> dict[str, int]:
    return {c: w.ecs.services[f"app-{c}"].desired for c in ("blue", "green")}


# ---- the lock -------------------------------------------------------------------------------------


def test_a_second_deploy_is_refused_naming_the_holder_and_changes_nothing() -> None:
    w, _old, new = rolling()
    key = lock_key("c", ["app"])
    w.locks.items[key] = LockInfo(key, "abc123", OTHER, w.clock.utcnow(), w.clock.utcnow() + timedelta(seconds=60))
    with pytest.raises(BadInput) as err:
        engine.deploy(w.ports, req(new), holder=HOLDER)
    msg = err.value.message
    assert "jenkins deploy/main#41" in msg and "pid 4242 on agent-7" in msg and "lock id abc123" in msg
    assert "--wait-for-lock" in msg and err.value.result["status"] == "locked"
    assert not [c for c in w.ecs.calls if c[0] in ("update", "tag")]


def test_wait_for_lock_queues_until_the_holder_releases() -> None:
    w, _old, new = rolling()
    key = lock_key("c", ["app"])
    w.locks.items[key] = LockInfo(key, "abc123", OTHER, w.clock.utcnow(), w.clock.utcnow() + timedelta(seconds=60))

    def release_after_20s(clock: Any) -> None:
        if clock.monotonic() >= 1020:
            w.locks.items.pop(key, None)

    w.clock.on_sleep.append(release_after_20s)
    res = engine.deploy(w.ports, req(new, wait_for_lock=120), holder=HOLDER)
    assert res["status"] == "succeeded" and res["lock"]["holder"]["who"] == "tester@host"
    assert "waiting for the deploy lock c/app: held by jenkins deploy/main#41" in w.narration
    assert key not in w.locks.items, "released after the deploy"


def test_an_expired_lock_is_taken_over() -> None:
    w, _, new = rolling()
    key = lock_key("c", ["app"])
    w.locks.items[key] = LockInfo(key, "dead", OTHER, w.clock.utcnow() - timedelta(hours=1),
                                  w.clock.utcnow() - timedelta(minutes=5))
    assert engine.deploy(w.ports, req(new), holder=HOLDER)["status"] == "succeeded"


def test_the_lock_is_renewed_while_a_long_deploy_runs_and_released_after_a_failure() -> None:
    w, _old, new = rolling(kind="crash")
    res = engine.deploy(w.ports, req(new, bake_seconds=0), holder=HOLDER)
    assert res["status"] == "rolled_back"
    assert w.locks.items == {}
    w2, _, new2 = rolling(kind="hang")
    engine.deploy(w2.ports, req(new2, timeout=120), holder=HOLDER)
    assert w2.locks.renewals >= 120 // 15 - 1


def test_a_lost_lease_stops_the_deploy_without_rolling_back() -> None:
    w, _old, new = rolling(kind="hang")
    w.locks.steal_on_renew = True
    with pytest.raises(HumanNeeded, match="lost the deploy lock"):
        engine.deploy(w.ports, req(new, timeout=120), holder=HOLDER)
    updates = [c for c in w.ecs.calls if c[0] == "update"]
    assert len(updates) == 1 and updates[0][1][1] == new, "no rollback: another deploy may be acting"


def test_two_colour_deploys_share_one_lock_for_the_pair() -> None:
    w, _, new = two_colour()
    key = lock_key("c", ["app-green", "app-blue"])
    assert key == "c/app-blue+app-green"
    w.locks.items[key] = LockInfo(key, "abc", OTHER, w.clock.utcnow(), w.clock.utcnow() + timedelta(seconds=60))
    with pytest.raises(BadInput, match="another deploy is in progress"):
        engine.deploy(w.ports, req(new, "canary"), holder=HOLDER)
    with pytest.raises(BadInput, match="another deploy is in progress"):
        engine.resume(w.ports, req(new, "canary"), "abort", holder=HOLDER)


def test_a_dry_run_takes_no_lock_and_says_who_holds_it() -> None:
    w, _, new = rolling()
    key = lock_key("c", ["app"])
    w.locks.items[key] = LockInfo(key, "abc", OTHER, w.clock.utcnow(), w.clock.utcnow() + timedelta(seconds=60))
    res = engine.deploy(w.ports, req(new), holder=HOLDER, dry_run=True)
    assert res["lock"]["held"] is True and res["lock"]["who"] == "jenkins deploy/main#41"
    assert w.locks.items[key].lock_id == "abc"


# ---- colours: capacity, traffic, scale-down ---------------------------------------------------------


def test_the_new_colour_gets_at_least_the_live_colours_count() -> None:
    w, _, new = two_colour(live_desired=3)
    res = engine.deploy(w.ports, req(new, "canary", desired_count=2), holder=HOLDER)
    assert res["status"] == "succeeded" and res["new_colour_desired"] == 3
    assert desired(w) == {"blue": 0, "green": 3}


def test_a_live_colour_with_no_tasks_is_not_mirrored_into_an_empty_new_colour() -> None:
    w, _, new = two_colour(live_desired=0)
    w.router.current = {"blue": 100, "green": 0}
    res = engine.deploy(w.ports, req(new, "canary"), holder=HOLDER)
    assert res["status"] == "rolled_back" and "runs 0 tasks" in res["reason"]
    assert w.router.history == [{"blue": 100, "green": 0}]


def test_after_a_failed_restore_abort_finishes_the_job_once_the_listener_obeys() -> None:
    w, _old, new = two_colour(error_rate=0.2)

    def stick(clock: Any) -> None:
        if w.router.current.get("green"):
            w.router.ignore_changes = 1000

    w.clock.on_sleep.append(stick)
    first = engine.deploy(w.ports, req(new, "canary"), holder=HOLDER)
    assert first["status"] == "failed" and desired(w) == {"blue": 3, "green": 3}
    w.clock.on_sleep.clear()
    w.router.ignore_changes = 0
    with pytest.raises(BadInput, match="unfinished"):
        engine.deploy(w.ports, req(new, "canary"), holder=HOLDER)
    res = engine.resume(w.ports, req(new, "canary"), "abort", holder=HOLDER)
    assert res["status"] == "rolled_back" and res["resumed_at"] == 10
    assert w.router.current == {"blue": 100, "green": 0} and desired(w) == {"blue": 3, "green": 0}
    assert TAG_STATE not in w.ecs.services["app-green"].tags


def test_split_traffic_without_tags_can_still_be_aborted() -> None:
    w, _old, new = two_colour()
    w.ecs.services["app-green"].task_definition = new
    w.ecs.services["app-green"].desired = 3
    w.ecs.services["app-blue"].tags[KNOWN_GOOD_TAG] = "app:1"
    w.router.current = {"blue": 75, "green": 25}
    res = engine.resume(w.ports, req(new, "canary"), "abort", holder=HOLDER)
    assert res["status"] == "rolled_back" and res["live_colour"] == "blue"
    assert "taking blue as the stable colour (its revision is known-good)" in w.narration
    assert w.router.current == {"blue": 100, "green": 0} and desired(w) == {"blue": 3, "green": 0}


def test_no_split_and_no_tags_is_nothing_to_resume() -> None:
    w, _, new = two_colour()
    with pytest.raises(BadInput, match="no paused rollout found"):
        engine.resume(w.ports, req(new, "canary"), "promote", holder=HOLDER)


def test_zero_targets_never_verify() -> None:
    from pipeline_py.deploy.verify import verify_targets

    w, _, _ = rolling()
    svc = w.ecs.services["app"]
    svc.desired = 0
    svc.deployments[0]["desiredCount"] = svc.deployments[0]["runningCount"] = 0
    view = w.ecs.view("app")
    check = verify_targets(w.ecs, w.targets, w.ports.reporter, w.clock, cluster="c", service="app",
                           deployment_id=view.deployments[0].id, target_groups=[TG], container_port=8080,
                           timeout=10, poll_interval=5, view=view)
    assert not check.ok and "0 tasks" in (check.reason or "")


# ---- rollback only to known-good --------------------------------------------------------------------


def rollback_req(**kw: Any) -> RollbackRequest:
    return RollbackRequest(cluster="c", service="app", timeout=60, poll_interval=5, **kw)


def test_rollback_goes_to_the_newest_known_good_revision_not_the_familys_previous() -> None:
    w = world()
    good = w.ecs.revision("app")
    crashed = w.ecs.revision("app", Behaviour(kind="crash"))
    current = w.ecs.revision("app")
    w.ecs.add_service("app", current, target_groups=[TG])
    w.ecs.services["app"].tags[KNOWN_GOOD_TAG] = "app:3 app:1"
    res = run_rollback(w.ports, rollback_req(), holder=HOLDER)
    assert res["status"] == "succeeded" and res["task_definition_arn"] == good and crashed != good
    assert w.ecs.services["app"].task_definition == good
    assert res["found_by"].startswith("last known-good") and res["target_known_good"] is True
    assert "app:3 (current, known-good) → app:1 (last known-good revision" in w.narration
    assert w.ecs.services["app"].tags[KNOWN_GOOD_TAG] == "app:1 app:3"


def test_rollback_without_a_known_good_revision_lists_the_candidates() -> None:
    w = world()
    w.ecs.revision("app")
    w.ecs.revision("app", Behaviour(kind="crash"))
    current = w.ecs.revision("app")
    w.ecs.add_service("app", current, target_groups=[TG])
    with pytest.raises(HumanNeeded) as err:
        run_rollback(w.ports, rollback_req(), holder=HOLDER)
    assert "app:2 (never recorded as succeeded)" in err.value.message
    assert err.value.result["candidates"] == ["app:3", "app:2", "app:1"]
    assert not [c for c in w.ecs.calls if c[0] == "update"] and w.ecs.services["app"].task_definition == current


def test_rollback_skips_a_known_good_revision_that_was_deregistered() -> None:
    w = world()
    good = w.ecs.revision("app")
    gone = w.ecs.revision("app")
    current = w.ecs.revision("app")
    w.ecs.revisions[gone]["status"] = "INACTIVE"
    w.ecs.add_service("app", current, target_groups=[TG])
    w.ecs.services["app"].tags[KNOWN_GOOD_TAG] = "app:2 app:1"
    assert run_rollback(w.ports, rollback_req(), holder=HOLDER)["task_definition_arn"] == good
    assert w.ecs.services["app"].task_definition == good


# ---- alarms judged by transition --------------------------------------------------------------------


def test_a_fix_deployed_while_an_alarm_fires_succeeds_when_the_alarm_clears() -> None:
    w, _old, new = rolling()
    w.alarms.set("5xx", "ALARM", "the live revision answers 5XX")

    def clears_once_fixed(clock: Any) -> None:
        serving = w.ecs.services["app"].deployments
        fixed = len(serving) == 1 and serving[0]["taskDefinition"] == new and serving[0]["runningCount"] == 2
        if fixed and w.alarms.alarms["5xx"]["state"] == "ALARM":
            w.alarms.set("5xx", "OK")

    w.clock.on_sleep.append(clears_once_fixed)
    res = engine.deploy(w.ports, req(new, alarms=["5xx"], alarm_grace=60), holder=HOLDER)
    assert res["status"] == "succeeded" and res["alarms_in_alarm_at_start"] == ["5xx"]
    assert "already in ALARM when the deploy started" in w.narration
    assert "have cleared" in w.narration


def test_a_preexisting_alarm_still_firing_after_the_grace_fails_the_deploy() -> None:
    w, _old, new = rolling()
    w.alarms.set("5xx", "ALARM")
    res = engine.deploy(w.ports, req(new, alarms=["5xx"], alarm_grace=30), holder=HOLDER)
    assert res["status"] == "rolled_back" and res["failure_cause"] == "alarm"
    assert "still in ALARM 30s after the new revision took all traffic" in res["reason"]


def test_an_alarm_that_fires_during_the_deploy_fails_it_at_once() -> None:
    w, _old, new = rolling(kind="hang")
    w.alarms.set("5xx", "OK")
    w.clock.on_sleep.append(lambda clock: w.alarms.set("5xx", "ALARM") if clock.monotonic() > 1010 else None)
    res = engine.deploy(w.ports, req(new, alarms=["5xx"], timeout=300), holder=HOLDER)
    assert res["status"] == "rolled_back" and res["failure_cause"] == "alarm"
    assert res["reason"].startswith("alarm went into ALARM during the deploy: 5xx")
    assert res["timings"]["watch_seconds"] < 30


def test_a_refiring_preexisting_alarm_is_a_fresh_transition() -> None:
    w, _old, new = two_colour()
    w.alarms.set("5xx", "ALARM")
    steps = {"n": 0}

    def flap(clock: Any) -> None:
        steps["n"] += 1
        if steps["n"] == 2:
            w.alarms.set("5xx", "OK")
        if steps["n"] == 4:
            w.alarms.set("5xx", "ALARM", "canary 5XX")

    w.clock.on_sleep.append(flap)
    res = engine.deploy(w.ports, req(new, "canary", alarms=["5xx"]), holder=HOLDER)
    assert res["status"] == "rolled_back" and "went into ALARM during the deploy" in res["reason"]
    assert w.router.current == {"blue": 100, "green": 0}


@pytest.mark.parametrize("strategy", ["rolling", "canary"])
def test_preexisting_alarms_fail_policy_refuses_to_start_with_exit_1(strategy: str) -> None:
    w, _old, new = rolling() if strategy == "rolling" else two_colour()
    w.alarms.set("5xx", "ALARM")
    with pytest.raises(OperationFailed) as err:
        engine.deploy(w.ports, req(new, strategy, alarms=["5xx"], preexisting_alarms="fail"), holder=HOLDER)
    assert err.value.exit_code == 1 and err.value.result["status"] == "not_started"
    assert not [c for c in w.ecs.calls if c[0] in ("update", "register")]


def test_preexisting_alarms_ignore_policy_never_fails_on_them() -> None:
    w, _old, new = rolling()
    w.alarms.set("5xx", "ALARM")
    res = engine.deploy(w.ports, req(new, alarms=["5xx"], alarm_grace=0, preexisting_alarms="ignore"),
                        holder=HOLDER)
    assert res["status"] == "succeeded"

"""The engine's contract around every strategy, value by value on fakes and the fake clock: the ``lock``
record of a deploy, a dry run and a resume; the dry run's diff and keys; the result's own keys
(strategy, cluster, service, events, API calls, the registered revision); the report's phases, timings
and timeline to the millisecond; ``raise_for``'s exit codes and messages; and the pure helpers of the
topology and the request (issue 21: each assertion here failed on a mutant that survived the unit tier)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.config import BlueGreenConfig, ColourPair, LockConfig
from pipeline_py.deploy import engine
from pipeline_py.deploy.locking import Holder, LockInfo
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.result import DeployReport, raise_for
from pipeline_py.deploy.topology import live_colour
from pipeline_py.errors import BadInput, HumanNeeded, OperationFailed
from pipeline_py.report import Reporter
from tests.fakes import HOLDER, TOPOLOGY, World
from tests.unit import test_rolling_machine as rolling
from tests.unit import test_two_colour_machine as two_colour

OTHER = Holder(who="other@elsewhere", command="deploy", pid=42, host="elsewhere")


def recording_leases(w: World, monkeypatch: pytest.MonkeyPatch) -> list[LockInfo]:
    """Every lease the fake lock table hands out, to read the lock id a result must carry."""
    taken: list[LockInfo] = []
    acquire = w.locks.acquire

    def recording(key: str, holder: Holder, ttl: float, now: Any) -> LockInfo:
        info = acquire(key, holder, ttl, now)
        taken.append(info)
        return info

    monkeypatch.setattr(w.locks, "acquire", recording)
    return taken


# ---- the strategy map ---------------------------------------------------------------------------------


def test_an_unknown_strategy_is_bad_input_naming_every_known_one() -> None:
    w, _, new = rolling.setup()
    with pytest.raises(BadInput) as err:
        engine.deploy(w.ports, holder=HOLDER, req=rolling.request(new, strategy="rainbow"))
    assert err.value.message == ("unknown strategy 'rainbow' (known: rolling, blue-green, canary, linear, "
                                 "ecs-blue-green, ecs-linear, ecs-canary)")
    assert w.locks.items == {} and not [c for c in w.ecs.calls if c[0] == "update"]


# ---- the lock record ----------------------------------------------------------------------------------


def test_a_deploy_result_names_the_lock_it_held(monkeypatch: pytest.MonkeyPatch) -> None:
    w, _, new = rolling.setup()
    taken = recording_leases(w, monkeypatch)
    res = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(new))
    assert len(taken) == 1
    assert res["lock"] == {"key": "c/app", "lock_id": taken[0].lock_id, "holder": {
        "who": "tester@host", "command": "deploy", "pid": 1, "host": "host", "url": None}}
    assert w.locks.items == {}


def test_a_dry_run_says_the_lock_is_free() -> None:
    w, _, new = rolling.setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(new), dry_run=True)
    assert res["lock"] == {"key": "c/app", "held": False}


def test_a_dry_run_says_who_holds_the_lock_and_until_when() -> None:
    w, _, new = rolling.setup()
    info = w.locks.acquire("c/app", OTHER, 60, w.clock.utcnow())
    w.clock.advance(15)
    res = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(new), dry_run=True)
    assert res["lock"] == {"key": "c/app", "held": True, "lock_id": info.lock_id, "who": "other@elsewhere",
                           "command": "deploy", "pid": 42, "host": "elsewhere", "url": None,
                           "since": "2026-01-01T00:00:00+00:00", "expires": "2026-01-01T00:01:00+00:00"}
    w.clock.advance(46)
    assert engine.deploy(w.ports, holder=HOLDER, req=rolling.request(new), dry_run=True)["lock"] == {
        "key": "c/app", "held": False}


# ---- promote / abort ----------------------------------------------------------------------------------


def test_a_resume_result_names_the_lock_it_held(monkeypatch: pytest.MonkeyPatch) -> None:
    w, _, new = two_colour.setup()
    taken = recording_leases(w, monkeypatch)
    engine.deploy(w.ports, holder=HOLDER, req=two_colour.request(new, pause_at=10))
    res = engine.resume(w.ports, two_colour.request(new), holder=HOLDER, action="promote")
    assert res["status"] == "succeeded" and len(taken) == 2
    assert res["lock"] == {"key": "c/app", "lock_id": taken[1].lock_id, "holder": {
        "who": "tester@host", "command": "deploy", "pid": 1, "host": "host", "url": None}}


def test_promote_with_the_default_rolling_strategy_resumes_the_paused_canary() -> None:
    w, _, new = two_colour.setup()
    engine.deploy(w.ports, holder=HOLDER, req=two_colour.request(new, pause_at=10))
    plan = engine.resume(w.ports, two_colour.request(new, "rolling"), holder=HOLDER, action="abort", dry_run=True)
    assert plan == {"status": "dry_run", "plan": ["weights 100% blue, scale green to 0"],
                    "weights": {"blue": 90, "green": 10}}
    res = engine.resume(w.ports, two_colour.request(new, "rolling"), holder=HOLDER, action="promote")
    assert (res["status"], res["strategy"], res["action"]) == ("succeeded", "canary", "promote")
    assert w.router.weights() == {"blue": 0, "green": 100}
    assert two_colour.desired(w) == {"blue": 0, "green": 3}


def test_a_resume_waits_for_the_lock_as_long_as_wait_for_lock_says() -> None:
    w, _, new = two_colour.setup()
    engine.deploy(w.ports, holder=HOLDER, req=two_colour.request(new, pause_at=10))
    w.locks.acquire("c/app", OTHER, 30, w.clock.utcnow())
    req = two_colour.request(new, lock=LockConfig(wait=0), wait_for_lock=120)
    res = engine.resume(w.ports, req, holder=HOLDER, action="abort")
    assert res["status"] == "rolled_back" and w.router.weights() == {"blue": 100, "green": 0}
    w.locks.acquire("c/app", OTHER, 30, w.clock.utcnow())
    with pytest.raises(BadInput, match="another deploy is in progress: lock c/app"):
        engine.resume(w.ports, two_colour.request(new, lock=LockConfig(wait=0)), holder=HOLDER, action="abort")


@pytest.mark.parametrize(("strategy", "services"), [
    ("blue-green", ["app-blue", "app-green"]), ("canary", ["app-blue", "app-green"]),
    ("linear", ["app-blue", "app-green"]), ("rolling", ["app"]), ("ecs-canary", ["app"])])
def test_a_two_colour_deploy_locks_both_colours(strategy: str, services: list[str]) -> None:
    bg = BlueGreenConfig(services=ColourPair(blue="app-blue", green="app-green"))
    req = DeployRequest(strategy=strategy, cluster="c", service="app", blue_green=bg)
    assert req.lock_services() == services


# ---- the dry run --------------------------------------------------------------------------------------


def changes(diff_lines: list[str]) -> list[str]:
    """The changed lines of a unified diff, without their indentation."""
    return [x[0] + x[1:].strip() for x in diff_lines if x[:1] in ("+", "-") and x[:3] not in ("---", "+++")]


def test_a_dry_run_diffs_the_rendered_definition_against_the_live_revision() -> None:
    w, _, _ = rolling.setup()
    w.ports.api_calls = lambda: {"total": 3, "by_operation": {"DescribeServices": 3}}
    rendered = {"family": "app", "containerDefinitions": [{"name": "app", "image": "app:new"}]}
    res = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(None, task_definition=rendered),
                        dry_run=True)
    assert (res["status"], res["strategy"], res["cluster"]) == ("dry_run", "rolling", "c")
    assert res["changed"] is True and res["api_calls"] == {"total": 3, "by_operation": {"DescribeServices": 3}}
    lines = res["diff"].splitlines()
    assert lines[:2] == ["--- app:1", "+++ new"]
    assert changes(lines) == [
        '-"image": "app:1",', '+"image": "app:new",']
    assert not [c for c in w.ecs.calls if c[0] in ("register", "update")]


def test_a_dry_run_diffs_a_given_revision_against_the_live_one() -> None:
    w, old, new = rolling.setup()
    w.ecs.revisions[new]["containerDefinitions"] = [{"name": "app", "image": "app:2", "cpu": 256}]
    res = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(new), dry_run=True)
    lines = res["diff"].splitlines()
    assert lines[:2] == ["--- app:1", "+++ new"] and res["changed"] is True
    assert changes(lines) == [
        '+"cpu": 256,', '-"image": "app:1",', '+"image": "app:2",']
    same = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(old), dry_run=True)
    assert same["diff"] == "" and same["changed"] is False


# ---- the result's own keys ----------------------------------------------------------------------------


def test_a_result_names_its_strategy_cluster_service_events_and_api_calls() -> None:
    w, _, new = rolling.setup()
    w.ports.api_calls = lambda: {"total": 9, "by_operation": {"UpdateService": 1, "DescribeServices": 8}}
    res = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(new))
    assert (res["status"], res["strategy"], res["cluster"], res["service"]) == ("succeeded", "rolling", "c", "app")
    assert res["api_calls"] == {"total": 9, "by_operation": {"UpdateService": 1, "DescribeServices": 8}}
    assert isinstance(res["events"], list) and res["events"] == w.ports.log.events
    tc, _, tc_new = two_colour.setup()
    tc_res = engine.deploy(tc.ports, holder=HOLDER, req=two_colour.request(tc_new))
    assert (tc_res["strategy"], tc_res["cluster"], tc_res["service"]) == ("canary", "c", "app-blue|app-green")


def test_a_rendered_definition_says_whether_it_registered_a_new_revision() -> None:
    w, _, _ = rolling.setup()
    rendered = {"family": "app", "containerDefinitions": [{"name": "app", "image": "app:new"}]}
    first = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(None, task_definition=rendered))
    assert first["status"] == "succeeded" and first["task_definition_registered"] is True
    assert "==> registering the task definition" in w.narration.splitlines()
    again = engine.deploy(w.ports, holder=HOLDER, req=rolling.request(None, task_definition=rendered))
    assert again["task_definition_registered"] is False
    assert again["task_definition_arn"] == first["task_definition_arn"]


# ---- the report: phases, timings, timeline ------------------------------------------------------------


def test_the_report_times_phases_marks_and_events_to_the_millisecond() -> None:
    clock = FakeClock()
    rep = DeployReport("rolling", "c", "app", clock, Reporter(io.StringIO(), timestamps=False))
    assert rep.phases == [{"phase": "preflight", "at": 0.0}]
    clock.advance(1.23456)
    rep.enter("watch")
    assert rep.timings == {"preflight_seconds": 1.235}
    assert rep.phases[1] == {"phase": "watch", "at": 1.235}
    clock.advance(1.00001)
    rep.event("weights", weights={"blue": 90, "green": 10})
    rep.mark("to_steady_state_seconds")
    assert rep.timeline == [{"t": 2.235, "kind": "weights", "weights": {"blue": 90, "green": 10}}]
    clock.advance(0.11111)
    res = rep.finish("succeeded", None)
    assert res["timings"] == {"preflight_seconds": 1.235, "to_steady_state_seconds": 2.235,
                              "watch_seconds": 1.111, "total_seconds": 2.346}
    assert res["phases"] == [{"phase": "preflight", "at": 0.0}, {"phase": "watch", "at": 1.235}]
    assert (res["status"], res["reason"]) == ("succeeded", None)


def test_finishing_keeps_a_phase_time_already_taken() -> None:
    clock = FakeClock()
    rep = DeployReport("rolling", "c", "app", clock, Reporter(io.StringIO(), timestamps=False))
    clock.advance(2.5)
    rep.enter("succeeded")
    rep.timings["succeeded_seconds"] = 7.0
    clock.advance(1.0)
    assert rep.finish("succeeded")["timings"] == {"preflight_seconds": 2.5, "succeeded_seconds": 7.0,
                                                  "total_seconds": 3.5}


# ---- raise_for: the exit code and message of a result -------------------------------------------------


@pytest.mark.parametrize("status", ["succeeded", "paused", "dry_run", "ok"])
def test_a_result_that_did_not_fail_is_returned_as_it_is(status: str) -> None:
    result = {"status": status, "reason": None}
    assert raise_for(result) is result


@pytest.mark.parametrize(("result", "error", "message"), [
    ({"status": "rolled_back", "reason": "2 tasks exited"}, OperationFailed, "2 tasks exited"),
    ({"status": "not_started", "reason": "alarm in ALARM"}, OperationFailed, "alarm in ALARM"),
    ({"status": "rolled_back", "reason": None}, OperationFailed, "rolled_back"),
    ({"status": "failed", "reason": "rollback failed"}, HumanNeeded, "rollback failed"),
    ({"status": "failed"}, HumanNeeded, "failed"),
    ({"status": None, "reason": ""}, HumanNeeded, "deploy failed"),
])
def test_a_failed_result_raises_its_exit_code_with_its_reason(result: dict[str, Any], error: type[Exception],
                                                               message: str) -> None:
    with pytest.raises(error) as err:
        raise_for(result)
    assert isinstance(err.value, OperationFailed | HumanNeeded)
    assert err.value.message == message and str(err.value) == message
    assert err.value.result is result


# ---- the live colour ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("weights", "colour"), [
    ({"blue": 50, "green": 50}, "blue"), ({"blue": 0, "green": 0}, "blue"), ({"green": 1}, "green"),
    ({"blue": 1}, "blue"), ({"blue": 10, "green": 90}, "green"), ({}, "blue")])
def test_the_live_colour_carries_most_traffic_and_blue_wins_a_tie(weights: dict[str, int], colour: str) -> None:
    assert live_colour(weights) == colour


def test_a_target_group_outside_the_pair_has_no_colour() -> None:
    assert TOPOLOGY.colour_of_target_group("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/9") is None
    assert TOPOLOGY.colour_of_target_group(TOPOLOGY.target_groups["green"]) == "green"

"""A two-colour deploy's contract, value by value on fakes and the fake clock: every key of the result
that the JSON output, the HTML report and Jenkins read, the phases and timings, the alarm, target and
smoke-check failures with their `failure_cause`, the boundaries of steps, pauses and delays, and what
`deploy promote`/`abort` take from the rollout tags or derive from a split (issue 21: each assertion
here failed on a mutant that survived the unit tier)."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import pytest

from pipeline_py.config import BlueGreenConfig, CanaryConfig, SmokeCheck
from pipeline_py.deploy import engine, two_colour, verify
from pipeline_py.deploy.rollback import KNOWN_GOOD_TAG
from pipeline_py.deploy.two_colour import TAG_STATE, TAG_STEPS, TAG_TD, TwoColourDeploy
from pipeline_py.deploy.views import TargetState
from pipeline_py.errors import BadInput
from tests.fakes import HOLDER, TOPOLOGY, Behaviour, World, client_error, world
from tests.unit.test_two_colour_machine import ANALYSIS, desired, request, setup

GREEN_TG = TOPOLOGY.target_groups["green"]
BLUE_TG = TOPOLOGY.target_groups["blue"]


def phases(res: dict[str, Any]) -> list[str]:
    return [p["phase"] for p in res["phases"]]


def test_a_canary_result_carries_every_key_the_report_and_jenkins_read() -> None:
    w, old, new = setup()
    routers: list[tuple[Any, str]] = []
    metrics: list[tuple[str, int]] = []
    router_for, metrics_for = w.ports.router_for, w.ports.metrics_for

    def recording_router_for(bg: Any, strategy: str) -> Any:
        routers.append((bg, strategy))
        return router_for(bg, strategy)

    def recording_metrics_for(lb: str, period: int) -> Any:
        metrics.append((lb, period))
        return metrics_for(lb, period)

    w.ports.router_for = recording_router_for
    w.ports.metrics_for = recording_metrics_for
    req = request(new)
    res = engine.deploy(w.ports, holder=HOLDER, req=req)
    assert res["status"] == "succeeded"
    assert routers == [(req.blue_green, "canary")]
    assert metrics == [(w.router.load_balancer_arn(), 1)]
    assert sorted(res) == sorted([
        "analysis", "analysis_limits", "analysis_samples", "api_calls", "cluster", "deployment_id", "events",
        "live_colour", "lock", "new_colour", "new_colour_desired", "old_colour_scaled_down", "phases",
        "previous_task_definition_arn", "reason", "service", "status", "steps", "stopped_tasks", "strategy",
        "target_health", "task_definition_arn", "timeline", "timings", "weight_changes", "weights"])
    assert (res["live_colour"], res["new_colour"], res["steps"]) == ("blue", "green", [10, 50, 100])
    assert res["previous_task_definition_arn"] == old and res["task_definition_arn"] == new
    assert res["weights"] == {"blue": 0, "green": 100} and res["new_colour_desired"] == 3
    green = w.ecs.services["app-green"]
    assert res["deployment_id"] == next(d["id"] for d in green.deployments if d["taskDefinition"] == new)
    assert list(res["target_health"]) == ["targets"] and list(res["target_health"]["targets"]) == [GREEN_TG]
    assert list(res["target_health"]["targets"][GREEN_TG].values()) == ["healthy"] * 3
    assert res["analysis_limits"] == {"max_error_rate": 0.01, "max_p99_ms": None, "confidence": 0.99,
                                      "min_requests": 10}
    assert [sorted(a) for a in res["analysis"]] == [["reason", "result", "samples", "weight"]] * 3
    assert [(a["weight"], a["result"], a["reason"]) for a in res["analysis"]] == [
        (10, "pass", None), (50, "pass", None), (100, "pass", None)]
    assert res["analysis_samples"] == [s for a in res["analysis"] for s in a["samples"]]
    # the stable colour is compared while it carries traffic, not once the canary has it all
    assert [sorted(s["window"]) for s in res["analysis_samples"]] == [["canary", "stable"]] * 4 + [["canary"]] * 2
    # looks are timed from the deploy's start (5 s to steady state, then every 5 s)
    assert [s["t"] for s in res["analysis_samples"]] == [10.0, 15.0, 20.0, 25.0, 30.0, 35.0]
    assert phases(res) == ["preflight", "register", "prepare", "shift_10", "analysis_10", "shift_50", "analysis_50",
                           "shift_100", "analysis_100", "scale_down", "succeeded"]
    assert res["timings"]["to_steady_state_seconds"] == 5.0 and res["timings"]["to_full_traffic_seconds"] == 35.0
    assert res["timeline"][0] == {"t": 0.0, "kind": "weights", "weights": {"blue": 100, "green": 0}}


def test_the_rollout_is_marked_in_progress_while_traffic_moves() -> None:
    w, _, new = setup()
    seen: set[str | None] = set()
    w.clock.on_sleep.append(lambda c: seen.add(w.ecs.services["app-green"].tags.get(TAG_STATE))
                            if w.router.current["green"] else None)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "succeeded" and seen == {"in-progress", None}
    assert TAG_STATE not in w.ecs.services["app-green"].tags


def test_a_live_colour_of_one_task_sizes_the_new_one_and_redeploys_by_force() -> None:
    w, _, new = setup()
    w.ecs.services["app-blue"].desired = 1
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0))
    assert res["status"] == "succeeded" and desired(w) == {"blue": 0, "green": 1}
    assert ("update", ("app-green", new, 1, True)) in w.ecs.calls


def alarmed_world(state: str = "OK") -> tuple[World, str, str]:
    w, old, new = setup()
    w.alarms.set("svc-5xx", state)
    return w, old, new


def test_an_alarm_while_the_new_colour_starts_rolls_back_before_any_traffic_moves() -> None:
    w, _, new = alarmed_world()
    w.clock.on_sleep.append(lambda c: w.alarms.set("svc-5xx", "ALARM", "5xx")
                            if w.alarms.alarms["svc-5xx"]["state"] == "OK" else None)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, alarms=["svc-5xx"]))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "alarm"
    assert res["reason"] == "alarm went into ALARM during the deploy: svc-5xx (5xx)"
    assert phases(res)[-3:] == ["prepare", "rolling_back", "rolled_back"]
    assert w.router.history == [{"blue": 100, "green": 0}]  # the rollback re-asserts the weights it never moved


def test_an_alarm_during_analysis_fails_the_step_it_fires_in() -> None:
    w, _, new = alarmed_world()
    w.clock.on_sleep.append(lambda c: w.alarms.set("svc-5xx", "ALARM", "5xx")
                            if w.router.current["green"] == 10 and w.alarms.alarms["svc-5xx"]["state"] == "OK"
                            else None)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, alarms=["svc-5xx"]))
    assert res["status"] == "rolled_back" and phases(res)[-3:] == ["analysis_10", "rolling_back", "rolled_back"]
    assert res["analysis"][-1]["reason"] == res["reason"] == "alarm went into ALARM during the deploy: svc-5xx (5xx)"
    assert w.router.history == [{"blue": 90, "green": 10}, {"blue": 100, "green": 0}]


def test_an_alarm_once_the_new_colour_has_all_traffic_rolls_back() -> None:
    w, old, new = alarmed_world()
    set_weights = w.router.set_weights

    def then_alarm(weights: dict[str, int]) -> None:
        set_weights(weights)
        if weights.get("green") == 100:
            w.alarms.set("svc-5xx", "ALARM", "5xx")

    w.router.set_weights = then_alarm  # type: ignore[method-assign]
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0, alarms=["svc-5xx"]))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "alarm"
    assert res["reason"] == "alarm went into ALARM during the deploy: svc-5xx (5xx)"
    assert w.router.history == [{"blue": 0, "green": 100}, {"blue": 100, "green": 0}]
    assert w.ecs.services["app-blue"].task_definition == old and desired(w) == {"blue": 3, "green": 0}


def test_with_quiet_alarms_a_deploy_succeeds() -> None:
    w, _, new = alarmed_world()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0, alarms=["svc-5xx"]))
    assert res["status"] == "succeeded" and "failure_cause" not in res


def test_an_alarm_firing_before_the_deploy_must_clear_once_the_new_colour_has_all_traffic() -> None:
    w, _, new = alarmed_world("ALARM")
    w.clock.on_sleep.append(lambda c: w.alarms.set("svc-5xx", "OK")
                            if w.router.current["green"] == 100 and w.alarms.alarms["svc-5xx"]["state"] == "ALARM"
                            else None)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0, alarms=["svc-5xx"],
                                                            preexisting_alarms="wait", alarm_grace=60))
    assert res["status"] == "succeeded" and w.router.current == {"blue": 0, "green": 100}
    assert "the alarms that fired before the deploy have cleared" in w.narration


def flaky_health(w: World, bad_calls: int) -> None:
    health = w.targets.health
    calls = [0]

    def first_unhealthy(tg: str) -> list[TargetState]:
        calls[0] += 1
        states = health(tg)
        if calls[0] > bad_calls:
            return states
        return [TargetState(t.id, t.port, "unhealthy", "Target.FailedHealthChecks", "down") for t in states]

    w.targets.health = first_unhealthy  # type: ignore[method-assign,assignment]


def test_targets_that_turn_healthy_on_a_later_poll_pass() -> None:
    w, _, new = setup()
    flaky_health(w, 2)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0))
    assert res["status"] == "succeeded" and list(res["target_health"]["targets"]) == [GREEN_TG]
    assert set(res["target_health"]["targets"][GREEN_TG].values()) == {"healthy"}


def test_targets_never_healthy_fail_within_the_deploy_timeout() -> None:
    w, _, new = setup()
    flaky_health(w, 10_000)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "targets"
    assert list(res["target_health"]["targets"]) == [GREEN_TG]
    assert set(res["target_health"]["targets"][GREEN_TG].values()) == {"unhealthy"}
    # steady after 5 s, so the targets get the rest of the 60 s timeout
    assert res["reason"].startswith("targets not healthy after 55s: task ")
    assert res["timings"]["prepare_seconds"] == 60.0 and w.router.history == [{"blue": 100, "green": 0}]


def test_targets_of_another_port_in_the_group_are_not_the_new_colours() -> None:
    w, _, new = setup()
    health = w.targets.health

    def with_sidecar(tg: str) -> list[TargetState]:
        states = health(tg)
        return states + [TargetState(t.id, 9090, "unhealthy", "Target.FailedHealthChecks", "sidecar") for t in states]

    w.targets.health = with_sidecar  # type: ignore[method-assign,assignment]
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0))
    assert res["status"] == "succeeded"
    assert list(res["target_health"]["targets"][GREEN_TG].values()) == ["healthy"] * 3


@pytest.mark.parametrize(("step", "steps"), [(20, [20, 40, 60, 80, 100]), (None, [25, 50, 75, 100])])
def test_linear_steps_are_the_configured_step_or_a_quarter(step: int | None, steps: list[int]) -> None:
    w, _, new = setup()
    canary = CanaryConfig(steps=[10, 100], bake_seconds=0, linear_step=step, analysis=ANALYSIS)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "linear", canary=canary))
    assert res["status"] == "succeeded" and res["steps"] == steps
    assert [h["green"] for h in w.router.history] == steps


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The smoke check's HTTP answers, in order (the last repeats)."""
    answers: list[int] = []

    class Resp:
        def __init__(self, status: int) -> None:
            self.status_code, self.text = status, "ok"

    def get(url: str, timeout: float) -> Resp:
        return Resp(answers.pop(0) if len(answers) > 1 else answers[0])

    monkeypatch.setattr(two_colour, "smoke", functools.partial(verify.smoke, http_get=get))
    return answers


def smoke_world() -> tuple[World, str]:
    topology = replace(TOPOLOGY, test_listener_arn=TOPOLOGY.listener_arn + "/8080")
    w = world(topology=topology)
    old = w.ecs.revision("app")
    new = w.ecs.revision("app")
    w.ecs.add_service("app-blue", old, desired=2, target_groups=[BLUE_TG])
    w.ecs.add_service("app-green", old, desired=0, target_groups=[GREEN_TG])
    return w, new


def smoke_request(new: str) -> Any:
    return request(new, "blue-green", bake_seconds=0,
                   blue_green=BlueGreenConfig(test_url="http://127.0.0.1:9/health"),
                   smoke=SmokeCheck(url="http://127.0.0.1:9/", retries=3, interval=2))


def test_the_smoke_check_goes_through_the_test_listener_to_the_new_colour(http: list[int]) -> None:
    w, new = smoke_world()
    http.extend([503, 200])
    res = engine.deploy(w.ports, holder=HOLDER, req=smoke_request(new))
    assert res["status"] == "succeeded" and w.router.test_colour == "green"
    assert res["smoke"] == {"url": "http://127.0.0.1:9/health", "status": 200, "attempts": 2}
    assert phases(res)[2:5] == ["prepare", "smoke", "shift_100"]


def test_a_failed_smoke_check_rolls_back_before_any_traffic_moves(http: list[int]) -> None:
    w, new = smoke_world()
    http.append(503)
    res = engine.deploy(w.ports, holder=HOLDER, req=smoke_request(new))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "smoke"
    assert res["reason"] == "smoke check http://127.0.0.1:9/health failed after 3 attempts: HTTP 503"
    assert res["smoke"] == {"url": "http://127.0.0.1:9/health", "attempts": 3}
    assert w.router.history == [{"blue": 100, "green": 0}] and desired(w) == {"blue": 2, "green": 0}


def test_which_smoke_check_a_deploy_runs() -> None:
    w, new = smoke_world()
    sm = SmokeCheck(url="http://127.0.0.1:9/", contains="ok", retries=2)
    with_url = TwoColourDeploy(w.ports, smoke_request(new).__class__(**{
        **smoke_request(new).__dict__, "smoke": sm}))
    assert with_url.smoke_check() == SmokeCheck(url="http://127.0.0.1:9/health", contains="ok", retries=2)
    # a test listener without a test URL: the production URL would reach the old colour, so no smoke check
    assert TwoColourDeploy(w.ports, request(new, smoke=sm)).smoke_check() is None
    plain = world()
    assert TwoColourDeploy(plain.ports, request(new, smoke=sm)).smoke_check() == sm


def test_a_one_percent_step_with_a_one_second_bake_is_taken_and_analysed() -> None:
    w, _, new = setup()
    analysis = ANALYSIS.model_copy(update={"interval": 1, "inconclusive": "pass"})
    canary = CanaryConfig(steps=[1, 100], bake_seconds=1, analysis=analysis)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, canary=canary))
    assert w.router.history == [{"blue": 99, "green": 1}, {"blue": 0, "green": 100}]
    assert [a["weight"] for a in res["analysis"]] == [1, 100]


def test_a_pause_after_the_last_step_below_100_is_not_taken() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=60))
    assert res["status"] == "succeeded" and w.router.current == {"blue": 0, "green": 100}


def test_a_failed_analysis_step_is_recorded_with_its_reason() -> None:
    w, _, new = setup(error_rate=0.2)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    [step] = res["analysis"]
    assert sorted(step) == ["reason", "result", "samples", "weight"]
    assert (step["weight"], step["result"], step["reason"]) == (10, "fail", res["reason"])
    assert res["failure_cause"] == "analysis" and step["samples"] == res["analysis_samples"]


def test_traffic_stuck_at_one_percent_keeps_the_new_colour_and_says_both_problems() -> None:
    w, _, new = setup(error_rate=0.5)
    canary = CanaryConfig(steps=[1, 100], bake_seconds=10, analysis=ANALYSIS)
    set_weights = w.router.set_weights

    def refuse_restore(weights: dict[str, int]) -> None:
        if weights.get("green") == 0:
            raise client_error("ValidationError", "ModifyListener")
        set_weights(weights)

    w.router.set_weights = refuse_restore  # type: ignore[method-assign]
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, canary=canary,
                                                            blue_green=BlueGreenConfig(verify_retries=1)))
    assert res["status"] == "failed" and w.router.current == {"blue": 99, "green": 1}
    assert desired(w) == {"blue": 3, "green": 3}
    failure = res["analysis"][0]["reason"]
    restore = res["rollback"]["problems"][0]
    assert restore.startswith("traffic NOT restored: listener weights did not take effect after 1 attempts")
    assert res["reason"] == (f"{failure}; {restore}; kept green (app-green) running: it still carries 1% of the "
                             "traffic; run `pipeline-py deploy abort` once the listener accepts changes — MANUAL "
                             "ACTION REQUIRED")


@pytest.mark.parametrize(("delay", "said"), [(0, False), (1, True)])
def test_the_old_colour_stays_up_only_for_a_scale_down_delay(delay: float, said: bool) -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0,
                                                            blue_green=BlueGreenConfig(scale_down_delay=delay)))
    assert res["status"] == "succeeded" and desired(w) == {"blue": 0, "green": 3}
    assert ("blue stays up for 1s for instant rollback" in w.narration) is said
    assert ("stays up for" in w.narration) is said


def test_the_listener_gets_as_many_attempts_as_configured() -> None:
    w, _, new = setup()
    w.router.ignore_changes = 2
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0,
                                                            blue_green=BlueGreenConfig(verify_retries=2)))
    assert res["status"] == "rolled_back"
    assert res["reason"].startswith("TrafficError during shift_100: listener weights did not take effect after 2 "
                                    "attempts: wanted")


def test_missing_services_and_foreign_controllers_are_named() -> None:
    w = world()
    with pytest.raises(BadInput) as err:
        engine.deploy(w.ports, holder=HOLDER, req=request("arn:td"))
    assert err.value.message == "ECS service(s) not found in cluster 'c': blue (app-blue), green (app-green)"
    w, _, new = setup()
    w.ecs.services["app-green"].controller = "CODE_DEPLOY"
    with pytest.raises(BadInput, match="service app-green cannot be deployed with the canary strategy"):
        engine.deploy(w.ports, holder=HOLDER, req=request(new))


# ---- promote and abort -------------------------------------------------------------------------------


def paused(**kw: Any) -> tuple[World, str, str]:
    w, old, new = setup(**kw)
    engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=10))
    return w, old, new


def test_a_pause_tells_jenkins_where_it_stopped_and_how_to_go_on() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=50))
    assert res["status"] == "paused" and res["paused"] == {
        "weight": 50, "stage": None, "expires_at": None, "colour": "green", "continue": "deploy promote",
        "abort": "deploy abort"}


def test_a_promote_result_carries_what_it_resumed() -> None:
    w, _, new = paused()
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="promote")
    assert res["status"] == "succeeded"
    assert {k: res[k] for k in ("live_colour", "new_colour", "steps", "task_definition_arn", "resumed_at",
                                "action", "strategy")} == {
        "live_colour": "blue", "new_colour": "green", "steps": [10, 50, 100], "task_definition_arn": new,
        "resumed_at": 10, "action": "promote", "strategy": "canary"}
    assert res["weights"] == {"blue": 0, "green": 100} and "XXweightsXX" not in res
    assert res["timeline"][0] == {"t": 0.0, "kind": "weights", "weights": {"blue": 90, "green": 10}}
    assert "WEIGHTS" not in res and "ACTION" not in res and "XXactionXX" not in res


def test_a_dry_run_of_abort_answers_the_plan_and_the_weights_only() -> None:
    w, _, new = paused()
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="abort", dry_run=True)
    assert res == {"status": "dry_run", "plan": ["weights 100% blue, scale green to 0"],
                   "weights": {"blue": 90, "green": 10}}


def test_a_promote_that_fails_its_analysis_rolls_back_with_the_reason() -> None:
    w, _, new = paused()
    w.ecs.behaviours[new] = Behaviour(error_rate=0.3)
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="promote")
    assert res["status"] == "rolled_back" and res["reason"] == res["analysis"][-1]["reason"]
    assert res["reason"].startswith("canary analysis failed at 50%")
    assert w.router.current == {"blue": 100, "green": 0}


def test_a_paused_rollout_to_blue_is_promoted() -> None:
    w = world()
    old = w.ecs.revision("app")
    new = w.ecs.revision("app")
    w.ecs.add_service("app-blue", old, desired=0, target_groups=[BLUE_TG])
    w.ecs.add_service("app-green", old, desired=3, target_groups=[GREEN_TG])
    w.router.current = {"blue": 0, "green": 100}
    engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=10))
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="promote")
    assert res["status"] == "succeeded" and res["new_colour"] == "blue"
    assert w.router.current == {"blue": 100, "green": 0}


def test_a_first_step_of_one_percent_in_the_tags_is_valid() -> None:
    w, _, new = paused()
    w.ecs.services["app-green"].tags[TAG_STEPS] = "1 10 100"
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="promote")
    assert res["status"] == "succeeded" and res["steps"] == [1, 10, 100]


def test_the_revision_of_a_rollout_is_the_tagged_one_else_the_services() -> None:
    w, _, new = paused()
    w.ecs.services["app-green"].tags[TAG_TD] = "arn:aws:ecs:us-east-1:123456789012:task-definition/app:9"
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="promote", dry_run=True)
    t = TwoColourDeploy(w.ports, request(new))
    assert t.find_rollout(w.router.weights()).task_definition_arn.endswith("/app:9") and res["status"] == "dry_run"
    del w.ecs.services["app-green"].tags[TAG_TD]
    assert TwoColourDeploy(w.ports, request(new)).find_rollout(w.router.weights()).task_definition_arn == new


def test_without_tags_or_a_split_there_is_nothing_to_resume() -> None:
    w, _, new = setup()
    with pytest.raises(BadInput) as err:
        engine.resume(w.ports, request(new), holder=HOLDER, action="promote")
    assert err.value.message == ("no paused rollout found (no service carries the pipeline-py:rollout tags, and the "
                                 "listener sends all traffic to blue)")


def split(blue_good: bool, green_good: bool) -> tuple[World, str, str]:
    w, old, new = setup()
    w.ecs.services["app-green"].task_definition = new
    w.ecs.services["app-green"].desired = 3
    if blue_good:
        w.ecs.services["app-blue"].tags[KNOWN_GOOD_TAG] = "app:1"
    if green_good:
        w.ecs.services["app-green"].tags[KNOWN_GOOD_TAG] = "app:2"
    w.router.current = {"blue": 60, "green": 40}
    return w, old, new


def test_a_split_without_tags_takes_the_only_known_good_colour_as_stable() -> None:
    w, old, new = split(blue_good=False, green_good=True)
    res = engine.resume(w.ports, request(new, "linear"), holder=HOLDER, action="abort")
    assert (res["live_colour"], res["new_colour"]) == ("green", "blue")
    assert (res["strategy"], res["steps"], res["task_definition_arn"]) == ("linear", [100], old)
    assert w.router.current == {"blue": 0, "green": 100} and desired(w) == {"blue": 0, "green": 3}
    assert "taking green as the stable colour (its revision is known-good)" in w.narration


def test_a_split_without_tags_or_records_takes_the_colour_with_more_traffic_as_stable() -> None:
    w, _, new = split(blue_good=False, green_good=False)
    w.router.current = {"blue": 30, "green": 70}
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="abort")
    assert (res["live_colour"], res["new_colour"], res["strategy"]) == ("green", "blue", "canary")
    assert w.router.current == {"blue": 0, "green": 100}
    assert "taking green as the stable colour (it carries more traffic)" in w.narration


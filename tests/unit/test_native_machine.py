"""The ECS-native phase machine (ecs-blue-green, ecs-linear, ecs-canary) on fakes and the fake clock: the
fake ECS moves one lifecycle stage per DescribeServiceDeployments, waits at PAUSE hooks, moves the
production rule's weights and rolls back; each test asserts the rule's weights, the hooks' answers and
the service's revision as well as the status."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.config import AnalysisConfig, CanaryConfig, NativeConfig, SmokeCheck
from pipeline_py.deploy import engine
from pipeline_py.deploy.native import NO_PAUSE_STAGES, PAUSE_STAGES
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.result import raise_for
from pipeline_py.deploy.rollback import KNOWN_GOOD_TAG
from pipeline_py.errors import Aborted, BadInput, HumanNeeded, OperationFailed
from tests.fakes import HOLDER, NATIVE_TGS, Behaviour, World, world

A, B = NATIVE_TGS
ANALYSIS = AnalysisConfig(max_error_rate=0.01, min_requests=10, interval=5, period=1, failure_limit=0,
                          consecutive_failure_limit=1)
CLOSED_PORT = "http://127.0.0.1:1/health"  # connection refused at once: a failing smoke check without a server


def setup(**behaviour: Any) -> tuple[World, str, str]:
    w = world()
    old = w.ecs.revision("app")
    new = w.ecs.revision("app", Behaviour(**behaviour))
    w.ecs.add_native_service("app", old, desired=3, production_tg=A, alternate_tg=B)
    return w, old, new


def request(arn: str, strategy: str = "ecs-canary", **kw: Any) -> DeployRequest:
    base: dict[str, Any] = {
        "strategy": strategy, "cluster": "c", "service": "app", "task_definition_arn": arn, "timeout": 60,
        "poll_interval": 5, "rollback_timeout": 60, "bake_seconds": 10,
        "canary": CanaryConfig(bake_seconds=10, analysis=ANALYSIS),
        "native": NativeConfig(canary_percent=10, linear_step_percent=25),
    }
    base.update(kw)
    return DeployRequest(**base)


def hooks(w: World) -> list[tuple[str, str]]:
    return [c[1] for c in w.ecs.calls if c[0] == "continue"]


def actions(res: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    return [(h["stage"], h["action"], h["weight"]) for h in res.get("hooks", [])]


def test_a_good_canary_is_judged_at_every_step_and_promoted() -> None:
    w, _old, new = setup()
    res = engine.deploy(w.ports, request(new), holder=HOLDER)
    assert res["status"] == "succeeded", res["reason"]
    assert w.ecs.rule == {A: 0, B: 100}
    svc = w.ecs.services["app"]
    assert svc.task_definition == new and [d["taskDefinition"] for d in svc.deployments] == [new]
    assert actions(res) == [("PRE_PRODUCTION_TRAFFIC_SHIFT", "CONTINUE", 0),
                            ("PRE_PRODUCTION_TRAFFIC_SHIFT", "CONTINUE", 10),
                            ("POST_PRODUCTION_TRAFFIC_SHIFT", "CONTINUE", 100)]
    assert [(a["weight"], a["result"]) for a in res["analysis"]] == [(10, "pass"), (100, "pass")]
    # the canary was compared with the production target group over the same windows
    assert all(s["stable"]["requests"] > 0 for s in res["analysis"][0]["samples"])
    assert res["analysis"][1]["samples"][0]["stable"] is None
    assert [c["stage"] for c in res["lifecycle"]] == [
        "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"]
    assert "ECS: CLEAN_UP" in w.narration and "weights now blue 90%, green 10%" in w.narration
    assert svc.tags[KNOWN_GOOD_TAG] == "app:2"
    assert res["live_colour"] == "blue" and res["target_groups"] == {"blue": A, "green": B}
    assert {"blue": 0, "green": 100} in [e["weights"] for e in res["timeline"] if e["kind"] == "weights"]


def test_the_update_carries_the_strategy_and_pause_hooks_only_where_ecs_allows_them() -> None:
    w, _, new = setup()
    engine.deploy(w.ports, request(new, native=NativeConfig(canary_percent=5, test_url=CLOSED_PORT)),
                  holder=HOLDER, dry_run=True)
    assert not [c for c in w.ecs.calls if c[0] == "update"]  # a dry run changes nothing
    w2, _, new2 = setup()
    engine.deploy(w2.ports, request(new2), holder=HOLDER)
    cfg = w2.ecs.services["app"].config
    assert cfg["strategy"] == "CANARY" and cfg["canaryConfiguration"] == {"canaryPercent": 10,
                                                                         "canaryBakeTimeInMinutes": 0}
    assert cfg["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}  # the service's own kept
    stages = [s for h in cfg["lifecycleHooks"] for s in h["lifecycleStages"]]
    assert stages == ["PRE_PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"]
    assert not set(stages) & set(NO_PAUSE_STAGES) and set(stages) <= set(PAUSE_STAGES)
    for h in cfg["lifecycleHooks"]:
        assert h["targetType"] == "PAUSE" and h["timeoutConfiguration"]["action"] == "ROLLBACK"
        # longer than the analysis at the hook: a runner that dies mid-analysis ends in a rollback
        assert h["timeoutConfiguration"]["timeoutInMinutes"] * 60 > 10 * (1 + ANALYSIS.max_inconclusive_extensions)


def test_a_bad_canary_is_rolled_back_by_the_analysis_with_the_numbers() -> None:
    w, old, new = setup(error_rate=0.2)
    res = engine.deploy(w.ports, request(new), holder=HOLDER)
    assert res["status"] == "rolled_back" and res["failure_cause"] == "analysis"
    assert res["rolled_back_by"] == "pipeline-py"
    assert "5XX rate 20.00%" in res["reason"]
    assert actions(res)[-1] == ("PRE_PRODUCTION_TRAFFIC_SHIFT", "ROLLBACK", 10)
    assert res["hooks"][-1]["reason"] == res["reason"]
    bad = [s for s in res["analysis"][0]["samples"] if s["result"] == "fail"]
    assert bad and bad[0]["canary"]["error_rate"] == 0.2 and bad[0]["stable"]["error_rate"] == 0
    assert w.ecs.rule == {A: 100, B: 0}
    assert w.ecs.services["app"].task_definition == old and res["rollback"]["restored"] is True
    with pytest.raises(OperationFailed):
        raise_for(res)


def test_linear_is_analysed_at_every_step() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, request(new, "ecs-linear"), holder=HOLDER)
    assert res["status"] == "succeeded" and res["steps"] == [25, 50, 75, 100]
    assert [a["weight"] for a in res["analysis"]] == [25, 50, 75, 100]
    assert w.ecs.services["app"].config["linearConfiguration"] == {"stepPercent": 25, "stepBakeTimeInMinutes": 0}


def test_blue_green_smoke_failure_on_the_test_rule_rolls_back_before_production_moves() -> None:
    w, old, new = setup()
    sm = SmokeCheck(url=CLOSED_PORT, retries=2, interval=1, timeout=1)
    res = engine.deploy(w.ports, request(new, "ecs-blue-green", smoke=None,
                                         native=NativeConfig(test_url=sm.url)), holder=HOLDER)
    assert res["status"] == "rolled_back" and res["failure_cause"] == "smoke"
    assert actions(res) == [("POST_TEST_TRAFFIC_SHIFT", "ROLLBACK", 0)]
    assert all(e["weights"]["green"] == 0 for e in res["timeline"] if e["kind"] == "weights")
    assert w.ecs.rule == {A: 100, B: 0} and w.ecs.services["app"].task_definition == old


def test_pause_at_a_percentage_then_promote_from_what_ecs_says() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, request(new, pause_at=10), holder=HOLDER)
    assert res["status"] == "paused" and res["paused"]["weight"] == 10
    nd = w.ecs.services["app"].native
    assert nd is not None and nd.awaiting is not None and nd.awaiting["status"] == "AWAITING_ACTION"
    assert w.ecs.rule == {A: 90, B: 10}
    again = engine.strategy_for(w.ports, request(new))
    with pytest.raises(BadInput, match=r"in progress .*waiting at PRE_PRODUCTION_TRAFFIC_SHIFT"):
        again.preflight()
    p = engine.resume(w.ports, request("", task_definition_arn=None), "promote", holder=HOLDER)
    assert p["status"] == "succeeded", p["reason"]
    assert actions(p)[0] == ("PRE_PRODUCTION_TRAFFIC_SHIFT", "CONTINUE", 10)
    assert [a["weight"] for a in p["analysis"]] == [100]
    assert w.ecs.rule == {A: 0, B: 100}


def test_pause_at_a_stage_then_abort() -> None:
    w, old, new = setup()
    res = engine.deploy(w.ports, request(new, pause_at_stage="POST_TEST_TRAFFIC_SHIFT"), holder=HOLDER)
    assert res["status"] == "paused" and res["paused"]["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    gate = next(h for h in w.ecs.services["app"].config["lifecycleHooks"]
                if h["lifecycleStages"] == ["POST_TEST_TRAFFIC_SHIFT"])
    assert gate["timeoutConfiguration"]["timeoutInMinutes"] == NativeConfig().gate_timeout_minutes
    a = engine.resume(w.ports, request("", task_definition_arn=None), "abort", holder=HOLDER)
    assert a["status"] == "rolled_back" and "aborted by request at 0%" in a["reason"]
    assert hooks(w)[-1][1] == "ROLLBACK"
    assert w.ecs.rule == {A: 100, B: 0} and w.ecs.services["app"].task_definition == old
    with pytest.raises(OperationFailed, match="already rolled the deployment back"):
        engine.resume(w.ports, request("", task_definition_arn=None), "promote", holder=HOLDER)


def test_an_abort_signal_at_a_hook_answers_rollback() -> None:
    w, _old, new = setup()
    fired: list[float] = []

    def abort(clock: FakeClock) -> None:
        nd = w.ecs.services["app"].native
        if not fired and nd is not None and nd.weight == 10:
            fired.append(clock.monotonic())
            raise Aborted("aborted by SIGTERM")

    w.clock.on_sleep.append(abort)
    res = engine.deploy(w.ports, request(new), holder=HOLDER)
    assert res["status"] == "rolled_back" and "SIGTERM" in res["reason"] and res["failure_cause"] == "aborted"
    assert hooks(w)[-1][1] == "ROLLBACK" and not [c for c in w.ecs.calls if c[0] == "stop"]
    assert w.ecs.rule == {A: 100, B: 0}


def test_an_abort_signal_between_hooks_stops_the_deployment_with_rollback() -> None:
    w, old, new = setup()

    def abort(clock: FakeClock) -> None:
        nd = w.ecs.services["app"].native
        if nd is not None and nd.stage == "POST_SCALE_UP" and not [c for c in w.ecs.calls if c[0] == "stop"]:
            raise Aborted("aborted by SIGINT")

    w.clock.on_sleep.append(abort)
    res = engine.deploy(w.ports, request(new), holder=HOLDER)
    assert res["status"] == "rolled_back" and "SIGINT" in res["reason"]
    assert ("stop", "ROLLBACK") in w.ecs.calls
    assert w.ecs.rule == {A: 100, B: 0} and w.ecs.services["app"].task_definition == old


def test_ecs_own_alarm_rollback_is_a_failure_with_its_reason() -> None:
    w, _old, new = setup()
    w.alarms.set("app-5xx", "OK")

    def fire(clock: FakeClock) -> None:
        nd = w.ecs.services["app"].native
        if nd is not None and nd.stage == "POST_TEST_TRAFFIC_SHIFT" and w.alarms.alarms["app-5xx"]["state"] == "OK":
            w.alarms.set("app-5xx", "ALARM")

    w.clock.on_sleep.append(fire)
    res = engine.deploy(w.ports, request(new, native=NativeConfig(ecs_alarms=["app-5xx"])), holder=HOLDER)
    assert w.ecs.services["app"].config["alarms"] == {"alarmNames": ["app-5xx"], "enable": True, "rollback": True}
    assert res["status"] == "rolled_back" and res["rolled_back_by"] == "ECS"
    assert res["reason"].startswith("ECS rolled the deployment back") and "app-5xx" in res["reason"]
    assert w.ecs.rule == {A: 100, B: 0}


def test_a_hook_that_times_out_under_the_analysis_ends_in_ecs_rollback() -> None:
    w, _old, new = setup()
    res = engine.deploy(w.ports, request(new, canary=CanaryConfig(bake_seconds=120, analysis=ANALYSIS),
                                         native=NativeConfig(hook_timeout_minutes=1)), holder=HOLDER)
    assert "hook_timeout_minutes 1 is not longer" in w.narration
    assert res["status"] == "rolled_back" and res["failure_cause"] == "hook_timeout"
    assert "timed out" in res["reason"] and res["rolled_back_by"] == "ECS"
    assert w.ecs.rule == {A: 100, B: 0}


def test_failed_tasks_of_the_new_revision_stop_the_deployment() -> None:
    w, old, new = setup(kind="crash", exit_code=3)
    res = engine.deploy(w.ports, request(new, max_failed_tasks=3), holder=HOLDER)
    assert res["status"] == "rolled_back" and res["failure_cause"] == "failed_tasks"
    assert "Essential container in task exited" in res["reason"]
    assert ("stop", "ROLLBACK") in w.ecs.calls and w.ecs.services["app"].task_definition == old
    assert res["stopped_tasks"] and res["stopped_tasks"][0]["containers"][0]["exitCode"] == 3


def test_a_rollback_that_does_not_finish_needs_a_human() -> None:
    w, _, new = setup(error_rate=0.2)
    w.ecs.rollback_sticks = True
    res = engine.deploy(w.ports, request(new, rollback_timeout=30), holder=HOLDER)
    assert res["status"] == "failed" and "did not finish within 30s" in res["reason"]
    assert "MANUAL ACTION REQUIRED" in res["reason"]
    with pytest.raises(HumanNeeded):
        raise_for(res)


def test_ecs_reporting_success_with_the_rule_not_moved_is_not_a_success() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, request(new, "ecs-blue-green", bake_seconds=0), holder=HOLDER)
    assert res["status"] == "succeeded"
    w2, _, new2 = setup()
    original = w2.ecs._native_step

    def no_weights(svc: Any) -> None:
        before = dict(w2.ecs.rule)
        original(svc)
        w2.ecs.rule = before

    w2.ecs._native_step = no_weights  # type: ignore[method-assign]
    res2 = engine.deploy(w2.ports, request(new2, "ecs-blue-green", bake_seconds=0), holder=HOLDER)
    assert res2["status"] == "failed" and "production listener rule reads" in res2["reason"]


@pytest.mark.parametrize("kw, text", [
    ({"pause_at_stage": "PRODUCTION_TRAFFIC_SHIFT"}, "Lambda hooks only"),
    ({"pause_at_stage": "TEST_TRAFFIC_SHIFT"}, "Lambda hooks only"),
    ({"pause_at_stage": "NOT_A_STAGE"}, "not a lifecycle stage"),
    ({"pause_at": 50}, "no step below 100% reaches it"),
    ({"strategy": "ecs-blue-green", "pause_at": 10}, "ecs-blue-green shifts in one step"),
])
def test_bad_gates_are_refused_before_anything_changes(kw: dict[str, Any], text: str) -> None:
    w, _, new = setup()
    with pytest.raises(BadInput, match=text):
        engine.deploy(w.ports, request(new, **kw), holder=HOLDER)
    assert not [c for c in w.ecs.calls if c[0] == "update"]


def test_a_service_without_advanced_configuration_is_refused() -> None:
    w = world()
    old = w.ecs.revision("app")
    w.ecs.add_service("app", old, target_groups=[A])
    with pytest.raises(BadInput, match="no advancedConfiguration"):
        engine.deploy(w.ports, request(old), holder=HOLDER)
    with pytest.raises(BadInput, match="no paused ECS deployment"):
        w.ecs.add_native_service("app2", old, production_tg=A, alternate_tg=B)
        engine.resume(w.ports, request("", service="app2", task_definition_arn=None), "promote", holder=HOLDER)


def test_the_second_deploy_goes_to_the_other_target_group() -> None:
    w, _, new = setup()
    assert engine.deploy(w.ports, request(new), holder=HOLDER)["status"] == "succeeded"
    newer = w.ecs.revision("app")
    res = engine.deploy(w.ports, request(newer), holder=HOLDER)
    assert res["status"] == "succeeded" and res["target_groups"] == {"blue": B, "green": A}
    assert w.ecs.rule == {A: 100, B: 0}


def test_advanced_configuration_from_the_config_is_set_with_the_first_deploy() -> None:
    """terraform's provider 5.x cannot set advancedConfiguration: the configuration (terraform outputs)
    names the alternate target group and rules, and the deploy puts them on the service's load balancer."""
    w = world()
    old = w.ecs.revision("app")
    new = w.ecs.revision("app")
    w.ecs.add_service("app", old, desired=2, target_groups=[A])
    w.ecs.rule = {A: 100, B: 0}
    native = NativeConfig(alternate_target_group=B, production_listener_rule="arn:aws:elasticloadbalancing:us-east-1:"
                          "123456789012:listener-rule/app/lb/1/82/r1", role_arn="arn:aws:iam::123456789012:role/x")
    plan = engine.deploy(w.ports, request(new, native=native), holder=HOLDER, dry_run=True)["plan"]
    assert "sets loadBalancers[].advancedConfiguration" in plan[0]
    res = engine.deploy(w.ports, request(new, native=native), holder=HOLDER)
    assert res["status"] == "succeeded", res["reason"]
    svc = w.ecs.services["app"]
    assert svc.advanced == {"alternateTargetGroupArn": B, "productionListenerRule": native.production_listener_rule,
                            "roleArn": native.role_arn}
    assert w.ecs.rule == {A: 0, B: 100}

"""The two-colour phase machine (blue-green, canary, linear) on fakes and the fake clock: every
transition, including those the integration tier can only hedge — traffic not restored, damaged or
missing rollout tags, an abort during the scale-down delay — each asserting weights, desired counts
and tags as well as the status."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline_py.config import AnalysisConfig, BlueGreenConfig, CanaryConfig
from pipeline_py.deploy import engine
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.result import raise_for
from pipeline_py.deploy.rollback import KNOWN_GOOD_TAG
from pipeline_py.deploy.two_colour import TAG_STATE, TAG_STEPS
from pipeline_py.errors import Aborted, BadInput, HumanNeeded
from tests.fakes import HOLDER, TOPOLOGY, Behaviour, World, client_error, world

ANALYSIS = AnalysisConfig(max_error_rate=0.01, min_requests=10, interval=5, period=1, failure_limit=0,
                          consecutive_failure_limit=1)


def setup(strategy: str = "canary", **behaviour: Any) -> tuple[World, str, str]:
    w = world()
    old = w.ecs.revision("app")
    new = w.ecs.revision("app", Behaviour(**behaviour))
    w.ecs.add_service("app-blue", old, desired=3, target_groups=[TOPOLOGY.target_groups["blue"]])
    w.ecs.add_service("app-green", old, desired=0, target_groups=[TOPOLOGY.target_groups["green"]])
    return w, old, new


def request(arn: str, strategy: str = "canary", **kw: Any) -> DeployRequest:
    base: dict[str, Any] = {
        "strategy": strategy, "cluster": "c", "service": "app", "task_definition_arn": arn, "timeout": 60,
        "poll_interval": 5, "rollback_timeout": 60, "bake_seconds": 10,
        "blue_green": BlueGreenConfig(scale_down_delay=30),
        "canary": CanaryConfig(steps=[10, 50, 100], bake_seconds=10, linear_step=25, analysis=ANALYSIS),
    }
    base.update(kw)
    return DeployRequest(**base)


def desired(w: World) -> dict[str, int]:
    return {c: w.ecs.services[f"app-{c}"].desired for c in ("blue", "green")}


def test_a_good_canary_goes_through_every_step_and_parks_the_old_colour() -> None:
    w, _old, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "succeeded"
    assert w.router.history == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    assert res["weights"] == {"blue": 0, "green": 100}
    assert desired(w) == {"blue": 0, "green": 3}
    assert [a["weight"] for a in res["analysis"]] == [10, 50, 100] and all(a["result"] == "pass"
                                                                           for a in res["analysis"])
    green = w.ecs.services["app-green"]
    assert green.task_definition == new and TAG_STATE not in green.tags
    assert green.tags[KNOWN_GOOD_TAG] == "app:2"
    assert res["old_colour_scaled_down"] is True and "blue stays up for 30s for instant rollback" in w.narration


def test_blue_green_switches_in_one_verified_step() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green"))
    assert res["status"] == "succeeded" and res["steps"] == [100]
    assert w.router.history == [{"blue": 0, "green": 100}]


def test_linear_steps_are_equal() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "linear"))
    assert res["steps"] == [25, 50, 75, 100]
    assert [h["green"] for h in w.router.history] == [25, 50, 75, 100]


def test_a_bad_canary_is_caught_at_the_first_step_and_traffic_restored() -> None:
    w, old, new = setup(error_rate=0.2)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "analysis"
    assert "at 10%" in res["reason"] and "5XX rate 20.00%" in res["reason"]
    assert w.router.current == {"blue": 100, "green": 0}
    assert desired(w) == {"blue": 3, "green": 0}
    assert w.ecs.services["app-blue"].task_definition == old
    assert TAG_STATE not in w.ecs.services["app-green"].tags
    assert KNOWN_GOOD_TAG not in w.ecs.services["app-green"].tags


def test_traffic_that_cannot_be_restored_is_exit_3_and_keeps_the_new_colour_serving() -> None:
    """The listener ignores every change after the canary step: the rollback cannot move traffic
    back, so the canary colour must keep its tasks (it still carries traffic) and its rollout tags
    (so `deploy abort` can resume), and the result says a human is needed."""
    w, _, new = setup(error_rate=0.2)

    def stick(clock: Any) -> None:
        if w.router.current.get("green"):
            w.router.ignore_changes = 1000

    w.clock.on_sleep.append(stick)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "failed" and "MANUAL ACTION REQUIRED" in res["reason"]
    assert "traffic NOT restored" in res["reason"]
    assert w.router.current == {"blue": 90, "green": 10}
    assert res["weights"] == {"blue": 90, "green": 10}
    assert desired(w) == {"blue": 3, "green": 3}
    assert w.ecs.services["app-green"].tags[TAG_STATE] == "restore-failed"
    assert w.ecs.services["app-green"].task_definition == new
    assert res["rollback"]["restored"] is False and res["new_colour_scaled_down"] is False
    with pytest.raises(HumanNeeded) as failed:
        raise_for(res)
    assert failed.value.exit_code == 3


def test_pause_then_promote_resumes_from_the_tags() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=50))
    assert res["status"] == "paused" and w.router.current == {"blue": 50, "green": 50}
    assert res["paused"]["weight"] == 50 and res["paused"]["colour"] == "green"
    green = w.ecs.services["app-green"]
    assert green.tags[TAG_STATE] == "paused" and green.tags[TAG_STEPS] == "10 50 100"
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="promote")
    assert res["status"] == "succeeded" and res["resumed_at"] == 50
    assert w.router.current == {"blue": 0, "green": 100} and desired(w) == {"blue": 0, "green": 3}
    assert TAG_STATE not in green.tags


def test_pause_then_abort_restores_traffic() -> None:
    w, _old, new = setup()
    engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=10))
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="abort")
    assert res["status"] == "rolled_back" and res["reason"] == "aborted by request at 10%"
    assert w.router.current == {"blue": 100, "green": 0} and desired(w) == {"blue": 3, "green": 0}


def test_damaged_rollout_tags_are_bad_input_and_change_nothing() -> None:
    w, _, new = setup()
    engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=10))
    w.ecs.services["app-green"].tags[TAG_STEPS] = "ten fifty"
    with pytest.raises(BadInput, match="damaged"):
        engine.resume(w.ports, request(new), holder=HOLDER, action="promote")
    assert w.router.current == {"blue": 90, "green": 10} and desired(w) == {"blue": 3, "green": 3}


def test_a_new_deploy_refuses_a_paused_rollout() -> None:
    w, _, new = setup()
    engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=10))
    with pytest.raises(BadInput, match="paused"):
        engine.deploy(w.ports, holder=HOLDER, req=request(new))


def test_an_abort_during_the_scale_down_delay_leaves_the_old_colour_running() -> None:
    w, _, new = setup()

    def abort_on_delay(clock: Any) -> None:
        if "stays up for 30s" in w.narration:
            raise Aborted("SIGTERM")

    w.clock.on_sleep.append(abort_on_delay)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "succeeded" and res["old_colour_scaled_down"] is False
    assert w.router.current == {"blue": 0, "green": 100} and desired(w) == {"blue": 3, "green": 3}


def test_a_throttled_weight_change_is_retried() -> None:
    w, _, new = setup()
    w.router.fail_set = [client_error("Throttling", "ModifyListener")]
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "succeeded" and w.router.current == {"blue": 0, "green": 100}


def test_the_dry_run_plans_every_step_and_changes_nothing() -> None:
    w, _old, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new), dry_run=True)
    assert res["status"] == "dry_run" and res["live_colour"] == "blue" and res["new_colour"] == "green"
    assert res["plan"][0].startswith("ecs:UpdateService c/app-green (green, idle) to the new revision at 3 tasks")
    assert [line for line in res["plan"] if line.startswith("elbv2:ModifyListener")] == [
        "elbv2:ModifyListener green 10% / blue 90% (read back and verified); analyse 10s",
        "elbv2:ModifyListener green 50% / blue 50% (read back and verified); analyse 10s",
        "elbv2:ModifyListener green 100% / blue 0% (read back and verified); analyse 10s",
    ]
    assert w.router.history == [] and desired(w) == {"blue": 3, "green": 0}


def test_a_crashing_new_colour_never_gets_traffic() -> None:
    w, _, new = setup(kind="crash")
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "failed_tasks"
    assert w.router.history == [{"blue": 100, "green": 0}]
    assert desired(w) == {"blue": 3, "green": 0}

"""What a two-colour deploy says it did, pinned value by value on fakes: the rollback record, the phases
and the timeline a report is drawn from, the rollout tags `deploy promote`/`abort` resume from, and the
plan a dry run shows (gaps mutation testing found: each assertion here failed on a surviving mutant)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pipeline_py.config import BlueGreenConfig
from pipeline_py.deploy import engine
from pipeline_py.deploy.two_colour import TAG_STABLE, TAG_STATE, TAG_STEPS, TAG_STRATEGY, TAG_TD
from pipeline_py.errors import BadInput
from tests.fakes import HOLDER, TOPOLOGY, World, world
from tests.unit.test_two_colour_machine import desired, request, setup


def phases(res: dict[str, Any]) -> list[str]:
    return [p["phase"] for p in res["phases"]]


def test_a_rollback_records_what_it_restored_in_the_result_and_the_timeline() -> None:
    w, old, new = setup(error_rate=0.2)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "rolled_back"
    assert res["rollback"] == {"weights": {"blue": 100, "green": 0}, "problems": [], "restored": True}
    assert res["new_colour_scaled_down"] is True
    assert phases(res)[-3:] == ["analysis_10", "rolling_back", "rolled_back"]
    rollback = [e for e in res["timeline"] if e["kind"] == "rollback"]
    assert len(rollback) == 1 and rollback[0]["reason"] == res["reason"]
    assert [e["weights"] for e in res["timeline"] if e["kind"] == "weights"] == [
        {"blue": 100, "green": 0}, {"blue": 90, "green": 10}, {"blue": 100, "green": 0}]
    assert w.ecs.services["app-blue"].task_definition == old and desired(w) == {"blue": 3, "green": 0}


def test_a_new_colour_that_cannot_be_scaled_down_is_a_problem_the_rollback_reports() -> None:
    from tests.fakes import client_error

    w, old, new = setup(error_rate=0.2)

    def fail_scale_down(clock: Any) -> None:
        if "analysing green at 10%" in w.narration:  # after the new colour was scaled up
            w.ecs.fail["update"] = [client_error("AccessDeniedException")]
            w.clock.on_sleep.clear()

    w.clock.on_sleep.append(fail_scale_down)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "rolled_back" and res["new_colour_scaled_down"] is False
    assert res["rollback"]["restored"] is True and w.router.current == {"blue": 100, "green": 0}
    [problem] = res["rollback"]["problems"]
    assert problem.startswith("could not scale green to 0: ") and "AccessDeniedException" in problem
    assert w.ecs.services["app-blue"].task_definition == old


def test_a_paused_rollout_keeps_everything_resuming_needs_in_tags() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=50))
    assert res["status"] == "paused" and res["reason"] is None
    assert phases(res)[-2:] == ["analysis_50", "paused"]
    assert [e["weight"] for e in res["timeline"] if e["kind"] == "pause"] == [50]
    tags = w.ecs.services["app-green"].tags
    assert {k: tags[k] for k in (TAG_STATE, TAG_STABLE, TAG_STEPS, TAG_STRATEGY, TAG_TD)} == {
        TAG_STATE: "paused", TAG_STABLE: "blue", TAG_STEPS: "10 50 100", TAG_STRATEGY: "canary", TAG_TD: new}
    assert TAG_STATE not in w.ecs.services["app-blue"].tags


def test_resume_takes_strategy_revision_and_steps_from_the_tags_not_the_request() -> None:
    w, _, new = setup()
    engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=10))
    w.ecs.services["app-green"].tags[TAG_STEPS] = "10 60 100"
    res = engine.resume(w.ports, request(new, "linear"), holder=HOLDER, action="promote")
    assert res["status"] == "succeeded" and res["strategy"] == "canary"
    assert res["steps"] == [10, 60, 100] and res["task_definition_arn"] == new
    assert [a["weight"] for a in res["analysis"]] == [60, 100]
    assert w.router.history[-2:] == [{"blue": 40, "green": 60}, {"blue": 0, "green": 100}]


def test_a_dry_run_of_resume_plans_without_moving_traffic() -> None:
    w, _, new = setup()
    engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=10))
    shifts = list(w.router.history)
    promote = engine.resume(w.ports, request(new), holder=HOLDER, action="promote", dry_run=True)
    assert promote["plan"] == ["shift to 50% with analysis", "shift to 100% with analysis"]
    abort = engine.resume(w.ports, request(new), holder=HOLDER, action="abort", dry_run=True)
    assert abort["plan"] == ["weights 100% blue, scale green to 0"]
    assert w.router.history == shifts and desired(w) == {"blue": 3, "green": 3}


@pytest.mark.parametrize(("tags", "why"), [
    ({TAG_STEPS: "0 100"}, "a step of 0%"),
    ({TAG_STEPS: "10 101"}, "a step over 100%"),
    ({TAG_STEPS: ""}, "no steps"),
    ({TAG_STABLE: "green"}, "the stable colour is the rollout's own"),
])
def test_damaged_rollout_tags_are_refused(tags: dict[str, str], why: str) -> None:
    w, _, new = setup()
    engine.deploy(w.ports, holder=HOLDER, req=request(new, pause_at=10))
    w.ecs.services["app-green"].tags.update(tags)
    with pytest.raises(BadInput, match="the rollout tags on app-green are damaged"):
        engine.resume(w.ports, request(new), holder=HOLDER, action="promote")
    assert w.router.current == {"blue": 90, "green": 10}, why


def test_a_split_without_tags_takes_the_known_good_colour_as_stable_even_with_less_traffic() -> None:
    from pipeline_py.deploy.rollback import KNOWN_GOOD_TAG

    w, old, new = setup()
    w.ecs.services["app-green"].task_definition = new
    w.ecs.services["app-green"].desired = 3
    w.ecs.services["app-green"].tags[KNOWN_GOOD_TAG] = "app:1"  # green's app:2 was never recorded
    w.ecs.services["app-blue"].tags[KNOWN_GOOD_TAG] = "app:1"
    w.router.current = {"blue": 40, "green": 60}
    res = engine.resume(w.ports, request(new), holder=HOLDER, action="abort")
    assert res["live_colour"] == "blue" and res["new_colour"] == "green"
    assert w.router.current == {"blue": 100, "green": 0} and desired(w) == {"blue": 3, "green": 0}
    assert w.ecs.services["app-blue"].task_definition == old


def test_the_dry_run_plan_names_the_test_listener_the_smoke_check_and_a_rule() -> None:
    topology = replace(TOPOLOGY, rule_arn=TOPOLOGY.listener_arn + "/rule/1",
                       test_listener_arn=TOPOLOGY.listener_arn + "/8080")
    w: World = world(topology=topology)
    old = w.ecs.revision("app")
    new = w.ecs.revision("app")
    w.ecs.add_service("app-blue", old, desired=2, target_groups=[topology.target_groups["blue"]])
    w.ecs.add_service("app-green", old, desired=0, target_groups=[topology.target_groups["green"]])
    req = request(new, "blue-green", bake_seconds=0,
                  blue_green=BlueGreenConfig(scale_down_delay=5, test_url="http://127.0.0.1:9/health"))
    res = engine.deploy(w.ports, holder=HOLDER, req=req, dry_run=True)
    assert res["plan"] == [
        "ecs:UpdateService c/app-green (green, idle) to the new revision at 2 tasks; watch to steady state; "
        f"verify targets in {topology.target_groups['green']}",
        "elbv2:ModifyListener test listener → green",
        "smoke: GET http://127.0.0.1:9/health",
        "elbv2:ModifyRule green 100% / blue 0% (read back and verified)",
        "after 5s: scale blue (app-blue) to 0",
        "on failure: weights 100% blue (verified), green scaled to 0",
    ]
    assert res["weights"] == {"blue": 100, "green": 0} and res["live_colour"] == "blue"


def test_autoscaling_bounds_follow_the_traffic() -> None:
    w, _, new = setup()
    w.scaling.bounds_by_service["app-blue"] = (2, 6)
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "succeeded" and res["autoscaling"] == {"min": 2, "max": 6}
    assert w.scaling.bounds_by_service == {"app-blue": (0, 0), "app-green": (2, 6)}
    assert desired(w) == {"blue": 0, "green": 3}


def test_a_weight_change_that_does_not_read_back_is_retried_after_at_most_two_seconds() -> None:
    w, _, new = setup()
    w.router.ignore_changes = 1
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0))
    assert res["status"] == "succeeded" and res["weight_changes"] == [{"blue": 0, "green": 100}]
    assert 2.0 in w.clock.sleeps and 3.0 not in w.clock.sleeps and w.router.history == [{"blue": 0, "green": 100}]


def test_an_abort_before_the_new_revision_exists_changes_nothing() -> None:
    from pipeline_py.errors import Aborted

    w, old, _ = setup()
    w.ecs.fail["register"] = [Aborted("SIGINT")]  # type: ignore[list-item]
    res = engine.deploy(w.ports, holder=HOLDER, req=request(None, task_definition={"family": "app",
                                                                                   "containerDefinitions": []}))
    assert res["status"] == "not_started" and res["reason"] == "aborted before anything changed"
    assert w.router.history == [] and desired(w) == {"blue": 3, "green": 0}
    assert w.ecs.services["app-green"].task_definition == old and w.ecs.services["app-green"].tags == {}


def test_preflight_refusals_name_what_to_do() -> None:
    w, _, new = setup()
    with pytest.raises(BadInput) as err:
        engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", pause_at=50))
    assert err.value.message == "--pause-at applies to canary and linear (blue-green switches in one step)"
    w.router.current = {"blue": 60, "green": 40}
    with pytest.raises(BadInput) as err:
        engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert err.value.message == ("traffic is split (blue 60%, green 40%): another rollout is in progress; "
                                 "promote or abort it first")
    w.router.current = {"blue": 90, "green": 10}
    w.ecs.services["app-green"].tags.update({TAG_STATE: "paused", TAG_STRATEGY: "linear"})
    with pytest.raises(BadInput) as err:
        engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert err.value.message == ("a linear rollout to green is unfinished (paused at 10%): run `deploy promote` or "
                                 "`deploy abort` first")
    del w.ecs.services["app-green"]
    with pytest.raises(BadInput) as err:
        engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert err.value.message == "ECS service(s) not found in cluster 'c': green (app-green)"
    assert w.router.history == []


def test_unhealthy_targets_of_the_new_colour_stop_the_deploy_before_any_traffic() -> None:
    w, old, new = setup(kind="unhealthy")
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    assert res["status"] == "rolled_back" and res["failure_cause"] == "targets"
    assert "Target.ResponseCodeMismatch" in res["reason"]
    assert w.router.history == [{"blue": 100, "green": 0}] and desired(w) == {"blue": 3, "green": 0}
    assert set(res["target_health"]["targets"]) == {TOPOLOGY.target_groups["green"]}
    assert w.ecs.services["app-blue"].task_definition == old


def test_a_good_rollout_records_its_deployment_timings_and_each_steps_analysis() -> None:
    w, _, new = setup()
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new))
    green = w.ecs.services["app-green"]
    assert res["deployment_id"] == green.deployments[0]["id"] and green.deployments[0]["taskDefinition"] == new
    assert 0 < res["timings"]["to_steady_state_seconds"] <= res["timings"]["to_full_traffic_seconds"]
    assert phases(res)[1:4] == ["register", "prepare", "shift_10"] and phases(res)[-2:] == ["scale_down", "succeeded"]
    steps = res["analysis"]
    assert [set(a) for a in steps] == [{"weight", "result", "reason", "samples"}] * 3
    assert [(a["weight"], a["result"], a["reason"]) for a in steps] == [(10, "pass", None), (50, "pass", None),
                                                                        (100, "pass", None)]
    assert all(a["samples"] and "stable" in a["samples"][0]["window"] for a in steps[:2])
    assert "stable" not in steps[2]["samples"][0]["window"]  # at 100% there is no stable colour to compare with


def test_the_test_listener_points_at_the_new_colour_before_any_production_traffic() -> None:
    topology = replace(TOPOLOGY, test_listener_arn=TOPOLOGY.listener_arn + "/8080")
    w: World = world(topology=topology)
    old, new = w.ecs.revision("app"), w.ecs.revision("app")
    w.ecs.add_service("app-blue", old, desired=2, target_groups=[topology.target_groups["blue"]])
    w.ecs.add_service("app-green", old, desired=0, target_groups=[topology.target_groups["green"]])
    seen: list[tuple[str | None, dict[str, int]]] = []
    original = w.router.set_weights

    def record(weights: dict[str, int]) -> None:
        seen.append((w.router.test_colour, dict(weights)))
        original(weights)

    w.router.set_weights = record  # type: ignore[method-assign]
    res = engine.deploy(w.ports, holder=HOLDER, req=request(new, "blue-green", bake_seconds=0))
    assert res["status"] == "succeeded" and seen == [("green", {"blue": 0, "green": 100})]

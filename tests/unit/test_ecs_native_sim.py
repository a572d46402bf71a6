"""The simulated ECS-native deployment (pipeline_py/local/ecs_native.py) on fake time: stages in order with
ECS's bake times, PAUSE hooks with their expiry, ECS moving the production and test rules, rollbacks."""

from __future__ import annotations

import dataclasses
from typing import Any

from pipeline_py.local import ecs_native
from pipeline_py.local.ecs_sim import DeploymentConfig, LoadBalancerRef, ServiceSpec, StaticWorld
from tests.unit.test_ecs_sim import CLUSTER, FAST, NET, REGION, SERVICE, TG, Harness, taskdef

ALT = dataclasses.replace(TG, arn=TG.arn.replace("/tg/", "/tg-alt/"))
RULE = f"arn:aws:elasticloadbalancing:{REGION}:123456789012:listener-rule/app/lb/1/2/3"
TEST_RULE = RULE + "9"
HOOK_SCALE = 0.001  # a 1-minute hook expires after 0.06 s of simulated time


def native_harness(**config: Any) -> tuple[Harness, ecs_native.InMemoryNativeWorld]:
    h = Harness(dataclasses.replace(FAST, lifecycle_hook_scale=HOOK_SCALE), StaticWorld([TG, ALT]))
    world = ecs_native.InMemoryNativeWorld()
    world.rules = {RULE: {TG.arn: 100, ALT.arn: 0}, TEST_RULE: {TG.arn: 0, ALT.arn: 100}}
    h.sim.native_world = world
    lb = LoadBalancerRef(TG.arn, "app", 8080, tuple(sorted({"alternateTargetGroupArn": ALT.arn,
                                                            "productionListenerRule": RULE,
                                                            "testListenerRule": TEST_RULE}.items())))
    spec = ServiceSpec(arn=SERVICE, name="api", cluster_arn=CLUSTER, task_definition=taskdef(), desired_count=2,
                       launch_type="FARGATE", network_configuration=NET, load_balancers=(lb,),
                       deployment_config=DeploymentConfig(circuit_breaker=True, rollback=True))
    h.sim.create_service(spec, h.now)
    h.until(h.steady, what="the first revision")
    h.sim.update_service(SERVICE, h.now, deployment_configuration=config)
    return h, world


def deploy(h: Harness, scenario: str = "healthy", revision: int = 2) -> ecs_native.Rollout:
    h.sim.update_service(SERVICE, h.now, task_definition=taskdef(scenario, revision=revision))
    ro = h.svc.native
    assert isinstance(ro, ecs_native.Rollout)
    return ro


def view(h: Harness, ro: ecs_native.Rollout) -> dict[str, Any]:
    return h.sim.service_deployment_view(ro.record)


def awaiting(h: Harness, ro: ecs_native.Rollout) -> dict[str, Any] | None:
    return next((d for d in view(h, ro)["lifecycleHookDetails"] if d["status"] == "AWAITING_ACTION"), None)


CANARY = {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 1},
          "bakeTimeInMinutes": 1,
          "lifecycleHooks": [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
                              "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "ROLLBACK"}}]}


def test_a_canary_goes_through_the_stages_moving_the_rules() -> None:
    h, world = native_harness(**CANARY)
    ro = deploy(h)
    seen: list[str] = []
    h.checks.append(lambda: seen.append(ro.stage) if not seen or seen[-1] != ro.stage else None)
    h.until(lambda: awaiting(h, ro), what="the PAUSE hook")
    v = view(h, ro)
    assert v["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT" and v["status"] == "IN_PROGRESS"
    assert world.rules[TEST_RULE] == {TG.arn: 0, ALT.arn: 100} and world.rules[RULE] == {TG.arn: 100, ALT.arn: 0}
    new_tasks = [t for t in h.live() if t.deployment_id == ro.deployment.id]
    assert len(new_tasks) == 2 and all(h.sim._healthy(t) for t in new_tasks)
    assert {t.target_group_arn for t in h.sim.elb.targets.values() if t.owner in {x.arn for x in new_tasks}} == {
        ALT.arn}
    hook = awaiting(h, ro)
    assert hook is not None and hook["hookId"].startswith("ecs-pause-") and hook["timeoutAction"] == "ROLLBACK"
    ecs_native.continue_deployment(h.sim, ro.record, hook["hookId"], "CONTINUE", h.now)
    h.until(lambda: world.rules[RULE] == {TG.arn: 90, ALT.arn: 10}, what="the canary step")
    at = h.now
    h.until(lambda: world.rules[RULE] == {TG.arn: 0, ALT.arn: 100}, what="the rest of the traffic")
    assert h.now - at >= FAST.aws(60) - 1e-6  # canaryBakeTimeInMinutes, scaled
    h.until(lambda: view(h, ro)["status"] == "SUCCESSFUL", what="the clean-up")
    # the stages that wait (for the hook, the canary bake, the bake time, the drain) are seen in order
    waits = ["POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"]
    assert [st for st in seen if st in waits] == waits
    assert [d.id for d in h.svc.deployments] == [ro.deployment.id] and h.svc.primary.rollout_state == "COMPLETED"
    assert not [t for t in h.live() if t.deployment_id != ro.deployment.id]
    assert view(h, ro)["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100
    # the next deployment starts in the other target group
    ro2 = deploy(h, revision=3)
    assert ro2 is not ro and (ro2.production_tg, ro2.alternate_tg) == (ALT.arn, TG.arn)


def test_a_hook_that_expires_rolls_back_to_the_old_target_group() -> None:
    h, world = native_harness(**CANARY)
    ro = deploy(h)
    h.until(lambda: awaiting(h, ro), what="the PAUSE hook")
    h.until(lambda: view(h, ro)["status"] == "ROLLBACK_SUCCESSFUL", what="the timeout and the rollback")
    v = view(h, ro)
    assert [d["status"] for d in v["lifecycleHookDetails"]] == ["TIMED_OUT"]
    assert "timed out" in v["statusReason"] and v["rollback"]["serviceRevisionArn"]
    assert world.rules[RULE] == {TG.arn: 100, ALT.arn: 0} and world.rules[TEST_RULE] == {TG.arn: 100, ALT.arn: 0}
    assert h.svc.primary.task_definition.revision == 1
    assert not [t for t in h.live() if t.deployment_id == ro.deployment.id]


def test_an_alarm_going_into_alarm_rolls_back() -> None:
    h, world = native_harness(**{**CANARY, "lifecycleHooks": [],
                                 "alarms": {"alarmNames": ["a5xx"], "enable": True, "rollback": True}})
    world.alarms["a5xx"] = "OK"
    ro = deploy(h)
    h.until(lambda: world.rules[RULE][ALT.arn] == 10, what="the canary step")
    world.alarms["a5xx"] = "ALARM"
    h.until(lambda: view(h, ro)["status"] == "ROLLBACK_SUCCESSFUL", what="the alarm rollback")
    assert view(h, ro)["alarms"]["triggeredAlarmNames"] == ["a5xx"]
    assert world.rules[RULE] == {TG.arn: 100, ALT.arn: 0}


def test_continue_refuses_a_hook_that_is_not_waiting() -> None:
    h, _ = native_harness(**CANARY)
    ro = deploy(h)
    h.until(lambda: awaiting(h, ro), what="the PAUSE hook")
    hook = awaiting(h, ro)
    assert hook is not None
    for bad in ("ecs-pause-unknown", hook["hookId"]):
        if bad == hook["hookId"]:
            ecs_native.continue_deployment(h.sim, ro.record, bad, "ROLLBACK", h.now)
        try:
            ecs_native.continue_deployment(h.sim, ro.record, bad, "CONTINUE", h.now)
        except ecs_native.NativeError as exc:
            assert "not found" in str(exc) or "not in AWAITING_ACTION" in str(exc)
        else:
            raise AssertionError(f"{bad} was continued")


def test_the_circuit_breaker_rolls_back_while_the_new_tasks_start() -> None:
    h, world = native_harness(**{**CANARY, "lifecycleHooks": []})
    ro = deploy(h, "crash")
    h.until(lambda: view(h, ro)["status"] == "ROLLBACK_SUCCESSFUL", what="the circuit breaker")
    assert "circuit breaker" in view(h, ro)["statusReason"]
    assert world.rules[RULE] == {TG.arn: 100, ALT.arn: 0} and ro.weight == 0


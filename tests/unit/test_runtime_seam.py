"""The seam between ECS orchestration and the workload, on both runtimes' terms: the scenario tokens the
sample app and the simulated runtime share, and the ELB state machine fed by real health checks."""

from __future__ import annotations

import pytest

from pipeline_py.local import scenario
from pipeline_py.local.ecs_sim import ContainerDef, TaskDefinition
from pipeline_py.local.elb_sim import DRAINING, HEALTHY, INITIAL, UNHEALTHY, ElbSim, Probe, TargetGroupConfig
from pipeline_py.local.task_sim import EXITED, OOM_EXIT_CODE, OOM_REASON, RUNNING, SimulatedRuntime, memory_limit_mb
from pipeline_py.local.timing import TimingModel


def test_tokens_for_a_wrong_port_a_health_status_and_memory() -> None:
    sc = scenario.parse("listen-port=9090,health-status=404,memory-mb=600")
    assert (sc.listen_port, sc.health_status, sc.memory_mb) == (9090, 404, 600.0)
    for bad in ("listen-port=0", "listen-port=70000", "health-status=99", "memory-mb=-1", "listen-port=x"):
        with pytest.raises(scenario.ScenarioError):
            scenario.parse(bad)


class _Task:
    def __init__(self, text: str, memory: str | None = "512", container_memory: int | None = None) -> None:
        self.scenario = scenario.parse(text)
        self.image_error: str | None = None
        self.runtime_state: dict[str, object] = {}
        self.task_definition = TaskDefinition(
            "arn:td", "f", 1, (ContainerDef("app", "i", memory=container_memory),), memory=memory)

    @property
    def one_off(self) -> bool:
        return False


def test_simulated_oom_above_the_container_or_task_limit() -> None:
    rt = SimulatedRuntime(TimingModel())
    task = _Task("memory-mb=600")
    rt.launch(task, 0.0)
    obs = rt.observe(task, 10.0)
    assert (obs.phase, obs.exit_code, obs.reason) == (EXITED, OOM_EXIT_CODE, OOM_REASON)
    fits = _Task("memory-mb=100", container_memory=128)
    rt.launch(fits, 0.0)
    assert rt.observe(fits, 10.0).phase == RUNNING
    tight = _Task("memory-mb=100", container_memory=64)
    rt.launch(tight, 0.0)
    assert rt.observe(tight, 10.0).exit_code == OOM_EXIT_CODE
    assert memory_limit_mb(tight.task_definition) == 64.0 and memory_limit_mb(_Task("").task_definition) == 512.0


def test_simulated_wrong_port_and_health_status_fail_the_probe_as_the_real_ones_do() -> None:
    rt = SimulatedRuntime(TimingModel())
    for text, probe in (("listen-port=9090", Probe(False, None)), ("health-status=404", Probe(False, 404)),
                        ("health-status=204", Probe(True, 200))):
        task = _Task(text)
        rt.launch(task, 0.0)
        assert rt.probe(task, 10.0) == probe, text


def _elb() -> tuple[ElbSim, TargetGroupConfig]:
    tg = TargetGroupConfig("arn:tg", interval=10, healthy_threshold=2, unhealthy_threshold=2)
    return ElbSim(TimingModel()), tg


def test_real_check_answers_move_the_state_machine() -> None:
    elb, tg = _elb()
    target = elb.register(tg, "127.10.1.1", 8080, 0.0)
    assert target.state == INITIAL
    assert elb.record(target, tg, Probe(True, 200), 1.0) is False
    assert elb.record(target, tg, Probe(True, 200), 2.0) is True and target.state == HEALTHY
    elb.record(target, tg, Probe(False, None, timed_out=True), 3.0)
    elb.record(target, tg, Probe(False, None, timed_out=True), 4.0)
    assert (target.state, target.reason, target.description) == (UNHEALTHY, "Target.Timeout", "Request timed out")
    elb.record(target, tg, Probe(False, 404), 5.0)
    assert (target.reason, target.description) == ("Target.ResponseCodeMismatch",
                                                   "Health checks failed with these codes: [404]")
    elb.record(target, tg, Probe(False, None), 6.0)
    assert target.reason == "Target.FailedHealthChecks"
    elb.deregister("arn:tg", "127.10.1.1", 8080, 7.0, 30)
    assert target.state == DRAINING and elb.record(target, tg, Probe(True, 200), 8.0) is False


def test_externally_checked_targets_are_not_probed_by_advance() -> None:
    elb, tg = _elb()
    probed: list[str] = []
    elb.external = lambda t: t.id.startswith("127.")
    real = elb.register(tg, "127.10.1.1", 8080, 0.0)
    simulated = elb.register(tg, "10.0.0.5", 8080, 0.0)
    elb.advance(100.0, lambda arn: tg, lambda t, at: probed.append(t.id) or Probe(True, 200))
    assert set(probed) == {"10.0.0.5"} and simulated.state == HEALTHY and real.state == INITIAL

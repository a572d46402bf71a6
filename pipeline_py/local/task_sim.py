"""What the containers of a task do: the seam between ECS orchestration and the workload.

The ECS simulator (``ecs_sim``) owns the control plane — ENIs, lifecycle phases, load-balancer
registration, deployments. Whether the image pulls, when the app starts, whether ``/health``
answers and when the process exits is asked of a :class:`TaskRuntime`. :class:`SimulatedRuntime`
answers from the task's :mod:`scenario <pipeline_py.local.scenario>` and the
:class:`~pipeline_py.local.timing.TimingModel`; a later runtime can start real containers and
answer by looking at them, without touching the orchestration.

Everything here is a function of the task's recorded timeline and the ``now`` passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pipeline_py.local.elb_sim import HEALTHY_PROBE, Probe
from pipeline_py.local.scenario import Scenario
from pipeline_py.local.timing import TimingModel

PULLING = "PULLING"
PULL_FAILED = "PULL_FAILED"
STARTING = "STARTING"
RUNNING = "RUNNING"
EXITED = "EXITED"

# What the essential container reports when ECS stops it: SIGTERM's conventional status.
SIGTERM_EXIT_CODE = 143
# What ECS reports for a container the kernel killed for exceeding its memory limit.
OOM_EXIT_CODE = 137
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


def memory_limit_mb(task_definition: Any) -> float | None:
    """The essential container's hard memory limit in MiB: its ``memory``, else the task's."""
    if task_definition is None:
        return None
    essential = getattr(task_definition, "essential", None)
    for value in (getattr(essential, "memory", None), getattr(task_definition, "memory", None)):
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    return None


@dataclass(frozen=True)
class Observation:
    """The essential container's phase at some instant, and since when it is in it."""

    phase: str
    since: float
    exit_code: int | None = None
    reason: str | None = None


class RuntimeTask(Protocol):
    """The part of a simulated task a runtime may read and write."""

    scenario: Scenario
    image_error: str | None
    runtime_state: dict[str, Any]

    @property
    def one_off(self) -> bool: ...


class TaskRuntime(Protocol):
    def launch(self, task: RuntimeTask, now: float) -> None:
        """Begin pulling and starting the task's containers."""

    def observe(self, task: RuntimeTask, now: float) -> Observation:
        """The essential container's phase at ``now`` (only called after ``launch``)."""

    def probe(self, task: RuntimeTask, now: float) -> Probe:
        """What the app's health endpoint answers at ``now``."""

    def terminate(self, task: RuntimeTask, now: float) -> None:
        """Send the stop signal (ECS stops a task with SIGTERM, then SIGKILL)."""


class SimulatedRuntime:
    """Containers that behave as the scenario says, on the timing model's clock."""

    def __init__(self, timing: TimingModel | None = None) -> None:
        self.timing = timing or TimingModel()

    def launch(self, task: RuntimeTask, now: float) -> None:
        t, sc = self.timing, task.scenario
        state = task.runtime_state
        state.clear()
        state["pull_started"] = now
        ready = now + t.pending
        if task.image_error:
            state.update(pull_failed_at=ready, reason=task.image_error)
            return
        state["started"] = ready
        limit = memory_limit_mb(getattr(task, "task_definition", None))
        if sc.memory_mb and limit is not None and sc.memory_mb > limit:
            state.update(running_at=ready, exit_at=ready + t.crash_delay, exit_code=OOM_EXIT_CODE,
                         exit_reason=OOM_REASON)
        elif sc.crash:
            state.update(running_at=None, exit_at=ready + t.crash_delay, exit_code=sc.effective_exit_code)
        elif sc.crash_after is not None:
            state.update(running_at=ready, exit_at=ready + t.scenario_seconds(sc.crash_after),
                         exit_code=sc.effective_exit_code)
        elif task.one_off:
            state.update(running_at=ready, exit_at=ready + t.scenario_seconds(sc.run_seconds),
                         exit_code=sc.effective_exit_code)
        else:
            state.update(running_at=ready, exit_at=None, exit_code=None)

    def observe(self, task: RuntimeTask, now: float) -> Observation:
        state = task.runtime_state
        killed = state.get("terminated_at")
        before_start = state.get("pull_failed_at", state.get("started", float("inf")))
        if killed is not None and killed < before_start:
            if now >= killed:
                return Observation(EXITED, killed, exit_code=None)
            return Observation(PULLING, state["pull_started"])
        if "pull_failed_at" in state:
            if now >= state["pull_failed_at"]:
                return Observation(PULL_FAILED, state["pull_failed_at"], reason=state["reason"])
            return Observation(PULLING, state["pull_started"])
        if now < state["started"]:
            return Observation(PULLING, state["pull_started"])
        exit_at, code = self._exit(state)
        if exit_at is not None and now >= exit_at:
            natural = "terminated_at" not in state or state.get("exit_at") == exit_at
            return Observation(EXITED, exit_at, exit_code=code, reason=state.get("exit_reason") if natural else None)
        if state["running_at"] is None:
            return Observation(STARTING, state["started"])
        return Observation(RUNNING, state["running_at"])

    def probe(self, task: RuntimeTask, now: float) -> Probe:
        obs = self.observe(task, now)
        if obs.phase != RUNNING:
            return Probe(False, None)
        sc = task.scenario
        if sc.listen_port is not None:
            return Probe(False, None)
        if sc.health_status is not None and not 200 <= sc.health_status < 300:
            return Probe(False, sc.health_status)
        if sc.unhealthy:
            return Probe(False, 503)
        if now < obs.since + self.timing.scenario_seconds(sc.slow_start):
            return Probe(False, 503)
        return HEALTHY_PROBE

    def terminate(self, task: RuntimeTask, now: float) -> None:
        state = task.runtime_state
        if "terminated_at" in state:
            return
        exit_at, _ = self._exit(state)
        if exit_at is not None and exit_at <= now:
            return
        if "pull_failed_at" in state or now < state.get("started", float("inf")):
            state.update(terminated_at=now, terminated_code=None)
        else:
            state.update(terminated_at=now + self.timing.stopping, terminated_code=SIGTERM_EXIT_CODE)

    @staticmethod
    def _exit(state: dict[str, Any]) -> tuple[float | None, int | None]:
        natural = state.get("exit_at")
        forced = state.get("terminated_at")
        if forced is not None and (natural is None or forced < natural):
            return forced, state.get("terminated_code")
        return natural, state.get("exit_code")

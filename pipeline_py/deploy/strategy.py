"""The one shape every deploy strategy has (kayac/ecspresso's deploy function per service, argo-rollouts'
one context): built from a request and the ports, ``preflight()`` (read-only), ``plan(view)`` for a
dry run, ``run(view)`` returning the result. What every strategy does the same way lives here once:
registering the revision, turning an abort signal or an AWS error into a failure, the dry run, and
the finish block (events, stopped tasks, API calls)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py import taskdef
from pipeline_py.deploy.alarm_guard import AlarmGuard
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.result import DeployReport
from pipeline_py.deploy.topology import TrafficError
from pipeline_py.deploy.views import td_label
from pipeline_py.errors import Aborted

View = TypeVar("View")

# What a running phase may raise that means "this deploy failed", not "pipeline-py has a bug".
PHASE_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError, TrafficError)


class Strategy(ABC, Generic[View]):
    name: ClassVar[str]
    guard_class: ClassVar[type[AlarmGuard]] = AlarmGuard
    """What ``start_guard`` makes (a strategy may watch more than the alarms)."""

    def __init__(self, ports: Ports, req: DeployRequest) -> None:
        self.ports = ports
        self.req = req
        self.report = DeployReport(req.strategy, req.cluster, self.services_label(), ports.clock, ports.reporter)
        self.guard: AlarmGuard | None = None

    def services_label(self) -> str:
        return self.req.service

    # ---- the shape ----------------------------------------------------------------------------

    @abstractmethod
    def preflight(self) -> View:
        """Read-only checks; ``BadInput`` here means nothing was changed."""

    @abstractmethod
    def plan(self, view: View) -> list[str]:
        """What ``run`` would do, one line per API action, for ``--dry-run``."""

    @abstractmethod
    def run(self, view: View) -> dict[str, Any]:
        """Deploy; the result dict (``status`` succeeded / paused / rolled_back / not_started / failed)."""

    @abstractmethod
    def live_task_definition_arn(self, view: View) -> str:
        """The revision that serves now (the dry run diffs the new one against it)."""

    def dry_run_details(self, view: View) -> dict[str, Any]:
        """Strategy-specific keys of the dry-run result."""
        return {}

    # ---- written once ---------------------------------------------------------------------------

    def dry_run(self, view: View) -> dict[str, Any]:
        ports, r = self.ports, self.req
        live_arn = self.live_task_definition_arn(view)
        live = ports.services.live_task_definition(live_arn)
        new = r.task_definition if r.task_definition is not None else \
            ports.services.live_task_definition(r.task_definition_arn or live_arn)
        text = taskdef.diff(live, new, td_label(live_arn), "new")
        ports.reporter.info(text if text else "task definition: no change")
        plan = self.plan(view)
        for step in plan:
            ports.reporter.detail(step)
        return {
            "status": "dry_run",
            "strategy": r.strategy,
            "cluster": r.cluster,
            "previous_task_definition_arn": live_arn,
            "diff": text,
            "changed": bool(text),
            **self.dry_run_details(view),
            "plan": plan,
            "api_calls": ports.api_calls(),
        }

    def start_guard(self) -> AlarmGuard:
        """Record the configured alarms' states as the deploy starts (see ``alarm_guard``)."""
        r = self.req
        self.guard = self.guard_class.start(self.ports.alarms, r.alarms, policy=r.preexisting_alarms,
                                            grace=r.alarm_grace, clock=self.ports.clock, reporter=self.ports.reporter)
        if self.guard.preexisting():
            self.report.data["alarms_in_alarm_at_start"] = self.guard.preexisting()
        return self.guard

    def register(self) -> str:
        """The revision to deploy: the given ARN, or the rendered one registered unless unchanged."""
        r = self.req
        if r.task_definition_arn:
            return r.task_definition_arn
        assert r.task_definition is not None
        arn, created = self.ports.services.register(r.task_definition)
        self.report.data["task_definition_registered"] = created
        self.ports.reporter.info(("registered " if created else "unchanged, reusing ") + td_label(arn))
        return arn

    def register_revision(self) -> str | None:
        """Register; None when an abort signal arrived first (nothing was changed)."""
        self.report.enter("register", "registering the task definition")
        try:
            arn = self.register()
        except Aborted:
            return None
        self.report.data["task_definition_arn"] = arn
        return arn

    def attempt(self, phase: Callable[[], str | None]) -> str | None:
        """Run a phase; an abort signal or an AWS error becomes its failure reason."""
        try:
            return phase()
        except Aborted as exc:
            return f"{exc} during {self.report.phase}"
        except PHASE_ERRORS as exc:
            return f"{exc.__class__.__name__} during {self.report.phase}: {exc}"

    def finish_details(self) -> dict[str, Any]:
        """Strategy-specific keys added to the result when it finishes."""
        return {}

    def finish(self, status: str, reason: str | None) -> dict[str, Any]:
        log = self.ports.log
        self.report.data["events"] = log.events
        self.report.data["stopped_tasks"] = [t.to_dict() for t in log.stopped.values()]
        self.report.data.update(self.finish_details())
        self.report.enter(status)
        result = self.report.finish(status, reason)
        result["api_calls"] = self.ports.api_calls()
        return result

"""Putting a service back on a known-good revision, watched to steady state like a deploy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py.deploy.ecs import ServiceView, td_label
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.watch import WatchSettings, new_deployment_id

PREVIOUS_TAG = "pipeline-py:previous-task-definition"
CURRENT_TAG = "pipeline-py:task-definition"


@dataclass(frozen=True)
class Snapshot:
    """What the service ran before we touched it: the rollback target."""

    task_definition: str
    desired_count: int
    deployment_id: str | None
    deployment_configuration: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, view: ServiceView) -> Snapshot:
        primary = view.primary
        return cls(
            task_definition=primary.task_definition if primary else view.task_definition,
            desired_count=view.desired,
            deployment_id=primary.id if primary else None,
            deployment_configuration=dict(view.deployment_configuration),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_definition": self.task_definition,
            "desired_count": self.desired_count,
            "deployment_id": self.deployment_id,
        }


@dataclass
class RollbackOutcome:
    ok: bool
    reason: str | None
    deployment_id: str | None
    elapsed: float
    task_definition: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "succeeded" if self.ok else "failed",
            "task_definition_arn": self.task_definition,
            "deployment_id": self.deployment_id,
            "reason": self.reason,
            "seconds": round(self.elapsed, 3),
        }


def roll_back(
    ports: Ports,
    *,
    cluster: str,
    service: str,
    snapshot: Snapshot,
    failed_deployment_id: str | None,
    timeout: float,
    poll_interval: float,
    max_failed_tasks: int,
) -> RollbackOutcome:
    """Return the service to ``snapshot`` and watch it to steady state.

    If ECS's circuit breaker already started a rollback to the same revision, that deployment is
    watched instead of starting another one. Alarms are not a reason to abandon a rollback (the
    bad version may be what set them off), so the rollback watch ignores them.
    """
    start = ports.clock.monotonic()
    target = snapshot.task_definition
    ports.reporter.step(f"rolling back {service} to {td_label(target)}")
    try:
        view = ports.services.get(cluster, service)
        ports.log.absorb(view)
        primary = view.primary
        if primary is not None and primary.id != failed_deployment_id and primary.task_definition == target:
            rollback_id = primary.id
            ports.reporter.info(f"ECS is already rolling back to {td_label(target)} (deployment {rollback_id}); "
                                "watching it")
            if view.desired != snapshot.desired_count:
                view = ports.services.update(cluster, service, desiredCount=snapshot.desired_count)
        else:
            after = ports.services.update(cluster, service, taskDefinition=target,
                                          desiredCount=snapshot.desired_count, forceNewDeployment=True)
            rollback_id = new_deployment_id(view, after)
            view = after
            ports.reporter.info(f"rollback deployment {rollback_id} started")
        outcome = ports.watcher.watch(
            cluster, service, rollback_id,
            WatchSettings(poll_interval=poll_interval, timeout=timeout, max_failed_tasks=max_failed_tasks, alarms=[]),
            initial=view,
        )
    except (ClientError, BotoCoreError) as exc:
        return RollbackOutcome(False, f"rollback API call failed: {exc}", None,
                               ports.clock.monotonic() - start, target)
    elapsed = ports.clock.monotonic() - start
    if outcome.ok:
        ports.reporter.info(f"rollback complete: {service} is back on {td_label(target)} ({elapsed:.1f}s)")
        return RollbackOutcome(True, None, rollback_id, elapsed, target)
    ports.reporter.error(f"ROLLBACK FAILED: {outcome.reason}")
    return RollbackOutcome(False, outcome.reason, rollback_id, elapsed, target)


def record_revisions(ports: Ports, view_arn: str, current: str, previous: str) -> None:
    """Tag the service with what it runs and what it ran before, so ``rollback`` without ``--to``
    knows the last known-good revision from AWS itself, not from a local file."""
    try:
        ports.aws.client("ecs").tag_resource(
            resourceArn=view_arn,
            tags=[{"key": CURRENT_TAG, "value": current}, {"key": PREVIOUS_TAG, "value": previous}],
        )
    except (ClientError, BotoCoreError) as exc:
        ports.reporter.warn(f"could not tag the service with its revisions: {exc}")

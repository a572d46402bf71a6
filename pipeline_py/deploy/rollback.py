"""Putting a service back on a known-good revision, watched to steady state like a deploy.

A revision is *known-good* when a deploy of it succeeded (watched, targets verified, baked, smoked).
Every successful deploy records its revision in the service's ``pipeline-py:known-good`` tag (the
last :data:`KNOWN_GOOD_KEEP`, newest first), in AWS, so ``rollback`` without ``--to`` goes only to a
revision that once served, never blindly to the family's previous one (which may be the revision
ECS's circuit breaker just rolled back from).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py.config import LockConfig
from pipeline_py.deploy.ports import Ports, Services
from pipeline_py.deploy.views import ServiceView, td_label
from pipeline_py.deploy.watch import WatchSettings, new_deployment_id
from pipeline_py.errors import BadInput, HumanNeeded

if TYPE_CHECKING:
    from pipeline_py.deploy.locking import Holder

KNOWN_GOOD_TAG = "pipeline-py:known-good"
KNOWN_GOOD_KEEP = 5
TAG_VALUE_MAX = 256  # ECS tag values are at most 256 characters


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
                view = ports.services.update(cluster, service, desired_count=snapshot.desired_count)
        else:
            after = ports.services.update(cluster, service, task_definition=target,
                                          desired_count=snapshot.desired_count, force_new_deployment=True)
            rollback_id = new_deployment_id(view, after)
            view = after
            ports.reporter.info(f"rollback deployment {rollback_id} started")
        outcome = ports.watcher.watch(
            cluster, service, rollback_id,
            WatchSettings(poll_interval=poll_interval, timeout=timeout, max_failed_tasks=max_failed_tasks),
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


def known_good(view: ServiceView) -> list[str]:
    """Revision labels (``family:revision``) recorded as known-good on the service, newest first."""
    tags = {t.get("key"): t.get("value") for t in view.tags}
    return [label for label in (tags.get(KNOWN_GOOD_TAG) or "").split() if ":" in label]


def known_good_value(labels: list[str]) -> str:
    """The tag value for these labels: newest first, unique, at most KNOWN_GOOD_KEEP, within 256 chars."""
    kept: list[str] = []
    for label in labels:
        if label in kept or len(kept) == KNOWN_GOOD_KEEP:
            continue
        if len(" ".join([*kept, label])) > TAG_VALUE_MAX:
            break
        kept.append(label)
    return " ".join(kept)


def record_known_good(ports: Ports, view: ServiceView, arn: str) -> None:
    """Add ``arn`` to the front of the service's known-good history (tags live in AWS, not a local file)."""
    value = known_good_value([td_label(arn), *known_good(view)])
    try:
        ports.services.tag(view.arn, {KNOWN_GOOD_TAG: value})
    except (ClientError, BotoCoreError) as exc:
        ports.reporter.warn(f"could not record {td_label(arn)} as known-good on {view.name}: {exc}")


def arn_of(label: str, like: str) -> str:
    """The ARN of revision ``label`` (``family:rev``) in the account and region of ARN ``like``."""
    prefix = like.rsplit("/", 1)[0] if like.startswith("arn:") else ""
    return f"{prefix}/{label}" if prefix else label


@dataclass
class RollbackRequest:
    cluster: str
    service: str
    to: str | None = None
    desired_count: int | None = None
    timeout: float = 600.0
    poll_interval: float = 5.0
    max_failed_tasks: int = 3
    lock: LockConfig = field(default_factory=LockConfig)
    wait_for_lock: float = 0.0


def _revision_number(label: str) -> int:
    try:
        return int(label.rpartition(":")[2])
    except ValueError:
        return -1


def choose_target(services: Services, view: ServiceView, to: str | None) -> tuple[str, str]:
    """(ARN, how it was chosen): ``--to`` as given, else the newest known-good revision other than the
    current one. With none recorded, a human chooses: ``HumanNeeded`` listing the candidates."""
    current = view.primary.task_definition if view.primary else view.task_definition
    if to:
        found = services.task_definition(to)
        if not found:
            raise BadInput(f"--to {to}: no such task definition revision")
        return str(found["taskDefinitionArn"]), "--to"
    good = known_good(view)
    for label in good:
        if label == td_label(current):
            continue
        arn = arn_of(label, current)
        found = services.task_definition(arn)
        if found and found.get("status", "ACTIVE") == "ACTIVE":
            return str(found["taskDefinitionArn"]), f"last known-good revision (tag {KNOWN_GOOD_TAG})"
    family = td_label(current).rpartition(":")[0]
    revisions = sorted((td_label(a) for a in services.family_revisions(family)), key=_revision_number, reverse=True)
    def what(label: str) -> str:
        if label == td_label(current):
            return "current"
        return "known-good" if label in good else "never recorded as succeeded"

    listed = [f"{label} ({what(label)})" for label in revisions[:10]]
    raise HumanNeeded(
        f"no known-good revision of {family} other than the current {td_label(current)} is recorded "
        f"(tag {KNOWN_GOOD_TAG}: {' '.join(good) or 'none'}), so there is nothing safe to roll back to "
        f"automatically; candidates: {', '.join(listed) or 'none'}. Choose one with --to",
        result={"status": "failed", "cluster": view.cluster, "service": view.name, "current": current,
                "known_good": good, "candidates": revisions[:10]},
    )


def run_rollback(ports: Ports, req: RollbackRequest, *, holder: Holder, dry_run: bool = False) -> dict[str, Any]:
    """``pipeline-py rollback``: the service back to a known-good (or given) revision, watched, under
    the service's deploy lock."""
    from pipeline_py.deploy.locking import holding, lock_key

    key = lock_key(req.cluster, [req.service])
    if dry_run:
        return _roll_back_to_known_good(ports, req, dry_run=True)
    with holding(ports, key, holder, ttl=req.lock.ttl, wait=req.wait_for_lock) as lease:
        result = _roll_back_to_known_good(ports, req)
    result["lock"] = {"key": key, "lock_id": lease.lock_id, "holder": holder.to_dict()}
    return result


def _roll_back_to_known_good(ports: Ports, req: RollbackRequest, *, dry_run: bool = False) -> dict[str, Any]:
    from pipeline_py.deploy.result import DeployReport
    from pipeline_py.deploy.rolling import check_controller

    cluster, service = req.cluster, req.service
    view = ports.services.get(cluster, service)
    check_controller(view)
    current = view.primary.task_definition if view.primary else view.task_definition
    good = known_good(view)
    target, how = choose_target(ports.services, view, req.to)

    def status_of(arn: str) -> str:
        return "known-good" if td_label(arn) in good else "never recorded as succeeded"

    ports.reporter.step(f"rollback {cluster}/{service}: {td_label(current)} (current, {status_of(current)}) → "
                        f"{td_label(target)} ({how}, {status_of(target)})")
    base = {"cluster": cluster, "service": service, "task_definition_arn": target,
            "previous_task_definition_arn": current, "found_by": how, "known_good": good,
            "target_known_good": td_label(target) in good, "current_known_good": td_label(current) in good}
    if dry_run:
        plan = [f"ecs:UpdateService {cluster}/{service} taskDefinition={target}",
                f"watch to steady state up to {req.timeout:g}s"]
        for step in plan:
            ports.reporter.detail(step)
        return {"status": "dry_run", **base, "plan": plan}
    if target == current:
        ports.reporter.info(f"{service} already runs {td_label(target)}; nothing to do")
        return {"status": "succeeded", **base, "changed": False}
    report = DeployReport("rollback", cluster, service, ports.clock, ports.reporter)
    ports.log.prime(view)
    outcome = roll_back(
        ports, cluster=cluster, service=service,
        snapshot=Snapshot(target, req.desired_count or view.desired, None, {}),
        failed_deployment_id=view.primary.id if view.primary else None,
        timeout=req.timeout, poll_interval=req.poll_interval, max_failed_tasks=req.max_failed_tasks,
    )
    report.data.update(base)
    report.data.update({"deployment_id": outcome.deployment_id, "events": ports.log.events,
                        "stopped_tasks": [t.to_dict() for t in ports.log.stopped.values()]})
    if outcome.ok:
        record_known_good(ports, ports.services.get(cluster, service), target)
        result = report.finish("succeeded")
        result["api_calls"] = ports.api_calls()
        return result
    result = report.finish("failed", outcome.reason)
    raise HumanNeeded(f"rollback to {td_label(target)} did not reach steady state: {outcome.reason}", result=result)

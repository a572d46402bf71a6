"""``pipeline-py rollback [--to ARN]``: put the service back on the previous (or given) revision,
watched to steady state like a deploy."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.commands.deploy import settings_for
from pipeline_py.context import Context
from pipeline_py.deploy.ecs import EcsServices, ServiceView, td_label
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.result import DeployReport
from pipeline_py.deploy.rollback import CURRENT_TAG, PREVIOUS_TAG, Snapshot, record_revisions, roll_back
from pipeline_py.deploy.rolling import check_controller
from pipeline_py.errors import BadInput, HumanNeeded


def previous_revision(services: EcsServices, view: ServiceView) -> tuple[str, str]:
    """(arn, how it was found): the service's own tags first, else the family's previous ACTIVE revision."""
    current = view.primary.task_definition if view.primary else view.task_definition
    tags = {t.get("key"): t.get("value") for t in view.tags}
    if tags.get(CURRENT_TAG) == current and tags.get(PREVIOUS_TAG) and tags[PREVIOUS_TAG] != current:
        return tags[PREVIOUS_TAG], f"service tag {PREVIOUS_TAG}"
    family, _, revision = td_label(current).rpartition(":")
    ecs = services.ecs
    arns: list[str] = []
    kwargs: dict[str, Any] = {"familyPrefix": family, "status": "ACTIVE", "sort": "DESC"}
    while True:
        resp = ecs.list_task_definitions(**kwargs)
        arns.extend(resp.get("taskDefinitionArns", []))
        if not resp.get("nextToken"):
            break
        kwargs["nextToken"] = resp["nextToken"]
    older = [a for a in arns if td_label(a).rpartition(":")[0] == family
             and int(td_label(a).rpartition(":")[2]) < int(revision or 0)]
    if not older:
        raise BadInput(f"no previous revision of {family} before {td_label(current)}; use --to ARN")
    return max(older, key=lambda a: int(td_label(a).rpartition(":")[2])), f"previous ACTIVE revision of {family}"


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    settings = settings_for(ctx, args)
    ports = Ports(ctx.aws(settings), ctx.reporter, ctx.clock)
    if not settings.cluster:
        raise BadInput("no cluster configured for this environment")
    cluster, service = settings.cluster, settings.service_name
    view = ports.services.get(cluster, service)
    check_controller(view)
    current = view.primary.task_definition if view.primary else view.task_definition
    if args.to:
        found = ports.services.task_definition_exists(args.to)
        if not found:
            raise BadInput(f"--to {args.to}: no such task definition revision")
        target, how = found["taskDefinitionArn"], "--to"
    else:
        target, how = previous_revision(ports.services, view)
    ctx.reporter.step(f"rollback {cluster}/{service}: {td_label(current)} → {td_label(target)} ({how})")
    base = {"cluster": cluster, "service": service, "task_definition_arn": target,
            "previous_task_definition_arn": current, "found_by": how}
    if ctx.dry_run:
        plan = [f"ecs:UpdateService {cluster}/{service} taskDefinition={target}",
                f"watch to steady state up to {settings.rollback_timeout:g}s"]
        for step in plan:
            ctx.reporter.detail(step)
        return {"status": "dry_run", **base, "plan": plan}
    if target == current:
        ctx.reporter.info(f"{service} already runs {td_label(target)}; nothing to do")
        return {"status": "succeeded", **base, "changed": False}
    report = DeployReport("rollback", cluster, service, ctx.clock, ctx.reporter)
    ports.log.prime(view)
    outcome = roll_back(
        ports, cluster=cluster, service=service,
        snapshot=Snapshot(target, settings.desired_count or view.desired, None, {}),
        failed_deployment_id=view.primary.id if view.primary else None,
        timeout=settings.rollback_timeout, poll_interval=settings.poll_interval,
        max_failed_tasks=settings.max_failed_tasks,
    )
    report.data.update(base)
    report.data.update({"deployment_id": outcome.deployment_id, "events": ports.log.events,
                        "stopped_tasks": [t.to_dict() for t in ports.log.stopped.values()]})
    if outcome.ok:
        record_revisions(ports, view.arn, target, current)
        result = report.finish("succeeded")
        result["api_calls"] = ports.aws.counter.snapshot()
        return result
    result = report.finish("failed", outcome.reason)
    raise HumanNeeded(f"rollback to {td_label(target)} did not reach steady state: {outcome.reason}", result=result)


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "rollback", run,
                    "roll the service back to the previous revision (or --to ARN), watched to steady state")
    p.add_argument("--to", metavar="ARN", default=None, help="task definition ARN (or family:revision)")
    p.add_argument("--timeout", "--rollback-timeout", dest="rollback_timeout", type=str, default=None,
                   help="how long to watch the rollback (default: rollback_timeout)")
    p.add_argument("--poll-interval", type=str, default=None)

"""``pipeline-py deploy``: render + register + deploy with the environment's strategy, watched,
verified and rolled back on failure. ``deploy promote|abort`` continue or undo a paused deploy."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline_py import taskdef
from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.config import STRATEGIES, Settings, parse_assignment
from pipeline_py.context import Context
from pipeline_py.deploy.ecs import td_label
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.result import raise_for
from pipeline_py.deploy.rolling import DeployRequest, RollingDeploy, preflight
from pipeline_py.errors import BadInput


def settings_for(ctx: Context, args: argparse.Namespace) -> Settings:
    """Effective settings with this command's options applied (and terraform outputs, when asked)."""
    flags: dict[str, Any] = {}
    for opt, path in (("strategy", "strategy"), ("timeout", "timeout"), ("poll_interval", "poll_interval"),
                      ("desired_count", "desired_count"), ("rollback_timeout", "rollback_timeout")):
        value = getattr(args, opt, None)
        if value is not None:
            flags[path] = value
    settings = ctx.settings(flags)
    if settings.from_terraform_outputs:
        from pipeline_py import tf_outputs

        outputs = tf_outputs.read_outputs(ctx, settings)
        derived = tf_outputs.overrides_from_outputs(outputs, settings.terraform.outputs_map)
        ctx.reporter.info(f"from terraform outputs: {', '.join(sorted(derived)) or 'nothing'}")
        settings = ctx.settings({**derived, **flags})
    return settings


def template_vars(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in getattr(args, "var", None) or []:
        k, v = parse_assignment(item, "--var")
        out[k] = v
    return out


def new_task_definition(ctx: Context, args: argparse.Namespace, settings: Settings) -> tuple[dict | None, str | None]:
    if args.task_definition:
        return None, args.task_definition
    if not settings.task_definition.template:
        raise BadInput("no task_definition.template configured and no --task-definition given")
    base = ctx.loaded().base_dir
    image = taskdef.resolve_image(args.image, base)
    td = taskdef.render(settings, base, env=ctx.env, image=image, extra_vars=template_vars(args))
    return td, None


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    settings = settings_for(ctx, args)
    if args.pause_at is not None and not 0 < args.pause_at < 100:
        raise BadInput(f"--pause-at {args.pause_at}: must be a traffic percentage between 1 and 99")
    ports = Ports(ctx.aws(settings), ctx.reporter, ctx.clock)
    strategy = settings.strategy
    td, arn = new_task_definition(ctx, args, settings)
    if strategy != "rolling":
        from pipeline_py.deploy import traffic_deploy

        return raise_for(traffic_deploy.run(ctx, args, settings, ports, td, arn))
    req = DeployRequest.from_settings(settings, task_definition=td, task_definition_arn=arn,
                                      force_new_deployment=bool(args.force_new_deployment))
    ctx.reporter.step(f"deploy {settings.service} to {ctx.env} ({strategy}): "
                      f"{req.cluster}/{req.service}")
    if ctx.dry_run:
        return dry_run(ctx, ports, req, td)
    return raise_for(RollingDeploy(ports, req).run())


def dry_run(ctx: Context, ports: Ports, req: DeployRequest, td: dict | None) -> dict[str, Any]:
    view = preflight(ports, req)
    live_arn = view.primary.task_definition if view.primary else view.task_definition
    ecs = ports.aws.client("ecs")
    live = taskdef.from_live(ecs, live_arn)
    new = td if td is not None else taskdef.from_live(ecs, req.task_definition_arn or live_arn)
    text = taskdef.diff(live, new, td_label(live_arn), "new")
    ctx.reporter.info(text if text else "task definition: no change")
    deploy = RollingDeploy(ports, req)
    plan = deploy.plan(view, req.task_definition_arn or "<new revision>")
    for step in plan:
        ctx.reporter.detail(step)
    return {
        "status": "dry_run",
        "strategy": "rolling",
        "cluster": req.cluster,
        "service": req.service,
        "previous_task_definition_arn": live_arn,
        "diff": text,
        "changed": bool(text),
        "plan": plan,
        "api_calls": ports.aws.counter.snapshot(),
    }


def promote(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.deploy import traffic_deploy

    settings = settings_for(ctx, args)
    return raise_for(traffic_deploy.resume(ctx, args, settings, Ports(ctx.aws(settings), ctx.reporter, ctx.clock),
                                           action="promote"))


def abort(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.deploy import traffic_deploy

    settings = settings_for(ctx, args)
    return raise_for(traffic_deploy.resume(ctx, args, settings, Ports(ctx.aws(settings), ctx.reporter, ctx.clock),
                                           action="abort"))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=str, default=None, help="deploy timeout (seconds or 30s/5m)")
    p.add_argument("--poll-interval", type=str, default=None, help="watch poll interval (seconds)")
    p.add_argument("--rollback-timeout", type=str, default=None, help="timeout of the rollback watch")


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "deploy", run,
                    "deploy a new revision with the environment's strategy; watch, verify, roll back on failure")
    p.add_argument("--strategy", choices=STRATEGIES, default=None, help="override the environment's strategy")
    p.add_argument("--image", default=None, help="image reference (default: the last `push`)")
    p.add_argument("--task-definition", default=None, metavar="ARN", help="deploy this registered revision")
    p.add_argument("--var", action="append", metavar="K=V", help="template variable (repeatable)")
    p.add_argument("--desired-count", type=int, default=None)
    p.add_argument("--force-new-deployment", action="store_true", help="deploy even if the revision is unchanged")
    p.add_argument("--pause-at", type=int, default=None, metavar="PERCENT",
                   help="canary/linear: stop with this much traffic on the new version (status paused)")
    _common(p)
    sub = p.add_subparsers(dest="deploy_action", metavar="ACTION", parser_class=type(p))
    sp = add_command(sub, add_globals, "promote", promote, "continue a paused canary/linear/blue-green deploy",
                     path=["deploy", "promote"])
    _common(sp)
    sa = add_command(sub, add_globals, "abort", abort, "roll back a paused deploy (traffic to 100%% stable)",
                     path=["deploy", "abort"])
    _common(sa)

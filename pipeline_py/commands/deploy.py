"""``pipeline-py deploy``: render + register + deploy with the environment's strategy, watched,
verified and rolled back on failure. ``deploy promote|abort`` continue or undo a paused deploy."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.commands._shared import add_lock_option, add_report_option
from pipeline_py.deploy import STRATEGY_NAMES
from pipeline_py.errors import BadInput

if TYPE_CHECKING:
    from pipeline_py.context import Context


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.commands._shared import (
        attach_report,
        holder_for,
        lock_wait,
        ports_for,
        rendered_task_definition,
        settings_for,
    )
    from pipeline_py.deploy import engine
    from pipeline_py.deploy.request import DeployRequest
    from pipeline_py.deploy.result import raise_for

    settings = settings_for(ctx, args)
    pause_at, pause_at_stage = _pause_at(args.pause_at)
    td, arn = rendered_task_definition(ctx, args, settings)
    req = DeployRequest.from_settings(settings, env=ctx.env, task_definition=td, task_definition_arn=arn,
                                      force_new_deployment=bool(args.force_new_deployment), pause_at=pause_at,
                                      pause_at_stage=pause_at_stage, wait_for_lock=lock_wait(args))
    result = engine.deploy(ports_for(ctx, settings), req, holder=holder_for(ctx), dry_run=ctx.dry_run)
    return raise_for(attach_report(ctx, result, args.report_dir))


def _pause_at(value: Any) -> tuple[int | None, str | None]:
    """``--pause-at``: a traffic percentage, or (ECS-native strategies) a lifecycle stage name."""
    if value is None or value == "":
        return None, None
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text), None
    if text.replace("_", "").isalpha():
        return None, text.upper()
    raise BadInput(f"--pause-at {text!r}: expected a traffic percentage (e.g. 25) or a lifecycle stage "
                   "(e.g. POST_TEST_TRAFFIC_SHIFT)")


def _resume(ctx: Context, args: argparse.Namespace, action: str) -> dict[str, Any]:
    from pipeline_py.commands._shared import attach_report, holder_for, lock_wait, ports_for, settings_for
    from pipeline_py.deploy import engine
    from pipeline_py.deploy.request import DeployRequest
    from pipeline_py.deploy.result import raise_for

    settings = settings_for(ctx, args)
    req = DeployRequest.from_settings(settings, env=ctx.env, wait_for_lock=lock_wait(args))
    result = engine.resume(ports_for(ctx, settings), req, action, holder=holder_for(ctx), dry_run=ctx.dry_run)
    return raise_for(attach_report(ctx, result, args.report_dir))


def promote(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _resume(ctx, args, "promote")


def abort(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _resume(ctx, args, "abort")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=str, default=None, help="deploy timeout (seconds or 30s/5m)")
    p.add_argument("--poll-interval", type=str, default=None, help="watch poll interval (seconds)")
    p.add_argument("--rollback-timeout", type=str, default=None, help="timeout of the rollback watch")
    add_lock_option(p)
    add_report_option(p)


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "deploy", run,
                    "deploy a new revision with the environment's strategy; watch, verify, roll back on failure")
    p.add_argument("--strategy", choices=STRATEGY_NAMES, default=None, help="override the environment's strategy")
    p.add_argument("--image", default=None, help="image reference (default: the last `push`)")
    p.add_argument("--task-definition", default=None, metavar="ARN", help="deploy this registered revision")
    p.add_argument("--var", action="append", metavar="K=V", help="template variable (repeatable)")
    p.add_argument("--desired-count", type=int, default=None)
    p.add_argument("--force-new-deployment", action="store_true", help="deploy even if the revision is unchanged")
    p.add_argument("--pause-at", default=None, metavar="PERCENT|STAGE",
                   help="canary/linear: stop with this much traffic on the new version (status paused); "
                        "ecs-*: also a lifecycle stage with a PAUSE hook, e.g. POST_TEST_TRAFFIC_SHIFT")
    _common(p)
    sub = p.add_subparsers(dest="deploy_action", metavar="ACTION", parser_class=type(p))
    sp = add_command(sub, add_globals, "promote", promote, "continue a paused canary/linear/blue-green deploy",
                     path=["deploy", "promote"])
    _common(sp)
    sa = add_command(sub, add_globals, "abort", abort, "roll back a paused deploy (traffic to 100%% stable)",
                     path=["deploy", "abort"])
    _common(sa)
    for sub_parser in (sp, sa):
        sub_parser.add_argument("--strategy", choices=STRATEGY_NAMES, default=None,
                                help="the paused deploy's strategy, when not the environment's")

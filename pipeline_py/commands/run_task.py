"""``pipeline-py run-task``: a one-off task (e.g. a database migration before a deploy) with the
service's network configuration, a command override, waited on until it stops; its exit code
decides ours."""

from __future__ import annotations

import argparse
import json
import shlex
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.errors import BadInput

if TYPE_CHECKING:
    from pipeline_py.context import Context


def parse_command(text: str | None) -> list[str] | None:
    """A JSON list (how the params file carries it) or a shell-like string."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise BadInput(f"--command: not a valid JSON list: {exc.msg}") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadInput("--command: a JSON list of strings is expected")
        return value
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BadInput(f"--command: {exc}") from None


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py import taskdef
    from pipeline_py.commands._shared import ports_for, positive_duration, require_cluster, settings_for, template_vars
    from pipeline_py.deploy.run_task import RunTaskRequest, run_task

    settings = settings_for(ctx, args)
    variables = template_vars(args)
    req = RunTaskRequest(
        cluster=require_cluster(settings), service=settings.service_name,
        task_definition_arn=args.task_definition,
        container=args.container or settings.run_task.container,
        command=parse_command(args.command) or settings.run_task.command,
        timeout=settings.run_task.timeout if args.timeout is None else positive_duration(args.timeout, "--timeout"),
        poll_interval=settings.poll_interval,
    )
    if args.image and not args.task_definition:
        req.task_definition = taskdef.render(settings, ctx.loaded().base_dir, env=ctx.env, image=args.image,
                                             extra_vars=variables)
    elif args.image is None:
        req.environment = {k: str(v) for k, v in variables.items()}
    return run_task(ports_for(ctx, settings), req, dry_run=ctx.dry_run)


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "run-task", run,
                    "run a one-off task (e.g. a migration) with the service's network configuration")
    p.add_argument("--command", default=None, help="command override: a string (shell-split) or a JSON list")
    p.add_argument("--container", default=None, help="container to override (default: the essential one)")
    p.add_argument("--task-definition", default=None, metavar="ARN", help="default: what the service runs now")
    p.add_argument("--image", default=None, help="render and register the template with this image first")
    p.add_argument("--var", action="append", metavar="K=V",
                   help="template variable with --image; otherwise an environment override")
    p.add_argument("--timeout", default=None, help="how long to wait for the task to stop")

"""``pipeline-py logs [--since 15m] [--follow] [--filter PATTERN] [--task ID]``: the service's application
logs. The log group and stream prefix come from the task definitions the service runs (their awslogs
configuration); ``--follow`` keeps going across task replacements until interrupted (Ctrl-C: exit 0).
Lines go to stdout (``--json``: one object with the events at the end); see pipeline_py/ops/logs.py.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command

if TYPE_CHECKING:
    from pipeline_py.context import Context

MAX_JSON_EVENTS = 1000


def service_names(settings: Any) -> list[str]:
    """The environment's ECS service(s): the rolling service, or both colours."""
    bg = settings.blue_green
    if settings.strategy != "rolling" and bg.services.blue and bg.services.green:
        return [bg.services.blue, bg.services.green]
    return [settings.service_name]


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any] | None:
    from pipeline_py.commands._shared import positive_duration, require_cluster, settings_for
    from pipeline_py.deploy.adapters.ecs import EcsServices
    from pipeline_py.ops import logs as ops_logs
    from pipeline_py.ops.adapters import Logs

    settings = settings_for(ctx, args)
    q = ops_logs.LogQuery(cluster=require_cluster(settings), services=service_names(settings),
                          since=positive_duration(args.since, "--since"), pattern=args.filter, task=args.task,
                          limit=args.limit, log_group=args.log_group)
    aws = ctx.aws(settings)
    ecs, logs = EcsServices(aws), Logs(aws)
    if ctx.dry_run:
        streams = ops_logs.resolve(ecs, q)
        return {"log_groups": sorted(streams.by_group()), "tasks": streams.ids, "dry_run": True}
    streams, events = ops_logs.read(ecs, logs, q, ctx.clock.utcnow())
    groups = ", ".join(sorted(streams.by_group()))
    ctx.reporter.info(f"{groups}: {len(events)} event(s) of {len(streams.ids)} task(s) in the last {args.since}"
                      + (f" matching {args.filter!r}" if args.filter else ""))
    collected = list(events)

    def emit(e: ops_logs.Event) -> None:
        if ctx.json:
            collected.append(e)
        else:
            print(e.line(), flush=True)

    if not ctx.json:
        for e in events:
            print(e.line(), flush=True)
    printed = len(events)
    if args.follow:
        ctx.reporter.info("following (Ctrl-C stops)")
        printed += ops_logs.follow(ecs, logs, q, ctx.clock, emit, ctx.reporter.info,
                                   poll_interval=args.poll_interval, first=events)
        sys.stdout.flush()
    if not ctx.json:
        return None
    return {"log_groups": sorted(streams.by_group()), "tasks": streams.ids, "count": printed,
            "events": [e.to_dict() for e in collected[-MAX_JSON_EVENTS:]]}


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "logs", run,
                    "the service's application logs (log group from its task definition); --follow across "
                    "task replacements")
    p.add_argument("--since", default="15m", metavar="DURATION", help="how far back (default 15m; 90s, 2h)")
    p.add_argument("--follow", action="store_true", help="keep printing new lines until interrupted")
    p.add_argument("--filter", metavar="PATTERN", default=None,
                   help="CloudWatch Logs filter pattern, e.g. '[level = ERROR*, ...]' or ERROR")
    p.add_argument("--task", metavar="ID", default=None, help="only this task (id or its first characters)")
    p.add_argument("--log-group", metavar="GROUP", default=None, help="read this group instead of the task "
                   "definitions'")
    p.add_argument("--limit", type=int, default=10000, help="at most this many events (default 10000)")
    p.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls with --follow")

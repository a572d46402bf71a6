"""``pipeline-py rollback [--to ARN]``: put the service back on its last known-good (or the given)
revision, watched to steady state like a deploy."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.commands._shared import add_lock_option

if TYPE_CHECKING:
    from pipeline_py.context import Context


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.commands._shared import holder_for, lock_wait, ports_for, require_cluster, settings_for
    from pipeline_py.deploy.rollback import RollbackRequest, run_rollback

    settings = settings_for(ctx, args)
    req = RollbackRequest(cluster=require_cluster(settings), service=settings.service_name, to=args.to,
                          desired_count=settings.desired_count, timeout=settings.rollback_timeout,
                          poll_interval=settings.poll_interval, max_failed_tasks=settings.max_failed_tasks,
                          lock=settings.lock, wait_for_lock=settings.lock.wait if (w := lock_wait(args)) is None else w)
    return run_rollback(ports_for(ctx, settings), req, holder=holder_for(ctx), dry_run=ctx.dry_run)


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "rollback", run,
                    "roll the service back to its last known-good revision (or --to ARN), watched to steady state")
    p.add_argument("--to", metavar="ARN", default=None, help="task definition ARN (or family:revision)")
    p.add_argument("--timeout", "--rollback-timeout", dest="rollback_timeout", type=str, default=None,
                   help="how long to watch the rollback (default: rollback_timeout)")
    p.add_argument("--poll-interval", type=str, default=None)
    add_lock_option(p)

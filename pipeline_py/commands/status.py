"""``pipeline-py status``: deployments, counts, recent events and target health of the
environment's service(s), and the listener weights for two-colour environments."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command

if TYPE_CHECKING:
    from pipeline_py.context import Context


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.commands._shared import ports_for, require_cluster, settings_for
    from pipeline_py.deploy.status import StatusRequest, environment_status

    settings = settings_for(ctx, args)
    req = StatusRequest(cluster=require_cluster(settings), service=settings.service_name,
                        strategy=settings.strategy, blue_green=settings.blue_green, events=args.events, env=ctx.env)
    return environment_status(ports_for(ctx, settings), req)


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "status", run,
                    "the whole environment: every service (deployments, counts, events, target health), the listener "
                    "weights and any unfinished rollout with the commands that continue or abort it, the deploy locks")
    p.add_argument("--events", type=int, default=10, help="how many recent events to show")

"""``pipeline-py unlock``: show the environment's deploy lock and break it when it is stale.

A lock whose holder died expires by itself after ``lock.ttl``; ``unlock`` removes an expired one at
once. A lock that has not expired belongs to a deploy that may still be acting: it is removed only
with ``--force`` together with its lock id (which ``unlock`` without arguments shows), so a lock
cannot be broken by accident or by someone who did not look at who holds it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.deploy import STRATEGY_NAMES
from pipeline_py.errors import BadInput

if TYPE_CHECKING:
    from pipeline_py.context import Context


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.commands._shared import ports_for, require_cluster, settings_for
    from pipeline_py.deploy.locking import lock_key
    from pipeline_py.deploy.request import DeployRequest

    settings = settings_for(ctx, args)
    require_cluster(settings)
    req = DeployRequest.from_settings(settings, env=ctx.env)
    key = lock_key(req.cluster, req.lock_services())
    ports = ports_for(ctx, settings)
    info = ports.locks.describe(key)
    now = ctx.clock.utcnow()
    if info is None:
        ctx.reporter.info(f"deploy lock {key}: free")
        return {"key": key, "held": False, "removed": False}
    ctx.reporter.info(f"deploy lock {key}: {info.describe(now)}")
    out: dict[str, Any] = {"key": key, "held": True, "expired": info.expired(now), "lock": info.to_dict()}
    if args.lock_id is not None and args.lock_id != info.lock_id:
        raise BadInput(f"--lock-id {args.lock_id} is not the lock's id ({info.lock_id}): it changed hands, or it "
                       "is a typo; nothing was removed", result={"status": "refused", **out})
    if not info.expired(now) and not (args.force and args.lock_id):
        raise BadInput(f"refusing to break a lock that has not expired (it expires "
                       f"{info.expires.isoformat(timespec='seconds')}): its holder may still be deploying. If you "
                       f"are sure it is dead, run `pipeline-py unlock --force --lock-id {info.lock_id}`",
                       result={"status": "refused", **out})
    if ctx.dry_run:
        ctx.reporter.info(f"dry run: would remove lock {info.lock_id}")
        return {**out, "removed": False, "dry_run": True}
    removed = ports.locks.break_lock(key, info.lock_id)
    if not removed:
        raise BadInput(f"lock {key} changed while unlocking (it is no longer {info.lock_id}); nothing was removed")
    ctx.reporter.warn(f"removed deploy lock {key} ({info.lock_id}) held by {info.holder.who}")
    return {**out, "removed": True}


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "unlock", run,
                    "show the environment's deploy lock; remove it when it is expired (or --force with its id)")
    p.add_argument("--lock-id", metavar="ID", default=None, help="the lock id `unlock` shows (required with --force)")
    p.add_argument("--force", action="store_true", help="remove a lock that has not expired (needs --lock-id)")
    p.add_argument("--strategy", choices=STRATEGY_NAMES, default=None,
                   help="whose lock: the rolling service, or the two-colour pair (default: the environment's)")

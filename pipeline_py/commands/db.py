"""``pipeline-py db snapshot|snapshots|restore|check``: the seed's database runbooks.

``snapshot`` takes a manual snapshot named after the service, environment and build, tagged, and waits
until it is available (what ``ecsPipeline``'s preflight does before a prod deploy). ``restore`` restores
to a **new** instance, to a point in time (``--to-time``/``--latest``) or from a snapshot, waits and prints
its endpoint; the source is never touched. ``check`` connects for real with the credentials from Secrets
Manager and runs the connectivity query. The instance is ``database.instance`` (default
``<service>-<env>``); see pipeline_py/ops/db.py.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command, add_group
from pipeline_py.errors import BadInput

if TYPE_CHECKING:
    from pipeline_py.config import Settings
    from pipeline_py.context import Context
    from pipeline_py.ops.db import Database


def database_for(ctx: Context, settings: Settings, instance: str | None = None) -> Database:
    """The environment's instance and how to log in: ``--instance``, ``database.instance``, or the name
    terraform gives it."""
    from pipeline_py.ops.db import Database, valid_identifier

    cfg = settings.database
    if instance:
        name, source = valid_identifier(instance, "--instance"), "--instance"
    elif cfg.instance:
        name, source = cfg.instance, f"database.instance in {ctx.config_path}"
    else:
        name = f"{settings.service}-{ctx.require_env()}"
        source = f"the default <service>-<env>; set database.instance in {ctx.config_path}"
    return Database(instance=name, source=source, name=cfg.name, secret=cfg.secret, tls=cfg.tls,
                    ca_bundle=cfg.ca_bundle, connect_timeout=cfg.connect_timeout)


def _setup(ctx: Context, args: argparse.Namespace) -> tuple[Settings, Database, Any]:
    from pipeline_py.commands._shared import settings_for
    from pipeline_py.ops.adapters import Rds

    settings = settings_for(ctx, args)
    db = database_for(ctx, settings, args.instance)
    return settings, db, Rds(ctx.aws(settings))


def _tags(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--tag {item!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def snapshot(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.ops import db as ops_db

    settings, db, rds = _setup(ctx, args)
    env = ctx.require_env()
    build = args.build or ctx.environ.get("BUILD_TAG") or ctx.environ.get("BUILD_NUMBER")
    sid = args.snapshot_id or ops_db.snapshot_name(settings.service, env, build, ctx.clock.utcnow())
    tags = {"pipeline-py:service": settings.service, "pipeline-py:env": env,
            **({"pipeline-py:build": build} if build else {}), **_tags(args.tag)}
    return ops_db.take_snapshot(rds, db, sid, tags, ctx.clock, ctx.reporter,
                                timeout=args.timeout or settings.database.snapshot_timeout,
                                poll_interval=args.poll_interval or settings.database.poll_interval,
                                dry_run=ctx.dry_run)


def snapshots(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.ops import db as ops_db

    _, db, rds = _setup(ctx, args)
    found = ops_db.list_snapshots(rds, db, None if args.type == "all" else args.type)
    for s in found:
        ctx.reporter.detail(f"{s['created'] or '-':25} {s['snapshot_status']:10} {s['type']:9} {s['id']}")
    if not found:
        ctx.reporter.info(f"no {'' if args.type == 'all' else args.type + ' '}snapshots of {db.instance}")
    return {"instance": db.instance, "snapshots": found}


def restore(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.ops import db as ops_db

    settings, db, rds = _setup(ctx, args)
    to_time = None
    if args.to_time:
        to_time = ops_db.parse_time(args.to_time)
    req = ops_db.RestoreRequest(
        source=db, target=args.target, to_time=to_time, latest=args.latest, snapshot=args.snapshot,
        instance_class=args.instance_class, tags={"pipeline-py:restored-from": db.instance, **_tags(args.tag)},
        timeout=args.timeout or settings.database.restore_timeout,
        poll_interval=args.poll_interval or settings.database.poll_interval)
    return ops_db.restore(rds, req, ctx.clock, ctx.reporter, dry_run=ctx.dry_run)


def check(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.ops import db as ops_db
    from pipeline_py.ops.adapters import Secrets

    settings, db, rds = _setup(ctx, args)
    if ctx.dry_run:
        return {"instance": db.instance, "plan": [f"read {db.instance} and its credentials, connect, run "
                                                  f"{ops_db.pg.CONNECTIVITY_QUERY!r}"]}
    return ops_db.check(rds, Secrets(ctx.aws(settings)), db, ctx.reporter)


def _instance_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--instance", metavar="ID", default=None,
                   help="the RDS instance (default: database.instance, else <service>-<env>)")


def _wait_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="how long to wait (default: database.snapshot_timeout / database.restore_timeout)")
    p.add_argument("--poll-interval", type=float, default=None, metavar="SECONDS",
                   help="seconds between status polls (default: database.poll_interval)")


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    sub = add_group(subparsers, add_globals, "db",
                    "the environment's RDS database: snapshot, snapshots, restore (to a new instance), check")
    p = add_command(sub, add_globals, "snapshot", snapshot,
                    "a manual snapshot named <service>-<env>-<build>-<time>, tagged; waits until available",
                    path=["db", "snapshot"])
    _instance_option(p)
    p.add_argument("--snapshot-id", metavar="ID", default=None, help="the snapshot's name (default: derived)")
    p.add_argument("--build", metavar="BUILD", default=None, help="build id in the name (default: $BUILD_TAG)")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="extra tag (repeatable)")
    _wait_options(p)
    p = add_command(sub, add_globals, "snapshots", snapshots, "the instance's snapshots, newest first",
                    path=["db", "snapshots"])
    _instance_option(p)
    p.add_argument("--type", choices=("manual", "automated", "all"), default="all", help="which snapshots")
    p = add_command(sub, add_globals, "restore", restore,
                    "restore to a NEW instance (point in time or snapshot), wait, print its endpoint",
                    path=["db", "restore"])
    _instance_option(p)
    what = p.add_mutually_exclusive_group()
    what.add_argument("--to-time", metavar="TIME", default=None,
                      help="point in time, ISO 8601 (e.g. 2026-01-02T03:04:05Z; UTC when no offset)")
    what.add_argument("--latest", action="store_true", help="the latest restorable time")
    what.add_argument("--snapshot", metavar="ID", default=None, help="restore this snapshot")
    p.add_argument("--target", metavar="NAME", required=True, help="identifier of the new instance")
    p.add_argument("--instance-class", metavar="CLASS", default=None, help="default: the source's")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="extra tag on the new instance (repeatable)")
    _wait_options(p)
    p = add_command(sub, add_globals, "check", check,
                    "connect with the credentials from Secrets Manager and run the connectivity query",
                    path=["db", "check"])
    _instance_option(p)

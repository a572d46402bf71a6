"""``pipeline-py local up|down|status``: the local stack that rehearses a deploy without AWS."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command, add_group
from pipeline_py.commands._shared import require_local_extra
from pipeline_py.errors import BadInput
from pipeline_py.local.defaults import DEFAULT_PORT, DEFAULT_REGISTRY_PORT

if TYPE_CHECKING:
    from pipeline_py.context import Context
    from pipeline_py.local.stack import Stack


def _stack(ctx: Context) -> Stack:
    from pipeline_py.local.stack import Stack, state_dir

    return Stack(state_dir(ctx.environ), ctx.reporter)


def up(ctx: Context, args: argparse.Namespace) -> dict[str, Any] | None:
    if args.timing:
        from pipeline_py.local.timing import TimingModel

        try:
            TimingModel.from_dict(json.loads(args.timing))
        except json.JSONDecodeError as exc:
            raise BadInput(f"--timing must be a JSON object: {exc.msg}") from None
        except (ValueError, TypeError) as exc:
            raise BadInput(f"--timing: {exc}") from None
    if ctx.dry_run:
        return {"plan": [f"start moto server on 127.0.0.1:{args.port}",
                         f"start registry on 127.0.0.1:{args.registry_port} if a Docker engine answers"]}
    require_local_extra()
    if args.foreground:
        return _foreground(ctx, args)
    from pipeline_py.local.stack import shell_exports

    out = _stack(ctx).up(port=args.port, registry_port=args.registry_port, with_registry=args.registry,
                         timing=args.timing)
    if not ctx.json and out.get("environment"):
        print("# eval \"$(pipeline-py local up)\" or paste:", file=sys.stderr)
        print(shell_exports(out["environment"]))
        return None
    return out


def _foreground(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.local.server import LocalServer
    from pipeline_py.local.stack import aws_environment, shell_exports

    server = LocalServer(port=args.port, timing=json.loads(args.timing) if args.timing else None).start()
    env = aws_environment(server.url)
    ctx.reporter.info(f"local stack on {server.url}; Ctrl-C stops it")
    print(shell_exports(env), flush=True)
    try:
        threading.Event().wait()
    finally:
        server.stop()
    return {"environment": env}


def down(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    if ctx.dry_run:
        return {"plan": ["stop the processes recorded in " + str(_stack(ctx).state_file)]}
    return _stack(ctx).down()


def status(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    out = _stack(ctx).status(ctx.environ)
    for name, comp in out["components"].items():
        where = f"pid {comp.get('pid')}" if comp.get("pid") else f"found at {comp.get('url')}, not in this state"
        ctx.reporter.info(f"{name}: {'running' if comp['running'] else 'NOT running'} ({where})")
    if not out["components"]:
        ctx.reporter.info("local stack: not started (`pipeline-py local up` starts it)")
    return out


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    sub = add_group(subparsers, add_globals, "local", "the local stack (moto + simulator + registry)")
    p = add_command(sub, add_globals, "up", up, "start the local stack in the background",
                    path=["local", "up"])
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="moto server port (default 4566)")
    p.add_argument("--registry-port", type=int, default=DEFAULT_REGISTRY_PORT)
    p.add_argument("--registry", action=argparse.BooleanOptionalAction, default=None,
                   help="start the registry (default: when a Docker engine answers)")
    p.add_argument("--timing", help="JSON object overriding the simulator's timing model")
    p.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops")
    add_command(sub, add_globals, "down", down, "stop what local up started", path=["local", "down"])
    add_command(sub, add_globals, "status", status, "say what runs", path=["local", "status"])

"""``pipeline-py local up|down|status|traffic|infra``: the local stack that rehearses a deploy without AWS."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
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
                         f"start registry on 127.0.0.1:{args.registry_port} if a Docker engine answers",
                         f"runtime {args.runtime or 'docker when an engine answers, else simulated'}"]}
    require_local_extra()
    if args.foreground:
        return _foreground(ctx, args)
    from pipeline_py.local.stack import shell_exports

    out = _stack(ctx).up(port=args.port, registry_port=args.registry_port, with_registry=args.registry,
                         timing=args.timing, runtime=args.runtime)
    for listener in out.get("listeners") or []:
        ctx.reporter.info(f"ALB {listener['load_balancer']} :{listener['port']} → {listener['url']}")
    if not ctx.json and out.get("environment"):
        print("# eval \"$(pipeline-py local up)\" or paste:", file=sys.stderr)
        print(shell_exports(out["environment"]))
        return None
    return out


def _foreground(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.local.server import LocalServer
    from pipeline_py.local.stack import DOCKER_TIMING, aws_environment, choose_runtime, shell_exports

    kind, why = choose_runtime(args.runtime)
    timing = json.loads(args.timing) if args.timing else (DOCKER_TIMING if kind == "docker" else None)
    server = LocalServer(port=args.port, timing=timing, runtime=kind).start()
    ctx.reporter.info(f"runtime: {kind} ({why})")
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
    for listener in out.get("listeners") or []:
        ctx.reporter.info(f"ALB {listener['load_balancer']} :{listener['port']} → {listener['url']}")
    return out


def _endpoint(ctx: Context) -> str:
    url = ctx.environ.get("AWS_ENDPOINT_URL")
    if url:
        return url
    state = _stack(ctx).read()
    if state.get("moto"):
        return str(state["moto"]["url"])
    raise BadInput("local traffic: no local stack (run `pipeline-py local up`, or set AWS_ENDPOINT_URL)")


def _listener_url(ctx: Context, args: argparse.Namespace) -> str:
    """The local URL of the ALB listener ``--listener PORT`` (of ``--load-balancer``, if given)."""
    import requests

    endpoint = _endpoint(ctx)
    try:
        listeners = requests.get(endpoint + "/_pipeline_py/listeners", timeout=10).json()["listeners"]
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise BadInput(f"local traffic: the local stack at {endpoint} did not list its listeners ({exc})") from None
    found = [li for li in listeners if int(li["port"]) == args.listener
             and (args.load_balancer is None or li["load_balancer"] == args.load_balancer)]
    if len(found) != 1:
        known = ", ".join(f"{li['load_balancer']}:{li['port']}" for li in listeners) or "none (simulated runtime?)"
        what = "several listeners match" if found else "no such listener"
        raise BadInput(f"--listener {args.listener}: {what}; the local stack serves: {known}")
    return str(found[0]["url"]).rstrip("/") + (args.path if args.path.startswith("/") else "/" + args.path)


def traffic(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.local import loadgen

    try:
        loadgen.check_bounds(args.rate, args.duration)
        url = args.url or _listener_url(ctx, args)
        loadgen.check_target(url)
    except loadgen.LoadError as exc:
        raise BadInput(f"local traffic: {exc}") from None
    if ctx.dry_run:
        return {"plan": [f"send {args.rate:g} requests/s to {url} for {args.duration:g}s"
                         + (" in the background" if args.background else "")]}
    if args.background:
        return _background(ctx, args, url)
    ctx.reporter.info(f"sending {args.rate:g} requests/s to {url} for {args.duration:g}s")
    gen = loadgen.LoadGenerator(url, args.rate, args.duration, timeout=args.timeout,
                                on_second=lambda s: ctx.reporter.info(loadgen.line(s)))
    result = gen.run()
    t = result["totals"]
    ctx.reporter.info(f"total: sent {t['sent']}, 2xx {t['2xx']}, 4xx {t['4xx']}, 5xx {t['5xx']}, errors {t['errors']}")
    return result


def _background(ctx: Context, args: argparse.Namespace, url: str) -> dict[str, Any]:
    import subprocess
    import time

    stack = _stack(ctx)
    stack.directory.mkdir(parents=True, exist_ok=True)
    output = Path(args.traffic_out) if args.traffic_out else (
        stack.directory / f"traffic-{args.listener or 'url'}-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
    cmd = [sys.executable, "-m", "pipeline_py.local.loadgen", "--url", url, "--rate", str(args.rate),
           "--duration", str(args.duration), "--timeout", str(args.timeout), "--out", str(output)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    entry = {"pid": proc.pid, "url": url, "rate": args.rate, "duration": args.duration, "output": str(output)}
    stack.add_traffic(entry)
    ctx.reporter.info(f"sending {args.rate:g} requests/s to {url} for {args.duration:g}s in the background "
                      f"(pid {proc.pid}; one JSON line per second in {output}; `local down` stops it)")
    return entry


def infra(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """The infrastructure the environment's config names, on the local stack (never on AWS)."""
    import requests

    from pipeline_py import taskdef
    from pipeline_py.images.state import LAST_PUSH, state_path

    env = ctx.require_env()
    settings = ctx.settings()
    endpoint = ctx.environ.get("AWS_ENDPOINT_URL") or ""
    try:
        local = endpoint.startswith("http://127.") and requests.get(endpoint + "/_pipeline_py/status", timeout=5).ok
    except requests.RequestException:
        local = False
    if not local:
        raise BadInput("local infra builds on the local stack only: AWS_ENDPOINT_URL must point at one "
                       "(`eval \"$(pipeline-py local up)\"`); on AWS, terraform creates the infrastructure")
    base = ctx.loaded().base_dir
    pushed = state_path(base, LAST_PUSH).is_file()
    image = taskdef.resolve_image(None, base) if pushed else f"{settings.service}:bootstrap"
    td = None
    if settings.task_definition.template:
        td = taskdef.render(settings, base, env=env, image=image, extra_vars={})
    if args.from_terraform:
        return _infra_from_terraform(ctx, args)
    from pipeline_py.local.infra import spec_from_settings
    from pipeline_py.local.sandbox import build

    spec = spec_from_settings(settings, env, task_definition=td, image=image, native=args.native,
                              health_check_path=args.health_check_path)
    created: list[str] = []
    existing: list[str] = []

    def record(kind: str, name: str, made: bool) -> None:
        (created if made else existing).append(f"{kind} {name}")
        if made:
            ctx.reporter.info(f"created {kind} {name}")
        else:
            ctx.reporter.detail(f"exists  {kind} {name}")

    if ctx.dry_run:
        return {"dry_run": True, "spec": spec.__dict__ | {"native": spec.native.__dict__ if spec.native else None}}
    ctx.reporter.step(f"infrastructure of {settings.service} ({env}) on the local stack at {endpoint}")
    box = build(ctx.aws(settings), spec, record)
    if not pushed:
        ctx.reporter.warn(f"no pushed image yet: the services' first tasks run {image}; on the Docker runtime "
                          "run `pipeline-py build` and `pipeline-py push` first, then deploy")
    ctx.reporter.info(f"{len(created)} created, {len(existing)} already there")
    return {"created": created, "existing": existing, "cluster": box.cluster, "services": [
        s for s in (spec.rolling_service, *spec.colours.values(), spec.native.service if spec.native else None) if s],
        "listeners": {port: arn for port, arn in box.listeners.items()}, "image": image}


def _infra_from_terraform(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """The environment's own terraform, applied to the local stack: plan, then apply exactly that plan."""
    from pipeline_py.commands import terraform

    ctx.reporter.warn("applying the environment's terraform to the local stack: slow (about 100 s, mostly the "
                      "aws provider's fixed waits for the load balancer and the database), and it needs the "
                      "environment's backend pointed at the local stack's S3 (see docs/terraform.md)")
    plan_args = argparse.Namespace(**{**vars(args), "plan_file": None, "allow_destroy": False, "var": None})
    planned = terraform.plan(ctx, plan_args)
    if ctx.dry_run:
        return {"dry_run": True, "terraform": planned}
    applied = terraform.apply(ctx, argparse.Namespace(**{**vars(args), "plan_file": planned.get("plan_file")}))
    return {"terraform": applied}


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    sub = add_group(subparsers, add_globals, "local", "the local stack (moto + simulator + registry)")
    p = add_command(sub, add_globals, "up", up, "start the local stack in the background",
                    path=["local", "up"])
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="moto server port (default 4566)")
    p.add_argument("--registry-port", type=int, default=DEFAULT_REGISTRY_PORT)
    p.add_argument("--registry", action=argparse.BooleanOptionalAction, default=None,
                   help="start the registry (default: when a Docker engine answers)")
    p.add_argument("--timing", help="JSON object overriding the simulator's timing model")
    p.add_argument("--runtime", choices=("docker", "simulated"), default=None,
                   help="docker: tasks run as real containers behind a real load balancer (HAProxy); "
                        "default: docker when an engine answers, else simulated")
    p.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops")
    add_command(sub, add_globals, "down", down, "stop what local up started", path=["local", "down"])
    add_command(sub, add_globals, "status", status, "say what runs", path=["local", "status"])
    t = add_command(sub, add_globals, "traffic", traffic,
                    "send a steady, bounded load through an ALB listener of the local stack",
                    path=["local", "traffic"])
    t.add_argument("--listener", type=int, default=80, help="the ALB listener's port (default 80)")
    t.add_argument("--load-balancer", help="the load balancer's name, when several have that port")
    t.add_argument("--url", help="a loopback URL instead of a listener")
    t.add_argument("--path", default="/", help="request path (default /)")
    t.add_argument("--rate", type=float, default=20.0, help="requests per second (default 20, at most 1000)")
    t.add_argument("--duration", type=float, default=10.0, help="seconds (default 10, at most 3600)")
    t.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    t.add_argument("--background", action="store_true", help="run detached; `local down` stops it")
    i = add_command(sub, add_globals, "infra", infra,
                    "create on the local stack the infrastructure the environment's config names (cluster, services "
                    "or colours, ALB, listeners, target groups, alarms, log groups, lock table); idempotent",
                    path=["local", "infra"])
    i.add_argument("--from-terraform", action="store_true",
                   help="apply the environment's terraform to the local stack instead (slow: about 100 s)")
    i.add_argument("--native", action="store_true",
                   help="also a service ready for the ECS-native strategies (<service>-native)")
    i.add_argument("--health-check-path", default="/health", help="target groups' health check path")
    t.add_argument("--out", dest="traffic_out",
                   help="with --background: the file of per-second JSON lines (default: the state directory)")

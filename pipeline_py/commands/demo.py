"""``pipeline-py demo``: the whole story on the local stack, told step by step.

build → push (real registry behind moto's ECR) → render + register → rolling deploy of a good
version → rolling deploy of a crashing version, caught and rolled back → canary of a good version
promoted through every step → canary of a bad version caught at the first step and rolled back.
Every step is the real command, run exactly as a user or Jenkins would run it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.errors import BadInput, OperationFailed

if TYPE_CHECKING:
    from pipeline_py.context import Context


@dataclass
class Step:
    title: str
    argv: list[str]
    expect: int
    story: str


def _run(argv: list[str]) -> tuple[int, dict[str, Any]]:
    from pipeline_py.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main([*argv, "--json"])
    try:
        return code, json.loads(buf.getvalue() or "{}")
    except json.JSONDecodeError:
        return code, {"raw": buf.getvalue()}


# Slower than the simulator's default (where a crash, ECS's circuit breaker and its rollback all
# fit between two polls), so the story shows the watch catching a failing deployment by itself.
DEMO_TIMING = {"scale": 0.01, "provisioning": 0.3, "pending": 0.6, "activating": 0.2, "crash_delay": 0.3}


def _ensure_stack(ctx: Context) -> dict[str, str]:
    """Use the stack the environment points at, or start one in the background."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return {}
    from pipeline_py.commands._shared import require_local_extra
    from pipeline_py.local.stack import Stack, state_dir

    require_local_extra()
    ctx.reporter.step("starting the local stack (pipeline-py local up)")
    out = Stack(state_dir(), ctx.reporter).up(port=4566, registry_port=5000, with_registry=None,
                                              timing=json.dumps(DEMO_TIMING))
    env = out.get("environment") or {}
    os.environ.update(env)
    return env


def _still_running(ctx: Context) -> dict[str, Any]:
    """Say what the demo leaves running and the one command that stops it."""
    from pipeline_py.local.stack import Stack, state_dir

    status = Stack(state_dir(), ctx.reporter).status()
    comps = status.get("components") or {}
    ctx.reporter.step("still running (the local stack, for you to try things on)")
    if "moto" in comps:
        ctx.reporter.info(f"  AWS endpoint:  {comps['moto']['url']}  (export AWS_ENDPOINT_URL={comps['moto']['url']} "
                          "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1)")
    if "registry" in comps:
        ctx.reporter.info(f"  registry:      {comps['registry'].get('url')}")
    for listener in status.get("listeners") or []:
        ctx.reporter.info(f"  listener :{listener['port']} of {listener['load_balancer']}:  curl {listener['url']}/")
    ctx.reporter.info(f"  state:         {status['state_file']}  (`pipeline-py local status` shows it)")
    ctx.reporter.info("  stop it with:  pipeline-py local down")
    return {**status, "stop": "pipeline-py local down"}


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    config = Path(ctx.config_path)
    if not config.exists():
        raise BadInput(f"demo config {config} not found (make demo uses examples/task-api/pipeline.yaml)")
    env = ctx.env or "local"
    _ensure_stack(ctx)
    settings = ctx.loaded().settings(env)
    from pipeline_py.aws import AwsFactory
    from pipeline_py.local import sandbox

    ctx.reporter.step("creating the sample service's infrastructure on the local stack")
    infra = sandbox.ensure(AwsFactory(counter=ctx.counter), name=settings.service, env=env)
    ctx.reporter.info(f"cluster {infra.cluster}: services {infra.service} (rolling), {infra.blue}/{infra.green} "
                      f"(blue/green) behind ALB listener :80, test listener :8080")
    base = ["--config", str(config), "--env", env]
    steps: list[Step] = []
    have_docker = _docker_available() and bool(os.environ.get("PIPELINE_PY_REGISTRY_OVERRIDE"))
    if have_docker:
        from pipeline_py.local.busybox import ensure_busybox

        ensure_busybox(config.parent)
        steps += [
            Step("build", [*base, "build"], 0, "build the sample image on the real Docker engine"),
            Step("push", [*base, "push"], 0, "log in to ECR, push every tag, get the digest"),
            Step("render + register", [*base, "render", "--register", "--diff"], 0,
                 "render the task definition with the pushed digest and register it"),
        ]
        image: list[str] = []
    else:
        ctx.reporter.warn("no Docker engine/registry: skipping build and push, deploying image task-api:demo")
        image = ["--image", "task-api:demo"]
    steps += [
        Step("rolling deploy (good)", [*base, "deploy", "--strategy", "rolling", *image], 0,
             "roll the good version out, watch it, verify target health"),
        Step("rolling deploy (crashing)", [*base, "deploy", "--strategy", "rolling", *image,
                                          "--var", "scenario=crash,exit-code=3"], 1,
             "a version whose container exits: caught while it fails, rolled back"),
        Step("canary (good)", [*base, "deploy", "--strategy", "canary", *image], 0,
             "shift 10 → 25 → 50 → 100% with metric analysis at every step"),
        Step("canary (bad)", [*base, "deploy", "--strategy", "canary", *image,
                              "--var", "scenario=error-rate=0.2"], 1,
             "a version answering 20% 5XX: caught at the first step, traffic back to stable"),
    ]
    summary = []
    for i, step in enumerate(steps, 1):
        ctx.reporter.step(f"[{i}/{len(steps)}] {step.title}: {step.story}")
        ctx.reporter.detail("$ pipeline-py " + " ".join(step.argv))
        code, result = _run(step.argv)
        ok = code == step.expect
        line = {"step": step.title, "exit_code": code, "expected": step.expect, "as_expected": ok,
                "status": result.get("status"), "reason": result.get("reason") or result.get("message"),
                "seconds": (result.get("timings") or {}).get("total_seconds")}
        if result.get("analysis"):
            line["analysis"] = [{"weight": a["weight"], "result": a["result"]} for a in result["analysis"]]
        summary.append(line)
        verdict = "as expected" if ok else f"UNEXPECTED (wanted exit {step.expect})"
        ctx.reporter.info(f"→ exit {code}, status {result.get('status')}: {verdict}")
        if not ok and not args.keep_going:
            break
    ctx.reporter.step("the story")
    for line in summary:
        ctx.reporter.info(f"  {'✓' if line['as_expected'] else '✗'} {line['step']:<28} exit {line['exit_code']} "
                          f"{line['status'] or ''}" + (f" — {line['reason']}" if line.get("reason") else ""))
    still = _still_running(ctx)
    result = {"steps": summary, "local_stack": still}
    if not all(s["as_expected"] for s in summary) or len(summary) < len(steps):
        raise OperationFailed("the demo did not go as expected", result={"status": "error", **result})
    return result


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "demo", run,
                    "rehearse the whole pipeline on the local stack, narrated")
    p.add_argument("--keep-going", action="store_true", help="run every step even after an unexpected outcome")

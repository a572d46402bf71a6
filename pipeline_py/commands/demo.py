"""``pipeline-py demo``: the whole story on the local stack, told step by step.

build → push (real registry behind moto's ECR) → render + register → rolling deploy of a good
version → rolling deploy of a crashing version, caught and rolled back → canary of a good version
promoted through every step → canary of a bad version caught at the first step and rolled back
(→ a blue-green switch, on the Docker runtime). Every step is the real command, run exactly as a
user or Jenkins would run it.

On the Docker runtime (the default when an engine answers) the tasks are the pushed image's real
containers behind HAProxy, `local traffic` sends real requests through listeners :80 and :81 the
whole time, and each step says how many of them failed; the crash is the container's real exit
code, the bad canary's 5XX are real answers counted by the real load balancer, and the story ends
with a request to the listener answered by the new version.
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
# Real containers behind HAProxy: AWS seconds last 50 ms (10 s health checks every 0.5 s, the 30 s
# deregistration delay 1.5 s), enough for real health checks and real draining to show.
DOCKER_DEMO_TIMING = {"scale": 0.05}
# The load `local traffic` sends while the deploys run (requests per second): enough for the canary's
# first step (10 %) to hold more than `min_requests` in its bake, bounded well below what two busybox
# tasks answer.
TRAFFIC = {80: 60.0, 81: 20.0, 82: 60.0}
REAL_CANARY_BAKE = 6


def _ensure_stack(ctx: Context) -> dict[str, str]:
    """Use the stack the environment points at, or start one in the background."""
    if os.environ.get("AWS_ENDPOINT_URL"):
        return {}
    from pipeline_py.commands._shared import require_local_extra
    from pipeline_py.local.stack import Stack, choose_runtime, state_dir

    require_local_extra()
    kind, _ = choose_runtime(None)
    ctx.reporter.step(f"starting the local stack (pipeline-py local up, runtime {kind})")
    out = Stack(state_dir(), ctx.reporter).up(
        port=4566, registry_port=5000, with_registry=None, runtime=kind,
        timing=json.dumps(DOCKER_DEMO_TIMING if kind == "docker" else DEMO_TIMING))
    env = out.get("environment") or {}
    os.environ.update(env)
    return env


def _runtime() -> dict[str, Any]:
    import requests

    try:
        return dict(requests.get(os.environ["AWS_ENDPOINT_URL"] + "/_pipeline_py/runtime", timeout=10).json())
    except (requests.RequestException, ValueError, KeyError):
        return {"runtime": "simulated", "listeners": []}


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


@dataclass
class Load:
    """The background `local traffic` runs of the demo, read back per step."""

    outputs: dict[int, Path]
    pids: list[int]

    def between(self, port: int, start: float, end: float) -> dict[str, int]:
        out = {"sent": 0, "2xx": 0, "5xx": 0, "errors": 0}
        path = self.outputs.get(port)
        if path is None or not path.exists():
            return out
        for raw in path.read_text().splitlines():
            try:
                second = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if "at" in second and start <= second["at"] + 0.5 <= end:
                for k in out:
                    out[k] += int(second.get(k) or 0)
        return out

    def reported_through(self, port: int) -> int:
        """The last second the load tool has reported for ``port`` (0 before the first)."""
        path = self.outputs.get(port)
        if path is None or not path.exists():
            return 0
        lines = path.read_text().splitlines()
        for raw in reversed(lines):
            try:
                return int(json.loads(raw).get("at") or 0)
            except (json.JSONDecodeError, ValueError, AttributeError):
                continue
        return 0

    def stop(self) -> None:
        import signal

        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _start_load(ctx: Context, base: list[str]) -> Load:
    import tempfile

    from pipeline_py.local.stack import Stack, state_dir

    outputs: dict[int, Path] = {}
    pids = []
    directory = Path(tempfile.mkdtemp(prefix="demo-traffic-", dir=Stack(state_dir(), ctx.reporter).directory))
    for port, rate in TRAFFIC.items():
        output = directory / f"listener-{port}.jsonl"
        code, result = _run([*base, "local", "traffic", "--listener", str(port), "--rate", str(rate),
                             "--duration", "900", "--background", "--out", str(output)])
        if code == 0 and result.get("pid"):
            outputs[port] = output
            pids.append(int(result["pid"]))
        else:
            ctx.reporter.warn(f"no traffic on listener :{port}: {result.get('message') or result}")
    return Load(outputs, pids)


def _wait_for_traffic(load: Load, seconds: float = 2.0) -> None:
    import time

    deadline = time.monotonic() + seconds + 5
    while time.monotonic() < deadline:
        if all(p.exists() and p.stat().st_size > 0 for p in load.outputs.values()):
            return
        time.sleep(0.2)


def _narrate_service(ctx: Context, target_group: str, pushed: str | None) -> None:
    """The service's containers (the image digest they run, the address they answer on) and what the
    real health checks of its targets found."""
    import boto3

    digest = pushed.rsplit("@", 1)[1] if pushed and "@" in pushed else None
    health = boto3.client("elbv2").describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
    addresses = {h["Target"]["Id"] for h in health}
    tasks = [t for t in (_runtime().get("containers") or {}).get("tasks") or [] if t.get("address") in addresses]
    for task in tasks:
        for c in task.get("containers") or []:
            same = " — the pushed digest" if digest and c.get("imageDigest") == digest else ""
            ctx.reporter.info(f"  container {c['id']} of task {task['taskArn'].rsplit('/', 1)[-1][:8]} on "
                              f"{task['address']}: {c['imageDigest'] or c['image']}{same}, container health "
                              f"{c['health']}")
    for h in health:
        th = h["TargetHealth"]
        ctx.reporter.info(f"  target {h['Target']['Id']}:{h['Target']['Port']} {th['State']}"
                          + (f" ({th.get('Reason')})" if th.get("Reason") else "") + " — real HTTP checks of /health")


def _curl(ctx: Context, url: str) -> dict[str, Any]:
    import requests

    try:
        resp = requests.get(url + "/", timeout=5)
    except requests.RequestException as exc:
        ctx.reporter.warn(f"$ curl {url}/ failed: {exc}")
        return {"url": url, "error": str(exc)}
    ctx.reporter.info(f"$ curl {url}/  →  HTTP {resp.status_code} {resp.text.strip()}")
    try:
        body = resp.json()
    except ValueError:
        body = resp.text
    return {"url": url, "status": resp.status_code, "body": body}


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    config = Path(ctx.config_path)
    if not config.exists():
        raise BadInput(f"demo config {config} not found (make demo uses examples/task-api/pipeline.yaml)")
    env = ctx.env or "local"
    _ensure_stack(ctx)
    settings = ctx.loaded().settings(env)
    from pipeline_py.aws import AwsFactory
    from pipeline_py.local import sandbox

    base = ["--config", str(config), "--env", env]
    summary: list[dict[str, Any]] = []
    real = _runtime().get("runtime") == "docker"
    have_docker = _docker_available() and bool(os.environ.get("PIPELINE_PY_REGISTRY_OVERRIDE"))
    image: list[str] = []
    pushed: str | None = None
    steps: list[Step] = []
    total = (3 if have_docker else 0) + 1 + 4 + (1 if real else 0) + 2 + 1
    if have_docker:
        from pipeline_py.local.busybox import ensure_busybox

        ensure_busybox(config.parent)
        first = [Step("build", [*base, "build"], 0, "build the sample image on the real Docker engine"),
                 Step("push", [*base, "push"], 0, "log in to ECR, push every tag, get the digest")]
        if real:  # the services' first tasks already run the pushed image: build and push come first
            for step in first:
                line, result = _step(ctx, step, len(summary) + 1, total)
                summary.append(line)
                if not line["as_expected"]:
                    return _finish(ctx, summary, 2, None, None)
                pushed = result.get("image") or pushed
        else:
            steps += first
        steps.append(Step("render + register", [*base, "render", "--register", "--diff"], 0,
                          "render the task definition with the pushed digest and register it"))
    else:
        ctx.reporter.warn("no Docker engine/registry: skipping build and push, deploying image task-api:demo")
        image = ["--image", "task-api:demo"]
    line, _ = _step(ctx, Step("local infra", [*base, "local", "infra", "--native"], 0,
                              "the infrastructure the config names: cluster, rolling service (ALB listener :81), "
                              "blue/green behind the weighted listener :80 with a test listener :8080, a service "
                              "ready for ECS-native deploys (:82), the alarm, the log group, the lock table"),
                    len(summary) + 1, total)
    summary.append(line)
    if not line["as_expected"]:
        return _finish(ctx, summary, total, None, None)
    infra = sandbox.ensure(AwsFactory(counter=ctx.counter), name=settings.service, env=env, native=True,
                           image=pushed or "task-api:bootstrap")
    load: Load | None = None
    if real:
        from pipeline_py.commands._shared import require_local_extra

        require_local_extra()
        _wait_steady(ctx, infra)
        _wait_routed(ctx)
        ctx.reporter.step("real traffic: `pipeline-py local traffic` through listeners :80 and :81 for the whole story")
        load = _start_load(ctx, base)
        _wait_for_traffic(load)
    good, bad = ["--var", "scenario=healthy"], ["--var", "scenario=crash,exit-code=3"]
    # real requests: a weight change reaches the proxy a moment after the listener changed, and 10 % of
    # 60 requests a second is 6: each canary step bakes 6 s, so that the first step has the ~30 canary
    # requests it takes to see a 20 % error rate with 99 % confidence (caught there but about 1 time in 100)
    canary_bake = ["--set", f"canary.bake_seconds={REAL_CANARY_BAKE}"] if real else []
    steps += [
        Step("rolling deploy (good)", [*base, "deploy", "--strategy", "rolling", *image, *good,
                                       "--var", "version=v1"], 0,
             "roll the good version out, watch it, verify target health"),
        Step("rolling deploy (crashing)", [*base, "deploy", "--strategy", "rolling", *image, *bad,
                                           "--var", "version=v2-crash"], 1,
             "a version whose container exits: caught while it fails, rolled back"),
        Step("canary (good)", [*base, "deploy", "--strategy", "canary", *image, *good, "--var", "version=v2",
                               *canary_bake], 0,
             "shift 10 → 25 → 50 → 100% with metric analysis at every step"),
        Step("canary (bad)", [*base, "deploy", "--strategy", "canary", *image, *canary_bake,
                              "--var", "scenario=error-rate=0.2", "--var", "version=v3-bad"], 1,
             "a version answering 20% 5XX: caught at the first step, traffic back to stable"),
    ]
    if real:
        steps.append(Step("blue-green (good)", [*base, "deploy", "--strategy", "blue-green", *image, *good,
                                                "--var", "version=v3"], 0,
                          "start the idle colour, check it on the test listener, switch all traffic at once"))
    native = ["--set", f"ecs_service={infra.native.service}"] if infra.native else []
    steps += [
        Step("ECS-native canary (good)", [*base, *native, "deploy", "--strategy", "ecs-canary", *image, *good,
                                          "--var", "version=v4", *canary_bake], 0,
             "one service: ECS moves the listener rule to 10%, pipeline-py's analysis answers its PAUSE hooks"),
        Step("ECS-native canary (bad)", [*base, *native, "deploy", "--strategy", "ecs-canary", *image, *canary_bake,
                                         "--var", "scenario=error-rate=0.2", "--var", "version=v5-bad"], 1,
             "20% 5XX caught at ECS's 10% step: ContinueServiceDeployment ROLLBACK, traffic back on production"),
        Step("diagnose", [*base, "diagnose"], 1,
             "the troubleshooting guide as one command, on what the story left: the crashed version's stopped "
             "tasks (exit code 3) and its ERROR lines are found, everything serving is ok"),
    ]
    try:
        for step in steps:
            line, result = _step(ctx, step, len(summary) + 1, total, load=load)
            summary.append(line)
            if real and step.title.startswith("rolling deploy (good)"):
                _narrate_service(ctx, infra.target_groups["rolling"], pushed)
            if not line["as_expected"] and not args.keep_going:
                break
    finally:
        if load is not None:
            load.stop()
    expected = total
    final = None
    if real:
        url = next((li["url"] for li in _runtime().get("listeners") or [] if int(li["port"]) == 80), None)
        if url:
            ctx.reporter.step("the listener answers from the real app")
            final = _curl(ctx, url)
    return _finish(ctx, summary, expected, final, load)


def _wait_steady(ctx: Context, infra: Any) -> None:
    import time

    import boto3

    ecs = boto3.client("ecs")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        names = [infra.service, infra.blue, *([infra.native.service] if infra.native else [])]
        services = ecs.describe_services(cluster=infra.cluster, services=names)["services"]
        if all(len(s["deployments"]) == 1 and s["runningCount"] == s["desiredCount"] for s in services):
            ctx.reporter.info("the services' first tasks run the pushed image: containers started, health checks pass")
            return
        time.sleep(0.5)
    ctx.reporter.warn("the services' first tasks did not settle within 120 s")


def _wait_routed(ctx: Context) -> None:
    """Until both listeners answer 200: the proxy routes to the first tasks."""
    import time

    import requests

    urls = [li["url"] for li in _runtime().get("listeners") or [] if int(li["port"]) in TRAFFIC]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if urls and all(requests.get(u + "/", timeout=2).status_code == 200 for u in urls):
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)


def _step(ctx: Context, step: Step, number: int, total: int, load: Load | None = None
          ) -> tuple[dict[str, Any], dict[str, Any]]:
    import time

    ctx.reporter.step(f"[{number}/{total}] {step.title}: {step.story}")
    ctx.reporter.detail("$ pipeline-py " + " ".join(step.argv))
    began = time.time()
    code, result = _run(step.argv)
    ended = time.time()
    ok = code == step.expect
    line: dict[str, Any] = {"step": step.title, "exit_code": code, "expected": step.expect, "as_expected": ok,
                            "status": result.get("status"), "reason": result.get("reason") or result.get("message"),
                            "seconds": (result.get("timings") or {}).get("total_seconds")}
    if result.get("analysis"):
        line["analysis"] = [{"weight": a["weight"], "result": a["result"]} for a in result["analysis"]]
    verdict = "as expected" if ok else f"UNEXPECTED (wanted exit {step.expect})"
    ctx.reporter.info(f"→ exit {code}, status {result.get('status')}: {verdict}")
    if load is not None:
        _wait_for_seconds(load, ended)
        port = 81 if step.title.startswith("rolling") else 82 if step.title.startswith("ECS-native") else 80
        seen = load.between(port, began, ended)
        line["traffic"] = {"listener": port, **seen}
        failed = seen["5xx"] + seen["errors"]
        ctx.reporter.info(f"real traffic on listener :{port} during this step: {seen['sent']} requests, "
                          f"{seen['2xx']} 2xx, {seen['5xx']} 5xx, {seen['errors']} errors"
                          + (" — no request failed" if failed == 0 and seen["sent"] else ""))
    return line, result


def _wait_for_seconds(load: Load, until: float) -> None:
    """The load tool reports a second once all its requests ended: wait for the step's last one."""
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(load.reported_through(port) >= int(until) for port in load.outputs):
            return
        time.sleep(0.1)


def _finish(ctx: Context, summary: list[dict[str, Any]], expected: int, final: dict[str, Any] | None,
            load: Load | None) -> dict[str, Any]:
    ctx.reporter.step("the story")
    for line in summary:
        extra = ""
        if line.get("traffic"):
            t = line["traffic"]
            extra = f" [:{t['listener']} {t['sent']} req, {t['5xx']} 5xx, {t['errors']} errors]"
        ctx.reporter.info(f"  {'✓' if line['as_expected'] else '✗'} {line['step']:<28} exit {line['exit_code']} "
                          f"{line['status'] or ''}" + (f" — {line['reason']}" if line.get("reason") else "") + extra)
    still = _still_running(ctx)
    result: dict[str, Any] = {"steps": summary, "local_stack": still}
    if final is not None:
        result["final_curl"] = final
    if not all(s["as_expected"] for s in summary) or len(summary) < expected:
        raise OperationFailed("the demo did not go as expected", result={"status": "error", **result})
    return result


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "demo", run,
                    "rehearse the whole pipeline on the local stack, narrated")
    p.add_argument("--keep-going", action="store_true", help="run every step even after an unexpected outcome")

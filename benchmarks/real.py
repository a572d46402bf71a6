"""The real rehearsal measured: deploys on the local stack's Docker runtime (tasks are containers of the
pushed sample image behind HAProxy) under real traffic, counted by the load tool itself.

One in-process stack switched to the Docker runtime, with a registry; the sample image is built and
pushed once, the sandbox's services start from it. Then, per run:

- **rolling** (pipeline-py, ecs-deploy, ``aws ecs update-service`` + ``wait services-stable``): the
  service is put back on a known-good revision, ``pipeline-py local traffic``'s generator sends 20
  requests/s through listener :81, and the tool deploys a good version (``healthy``) or one whose
  container exits 3 on start (``crash``) as a child process. Measured: process time, the verdict,
  and the requests that failed (5XX or no answer) according to the load tool;
- **canary** (pipeline-py only: no peer shifts ALB weights with analysis): 60 requests/s through
  listener :80 while a good canary runs (requests failed) and while a canary answering 20 % 500s runs
  (from the load tool's own records: the bad version's first 5XX → the last one, i.e. traffic
  restored; how many requests failed).

    python benchmarks/real.py [--runs 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h
from rolling import AWSCLI_SCRIPT

TOOLS = ("pipeline-py", "ecs-deploy", "awscli")
ROLLING_RATE = 20.0
CANARY_RATE = 50.0
REAL_TIMING = {"scale": 0.05}
CANARY = {"steps": [10, 25, 50, 100], "bake_seconds": 3,
          "analysis": {"max_error_rate": 0.01, "max_p99_ms": 2000, "max_p99_ratio": 5, "min_p99_delta_ms": 400,
                       "min_requests": 10, "interval": 1, "period": 1, "failure_limit": 1,
                       "consecutive_failure_limit": 2}}


class Load:
    """The load tool on a thread with per-request records."""

    def __init__(self, url: str, rate: float) -> None:
        from pipeline_py.local.loadgen import LoadGenerator

        self.gen = LoadGenerator(url, rate, 900, timeout=5.0, keep_records=True)
        self.result: dict[str, Any] = {}
        self.thread = threading.Thread(target=lambda: self.result.update(self.gen.run()), daemon=True)

    def __enter__(self) -> Load:
        self.thread.start()
        h.wait_for(lambda: self.gen.reported, 15, "the first second of traffic")
        return self

    def __exit__(self, *exc: object) -> None:
        self.gen.stop()
        self.thread.join(timeout=30)

    def between(self, start: float, end: float) -> dict[str, Any]:
        records = [r for r in self.gen.records or [] if start <= r[0] <= end]
        failed = [r for r in records if r[2] is None or r[2] >= 500]
        kinds: dict[str, int] = {}
        for second in self.gen.reported:
            if int(start) <= second["at"] <= end:
                for kind, n in second.get("error_kinds", {}).items():
                    kinds[kind] = kinds.get(kind, 0) + n
        return {"sent": len(records), "failed": len(failed), "5xx": sum(1 for r in failed if r[2] is not None),
                "errors": sum(1 for r in failed if r[2] is None), "error_kinds": kinds,
                "first_failure": min((r[1] for r in failed), default=None),
                "last_failure": max((r[1] for r in failed), default=None)}


class RealStack:
    """The in-process stack on the Docker runtime, a registry, the pushed image and the sandbox."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pipeline-py-bench-real-"))
        self.server: Any = None
        self.registry: dict[str, Any] = {}
        self.image = ""
        self.listeners: dict[int, str] = {}
        self.infra: Any = None
        self.env: dict[str, str] = {}

    def __enter__(self) -> RealStack:
        import os

        import requests

        from pipeline_py.local import registry as reg
        from pipeline_py.local.busybox import ensure_busybox
        from pipeline_py.local.server import LocalServer
        from pipeline_py.local.stack import aws_environment

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.server = LocalServer("127.0.0.1", 0, timing=REAL_TIMING).start()
        url = self.server.url
        requests.post(url + "/moto-api/reset", timeout=30).raise_for_status()
        env = {**aws_environment(url, h.REGION), "AWS_CONFIG_FILE": str(self.tmp / "aws-config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(self.tmp / "aws-credentials")}
        os.environ.update(env)
        self.registry = reg.start(self.tmp / "registry", _free_port(), url)
        os.environ.update(reg.environment(self.registry))
        requests.post(url + "/_pipeline_py/runtime", timeout=120, json={
            "runtime": "docker", "stack_id": f"bench-{uuid.uuid4().hex[:8]}",
            "registry": {"host": self.registry["host"]}}).raise_for_status()
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "PYTHONPATH": str(h.REPO)}
        ensure_busybox(h.EXAMPLE)
        return self

    def build_and_push(self, project: h.Project) -> None:
        from pipeline_py.aws import AwsFactory
        from pipeline_py.local import sandbox

        for verb in ("build", "push"):
            r = h.run_cli(*project.args("--json", verb))
            if r.code != 0:
                raise RuntimeError(f"{verb} failed (exit {r.code}):\n{r.stderr}")
            if verb == "push":
                self.image = r.json["image"]
        self.infra = sandbox.ensure(AwsFactory(), image=self.image)
        h.wait_for(lambda: h.steady() and h.steady("task-api-blue"), 120, "the first tasks (containers) to settle")
        import requests

        self.listeners = {int(li["port"]): li["url"] for li in
                          requests.get(self.server.url + "/_pipeline_py/listeners", timeout=10).json()["listeners"]}
        h.wait_for(lambda: all(_ok(self.listeners[p]) for p in (80, 81)), 30, "the listeners to route")

    def __exit__(self, *exc: object) -> None:
        import requests

        from pipeline_py.local import registry as reg

        if self.server is not None:
            requests.post(self.server.url + "/_pipeline_py/runtime", json={"runtime": "simulated"}, timeout=180)
            requests.post(self.server.url + "/moto-api/reset", timeout=30)
            self.server.stop()
        if self.registry:
            reg.stop(self.registry)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ok(url: str) -> bool:
    import requests

    try:
        return requests.get(url + "/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def baseline(project: h.Project, stack: RealStack, version: str) -> str:
    r = h.run_cli(*project.args("--json", "deploy", "--strategy", "rolling", "--image", stack.image,
                                "--var", f"version={version}"))
    if r.code != 0:
        raise RuntimeError(f"baseline deploy failed (exit {r.code}):\n{r.stderr}")
    h.wait_for(h.steady, 60, "the service to settle on the baseline")
    return h.primary_td()


def rolling_command(tool: str, crash: bool, project: h.Project, peers: h.Peers, stack: RealStack,
                    version: str) -> tuple[list[str], dict[str, str], float]:
    scenario = "crash,exit-code=3" if crash else "healthy"
    if tool == "pipeline-py":
        return (project.pipeline_py("--json", "deploy", "--strategy", "rolling", "--image", stack.image, "--var",
                                    f"scenario={scenario}", "--var", f"version={version}", "--poll-interval", "1"),
                stack.env, 150.0)
    if tool == "ecs-deploy":
        return ([peers.ecs, "deploy", h.CLUSTER, h.SERVICE, "-i", "app", stack.image, "-e", "app", "APP_SCENARIO",
                 scenario, "-e", "app", "APP_VERSION", version, "--sleep-time", "1", "--timeout", "60",
                 "--rollback", "--no-deregister"], stack.env, 150.0)
    td_file = project.dir / f"taskdef-{version}.json"
    r = h.run_cli(*project.args("--json", "render", "--image", stack.image, "--output", str(td_file),
                                "--var", f"scenario={scenario}", "--var", f"version={version}"))
    if r.code != 0:
        raise RuntimeError(f"render failed (exit {r.code}):\n{r.stderr}")
    return (["sh", "-c", AWSCLI_SCRIPT], {**stack.env, "AWS": peers.aws, "TD_FILE": str(td_file),
                                          "CLUSTER": h.CLUSTER, "SERVICE": h.SERVICE}, 90.0)


def measure_rolling(tool: str, crash: bool, n: int, project: h.Project, peers: h.Peers,
                    stack: RealStack) -> dict[str, Any]:
    previous = baseline(project, stack, f"base{n}")
    version = f"{tool[:3]}{n}{'c' if crash else ''}"
    argv, env, limit = rolling_command(tool, crash, project, peers, stack, version)
    with Load(stack.listeners[81], ROLLING_RATE) as load:
        run = h.run_tool(argv, env=env, timeout=limit)
        if h.primary_td() == previous or crash:  # whatever rolls back, let it finish under the same load
            try:
                h.wait_for(h.steady, 60, "the service to settle")
            except RuntimeError:
                pass
        settled = time.time()
    seen = load.between(run.started, settled)
    out = {"tool": tool, "scenario": "crash" if crash else "healthy", "exit_code": run.code,
           "killed_after": run.killed_after, "process_seconds": run.ended - run.started, **seen,
           "back_on_previous": h.primary_td() == previous}
    out["ok"] = (run.code != 0 and out["back_on_previous"]) if crash else run.code == 0
    return out


def measure_canary(bad: bool, n: int, project: h.Project, stack: RealStack) -> dict[str, Any]:
    argv = project.pipeline_py("--json", "deploy", "--strategy", "canary", "--image", stack.image,
                               "--var", f"version=can{n}{'b' if bad else ''}",
                               *(["--var", "scenario=error-rate=0.2"] if bad else []))
    with Load(stack.listeners[80], CANARY_RATE) as load:
        run = h.run_tool(argv, env=stack.env, timeout=180)
        time.sleep(2)  # requests still in flight when the tool returned
    seen = load.between(run.started, run.ended + 2)
    try:
        result = json.loads(run.stdout)
    except json.JSONDecodeError:
        result = {}
    out = {"scenario": "bad" if bad else "good", "exit_code": run.code, "status": result.get("status"),
           "reason": result.get("reason"), "process_seconds": run.ended - run.started, **seen}
    if bad:
        first, last = seen["first_failure"], seen["last_failure"]
        out["first_5xx_to_restored_seconds"] = last - first if first is not None and last is not None else None
        out["ok"] = result.get("status") == "rolled_back" and seen["5xx"] > 0
    else:
        out["ok"] = result.get("status") == "succeeded"
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    peers = h.ensure_peers()
    results: dict[str, list[dict[str, Any]]] = {"rolling": [], "canary": []}
    with RealStack() as stack:
        project = h.Project(stack.tmp / "project")
        project.write(canary=CANARY, poll_interval=1)
        data = yaml.safe_load(project.config.read_text())
        data["image"] = {**data["image"], "context": str(h.EXAMPLE), "dockerfile": str(h.EXAMPLE / "Dockerfile"),
                         "tag_immutability": False}
        project.config.write_text(yaml.safe_dump(data, sort_keys=False))
        stack.build_and_push(project)
        for n in range(1, args.runs + 1):
            for crash in (False, True) if args.only in (None, "rolling") else ():
                for tool in TOOLS:
                    h.log(f"real rolling {'crash' if crash else 'healthy'} with {tool}: run {n}/{args.runs}")
                    results["rolling"].append({"run": n, **measure_rolling(tool, crash, n, project, peers, stack)})
            for bad in (False, True) if args.only in (None, "canary") else ():
                h.log(f"real canary {'bad' if bad else 'good'}: run {n}/{args.runs}")
                results["canary"].append({"run": n, **measure_canary(bad, n, project, stack)})
    return {"benchmark": "real", "timing": REAL_TIMING, "peers": peers.versions, "runs": args.runs,
            "rates": {"rolling": ROLLING_RATE, "canary": CANARY_RATE}, "canary": CANARY, **results}


def render(data: dict[str, Any]) -> str:
    out = [f"Docker runtime, timing {json.dumps(data['timing'])}; load: {data['rates']['rolling']:g} req/s "
           f"through listener :81 (rolling), {data['rates']['canary']:g} req/s through :80 (canary); "
           f"{data['runs']} run(s); seconds median (min–max); requests counted by the load tool.\n"]
    rows = []
    for scenario in ("healthy", "crash"):
        for tool in TOOLS:
            rs = [r for r in data["rolling"] if r["tool"] == tool and r["scenario"] == scenario]
            if not rs:
                continue
            rows.append([scenario, tool, h.fmt_stats([r["process_seconds"] for r in rs]),
                         ", ".join(f"exit {r['exit_code']}" + (" (stopped by the harness)" if r["killed_after"] else "")
                                   + (" ← reports success: ECS rolled the crash back" if scenario == "crash" and
                                      r["exit_code"] == 0 else "") for r in rs),
                         h.fmt_stats([r["sent"] for r in rs], 0), h.fmt_stats([r["failed"] for r in rs], 0),
                         f"{sum(1 for r in rs if r['back_on_previous'])}/{len(rs)}" if scenario == "crash" else "–"])
    out.append("### Rolling deploys on real containers\n")
    out.append(h.table(["version", "tool", "time (process)", "verdict", "requests", "failed", "back on previous"],
                       rows))
    good = [r for r in data["canary"] if r["scenario"] == "good"]
    bad = [r for r in data["canary"] if r["scenario"] == "bad"]
    out.append("\n### Canary on real traffic (pipeline-py)\n")
    def outcome(rs: list[dict[str, Any]]) -> str:
        return "; ".join(f"{r.get('status')}" + (f" ({r['reason']})" if r.get("reason") else "") for r in rs)

    out.append(h.table(["", "value"], [
        ["good canary: outcome", outcome(good)],
        ["good canary: requests sent / failed", f"{h.fmt_stats([r['sent'] for r in good], 0)} / "
                                                f"{h.fmt_stats([r['failed'] for r in good], 0)}"],
        ["good canary: time (process)", h.fmt_stats([r["process_seconds"] for r in good])],
        ["**bad canary: first 5XX → traffic restored** (last 5XX)",
         h.fmt_stats([r["first_5xx_to_restored_seconds"] for r in bad])],
        ["bad canary: requests sent / 5XX / no answer", f"{h.fmt_stats([r['sent'] for r in bad], 0)} / "
                                                        f"{h.fmt_stats([r['5xx'] for r in bad], 0)} / "
                                                        f"{h.fmt_stats([r['errors'] for r in bad], 0)}"],
        ["bad canary: outcome", outcome(bad)],
    ]))
    return "\n".join(out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=1, help="runs per measurement (default 1)")
    p.add_argument("--only", choices=("rolling", "canary"), help="one of the two only")
    p.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    return h.run_and_report(args, run, render)


if __name__ == "__main__":
    raise SystemExit(main())

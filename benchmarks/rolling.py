"""Rolling deploys on the local stack: pipeline-py vs ecs-deploy vs `aws ecs update-service` + `aws ecs wait
services-stable`, the same deployment done by each tool as a child process.

Per run: the stack is reset, the sandbox built, the service put on task-api:v1 (the rendered sample task
definition) and left steady; then the server's request counter is reset and the tool deploys task-api:v2
(scenario ``healthy``) or a v2 whose container exits on start (``crash``: ECS circuit breaker with rollback
on, as the sandbox creates the service; ``crash-no-breaker``: breaker off). Everything else is read
afterwards from the stack: the update instant (the service deployment's ``createdAt``), the steady-state
event, the stopped tasks' ``stoppedAt``, who rolled back.

    python benchmarks/rolling.py [--runs 3] [--scenarios healthy,crash,crash-no-breaker] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

TOOLS = ("pipeline-py", "ecs-deploy", "awscli")
SCENARIOS = ("healthy", "crash", "crash-no-breaker")
# awscli's ServicesStable waiter (botocore's ecs waiters-2.json): delay 15 s, 40 attempts; the v1 CLI has
# no option to change either.
AWSCLI_WAITER_DELAY = 15.0
# What counts, in a tool's output, as reporting a failed task or a failing deployment ...
NOTICE = {
    "pipeline-py": re.compile(r"\bWARN|\bERROR| [1-9]\d* failed\b|deployment failed|circuit breaker", re.I),
    "ecs-deploy": re.compile(r"failed|ERROR|unable", re.I),
    "awscli": re.compile(r"failed|error|unable", re.I),
}
# ... and as deciding that the deploy failed (giving up or starting its rollback).
DECIDE = {
    "pipeline-py": re.compile(r"==> rolling back"),
    "ecs-deploy": re.compile(r"Deployment failed|Rolling back", re.I),
    "awscli": re.compile(r"Waiter \w+ failed"),
}

AWSCLI_SCRIPT = """set -e
arn=$("$AWS" ecs register-task-definition --cli-input-json "file://$TD_FILE" \
      --query taskDefinition.taskDefinitionArn --output text)
"$AWS" ecs update-service --cluster "$CLUSTER" --service "$SERVICE" --task-definition "$arn" \
      --query service.taskDefinition --output text
"$AWS" ecs wait services-stable --cluster "$CLUSTER" --services "$SERVICE"
"""


def poll_interval(tool: str, args: argparse.Namespace) -> float:
    return AWSCLI_WAITER_DELAY if tool == "awscli" else float(args.poll_interval)


def prepare(project: h.Project, scenario: str) -> str:
    """A clean stack with the service steady on v1; returns v1's task definition ARN."""
    from pipeline_py.aws import AwsFactory
    from pipeline_py.local import sandbox

    sandbox.ensure(AwsFactory())
    breaker = scenario != "crash-no-breaker"
    h.ecs().update_service(cluster=h.CLUSTER, service=h.SERVICE, deploymentConfiguration={
        "minimumHealthyPercent": 100, "maximumPercent": 200,
        "deploymentCircuitBreaker": {"enable": breaker, "rollback": breaker}})
    h.wait_for(h.steady, 60, "the sandbox service to settle")
    r = h.run_cli(*project.args("--json", "deploy", "--image", "task-api:v1", "--poll-interval", "0.1"))
    if r.code != 0:
        raise RuntimeError(f"baseline deploy of task-api:v1 failed (exit {r.code}):\n{r.stderr}")
    h.wait_for(h.steady, 60, "the service to settle on v1")
    return h.primary_td()


def command(tool: str, scenario: str, project: h.Project, peers: h.Peers, args: argparse.Namespace,
            env: dict[str, str]) -> tuple[list[str], dict[str, str], float]:
    """argv, environment and the harness's own time limit for one tool."""
    crash = scenario != "healthy"
    limit = 2 * args.timeout + 30  # the tool's own timeout, then its rollback; a safety net only
    if tool == "pipeline-py":
        argv = project.pipeline_py("--json", "deploy", "--image", "task-api:v2", "--poll-interval",
                                   f"{args.poll_interval:g}", "--timeout", f"{args.timeout:g}",
                                   *(["--var", "scenario=crash"] if crash else []))
        return argv, {**env, "PYTHONPATH": str(h.REPO)}, limit
    if tool == "ecs-deploy":
        argv = [peers.ecs, "deploy", h.CLUSTER, h.SERVICE, "-t", "v2", "--sleep-time", f"{int(args.poll_interval)}",
                "--timeout", f"{int(args.timeout)}", "--rollback", "--no-deregister",
                *(["-e", "app", "APP_SCENARIO", "crash"] if crash else [])]
        return argv, env, limit
    td_file = project.dir / f"taskdef-{scenario}.json"
    r = h.run_cli(*project.args("--json", "render", "--image", "task-api:v2", "--output", str(td_file),
                                *(["--var", "scenario=crash"] if crash else [])))
    if r.code != 0:
        raise RuntimeError(f"render failed (exit {r.code}):\n{r.stderr}")
    # no timeout of its own: the waiter gives up after 40 x 15 s; the harness stops it at --timeout
    return (["sh", "-c", AWSCLI_SCRIPT],
            {**env, "AWS": peers.aws, "TD_FILE": str(td_file), "CLUSTER": h.CLUSTER, "SERVICE": h.SERVICE},
            float(args.timeout))


def service_deployments(since: float) -> list[dict[str, Any]]:
    c = h.ecs()
    after = datetime.fromtimestamp(since - 1, tz=timezone.utc)
    listed = c.list_service_deployments(cluster=h.CLUSTER, service=h.SERVICE, createdAt={"after": after})
    arns = [d["serviceDeploymentArn"] for d in listed.get("serviceDeployments", [])]
    if not arns:
        return []
    found = c.describe_service_deployments(serviceDeploymentArns=arns)["serviceDeployments"]
    for sd in found:
        rev = sd.get("targetServiceRevision", {}).get("arn")
        sd["_taskDefinition"] = (c.describe_service_revisions(serviceRevisionArns=[rev])["serviceRevisions"][0]
                                 ["taskDefinition"] if rev else None)
    return sorted((sd for sd in found if h.ts(sd["createdAt"]) >= since - 0.01), key=lambda sd: h.ts(sd["createdAt"]))


def stopped_tasks(task_definition: str) -> list[dict[str, Any]]:
    c = h.ecs()
    arns: list[str] = []
    for page in c.get_paginator("list_tasks").paginate(cluster=h.CLUSTER, serviceName=h.SERVICE,
                                                       desiredStatus="STOPPED"):
        arns.extend(page["taskArns"])
    tasks: list[dict[str, Any]] = []
    for i in range(0, len(arns), 100):
        tasks.extend(c.describe_tasks(cluster=h.CLUSTER, tasks=arns[i:i + 100])["tasks"])
    return [t for t in tasks if t["taskDefinitionArn"] == task_definition
            and t.get("stopCode") in ("EssentialContainerExited", "TaskFailedToStart")]


def failed_at(task: dict[str, Any]) -> float | None:
    """When a task is observably failed: its essential container exited (``executionStoppedAt``); ECS
    counts the failure (``failedTasks``, the throttle event) then, while ``stoppedAt`` follows only after
    the stopping and deprovisioning phases."""
    for key in ("executionStoppedAt", "stoppingAt", "stoppedAt"):
        if task.get(key):
            return h.ts(task[key])
    return None


def steady_events(after: float) -> list[float]:
    return sorted(h.ts(e["createdAt"]) for e in h.service()["events"]
                  if e["message"] == h.STEADY_EVENT and h.ts(e["createdAt"]) > after)


# ecs-deploy's closing words on a failed deploy, most specific first.
ECS_DEPLOY_SAYS = (("Rollback failed", "'Rollback failed. Please check ECS Console'"),
                   ("has been rolled back", "'Deployment failed, but service has been rolled back'"),
                   ("Deployment Failed!", "'Deployment Failed! <rolloutStateReason>'"),
                   ("Deployment failed", "'Deployment failed'"))


def verdict(tool: str, run: h.ToolRun, result: dict[str, Any] | None) -> str:
    if run.killed_after is not None:
        return f"none: still waiting, stopped by the harness after {run.killed_after:.0f} s"
    if tool == "pipeline-py" and result:
        return f"exit {run.code}: {result.get('status')}"
    text = f"exit {run.code}: " + ("success" if run.code == 0 else "failure")
    if tool == "ecs-deploy" and run.code:
        says = next((quote for key, quote in ECS_DEPLOY_SAYS if key in run.stderr), None)
        text += f", {says}" if says else ""
    return text


def measure(tool: str, scenario: str, project: h.Project, peers: h.Peers, stack: h.Stack,
            args: argparse.Namespace, phase_offset: float) -> dict[str, Any]:
    stack.reset()
    stack.setup_timing()
    previous = prepare(project, scenario)
    argv, env, limit = command(tool, scenario, project, peers, args, stack.env)
    stack.measured_timing(phase_offset)
    stack.reset_requests()
    run = h.run_tool(argv, env=env, timeout=limit)
    calls = stack.requests()
    result: dict[str, Any] | None = None
    if tool == "pipeline-py":
        try:
            result = json.loads(run.stdout)
        except json.JSONDecodeError:
            result = None
    out: dict[str, Any] = {
        "tool": tool, "scenario": scenario, "exit_code": run.code, "killed_after": run.killed_after,
        "verdict": verdict(tool, run, result), "poll_interval": poll_interval(tool, args),
        "process_seconds": run.ended - run.started, "api_calls": calls["total"], "api_calls_by_operation":
        calls["by_operation"], "self_reported_api_calls": (result or {}).get("api_calls", {}).get("total"),
        "previous_task_definition": previous, "phase_offset": phase_offset,
    }
    sds = service_deployments(run.started)
    if not sds:
        out["error"] = "the tool made no deployment"
        out["output"] = run.output()
        return out
    ours = sds[0]
    update_at = h.ts(ours["createdAt"])
    new_td = ours["_taskDefinition"]
    out.update({"update_at": update_at, "task_definition": new_td, "returned_at": run.ended,
                "update_to_return_seconds": run.ended - update_at,
                "service_deployments": [{"status": sd["status"], "task_definition": sd["_taskDefinition"],
                                         "created_at": h.ts(sd["createdAt"])} for sd in sds]})
    if scenario == "healthy":
        steadies = steady_events(update_at)
        out["steady_at"] = steadies[0] if steadies else None
        out["steady_to_return_seconds"] = run.ended - steadies[0] if steadies else None
        out["ok"] = run.code == 0 and h.primary_td() == new_td
    else:
        failed = stopped_tasks(new_td)
        first_failure = min((failed_at(t) for t in failed if failed_at(t) is not None), default=None)
        out["failed_tasks"] = len(failed)
        out["first_failure_at"] = first_failure
        out["first_stopped_at"] = min((h.ts(t["stoppedAt"]) for t in failed if t.get("stoppedAt")), default=None)
        notice = run.first(NOTICE[tool], after=update_at) if first_failure else None
        decide = run.first(DECIDE[tool], after=update_at) if first_failure else None
        out["notice_line"] = notice.text if notice else None
        out["notice_after_failure_seconds"] = notice.at - first_failure if notice and first_failure else None
        out["decide_line"] = decide.text if decide else None
        out["decide_after_failure_seconds"] = decide.at - first_failure if decide and first_failure else None
        tripped = h.ts((ours.get("rollback") or {}).get("startedAt"))
        out["breaker_after_failure_seconds"] = tripped - first_failure if tripped and first_failure else None
        out["return_after_failure_seconds"] = run.ended - first_failure if first_failure else None
        if h.primary_td() == previous:  # a rollback is on its way: let it finish
            try:
                h.wait_for(h.steady, 30, "the service to settle after the tool returned")
            except RuntimeError:
                pass
        back = h.primary_td() == previous and h.steady()
        out["back_on_previous"] = back
        updates = calls["by_operation"].get("ecs.UpdateService", 0)
        if ours["status"].startswith("ROLLBACK"):
            by = "ECS circuit breaker"
            if updates > 1:
                by += " (tool's rollback call was a no-op)"
        elif any(sd["_taskDefinition"] == previous for sd in sds[1:]):
            by = "the tool"
        else:
            by = "nobody"
        out["rolled_back_by"] = by if back or by != "nobody" else "nobody"
        restored = steady_events(first_failure) if first_failure and back else []
        out["restored_after_failure_seconds"] = restored[0] - first_failure if restored else None
    if args.keep_output or out.get("error"):
        out["output"] = run.output()
    return out


def run(args: argparse.Namespace, stack: h.Stack | None = None) -> dict[str, Any]:
    peers = h.ensure_peers()
    own = stack is None
    stack = stack or h.Stack(json.loads(args.timing) if args.timing else None).__enter__()
    results: list[dict[str, Any]] = []
    try:
        with h.project_dir(stack, "rolling") as project:
            project.write(poll_interval=args.poll_interval, timeout=args.timeout, rollback_timeout=args.timeout)
            for scenario in args.scenarios:
                for tool in args.tools:
                    runs = args.runs_no_breaker if scenario == "crash-no-breaker" else args.runs
                    for i in range(runs):
                        h.log(f"rolling {scenario}: {tool} run {i + 1}/{runs}")
                        r = measure(tool, scenario, project, peers, stack, args, i * args.poll_interval / runs)
                        r["run"] = i + 1
                        results.append(r)
                        if r.get("error"):
                            h.log(f"  {r['error']}\n{r.get('output', '')}")
            timing = stack.measured_timing()
            stack.setup_timing()
    finally:
        if own:
            stack.__exit__(None, None, None)
    return {"benchmark": "rolling", "peers": peers.versions, "timing": timing, "external_stack": stack.external,
            "poll_interval": args.poll_interval, "timeout": args.timeout, "runs": args.runs, "results": results}


def _pick(results: list[dict[str, Any]], tool: str, scenario: str) -> list[dict[str, Any]]:
    return [r for r in results if r["tool"] == tool and r["scenario"] == scenario and not r.get("error")]


def _verdicts(rs: list[dict[str, Any]]) -> str:
    seen: dict[str, int] = {}
    for r in rs:
        seen[r["verdict"]] = seen.get(r["verdict"], 0) + 1
    return "; ".join(v if n == len(rs) else f"{v} ×{n}" for v, n in seen.items())


def render(data: dict[str, Any]) -> str:
    results, out = data["results"], []
    scenarios = list(dict.fromkeys(r["scenario"] for r in results))
    tools = list(dict.fromkeys(r["tool"] for r in results))
    if "healthy" in scenarios:
        rows = []
        for tool in tools:
            rs = _pick(results, tool, "healthy")
            if not rs:
                continue
            rows.append([tool, f"{rs[0]['poll_interval']:g} s",
                         h.fmt_stats([r["update_to_return_seconds"] for r in rs]),
                         h.fmt_stats([r["steady_to_return_seconds"] for r in rs]),
                         h.fmt_stats([r["process_seconds"] for r in rs]),
                         h.fmt_stats([r["api_calls"] for r in rs], 0),
                         h.fmt_stats([r["self_reported_api_calls"] for r in rs], 0),
                         f"{sum(1 for r in rs if r['ok'])}/{len(rs)}"])
        out.append("### Rolling deploy, healthy v2 (seconds; median (min–max))\n")
        out.append(h.table(["tool", "poll", "update → return", "steady state → return", "process start → exit",
                            "API calls (server)", "API calls (self-reported)", "succeeded"], rows))
    for scenario in (s for s in scenarios if s != "healthy"):
        rows = []
        for tool in tools:
            rs = _pick(results, tool, scenario)
            if not rs:
                continue
            polls = [r["notice_after_failure_seconds"] / r["poll_interval"]
                     if r["notice_after_failure_seconds"] is not None else None for r in rs]
            rows.append([tool, f"{rs[0]['poll_interval']:g} s", _verdicts(rs),
                         h.fmt_stats([r["notice_after_failure_seconds"] for r in rs]),
                         h.fmt_stats(polls, 1),
                         h.fmt_stats([r["decide_after_failure_seconds"] for r in rs]),
                         "; ".join(dict.fromkeys(r["rolled_back_by"] for r in rs)),
                         h.fmt_stats([r["restored_after_failure_seconds"] for r in rs]),
                         h.fmt_stats([r["return_after_failure_seconds"] for r in rs]),
                         h.fmt_stats([r["api_calls"] for r in rs], 0)])
        title = {"crash": "v2 crashes on start; ECS circuit breaker with rollback on (the sandbox's setting)",
                 "crash-no-breaker": "v2 crashes on start; circuit breaker off"}[scenario]
        out.append(f"\n### Rolling deploy, {title} (seconds after the first failed task)\n")
        out.append(h.table(["tool", "poll", "exit code: what the tool says", "failure reported after",
                            "… in poll intervals", "gave up / began rollback after", "rolled back by",
                            "service steady on v1 after", "tool returned after", "API calls (server)"], rows))
        tripped = [r["breaker_after_failure_seconds"] for r in results
                   if r["scenario"] == scenario and r.get("breaker_after_failure_seconds") is not None]
        if tripped:
            out.append(f"\nECS's circuit breaker tripped {h.fmt_stats(tripped)} s after the first failed task "
                       f"(in {len(tripped)} of {len([r for r in results if r['scenario'] == scenario])} runs; "
                       "in the others a tool had already rolled back).")
    errors = [r for r in results if r.get("error")]
    if errors:
        out.append("\nruns without numbers: " + "; ".join(f"{r['tool']} {r['scenario']} #{r['run']}: {r['error']}"
                                                        for r in errors))
    out.append("\n" + targets(data))
    return "\n".join(out)


def targets(data: dict[str, Any]) -> str:
    results, poll = data["results"], float(data["poll_interval"])
    lines = ["### Targets (pipeline-py)\n"]
    healthy = _pick(results, "pipeline-py", "healthy")
    if healthy:
        worst = max((r["steady_to_return_seconds"] or float("inf")) for r in healthy)
        lines.append(f"- returns within one poll interval ({poll:g} s) of steady state: "
                     f"{'MET' if worst <= poll else 'NOT MET'} (worst {worst:.2f} s)")
    for scenario in ("crash", "crash-no-breaker"):
        rs = _pick(results, "pipeline-py", scenario)
        for key, what in (("notice_after_failure_seconds", "reports the failed tasks"),
                          ("decide_after_failure_seconds", "acts (declares the deploy failed, rolls back)")):
            if not rs:
                continue
            worst = max((r[key] if r[key] is not None else float("inf")) for r in rs)
            lines.append(f"- {scenario}: {what} within two poll intervals ({2 * poll:g} s) of the first failed "
                         f"task: {'MET' if worst <= 2 * poll else 'NOT MET'} (worst {worst:.2f} s)")
    for scenario in SCENARIOS:
        ours, theirs = _pick(results, "pipeline-py", scenario), _pick(results, "ecs-deploy", scenario)
        if ours and theirs:
            a = h.stats([r["api_calls"] for r in ours])["median"]
            b = h.stats([r["api_calls"] for r in theirs])["median"]
            lines.append(f"- {scenario}: fewer API calls than ecs-deploy: {'MET' if a < b else 'NOT MET'} "
                         f"(median {a:g} vs {b:g})")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=3, help="runs per tool for healthy and crash (default 3)")
    p.add_argument("--runs-no-breaker", type=int, default=1,
                   help="runs per tool for crash-no-breaker, where awscli waits out --timeout (default 1)")
    p.add_argument("--scenarios", type=lambda s: [x for x in s.split(",") if x], default=list(SCENARIOS),
                   help="comma-separated: " + ",".join(SCENARIOS))
    p.add_argument("--tools", type=lambda s: [x for x in s.split(",") if x], default=list(TOOLS),
                   help="comma-separated: " + ",".join(TOOLS))
    p.add_argument("--poll-interval", type=float, default=1.0,
                   help="pipeline-py --poll-interval and ecs-deploy --sleep-time (whole seconds) (default 1)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="each tool's deploy timeout; awscli has none and is stopped after it (default 30)")
    p.add_argument("--timing", default=None,
                   help="JSON timing model for the measured runs, replacing the benchmark's "
                        "(_harness.BENCH_TIMING; '{}' = the simulator's defaults)")
    p.add_argument("--keep-output", action="store_true", help="keep each tool's time-stamped output in --json")
    p.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    bad = [s for s in args.scenarios if s not in SCENARIOS] + [t for t in args.tools if t not in TOOLS]
    if bad:
        parser().error(f"unknown scenario/tool: {', '.join(bad)}")
    return h.run_and_report(args, run, render)


if __name__ == "__main__":
    raise SystemExit(main())

"""Canary deploys on the local stack (pipeline-py only: no peer shifts ALB weights with metric analysis).

Per run: the stack is reset and the sandbox built (blue live at 100 %, green idle at 0 tasks, the traffic
model sending 200 requests/s through the production listener); then pipeline-py runs as a child process:

- ``good``: ``deploy --strategy canary`` of a healthy v2 through the example's local steps [10, 25, 50, 100]
  (bake 3 s each, a sample every 1 s); measured: total time, and time and API calls per phase and step;
- ``bad``: the same with ``--var scenario=error-rate=0.2`` (20 % of the canary's answers are 5XX); measured:
  the first bad metric datapoint of the canary's target group (read back from CloudWatch afterwards),
  the first failed analysis sample, the rollback decision and the instant traffic was restored (the
  tool's verified read-back of the listener), the requests and 5XX the bad version served.

API calls per phase come from the in-process server's request log: a step starts with the ModifyListener
call that sets its weight, the last step ends with its last analysis sample.

    python benchmarks/canary.py [--runs 3] [--scenarios good,bad] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

SCENARIOS = ("good", "bad")
BAD = "error-rate=0.2"
ALARM = "task-api-local-5xx"


def prepare() -> Any:
    from pipeline_py.aws import AwsFactory
    from pipeline_py.local import sandbox

    infra = sandbox.ensure(AwsFactory())
    h.wait_for(lambda: h.steady("task-api-blue"), 60, "the blue service to settle")
    return infra


def phases(log: list[tuple[float, str]], changes: int, steps: list[int], rolled_back: bool,
           started: float, ended: float) -> list[dict[str, Any]]:
    """Split the run's requests into prepare / one entry per step / finish (or rollback).

    The weight changes are the last ``changes`` ModifyListener calls (an earlier one points the test
    listener at the new colour)."""
    modifies = [i for i, (_, op) in enumerate(log) if op.endswith(".ModifyListener")]
    if len(modifies) < changes or not changes:
        return []
    bounds = modifies[-changes:]
    shifts = bounds[:-1] if rolled_back else bounds
    out = [{"phase": "prepare", "start": started, "end": log[bounds[0]][0], "calls": bounds[0]}]
    last = bounds[0]
    for n, i in enumerate(shifts):
        if n + 1 < len(bounds):
            j = bounds[n + 1]
        else:  # the last step ends with its last analysis sample
            j = max((k for k, (_, op) in enumerate(log) if op.startswith("monitoring.")), default=len(log) - 1) + 1
        end = log[j][0] if j < len(log) else ended
        out.append({"phase": f"step {steps[n]}%", "start": log[i][0], "end": end, "calls": j - i})
        last = j
    tail = "rollback" if rolled_back else "finish"
    out.append({"phase": tail, "start": log[last][0] if last < len(log) else ended, "end": ended,
                "calls": len(log) - last})
    for p in out:
        p["seconds"] = p["end"] - p["start"]
    return out


def measure(scenario: str, project: h.Project, stack: h.Stack, args: argparse.Namespace) -> dict[str, Any]:
    stack.reset()
    stack.setup_timing()
    infra = prepare()
    stack.measured_timing()
    argv = project.pipeline_py("--json", "deploy", "--strategy", "canary", "--image", "task-api:v2",
                               *(["--var", f"scenario={BAD}"] if scenario == "bad" else []))
    run, calls, log, result = stack.run_pipeline_py(argv, args.timeout)
    out: dict[str, Any] = {
        "scenario": scenario, "exit_code": run.code, "status": result.get("status"), "reason": result.get("reason"),
        "process_seconds": run.ended - run.started, "api_calls": calls["total"],
        "api_calls_by_operation": calls["by_operation"], "self_reported_api_calls":
        result.get("api_calls", {}).get("total"), "timings": result.get("timings"),
        "weight_changes": result.get("weight_changes"), "killed_after": run.killed_after,
    }
    if not result:
        out["error"] = "no JSON result"
        out["output"] = run.output()
        return out
    colour = result.get("new_colour") or "green"  # an external stack is not reset: blue may be the canary
    out["canary_colour"] = colour
    steps = [w[colour] for w in result.get("weight_changes", [])]
    rolled_back = result.get("status") == "rolled_back"
    if rolled_back and steps:
        steps = steps[:-1]
    out["steps"] = steps
    if log is not None:
        out["phases"] = phases(log, len(result.get("weight_changes", [])), steps, rolled_back, run.started, run.ended)
    first_traffic = run.first(rf"weights now .*{colour} [1-9]\d*%")
    since = int(first_traffic.at) if first_traffic else run.started
    metrics = [m for m in h.alb_datapoints(infra.load_balancer_arn, infra.target_groups[colour], since,
                                                run.ended) if m[0] >= since]
    out["canary_requests"] = sum(r for _, r, _ in metrics)
    out["canary_5xx"] = sum(e for _, _, e in metrics)
    if scenario == "bad":
        limit = float(project.settings["canary"]["analysis"]["max_error_rate"])
        bad = next((t for t, r, e in metrics if r > 0 and e / r > limit), None)
        bad_end = bad + 1 if bad is not None else None  # a 1 s datapoint is complete at the end of its second
        fail = run.first(r"analysis at \d+%: FAIL")
        decide = run.first(r"==> rolling back")
        restored = run.first(rf"weights now .*{colour} 0% \(verified\)", after=decide.at) if decide else None
        out.update({
            "first_bad_datapoint": bad, "first_traffic_at": first_traffic.at if first_traffic else None,
            "exposure_seconds": restored.at - first_traffic.at if restored and first_traffic else None,
            "bad_to_first_fail_sample_seconds": fail.at - bad_end if fail and bad_end else None,
            "bad_to_decision_seconds": decide.at - bad_end if decide and bad_end else None,
            "bad_to_restored_seconds": restored.at - bad_end if restored and bad_end else None,
            "failed_samples": sum(1 for a in result.get("analysis", []) for s in a.get("samples", [])
                                  if s.get("result") == "fail"),
        })
        out["ok"] = rolled_back and restored is not None
    else:
        out["ok"] = result.get("status") == "succeeded" and steps == project.settings["canary"]["steps"]
    if args.keep_output or not out["ok"]:
        out["output"] = run.output()
    return out


def run(args: argparse.Namespace, stack: h.Stack | None = None) -> dict[str, Any]:
    own = stack is None
    stack = stack or h.Stack(json.loads(args.timing) if args.timing else None).__enter__()
    results: list[dict[str, Any]] = []
    try:
        with h.project_dir(stack, "canary") as project:
            project.write(alarms=[ALARM])
            for scenario in args.scenarios:
                results += h.repeat(args.runs, f"canary {scenario}",
                                    functools.partial(measure, scenario, project, stack, args))
            timing = stack.measured_timing()
            stack.setup_timing()
            canary_cfg = project.settings["canary"]
    finally:
        if own:
            stack.__exit__(None, None, None)
    return {"benchmark": "canary", "timing": timing, "canary": canary_cfg, "alarms": [ALARM],
            "external_stack": stack.external, "runs": args.runs, "results": results}


def render(data: dict[str, Any]) -> str:
    results, cfg, out = data["results"], data["canary"], []
    good = [r for r in results if r["scenario"] == "good" and not r.get("error")]
    bad = [r for r in results if r["scenario"] == "bad" and not r.get("error")]
    an = cfg.get("analysis", {})
    setup = (f"steps {cfg.get('steps')}, bake {cfg.get('bake_seconds')} per step, a sample every "
             f"{an.get('interval')} (period {an.get('period')} s), max 5XX rate {an.get('max_error_rate')}, "
             f"roll back at {an.get('consecutive_failure_limit')} failed samples in a row or more than "
             f"{an.get('failure_limit')} in all; alarm {', '.join(data.get('alarms', []))} checked with every sample")
    if good:
        out.append(f"### Canary, healthy v2 ({len(good)} runs; seconds, median (min–max))\n")
        out.append(f"{setup}.\n")
        names = list(dict.fromkeys(p["phase"] for r in good for p in r.get("phases", [])))
        rows = []
        for name in names:
            ps = [next((p for p in r.get("phases", []) if p["phase"] == name), None) for r in good]
            rows.append([name, h.fmt_stats([p["seconds"] if p else None for p in ps]),
                         h.fmt_stats([p["calls"] if p else None for p in ps], 0)])
        rows.append(["**total** (process start → exit)", h.fmt_stats([r["process_seconds"] for r in good]),
                     h.fmt_stats([r["api_calls"] for r in good], 0)])
        out.append(h.table(["phase", "time", "API calls (server)"], rows))
        out.append(f"\nsucceeded through every step: {sum(1 for r in good if r['ok'])}/{len(good)}; pipeline-py's "
                   f"own count: {h.fmt_stats([r['self_reported_api_calls'] for r in good], 0)} calls.")
    if bad:
        out.append(f"\n### Canary, v2 answering 20 % 5XX ({BAD}) ({len(bad)} runs; seconds, median (min–max))\n")
        rows = [
            ["first bad datapoint of the canary → first FAIL sample",
             h.fmt_stats([r["bad_to_first_fail_sample_seconds"] for r in bad])],
            ["first bad datapoint → rollback decided", h.fmt_stats([r["bad_to_decision_seconds"] for r in bad])],
            ["**first bad datapoint → traffic restored** (100 % stable, verified)",
             h.fmt_stats([r["bad_to_restored_seconds"] for r in bad])],
            ["bad version's first traffic → traffic restored", h.fmt_stats([r["exposure_seconds"] for r in bad])],
            ["requests served by the bad version (of them 5XX)",
             f"{h.fmt_stats([r['canary_requests'] for r in bad], 0)} "
             f"({h.fmt_stats([r['canary_5xx'] for r in bad], 0)})"],
            ["total (process start → exit)", h.fmt_stats([r["process_seconds"] for r in bad])],
        ]
        for name in dict.fromkeys(p["phase"] for r in bad for p in r.get("phases", [])):
            ps = [next((p for p in r.get("phases", []) if p["phase"] == name), None) for r in bad]
            rows.append([f"API calls: {name}", h.fmt_stats([p["calls"] if p else None for p in ps], 0)])
        rows.append(["API calls: total (server / self-reported)",
                     f"{h.fmt_stats([r['api_calls'] for r in bad], 0)} / "
                     f"{h.fmt_stats([r['self_reported_api_calls'] for r in bad], 0)}"])
        out.append(h.table(["", "value"], rows))
        out.append(f"\nrolled back with traffic restored: {sum(1 for r in bad if r['ok'])}/{len(bad)}. "
                   "A datapoint is the canary target group's 1-s CloudWatch period; it counts from the end of its "
                   "second, the earliest any reader can have it.")
    errors = [r for r in results if r.get("error")]
    if errors:
        out.append("\nruns without numbers: " + "; ".join(f"{r['scenario']} #{r['run']}: {r['error']}" for r in errors))
    return "\n".join(out)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=3, help="runs per scenario (default 3)")
    p.add_argument("--scenarios", type=lambda s: [x for x in s.split(",") if x], default=list(SCENARIOS),
                   help="comma-separated: " + ",".join(SCENARIOS))
    p.add_argument("--timeout", type=float, default=180.0, help="stop pipeline-py after this many seconds")
    p.add_argument("--timing", default=None,
                   help="JSON timing model for the measured runs, replacing the benchmark's "
                        "(_harness.BENCH_TIMING; '{}' = the simulator's defaults)")
    p.add_argument("--keep-output", action="store_true", help="keep pipeline-py's time-stamped output in --json")
    p.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    args = p.parse_args(argv)
    bad = [s for s in args.scenarios if s not in SCENARIOS]
    if bad:
        p.error(f"unknown scenario: {', '.join(bad)}")
    return h.run_and_report(args, run, render)


if __name__ == "__main__":
    raise SystemExit(main())

"""The ECS-native canary against the two-service canary, both driven by pipeline-py on the local stack,
on the same version and steps (10 % then 100 %), the same analysis (bake 3 s per step, a sample every
1 s over 1 s periods, max 5XX rate 1 %) and the same traffic (200 requests/s through each production
listener or rule).

- ``two-service``: ``deploy --strategy canary`` with ``canary.steps: [10, 100]`` onto task-api-blue /
  task-api-green (pipeline-py moves the listener's weights);
- ``native``: ``deploy --strategy ecs-canary`` with ``native.canary_percent: 10`` onto task-api-native
  (ECS moves the production rule's weights; pipeline-py analyses at its PAUSE hooks).

Per run: the stack is reset and the sandbox built with the native service (``sandbox.ensure(...,
native=True)``), then pipeline-py runs as a child process. Scenarios: ``good`` (a healthy v2: total
time, API calls per step) and ``bad`` (v2 answers 20 % 5XX: time from the new revision's first bad
1-s CloudWatch datapoint to the rollback decision, to the call that moved the weights back, and to
pipeline-py's verified read-back; the bad version's exposure).

API calls per step come from the in-process server's request log: two-service steps start with the
``ModifyListener`` that sets their weight; native steps are the spans between pipeline-py's
``ContinueServiceDeployment`` answers (the first CONTINUE lets ECS shift to 10 %, the next one to 100 %).

    python benchmarks/native.py [--runs 3] [--models two-service,native] [--scenarios good,bad] [--json out.json]
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
from canary import phases as two_service_phases

MODELS = ("two-service", "native")
SCENARIOS = ("good", "bad")
BAD = "error-rate=0.2"
NATIVE_SERVICE = "task-api-native"
SETTINGS: dict[str, Any] = {
    "canary": {"steps": [10, 100], "bake_seconds": 3,
               "analysis": {"interval": 1, "period": 1, "max_error_rate": 0.01, "min_requests": 10,
                            "failure_limit": 1, "consecutive_failure_limit": 2}},
    "native": {"canary_percent": 10, "bake_minutes": 0},
    "blue_green": {"scale_down_delay": 0},
}


def prepare() -> Any:
    from pipeline_py.aws import AwsFactory
    from pipeline_py.local import sandbox

    infra = sandbox.ensure(AwsFactory(), native=True)
    h.wait_for(lambda: h.steady("task-api-blue") and h.steady(NATIVE_SERVICE), 60, "the services to settle")
    return infra


def native_phases(log: list[tuple[float, str]], weights: list[float], rolled_back: bool, started: float,
                  ended: float) -> list[dict[str, Any]]:
    """prepare / step N% / finish (or rollback), split at pipeline-py's ContinueServiceDeployment answers."""
    answers = [i for i, (_, op) in enumerate(log) if op.endswith(".ContinueServiceDeployment")]
    if not answers:
        return []
    out = [{"phase": "prepare", "start": started, "end": log[answers[0]][0], "calls": answers[0] + 1}]
    bounds = answers[: len(weights) + 1]
    for n, w in enumerate(weights):
        if n + 1 >= len(bounds):
            break
        i, j = bounds[n], bounds[n + 1]
        out.append({"phase": f"step {w:g}%", "start": log[i][0], "end": log[j][0], "calls": j - i})
    last = bounds[min(len(weights), len(bounds) - 1)]
    out.append({"phase": "rollback" if rolled_back else "finish", "start": log[last][0], "end": ended,
                "calls": len(log) - last - 1})
    for p in out:
        p["seconds"] = p["end"] - p["start"]
    return out


def measure(model: str, scenario: str, project: h.Project, stack: h.Stack, args: argparse.Namespace) -> dict[str, Any]:
    stack.reset()
    stack.setup_timing()
    infra = prepare()
    stack.measured_timing()
    strategy = "ecs-canary" if model == "native" else "canary"
    extra = ["--set", f"ecs_service={NATIVE_SERVICE}"] if model == "native" else []
    argv = project.pipeline_py("--json", *extra, "deploy", "--strategy", strategy, "--image", "task-api:v2",
                               *(["--var", f"scenario={BAD}"] if scenario == "bad" else []))
    run, calls, log, result = stack.run_pipeline_py(argv, args.timeout)
    out: dict[str, Any] = {
        "model": model, "scenario": scenario, "exit_code": run.code, "status": result.get("status"),
        "reason": result.get("reason"), "process_seconds": run.ended - run.started, "api_calls": calls["total"],
        "api_calls_by_operation": calls["by_operation"],
        "self_reported_api_calls": result.get("api_calls", {}).get("total"), "killed_after": run.killed_after,
    }
    if not result:
        out["error"] = "no JSON result"
        out["output"] = run.output()
        return out
    rolled_back = result.get("status") == "rolled_back"
    out["deploy_seconds"] = (result.get("timings") or {}).get("total_seconds")
    if model == "native":
        assert infra.native is not None
        tg = result["target_groups"]["green"]
        weights = [10.0, 100.0][: 1 if rolled_back else 2]
        if log is not None:
            out["phases"] = native_phases(log, weights, rolled_back, run.started, run.ended)
        restore_ops = (".ContinueServiceDeployment", ".StopServiceDeployment")
    else:
        colour = result.get("new_colour") or "green"
        tg = infra.target_groups[colour]
        changes = result.get("weight_changes", [])
        steps = [w[colour] for w in changes][: -1 if rolled_back else None]
        if log is not None:
            out["phases"] = two_service_phases(log, len(changes), steps, rolled_back, run.started, run.ended)
        restore_ops = (".ModifyListener",)
    first_traffic = run.first(r"weights now .*green [1-9]\d*%")
    since = int(first_traffic.at) if first_traffic else run.started
    metrics = [m for m in h.alb_datapoints(infra.load_balancer_arn, tg, since, run.ended) if m[0] >= since]
    out["new_requests"] = sum(r for _, r, _ in metrics)
    out["new_5xx"] = sum(e for _, _, e in metrics)
    if scenario == "bad":
        limit = float(SETTINGS["canary"]["analysis"]["max_error_rate"])
        bad = next((t for t, r, e in metrics if r > 0 and e / r > limit), None)
        bad_end = bad + 1 if bad is not None else None  # a 1-s datapoint is complete at the end of its second
        decide = run.first(r"==> rolling back")
        restore_call = next((t for t, op in reversed(log or []) if op.endswith(restore_ops)), None)
        verified = run.first(r"weights now blue 100%, green 0% \(verified\)", after=decide.at) if decide else None
        out.update({
            "bad_to_decision_seconds": decide.at - bad_end if decide and bad_end else None,
            "bad_to_restore_call_seconds": restore_call - bad_end if restore_call and bad_end else None,
            "bad_to_verified_seconds": verified.at - bad_end if verified and bad_end else None,
            "exposure_seconds": verified.at - first_traffic.at if verified and first_traffic else None,
        })
        out["ok"] = rolled_back and verified is not None
    else:
        out["ok"] = result.get("status") == "succeeded"
    if args.keep_output or not out["ok"]:
        out["output"] = run.output()
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    with h.Stack(json.loads(args.timing) if args.timing else None) as stack, h.project_dir(stack, "native") as project:
        project.write(**SETTINGS)
        for scenario in args.scenarios:
            for model in args.models:
                results += h.repeat(args.runs, f"{model} canary, {scenario}",
                                    functools.partial(measure, model, scenario, project, stack, args))
        timing = stack.measured_timing()
        stack.setup_timing()
    return {"benchmark": "native", "timing": timing, "settings": SETTINGS, "runs": args.runs, "results": results}


def render(data: dict[str, Any]) -> str:
    res = data["results"]
    models = [m for m in MODELS if any(r["model"] == m for r in res)]

    def of(model: str, scenario: str) -> list[dict[str, Any]]:
        return [r for r in res if r["model"] == model and r["scenario"] == scenario and not r.get("error")]

    def phase(rs: list[dict[str, Any]], name: str, key: str) -> str:
        ps = [next((p for p in r.get("phases", []) if p["phase"] == name), None) for r in rs]
        return h.fmt_stats([p[key] if p else None for p in ps], 2 if key == "seconds" else 0)

    out = ["### ECS-native canary vs two-service canary (pipeline-py both; steps 10 % → 100 %, bake 3 s per "
           "step, a sample every 1 s; seconds, median (min–max))\n"]
    good = {m: of(m, "good") for m in models}
    if any(good.values()):
        rows = [["succeeded", *[f"{sum(1 for r in good[m] if r['ok'])}/{len(good[m])}" for m in models]],
                ["**deploy** (pipeline-py's own total: lock taken → result)",
                 *[h.fmt_stats([r["deploy_seconds"] for r in good[m]]) for m in models]],
                ["total (process start → exit)", *[h.fmt_stats([r["process_seconds"] for r in good[m]])
                                                   for m in models]],
                ["API calls (server / self-reported)", *[
                    f"{h.fmt_stats([r['api_calls'] for r in good[m]], 0)} / "
                    f"{h.fmt_stats([r['self_reported_api_calls'] for r in good[m]], 0)}" for m in models]]]
        for name in ("prepare", "step 10%", "step 100%", "finish"):
            rows.append([f"{name}: time", *[phase(good[m], name, "seconds") for m in models]])
            rows.append([f"{name}: API calls", *[phase(good[m], name, "calls") for m in models]])
        out.append("#### Healthy v2\n")
        out.append(h.table(["", *models], rows))
    bad = {m: of(m, "bad") for m in models}
    if any(bad.values()):
        rows = [["rolled back, traffic restored", *[f"{sum(1 for r in bad[m] if r['ok'])}/{len(bad[m])}"
                                                    for m in models]]]
        for key, label in (("bad_to_decision_seconds", "first bad datapoint → rollback decided"),
                           ("bad_to_restore_call_seconds", "first bad datapoint → the call that moved the weights "
                                                           "back (ModifyListener / ContinueServiceDeployment)"),
                           ("bad_to_verified_seconds", "**first bad datapoint → traffic restored** (read back, "
                                                       "verified)"),
                           ("exposure_seconds", "bad version's first traffic → traffic restored"),
                           ("deploy_seconds", "deploy (pipeline-py's own total: lock taken → result)"),
                           ("process_seconds", "total (process start → exit)")):
            rows.append([label, *[h.fmt_stats([r.get(key) for r in bad[m]]) for m in models]])
        rows.append(["requests served by the bad version (5XX)", *[
            f"{h.fmt_stats([r['new_requests'] for r in bad[m]], 0)} ({h.fmt_stats([r['new_5xx'] for r in bad[m]], 0)})"
            for m in models]])
        for name in ("prepare", "step 10%", "rollback"):
            rows.append([f"API calls: {name}", *[phase(bad[m], name, "calls") for m in models]])
        rows.append(["API calls: total", *[h.fmt_stats([r["api_calls"] for r in bad[m]], 0) for m in models]])
        out.append(f"\n#### v2 answering 20 % 5XX ({BAD})\n")
        out.append(h.table(["", *models], rows))
    errors = [r for r in res if r.get("error")]
    if errors:
        out.append("\nruns without numbers: " + "; ".join(f"{r['model']} {r['scenario']} #{r['run']}: {r['error']}"
                                                           for r in errors))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs per model and scenario (default 3)")
    p.add_argument("--models", type=lambda s: [x for x in s.split(",") if x], default=list(MODELS),
                   help="comma-separated: " + ",".join(MODELS))
    p.add_argument("--scenarios", type=lambda s: [x for x in s.split(",") if x], default=list(SCENARIOS),
                   help="comma-separated: " + ",".join(SCENARIOS))
    p.add_argument("--timeout", type=float, default=180.0, help="stop pipeline-py after this many seconds")
    p.add_argument("--timing", default=None, help="JSON timing model for the measured runs (default "
                                                  "_harness.BENCH_TIMING)")
    p.add_argument("--keep-output", action="store_true", help="keep pipeline-py's output in --json")
    p.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")
    args = p.parse_args(argv)
    wrong = [x for x in args.models if x not in MODELS] + [x for x in args.scenarios if x not in SCENARIOS]
    if wrong:
        p.error(f"unknown: {', '.join(wrong)}")
    return h.run_and_report(args, run, render)


if __name__ == "__main__":
    raise SystemExit(main())

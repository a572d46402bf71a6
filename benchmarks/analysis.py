"""The canary analysis's statistics, measured on the local stack: does a version just under the 5XX limit
get promoted, is one at twice the limit caught at the first step, and how fast is traffic restored from a
clearly bad one — over many runs with binomial noise in the answers (each request fails with the version's
error rate, as real traffic does), so that luck shows.

Setup per run: the stack reset, the sandbox built, the traffic model sending ``--rate`` requests a second
through the production listener with binomial errors (a fresh seed each run), and a 4-step canary
(10 → 25 → 50 → 100 %) of v2 whose true 5XX rate is a multiple of ``analysis.max_error_rate`` (1 %). The
analysis is judged against the absolute limit only (``max_error_rate_ratio: null``: the stable colour
answers no 5XX, so the relative rule would rightly fail any canary that does), at 99 % confidence.

    python benchmarks/analysis.py [--runs 20] [--rate 8000] [--bake 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

LIMIT = 0.01
CASES = (("0.9× the limit", 0.9), ("2× the limit", 2.0), ("5× the limit", 5.0))


def analysis(bake: float) -> dict[str, Any]:
    return {"steps": [10, 25, 50, 100], "bake_seconds": bake, "analysis": {
        "max_error_rate": LIMIT, "max_error_rate_ratio": None, "max_p99_ratio": None, "confidence": 0.99,
        "min_requests": 100, "interval": 1, "period": 1, "failure_limit": 1, "consecutive_failure_limit": 2}}


def one(multiple: float, run: int, project: h.Project, stack: h.Stack, args: argparse.Namespace) -> dict[str, Any]:
    import requests

    from pipeline_py.aws import AwsFactory
    from pipeline_py.local import sandbox

    stack.reset()
    stack.setup_timing()
    sandbox.ensure(AwsFactory())
    h.wait_for(lambda: h.steady("task-api-blue"), 60, "the blue service to settle")
    stack.measured_timing()
    seed = random.Random(f"{multiple}-{run}-{args.seed}").randrange(2**31)
    requests.post(stack.url + "/_pipeline_py/traffic", json={"listeners": {"task-api-local:80": args.rate},
                                                             "noise_seed": seed}, timeout=10).raise_for_status()
    rate = LIMIT * multiple
    argv = project.pipeline_py("--json", "deploy", "--strategy", "canary", "--image", f"task-api:v{run}",
                               "--var", f"scenario=error-rate={rate:.4f}")
    result_run = h.run_tool(argv, env={**stack.env, "PYTHONPATH": str(h.REPO)}, timeout=args.timeout)
    try:
        result = json.loads(result_run.stdout)
    except json.JSONDecodeError:
        result = {}
    analysis_steps = result.get("analysis") or []
    failed_at = next((a["weight"] for a in analysis_steps if a["result"] == "fail"), None)
    out: dict[str, Any] = {"multiple": multiple, "true_rate": rate, "seed": seed, "status": result.get("status"),
                           "exit_code": result_run.code, "failed_at": failed_at,
                           "process_seconds": result_run.ended - result_run.started}
    first_traffic = result_run.first(r"weights now .*green [1-9]\d*%")
    decided = result_run.first(r"==> rolling back")
    restored = result_run.first(r"weights now .*green 0% \(verified\)", after=decided.at) if decided else None
    if first_traffic and restored:
        out["first_traffic_to_restored_seconds"] = restored.at - first_traffic.at
    samples = [s for a in analysis_steps for s in a.get("samples", [])]
    if samples:
        last = samples[-1]["canary"]
        out["last_look"] = {"requests": last["requests"], "errors": last["errors_5xx"],
                            "bounds": last.get("error_rate_bounds")}
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    with h.Stack() as stack, h.project_dir(stack, "analysis") as project:
        project.write(canary=analysis(args.bake), alarms=[])
        for name, multiple in CASES:
            runs = args.runs if multiple < 5 else max(3, args.runs // 4)
            for i in range(1, runs + 1):
                h.log(f"{name}: run {i}/{runs}")
                results.append({"case": name, "run": i, **one(multiple, i, project, stack, args)})
    return {"benchmark": "analysis", "rate": args.rate, "bake_seconds": args.bake, "limit": LIMIT,
            "runs": args.runs, "results": results}


def render(data: dict[str, Any]) -> str:
    out = [f"Traffic model with binomial errors, {data['rate']:g} requests/s through the production listener; "
           f"canary 10 → 25 → 50 → 100 %, {data['bake_seconds']:g} s per step; limit {100 * data['limit']:g} % 5XX "
           "judged at 99 % confidence (Wilson lower bound above the limit fails, upper bound under it passes).\n"]
    rows = []
    for name, multiple in CASES:
        rs = [r for r in data["results"] if r["multiple"] == multiple]
        if not rs:
            continue
        promoted = sum(1 for r in rs if r["status"] == "succeeded")
        first = sum(1 for r in rs if r["failed_at"] == 10)
        restored = [r.get("first_traffic_to_restored_seconds") for r in rs if r["status"] == "rolled_back"]
        rows.append([name, f"{100 * LIMIT * multiple:.1f} %", len(rs),
                     f"{promoted}/{len(rs)}", f"{first}/{len(rs)}",
                     h.fmt_stats(restored) if restored else "–"])
    out.append(h.table(["true 5XX rate", "", "runs", "promoted", "caught at the first step (10 %)",
                        "bad version's first traffic → traffic restored (s)"], rows))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--rate", type=float, default=8000.0, help="requests per second through the listener")
    p.add_argument("--bake", type=float, default=8.0, help="seconds per canary step")
    p.add_argument("--seed", default="pipeline-py", help="seeds the per-run noise seeds")
    p.add_argument("--timeout", type=float, default=240.0)
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    return h.run_and_report(args, run, render)


if __name__ == "__main__":
    raise SystemExit(main())

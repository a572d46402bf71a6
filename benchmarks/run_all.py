"""Every benchmark in one run: on the simulated runtime (one in-process stack) rolling deploys against
ecs-deploy and awscli, then canary deploys; then on the Docker runtime (real containers behind HAProxy,
under real traffic: ``real.py``) rolling deploys with the same three tools and canaries; prints the
markdown tables (stdout) and, with ``--json FILE``, the raw numbers. ``--runtime simulated|docker``
runs one runtime only.

    python benchmarks/run_all.py [--runs 3] [--json bench.json]      # `make bench`

Takes about six minutes on 2 cores with the defaults (most of it waiting on awscli's 15 s waiter and
on the canary's bakes); ``--runs 1`` about a third of that. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h
import canary
import real
import rolling


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3, help="runs per measurement (default 3)")
    p.add_argument("--only", choices=("rolling", "canary"), help="run one benchmark only")
    p.add_argument("--timing", default=None, help="JSON timing model for the measured runs (see README)")
    p.add_argument("--keep-output", action="store_true", help="keep every tool's time-stamped output in --json")
    p.add_argument("--json", metavar="FILE", help="also write the raw numbers to FILE")
    p.add_argument("--runtime", choices=("both", "simulated", "docker"), default="both",
                   help="which runtime(s) to measure (default both)")
    p.add_argument("--real-runs", type=int, default=1, help="runs per measurement on the Docker runtime (default 1)")
    a = p.parse_args(argv)
    common = ["--runs", str(a.runs), *(["--timing", a.timing] if a.timing else []),
              *(["--keep-output"] if a.keep_output else [])]
    rp, cp = argparse.ArgumentParser(), argparse.ArgumentParser()
    rolling.add_arguments(rp)
    canary.add_arguments(cp)
    started = time.time()
    out: dict[str, object] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "platform": platform.platform()}}
    sections = []
    with h.Stack(json.loads(a.timing) if a.timing else None) as stack:
        if a.runtime == "docker":
            a.only = "none"
        if a.only in (None, "rolling"):
            data = rolling.run(rp.parse_args(common), stack)
            out["rolling"] = data
            peers = ", ".join(f"{k} {v}" for k, v in data["peers"].items())
            sections.append(f"## Rolling deploys: pipeline-py vs peers ({peers})\n\n{rolling.render(data)}")
        if a.only in (None, "canary"):
            data = canary.run(cp.parse_args(common), stack)
            out["canary"] = data
            sections.append(f"## Canary deploys: pipeline-py\n\n{canary.render(data)}")
        out["timing"] = stack.measured_timing()
        stack.setup_timing()
        out["endpoint"] = "AWS_ENDPOINT_URL " + stack.url if stack.external else "in-process LocalServer"
    if a.runtime in ("both", "docker") and not stack.external:
        rp2 = argparse.ArgumentParser()
        real.add_arguments(rp2)
        data = real.run(rp2.parse_args(["--runs", str(a.real_runs)]))
        out["real"] = data
        peers = ", ".join(f"{k} {v}" for k, v in data["peers"].items())
        sections.append(f"## The real rehearsal: Docker runtime, HAProxy, real traffic ({peers})\n\n"
                        f"{real.render(data)}")
    elapsed = time.time() - started
    header = (f"# pipeline-py benchmarks — {out['started']}, {os.cpu_count()} CPUs, Python "
              f"{platform.python_version()}, {out['endpoint']}, {elapsed:.0f} s\n\n"
              f"Simulator timing during measured runs: {json.dumps(stack.timing)} "
              "(other knobs: defaults).\n")
    print(header + "\n" + "\n\n".join(sections), flush=True)
    out["elapsed_seconds"] = elapsed
    h.write_json(a.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

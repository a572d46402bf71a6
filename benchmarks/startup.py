"""How fast the CLI starts: the median wall time of `pipeline-py --help`, `--version`, and a
`render --dry-run` of the sample, each beside a bare `python -c pass` measured in the same run, so the
table reads as ratios on any machine. Target: `--help`, `--version` and argument parsing ≤ 0.25 s.

    python benchmarks/startup.py [--runs 21]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "task-api"
TARGET_SECONDS = 0.25


def median_seconds(argv: list[str], runs: int, cwd: Path) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=21)
    a = p.parse_args(argv)
    exe = shutil.which("pipeline-py", path=str(Path(sys.executable).parent)) or "pipeline-py"
    cases = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("pipeline-py --help", [exe, "--help"]),
        ("pipeline-py --version", [exe, "--version"]),
        ("pipeline-py deploy --help", [exe, "deploy", "--help"]),
        ("pipeline-py render --dry-run (sample)", [exe, "--env", "local", "render", "--dry-run", "--image", "x:1"]),
    ]
    base = None
    print(f"| command | median wall ({a.runs} runs) | × python -c pass | target ≤ {TARGET_SECONDS} s |")
    print("|---|---|---|---|")
    for name, cmd in cases:
        seconds = median_seconds(cmd, a.runs, EXAMPLE)
        base = base or seconds
        parsing = "render" not in name and "python" not in name
        verdict = ("MET" if seconds <= TARGET_SECONDS else "NOT MET") if parsing else "—"
        print(f"| `{name}` | {seconds:.3f} s | {seconds / base:.1f}× | {verdict} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

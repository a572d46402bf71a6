"""What hostile input costs: wall time and peak memory of `pipeline-py config` / `render` (child
processes) on the inputs issue 14 found hanging or crashing the CLI, beside the same command on the
sample's valid input, as ratios. Every hostile case must exit 2 (the table says so).

    python benchmarks/hostile_inputs.py [--runs 3]

Targets: each hostile case exits 2 within a second of the same command on valid input (the CLI's own
start-up is not the input's cost) and within 2× its memory (before: the 600-byte alias bomb grew past
2.7 GB and hung; deep nesting and huge numbers crashed with a traceback).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "task-api"
TARGET_SECONDS = 1.0

ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefg", "bcdefgh", strict=True))


def run(argv: list[str], cwd: Path) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in MiB, exit code) of one child process."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "pipeline_py", *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    return seconds, usage.ru_maxrss // 1024, os.waitstatus_to_exitcode(status)


def cases(d: Path) -> list[tuple[str, list[str]]]:
    shutil.copytree(EXAMPLE / "deploy", d / "deploy", dirs_exist_ok=True)
    cfg = (EXAMPLE / "pipeline.yaml").read_text()
    files = {
        "valid.yaml": cfg,
        "bomb.yaml": ALIAS_BOMB + "service: x\n",
        "bomb-alarms.yaml": ALIAS_BOMB.replace("a: &a", "x: &a") + "service: x\nalarms: *h\n",
        "deep.yaml": "service: x\nalarms: " + "[" * 5000 + "]" * 5000 + "\n",
        "digits.yaml": "service: x\ndesired_count: " + "9" * 5000 + "\n",
        "flat.yaml": "service: x\nalarms: [" + "a," * 20_000 + "a]\n",
        "loops.yaml": cfg.replace("deploy/taskdef.json.j2", "deploy/loops.j2"),
    }
    for name, text in files.items():
        (d / name).write_text(text)
    (d / "deploy" / "loops.j2").write_text(
        "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}")
    (d / "deep.json").write_text('{"set": ' + "[" * 50_000 + "]" * 50_000 + "}")
    render = ["--env", "local", "render", "--image", "task-api:v2"]
    return [
        ("config (valid sample)", ["--config", "valid.yaml", "config"]),
        ("config: 600-byte alias bomb", ["--config", "bomb.yaml", "config"]),
        ("config: alias bomb as `alarms: *h`", ["--config", "bomb-alarms.yaml", "config"]),
        ("config: YAML nested 5000 levels", ["--config", "deep.yaml", "config"]),
        ("config: a 5000-digit integer", ["--config", "digits.yaml", "config"]),
        ("config: 40 KB flat YAML list (20,001 values)", ["--config", "flat.yaml", "config"]),
        ("config: params JSON nested 50k levels", ["--config", "valid.yaml", "--params-file", "deep.json", "config"]),
        ("render (valid sample)", ["--config", "valid.yaml", *render]),
        ("render: 10⁸ loop iterations", ["--config", "loops.yaml", *render]),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"| input | exit | median wall ({a.runs} runs) | × valid | peak RSS | × valid "
              f"| target: exit 2, ≤ valid + {TARGET_SECONDS:g} s, ≤ 2× memory |")
        print("|---|---|---|---|---|---|---|")
        base: tuple[float, int] | None = None
        for name, args in cases(d):
            results = [run(args, d) for _ in range(a.runs)]
            seconds = statistics.median(r[0] for r in results)
            rss = max(r[1] for r in results)
            code = results[0][2]
            if "valid" in name:
                base = (seconds, rss)
                verdict = "—"
            else:
                assert base is not None
                fine = code == 2 and seconds <= base[0] + TARGET_SECONDS and rss <= 2 * base[1]
                verdict = "MET" if fine else "NOT MET"
            assert base is not None
            print(f"| {name} | {code} | {seconds:.2f} s | {seconds / base[0]:.1f}× | {rss} MiB | "
                  f"{rss / base[1]:.1f}× | {verdict} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

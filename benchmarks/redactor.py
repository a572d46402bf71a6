"""How much the redactor costs per narration line: the value-and-shape redactor (one precompiled regex:
every secret in raw, JSON, repr, YAML, URL and base64 forms, URL credentials, token formats, high-entropy
strings) beside the raw-value ``str.replace`` loop it replaced, on the same lines, as a ratio.

    python benchmarks/redactor.py [--lines 20000] [--secrets 5]

The lines are a real deploy's narration (the sample's rolling deploy on the local stack, as the tests
print it) cycled to ``--lines``; the secrets are what a Jenkins agent typically holds (tokens, a
password, AWS keys). Target: well under 50 µs per line (a deploy narrates a few hundred lines).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline_py.report import Redactor

TARGET_US = 50.0

NARRATION = [
    "==> deploying task-api to task-api-local with strategy rolling",
    "deploy lock task-api-local/task-api taken by jenkins task-api/main#41 (lease 3f9c2a)",
    "rendered task-api-local from deploy/taskdef.json.j2 (containers: app; image task-api:v2)",
    "registered arn:aws:ecs:us-east-1:123456789012:task-definition/task-api-local:7",
    "task-api runs task-api-local:6 with 2 tasks (deployment ecs-svc/4611686018427387904)",
    "our deployment: ecs-svc/8217365493017265410",
    "    (service task-api) has started 1 tasks: (task 0f3c9b1e2d4a4c6e8f0a1b2c3d4e5f60).",
    "    2/2 running, 0 pending, rollout IN_PROGRESS, targets healthy 1/2 (elapsed 3.2s of 120s)",
    "image 123456789012.dkr.ecr.us-east-1.amazonaws.com/task-api@sha256:"
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "smoke check http://127.0.0.1:8080/health: 200 (attempt 1)",
    '{"status": "succeeded", "task_definition_arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/'
    'task-api-local:7", "api_calls": {"total": 41}}',
    "report: /work/main/examples/task-api/.pipeline-py/reports/20260101T120000Z.html",
]
SECRETS = ["ghp_R2d2C3poBb8LukeLeia0123456789abcdef", "hunter2-correct-horse",
           "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AQoDYXdzEJr//////////wEaoAK1wvxJY12r2IrDFT2IvAzTCn3zHoZ7",
           's3"cr\\et-val']


class ReplaceLoop:
    """The redactor before: raw values only, one ``str.replace`` per secret."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted(secrets, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "****")
        return text


def per_line_us(redact: Callable[[str], str], lines: list[str]) -> float:
    redact(lines[0])  # compile outside the measurement
    t0 = time.perf_counter()
    for line in lines:
        redact(line)
    return (time.perf_counter() - t0) / len(lines) * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lines", type=int, default=20000)
    p.add_argument("--secrets", type=int, default=len(SECRETS))
    a = p.parse_args(argv)
    lines = [NARRATION[i % len(NARRATION)] for i in range(a.lines)]
    secrets = SECRETS[: a.secrets]
    cases = [
        ("raw-value str.replace loop (before)", ReplaceLoop(secrets)),
        ("value + shape redactor, shapes off", Redactor(secrets, shapes=False)),
        ("value + shape redactor (now)", Redactor(secrets)),
    ]
    base = None
    print(f"| redactor ({a.secrets} secrets, {a.lines} lines) | µs per line | × before | target ≤ {TARGET_US:g} µs |")
    print("|---|---|---|---|")
    for name, redact in cases:
        us = per_line_us(redact, lines)
        base = base or us
        print(f"| {name} | {us:.2f} | {us / base:.1f}× | {'MET' if us <= TARGET_US else 'NOT MET'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

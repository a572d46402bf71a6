"""The verdict on one run of moto's own tests against the local stack, measured against the baseline.

The baseline (baseline.yaml) lists every test expected to fail on the patched backend, each with a reason
(one of :data:`REASONS`), an explanation and, for ``aws-differs``, the AWS documentation it rests on. A run
passes when every failure is listed, every listed test still fails (except those marked ``varies``, whose
outcome depends on the wall clock), nothing hung and the simulation loop never raised.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import yaml

BASELINE = Path(__file__).with_name("baseline.yaml")

REASONS = {
    "aws-differs": "moto's test expects what AWS does not do; the local stack does what AWS does",
    "moto-only": "the test drives a moto-only mechanism (environment variables, moto's state manager) that "
                 "the local stack replaces with its simulation",
    "unsupported": "out of the local stack's scope: it answers with a clear unsupported error instead of "
                   "inventing a result",
}


def load_baseline(path: Path = BASELINE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{path}: not a mapping"
    return data


def baseline_problems(baseline: dict[str, Any]) -> list[str]:
    """What is wrong with the baseline file itself (reasons, explanations, documentation)."""
    problems = []
    if not isinstance(baseline.get("moto"), str):
        problems.append("baseline: 'moto' (the version whose tests it describes) is missing")
    expected = baseline.get("expected_failures")
    if not isinstance(expected, dict):
        return [*problems, "baseline: 'expected_failures' must map test ids to entries"]
    for nodeid, entry in expected.items():
        if not isinstance(entry, dict):
            problems.append(f"{nodeid}: entry must be a mapping")
            continue
        if entry.get("reason") not in REASONS:
            problems.append(f"{nodeid}: reason {entry.get('reason')!r} is not one of {sorted(REASONS)}")
        if not str(entry.get("why") or "").strip():
            problems.append(f"{nodeid}: 'why' is empty")
        docs = entry.get("docs") or []
        if entry.get("varies") and "clock" not in str(entry.get("why")):
            problems.append(f"{nodeid}: a 'varies' entry must say why its outcome varies (the clock)")
        if entry.get("reason") == "aws-differs" and not docs:
            problems.append(f"{nodeid}: an aws-differs entry needs the AWS documentation it rests on ('docs')")
        for url in docs:
            if not str(url).startswith("https://docs.aws.amazon.com/"):
                problems.append(f"{nodeid}: docs entry {url!r} is not an AWS documentation page")
    return problems


def judge(report: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """Every way the run disagrees with the baseline; empty when the run conforms."""
    problems: list[str] = []
    expected: dict[str, Any] = baseline.get("expected_failures") or {}
    tests: dict[str, dict[str, Any]] = report.get("tests") or {}
    if report.get("moto") != baseline.get("moto"):
        problems.append(f"the baseline describes moto {baseline.get('moto')}'s tests, the run used moto "
                        f"{report.get('moto')}: run the suite and update baseline.yaml")
    if not tests or not report.get("collected"):
        problems.append("no test ran")
    if report.get("exitstatus") not in (0, 1):
        problems.append(f"pytest ended with exit status {report.get('exitstatus')} (interrupted or broken)")
    for error in report.get("collection_errors") or []:
        problems.append(f"collection error in {error['nodeid']}: {error['message']}")
    if report.get("tick_errors"):
        problems.append(f"the simulation tick raised {report['tick_errors']} times")
    for nodeid, result in sorted(tests.items()):
        outcome = result.get("outcome")
        if result.get("hang"):
            problems.append(f"HANG {nodeid}: {result.get('message', '')}")
        elif outcome in ("failed", "error") and nodeid not in expected:
            problems.append(f"UNLISTED FAILURE {nodeid}: {result.get('message', '')}")
        elif outcome == "passed" and nodeid in expected and not expected[nodeid].get("varies"):
            problems.append(f"LISTED BUT PASSES {nodeid} (listed as {expected[nodeid].get('reason')}): "
                            "remove it from baseline.yaml")
    for nodeid in sorted(set(expected) - set(tests)):
        problems.append(f"LISTED BUT NOT RUN {nodeid}: no such test in this run")
    return problems


def summary(report: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Counts for the docs: outcomes, expected deviations by reason, unexplained failures."""
    expected: dict[str, Any] = baseline.get("expected_failures") or {}
    tests: dict[str, dict[str, Any]] = report.get("tests") or {}
    outcomes = Counter(r.get("outcome") for r in tests.values())
    failing = {n for n, r in tests.items() if r.get("outcome") in ("failed", "error")}
    by_reason = Counter(expected[n].get("reason") for n in failing if n in expected)
    varied = sum(1 for n in expected if expected[n].get("varies") and tests.get(n, {}).get("outcome") == "passed")
    return {"tests": len(tests), "passed": outcomes.get("passed", 0), "skipped": outcomes.get("skipped", 0),
            "failed": len(failing), "expected_by_reason": dict(sorted(by_reason.items())),
            "listed_varying_passed": varied, "unexplained": len(failing - set(expected)),
            "hangs": sum(1 for r in tests.values() if r.get("hang"))}

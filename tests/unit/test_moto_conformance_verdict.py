"""The verdict on a run of moto's own tests against the local stack (tests/moto_conformance/verdict.py) and the
checked-in baseline it is measured against."""

from __future__ import annotations

import importlib.metadata
from typing import Any

from tests.moto_conformance import verdict

AWS = {"reason": "aws-differs", "why": "AWS does otherwise", "docs": ["https://docs.aws.amazon.com/x.html"]}
BASELINE: dict[str, Any] = {"moto": "5.2.6", "expected_failures": {
    "t.py::listed": AWS,
    "t.py::varies": {**AWS, "varies": True, "why": "depends on the wall clock"},
}}


def report(**outcomes: str) -> dict[str, Any]:
    tests = {f"t.py::{name}": {"outcome": o.split(":")[0], "message": "boom",
                               **({"hang": True} if ":hang" in o else {})} for name, o in outcomes.items()}
    return {"moto": "5.2.6", "exitstatus": 1, "collected": len(tests), "tick_errors": 0, "collection_errors": [],
            "tests": tests}


def test_a_run_that_matches_the_baseline_has_no_problems() -> None:
    r = report(ok="passed", listed="failed", varies="passed")
    assert verdict.judge(r, BASELINE) == []
    assert verdict.judge(report(ok="passed", listed="failed", varies="failed"), BASELINE) == []
    numbers = verdict.summary(r, BASELINE)
    assert numbers == {"tests": 3, "passed": 2, "skipped": 0, "failed": 1, "expected_by_reason": {"aws-differs": 1},
                       "listed_varying_passed": 1, "unexplained": 0, "hangs": 0}


def test_every_disagreement_is_a_problem() -> None:
    problems = verdict.judge(report(new="failed", listed="passed", varies="failed", stuck="failed:hang"), BASELINE)
    assert any(p.startswith("UNLISTED FAILURE t.py::new") for p in problems)
    assert any(p.startswith("LISTED BUT PASSES t.py::listed") for p in problems)
    assert any(p.startswith("HANG t.py::stuck") for p in problems)
    assert len(problems) == 3
    gone = verdict.judge(report(listed="failed"), BASELINE)
    assert gone == ["LISTED BUT NOT RUN t.py::varies: no such test in this run"]


def test_a_hang_is_a_problem_even_when_listed() -> None:
    assert verdict.judge(report(listed="failed:hang", varies="failed"), BASELINE)[0].startswith("HANG t.py::listed")


def test_a_broken_run_is_a_problem() -> None:
    r = report(listed="failed", varies="failed")
    assert "no test ran" in verdict.judge({**r, "tests": {}, "collected": 0}, BASELINE)
    assert any("exit status 2" in p for p in verdict.judge({**r, "exitstatus": 2}, BASELINE))
    assert any("tick raised 3 times" in p for p in verdict.judge({**r, "tick_errors": 3}, BASELINE))
    assert any("collection error" in p for p in verdict.judge(
        {**r, "collection_errors": [{"nodeid": "t.py", "message": "ImportError"}]}, BASELINE))
    assert any("run the suite and update" in p for p in verdict.judge({**r, "moto": "5.2.7"}, BASELINE))


def test_baseline_entries_need_a_reason_an_explanation_and_for_aws_differences_the_docs() -> None:
    bad = {"moto": "5.2.6", "expected_failures": {
        "a": {"reason": "aws-differs", "why": "x"},
        "b": {"reason": "because", "why": "x"},
        "c": {"reason": "moto-only", "why": " "},
        "d": {**AWS, "docs": ["https://example.com/blog"]},
        "e": {**AWS, "varies": True},
    }}
    problems = verdict.baseline_problems(bad)
    assert [p.split(":")[0] for p in problems] == ["a", "b", "c", "d", "e"]


def test_the_checked_in_baseline_is_well_formed_and_for_the_installed_moto() -> None:
    baseline = verdict.load_baseline()
    assert verdict.baseline_problems(baseline) == []
    assert baseline["moto"] == importlib.metadata.version("moto")
    reasons = {e["reason"] for e in baseline["expected_failures"].values()}
    assert reasons <= set(verdict.REASONS)

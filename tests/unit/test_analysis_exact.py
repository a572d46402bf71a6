"""The statistics of the canary analysis against exact arithmetic: the binomial tail and the comparison
with the stable colour, computed here with fractions (an oracle independent of the floating-point code
under test), including the far tails where a careless sum loses every digit."""

from __future__ import annotations

import math
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest

from pipeline_py.config import AnalysisConfig
from pipeline_py.deploy.analysis import FAIL, INCONCLUSIVE, PASS, Sample, binomial_sf, judge, wilson, worse_p, z_for
from tests.unit.test_analysis import BAD, CFG, GOOD, Guard, ScriptedMetrics, analyzer


def exact_sf(k: int, n: int, p: Fraction) -> Fraction:
    """P(X >= k), X ~ Binomial(n, p), in exact rational arithmetic."""
    return sum((math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(max(k, 0), n + 1)), Fraction(0))


@pytest.mark.parametrize(("k", "n", "p"), [
    (1, 1, Fraction(1, 2)), (3, 10, Fraction(1, 4)), (2, 10, Fraction(1, 4)), (8, 10, Fraction(1, 2)),
    (5, 40, Fraction(1, 10)), (1, 40, Fraction(1, 10)), (30, 60, Fraction(1, 3)), (12, 60, Fraction(1, 3)),
    (95, 100, Fraction(1, 2)), (99, 100, Fraction(9, 10)), (5, 200, Fraction(1, 100)),
])
def test_the_binomial_tail_is_exact_to_nine_digits(k: int, n: int, p: Fraction) -> None:
    want = exact_sf(k, n, p)
    got = binomial_sf(k, n, float(p))
    assert got == pytest.approx(float(want), rel=1e-9, abs=0), (k, n, p)


def test_the_far_upper_tail_keeps_its_digits() -> None:
    """P(X >= 95 | n=100, p=0.5) ≈ 6.26e-23: summing the lower 95 terms and subtracting from 1 gives 0."""
    got = binomial_sf(95, 100, 0.5)
    assert 6.2e-23 < got < 6.3e-23 and got == pytest.approx(float(exact_sf(95, 100, Fraction(1, 2))), rel=1e-9)


@pytest.mark.parametrize(("k", "n", "p", "want"), [
    (0, 5, 0.3, 1.0), (-1, 5, 0.3, 1.0), (0, 5, 0.0, 1.0), (0, 0, 0.5, 1.0),  # at least 0 errors: certain
    (6, 5, 0.5, 0.0), (1, 5, 0.0, 0.0), (3, 5, -0.1, 0.0),                     # impossible
    (5, 5, 1.0, 1.0), (1, 5, 1.0, 1.0), (2, 5, 1.5, 1.0),                      # certain
])
def test_the_binomial_tail_at_its_edges(k: int, n: int, p: float, want: float) -> None:
    assert binomial_sf(k, n, p) == want


def test_the_comparison_with_stable_is_the_conditional_binomial_test() -> None:
    """Given all 7 errors, how likely are at least 5 the canary's when it served 100 of 1000 requests."""
    assert worse_p(5, 100, 2, 900) == pytest.approx(float(exact_sf(5, 7, Fraction(1, 10))), rel=1e-9)
    assert worse_p(2, 100, 5, 900) == pytest.approx(float(exact_sf(2, 7, Fraction(1, 10))), rel=1e-9)
    assert worse_p(0, 100, 5, 900) == 1.0            # no canary errors: no evidence it is worse
    assert worse_p(3, 500, 0, 500) == pytest.approx(0.125)  # three errors, all the canary's, even split: 1/2³
    assert worse_p(1, 1, 0, 1) == pytest.approx(0.5)  # one request each is still a comparison


def test_no_comparison_without_requests_on_either_side() -> None:
    assert worse_p(5, 0, 1, 100) == 1.0
    assert worse_p(5, 100, 1, 0) == 1.0
    assert worse_p(5, -1, 1, 100) == 1.0


# ---- samples and the analyzer's records -------------------------------------------------------------


def test_samples_add_counts_and_keep_the_worst_p99() -> None:
    assert Sample(10, 1, None) + Sample(5, 0, 80) == Sample(15, 1, 80)
    assert Sample(10, 1, 30) + Sample(5, 0, None) == Sample(15, 1, 30)
    assert Sample(10, 1, 90) + Sample(5, 0, 80) == Sample(15, 1, 90)
    assert Sample(10, 1, None) + Sample(5, 0, None) == Sample(15, 1, None)


def test_a_sample_as_json() -> None:
    assert Sample(3, 1, 41.26).to_dict() == {"requests": 3, "errors_5xx": 1, "error_rate": 0.33333, "p99_ms": 41.3}
    assert Sample(0, 0, None).to_dict(2.0) == {"requests": 0, "errors_5xx": 0, "error_rate": None, "p99_ms": None}
    lo, hi = Sample(1000, 10, None).bounds(2.0)
    assert Sample(1000, 10, None).to_dict(2.0)["error_rate_bounds"] == [round(lo, 5), round(hi, 5)]


HUGE = Sample(100000, 0, 30)


def test_failed_looks_in_a_row_are_counted_across_steps_and_reset_by_a_pass() -> None:
    cfg = CFG.model_copy(update={"failure_limit": 5, "consecutive_failure_limit": 2})
    a, _, _ = analyzer(ScriptedMetrics([BAD, HUGE, BAD, BAD]), cfg)
    first = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert first.ok is True and [s["result"] for s in first.samples] == ["fail", "pass"]
    second = a.run_step(weight=25, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert second.ok is False and len(second.samples) == 2
    assert second.reason is not None and second.reason.endswith("(3 failed looks, 2 in a row)")
    assert second.reason.startswith("canary analysis failed at 25%: 5XX rate 5.00% (99% CI ")


def test_a_failure_when_the_time_is_up_gives_every_reason() -> None:
    cfg = CFG.model_copy(update={"failure_limit": 5, "consecutive_failure_limit": 5})
    a, _, _ = analyzer(ScriptedMetrics([Sample(1000, 50, 900)]), cfg)
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=10)
    assert r.ok is False and len(r.samples) == 1
    assert r.reason is not None and r.reason.startswith("canary analysis failed at 10% when its time was up: 5XX")
    assert "with confidence; p99 900 ms > max 500 ms; 5XX rate 5.00% is more than 3× stable's 0.00%" in r.reason
    assert r.reason.endswith("; p99 900 ms is more than 2× stable's 20 ms")


def test_each_look_is_recorded_with_its_time_window_and_verdict() -> None:
    a, _, _ = analyzer(ScriptedMetrics([GOOD]), guard=Guard("alarm went into ALARM during the deploy: x"))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=60)
    [record] = r.samples
    assert r.ok is False and r.reason == "alarm went into ALARM during the deploy: x"
    assert {k: record[k] for k in ("weight", "at", "t", "alarm", "result")} == {
        "weight": 10, "at": "2026-01-01T00:00:10+00:00", "t": 10.0,
        "alarm": "alarm went into ALARM during the deploy: x", "result": "pass"}
    assert record["window"] == {"canary": GOOD.to_dict(), "stable": Sample(1000, 0, 20).to_dict()}
    assert a.history == [record]


def test_an_initial_delay_is_slept_only_when_set() -> None:
    for delay, first_sleep in ((0, 10), (1, 1)):
        a, clock, _ = analyzer(ScriptedMetrics([GOOD]), CFG.model_copy(update={"initial_delay": delay}))
        a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=10)
        assert clock.sleeps[0] == first_sleep


def test_looks_more_often_than_a_second_never_sample_an_empty_window() -> None:
    m = ScriptedMetrics([GOOD])
    a, _, _ = analyzer(m, CFG.model_copy(update={"interval": 0.5}))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=3)
    assert r.ok is True and len(m.windows) == len(r.samples) >= 2
    assert all(end - start == timedelta(seconds=1) for start, end in m.windows)
    assert all(m.windows[i][1] == m.windows[i + 1][0] for i in range(len(m.windows) - 1))


@pytest.mark.parametrize(("min_requests", "canary"), [(100, Sample(100, 1, 30)), (0, Sample(1, 0, 30))])
def test_exactly_min_requests_when_the_time_is_up_is_enough_traffic(min_requests: int, canary: Sample) -> None:
    cfg = CFG.model_copy(update={"min_requests": min_requests, "inconclusive": "fail"})
    a, _, _ = analyzer(ScriptedMetrics([canary]), cfg)
    r = a.run_step(weight=10, canary_tg="c", stable_tg=None, bake_seconds=10)
    assert r.ok is True and [s["result"] for s in r.samples] == ["inconclusive"]


# ---- the verdict at its boundaries --------------------------------------------------------------------


def test_wilson_at_its_edges() -> None:
    z = z_for(0.99)
    assert wilson(0, 0, z) == (0.0, 1.0)
    lo, hi = wilson(0, 1, z)
    assert lo == 0.0 and 0.8 < hi < 0.9  # one clean request already bounds the rate
    assert wilson(1, 10, z)[0] > 0.01  # one error in ten: the lower bound is above 0
    assert wilson(1000, 1000, z)[1] == 1.0 and wilson(12, 10, z) == wilson(10, 10, z)


def cfg(**kw: Any) -> AnalysisConfig:
    base: dict[str, Any] = {"max_error_rate": 0.01, "max_p99_ms": None, "min_requests": 100,
                            "max_error_rate_ratio": None, "max_p99_ratio": None}
    return AnalysisConfig(**{**base, **kw})


def test_exactly_min_requests_is_judged_on_the_numbers() -> None:
    v = judge(Sample(100, 0, 30), Sample(100, 0, 30), cfg())
    assert v.result == INCONCLUSIVE and v.reasons[0].startswith("not yet confident: upper bound ")
    assert any(r.startswith("stable: 5XX 0.00% [") for r in v.reasons)  # stable at exactly min_requests counts
    one = judge(Sample(1, 0, 30), Sample(1, 0, 30), cfg(min_requests=0))
    assert one.reasons[0].startswith("not yet confident") and any(r.startswith("stable: ") for r in one.reasons)


def test_a_p99_at_the_limit_passes() -> None:
    v = judge(Sample(10000, 0, 500), None, cfg(max_p99_ms=500))
    assert v.result == PASS and "p99 500 ms ≤ 500 ms" in v.reasons


def test_no_errors_reads_as_a_zero_rate() -> None:
    v = judge(Sample(10000, 0, None), Sample(10000, 0, None), cfg(max_error_rate_ratio=3))
    assert v.result == PASS and v.reasons[1].startswith("5XX rate 0.00% (99% CI 0.00%–")


def test_a_canary_worse_than_a_clean_stable_fails_on_the_ratio() -> None:
    v = judge(Sample(1000, 20, None), Sample(10000, 0, None), cfg(max_error_rate=0.05, max_error_rate_ratio=3))
    assert v.result == FAIL and v.reasons[0].startswith("5XX rate 2.00% is more than 3× stable's 0.00% (p = ")


@pytest.mark.parametrize(("canary", "stable", "ratio", "delta", "result"), [
    (500, 250, 1.5, 0.25, FAIL),   # the difference is exactly the minimum: it counts
    (500, 250, 2.0, 0.0, PASS),    # exactly twice stable's with a ratio of 2: not more than
])
def test_the_error_rate_ratio_at_its_boundaries(canary: int, stable: int, ratio: float, delta: float,
                                               result: str) -> None:
    v = judge(Sample(1000, canary, None), Sample(1000, stable, None),
              cfg(max_error_rate=1.0, max_error_rate_ratio=ratio, min_error_rate_delta=delta))
    assert v.result == result, v.reasons


@pytest.mark.parametrize(("canary", "stable", "ratio", "delta", "result"), [
    (100, 50, 1.5, 50, FAIL),   # 50 ms slower is exactly the minimum difference
    (100, 60, 1.5, 50, PASS),   # 40 ms slower: under the minimum difference
    (100, 50, 2.0, 0, PASS),    # exactly twice stable's with a ratio of 2: not more than
])
def test_the_p99_ratio_at_its_boundaries(canary: float, stable: float, ratio: float, delta: float,
                                         result: str) -> None:
    v = judge(Sample(10000, 0, canary), Sample(10000, 0, stable), cfg(max_p99_ratio=ratio, min_p99_delta_ms=delta))
    assert v.result == result, v.reasons


def test_an_upper_bound_at_the_limit_passes() -> None:
    assert judge(Sample(100, 100, None), None, cfg(max_error_rate=1.0)).result == PASS


def test_every_verdict_carries_the_configured_confidence() -> None:
    c = cfg(confidence=0.95, max_p99_ms=100)
    assert judge(Sample(5, 0, None), None, c).confidence == 0.95                 # too little traffic
    assert judge(Sample(10000, 0, 500), None, c).confidence == 0.95              # fail
    assert judge(Sample(10000, 0, 50), None, c).confidence == 0.95               # pass
    assert judge(Sample(200, 2, 50), None, c).confidence == 0.95                 # inconclusive
    d = judge(Sample(10000, 0, 50), Sample(10000, 0, 40), c).to_dict()
    assert d["confidence"] == 0.95 and d["reasons"][0].startswith("upper bound ")
    assert d["stable"]["error_rate_bounds"][0] == 0.0 and d["canary"]["requests"] == 10000

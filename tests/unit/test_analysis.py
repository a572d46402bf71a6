"""Canary analysis maths and the sampling loop on fake time."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.config import AnalysisConfig
from pipeline_py.deploy.adapters.cloudwatch import CloudWatchMetrics
from pipeline_py.deploy.analysis import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    Analyzer,
    Sample,
    binomial_sf,
    judge,
    wilson,
    worse_p,
    z_for,
)
from pipeline_py.report import Reporter

CFG = AnalysisConfig(max_error_rate=0.01, max_p99_ms=500, min_requests=100, interval=10)


def test_too_few_requests_is_inconclusive_not_pass() -> None:
    v = judge(Sample(99, 0, 20), Sample(1000, 0, 20), CFG)
    assert v.result == INCONCLUSIVE
    assert "99 requests < min_requests 100" in v.reasons[0]


def test_wilson_bounds_match_published_values() -> None:
    # Wilson score interval, 95% two-sided (z = 1.96): 20 of 1000 → [1.30%, 3.07%]
    lo, hi = wilson(20, 1000, 1.959964)
    assert (round(lo, 4), round(hi, 4)) == (0.013, 0.0307)
    assert wilson(0, 0, 2.0) == (0.0, 1.0)
    assert wilson(0, 100, 2.326)[0] == 0.0
    assert round(z_for(0.99), 3) == 2.326


def test_fail_needs_the_lower_bound_above_the_limit() -> None:
    v = judge(Sample(1000, 30, 30), None, CFG)
    assert v.result == FAIL
    assert v.reasons[0].startswith("5XX rate 3.00% (99% CI 1.98%–4.53%)")
    assert "above max 1.00% with confidence" in v.reasons[0]


def test_a_rate_over_the_limit_without_confidence_is_inconclusive_not_fail() -> None:
    # 2 errors in 150 requests is 1.33% > 1% — the case that rolled back a 0.9% version before
    v = judge(Sample(150, 2, 30), None, CFG.model_copy(update={"min_requests": 100}))
    assert v.result == INCONCLUSIVE and v.reasons[0].startswith("not yet confident: upper bound")


def test_pass_needs_the_upper_bound_under_the_limit() -> None:
    v = judge(Sample(20000, 40, 30), None, CFG)  # 0.2%, upper bound ~0.28%
    assert v.result == PASS and v.reasons[0].startswith("upper bound 0.2")


def test_exactly_at_the_limit_is_not_a_fail() -> None:
    lo, _ = wilson(30, 1000, z_for(0.99))
    at_limit = CFG.model_copy(update={"max_error_rate": lo})
    assert judge(Sample(1000, 30, 30), None, at_limit).result != FAIL
    just_under = CFG.model_copy(update={"max_error_rate": lo - 1e-9})
    assert judge(Sample(1000, 30, 30), None, just_under).result == FAIL


def test_absolute_p99_limit() -> None:
    v = judge(Sample(1000, 0, 900), None, CFG)
    assert v.result == FAIL
    assert v.reasons == ("p99 900 ms > max 500 ms",)


def test_relative_to_stable_fails_under_the_absolute_limit_only_with_significance() -> None:
    cfg = CFG.model_copy(update={"max_error_rate": 0.05})
    v = judge(Sample(1000, 30, 30), Sample(5000, 10, 30), cfg)
    assert v.result == FAIL
    assert "more than 3× stable's 0.20%" in v.reasons[0] and "(p = " in v.reasons[0]
    few = judge(Sample(100, 1, 30), Sample(5000, 10, 30), cfg)  # 1% of 100 vs 0.2%: ratio 5, but one error
    assert few.result != FAIL


def test_the_comparison_with_stable_is_exact_for_small_counts() -> None:
    # one error against none is no evidence (p = 100/1100), however large the ratio
    assert round(worse_p(1, 100, 0, 1000), 4) == round(100 / 1100, 4)
    # 3 of 13 errors in 2% of the requests: p = P(X >= 3), X ~ Bin(13, 100/5100)
    assert 0.001 < worse_p(3, 100, 10, 5000) < 0.003
    assert binomial_sf(0, 10, 0.3) == 1.0 and binomial_sf(11, 10, 0.3) == 0.0
    assert abs(binomial_sf(2, 2, 0.5) - 0.25) < 1e-12


def test_relative_comparison_ignores_tiny_absolute_differences() -> None:
    cfg = CFG.model_copy(update={"max_error_rate": 0.05})
    v = judge(Sample(1000, 3, 30), Sample(5000, 1, 30), cfg)  # 0.3% vs 0.02%: ratio 15 but delta < 0.5%
    assert v.result == PASS


def test_relative_p99() -> None:
    v = judge(Sample(1000, 0, 400), Sample(1000, 0, 100), CFG)
    assert v.result == FAIL and "2× stable's 100 ms" in v.reasons[0]


def test_no_comparison_when_stable_has_too_few_requests() -> None:
    v = judge(Sample(1000, 0, 400), Sample(10, 0, 100), CFG)
    assert v.result == PASS


def test_verdicts_carry_counts_rates_and_bounds_of_both_colours() -> None:
    d = judge(Sample(2000, 4, 45), Sample(8000, 8, 40), CFG).to_dict()
    assert d["canary"]["requests"] == 2000 and d["canary"]["errors_5xx"] == 4 and d["canary"]["error_rate"] == 0.002
    assert d["canary"]["error_rate_bounds"][0] < 0.002 < d["canary"]["error_rate_bounds"][1]
    assert d["stable"]["p99_ms"] == 40.0 and d["confidence"] == 0.99


class ScriptedMetrics:
    """One window's counts per look, in order (the last repeats)."""

    def __init__(self, canary: list[Sample], stable: Sample | None = None) -> None:
        self.canary = canary
        self.stable = stable or Sample(1000, 0, 20)
        self.windows: list[tuple[datetime, datetime]] = []

    def sample(self, tgs: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]:
        self.windows.append((start, end))
        c = self.canary[min(len(self.windows) - 1, len(self.canary) - 1)]
        return {"canary": c, "stable": self.stable}


class Guard:
    def __init__(self, fired: str | None = None) -> None:
        self.fired = fired

    def check(self) -> str | None:
        return self.fired


def analyzer(metrics: ScriptedMetrics, cfg: AnalysisConfig = CFG,
             guard: Guard | None = None) -> tuple[Analyzer, FakeClock, io.StringIO]:
    out = io.StringIO()
    clock = FakeClock(datetime(2026, 1, 1, 0, 0, 0, 400000, tzinfo=timezone.utc))
    return Analyzer(metrics, guard, cfg, Reporter(out, timestamps=False), clock), clock, out  # type: ignore[arg-type]


GOOD = Sample(1000, 0, 30)
BAD = Sample(1000, 50, 30)


def test_counts_accumulate_over_the_step() -> None:
    a, _, _ = analyzer(ScriptedMetrics([Sample(100, 1, 30)] * 3, stable=Sample(1000, 10, 20)))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=30)
    assert [s["canary"]["requests"] for s in r.samples] == [100, 200, 300]
    assert [s["window"]["canary"]["requests"] for s in r.samples] == [100, 100, 100]


def test_one_noisy_window_does_not_roll_back() -> None:
    a, _, _ = analyzer(ScriptedMetrics([GOOD, Sample(1000, 15, 30), GOOD, GOOD], stable=Sample(1000, 5, 20)))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=40)
    assert r.ok
    results = [s["result"] for s in r.samples]
    assert results[0] == "pass" and results[1] == "inconclusive" and results[-1] == "pass" and "fail" not in results


def test_a_bad_canary_fails_with_the_numbers() -> None:
    a, _, out = analyzer(ScriptedMetrics([BAD, BAD, GOOD]))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=40)
    assert not r.ok
    assert "5XX rate 5.00% (99% CI" in r.reason and "2 in a row" in r.reason
    assert len(r.samples) == 2
    assert "analysis at 10%: FAIL — canary 1000 req, 5XX 5.00% [" in out.getvalue()


def test_failure_limit_counts_across_steps() -> None:
    cfg = CFG.model_copy(update={"consecutive_failure_limit": 5, "failure_limit": 1})
    a, _, _ = analyzer(ScriptedMetrics([BAD, Sample(100000, 0, 30), BAD, BAD]), cfg)
    assert a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20).ok
    r = a.run_step(weight=25, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert not r.ok and "2 failed looks" in r.reason


@pytest.mark.parametrize("policy, ok, samples", [("pass", True, 2), ("fail", False, 2), ("wait", False, 5)])
def test_inconclusive_policy(policy: str, ok: bool, samples: int) -> None:
    cfg = CFG.model_copy(update={"inconclusive": policy, "max_inconclusive_extensions": 3})
    a, _, _ = analyzer(ScriptedMetrics([Sample(5, 0, 20)]), cfg.model_copy(update={"min_requests": 1000}))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert r.ok is ok
    assert len(r.samples) == samples


def test_wait_policy_passes_when_traffic_arrives() -> None:
    cfg = CFG.model_copy(update={"inconclusive": "wait"})
    a, _, _ = analyzer(ScriptedMetrics([Sample(5, 0, 20), Sample(5, 0, 20), GOOD]), cfg)
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert r.ok and [s["result"] for s in r.samples] == ["inconclusive", "inconclusive", "pass"]


def test_time_up_without_a_failure_passes_even_when_not_yet_confident() -> None:
    a, _, _ = analyzer(ScriptedMetrics([Sample(150, 2, 30)], stable=Sample(1000, 10, 20)),
                       CFG.model_copy(update={"min_requests": 100}))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=10)
    assert r.ok and r.samples[-1]["result"] == "inconclusive"


def test_a_failed_verdict_when_the_time_is_up_fails_the_step() -> None:
    cfg = CFG.model_copy(update={"consecutive_failure_limit": 5, "failure_limit": 5})
    a, _, _ = analyzer(ScriptedMetrics([BAD]), cfg)
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=10)
    assert not r.ok and "when its time was up" in r.reason


def test_an_alarm_fails_the_step_immediately() -> None:
    a, _, _ = analyzer(ScriptedMetrics([GOOD]), guard=Guard("alarm went into ALARM during the deploy: svc-5xx"))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=60)
    assert not r.ok and "svc-5xx" in r.reason and len(r.samples) == 1


def test_the_first_window_starts_after_the_weights_were_verified() -> None:
    """The clock is at 00:00:00.4 when the step starts (the weights were verified then): the first
    window starts at 00:00:01, never at 00:00:00, which would mix requests routed by the old split."""
    cfg = CFG.model_copy(update={"initial_delay": 30})
    m = ScriptedMetrics([GOOD])
    a, clock, _ = analyzer(m, cfg)
    a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=30)
    assert m.windows[0][0] == datetime(2026, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert clock.sleeps[0] == 30
    assert len(m.windows) == 3
    assert all(m.windows[i][1] == m.windows[i + 1][0] for i in range(2))
    assert all(end > start for start, end in m.windows)


def test_cloudwatch_dimensions_and_single_period_window() -> None:
    m = CloudWatchMetrics(None, "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/lb/abc", 60)
    assert m.lb_dimension == "app/lb/abc"
    assert m.tg_dimension("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/blue/def") == "targetgroup/blue/def"


class _RecordingCloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def get_metric_data(self, **kw: object) -> dict:
        self.calls.append(kw)
        return {"MetricDataResults": [
            {"Id": "r_canary", "Values": [10.0, 15.0]}, {"Id": "e_canary", "Values": [1.0]},
            {"Id": "p_canary", "Values": [0.2, 0.9]}]}


def test_cloudwatch_sample_sums_counts_and_takes_the_worst_p99() -> None:
    cw = _RecordingCloudWatch()
    m = CloudWatchMetrics(cw, "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/lb/abc", 1)
    s = m.sample({"canary": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/g/def"},
                 datetime(2026, 1, 1, 0, 0, 0), datetime(2026, 1, 1, 0, 0, 2))
    assert s["canary"] == Sample(25.0, 1.0, 900.0)
    q = cw.calls[0]["MetricDataQueries"]
    assert {x["MetricStat"]["Period"] for x in q} == {1}
    assert {x["MetricStat"]["Stat"] for x in q} == {"Sum", "p99"}
    dims = q[0]["MetricStat"]["Metric"]["Dimensions"]
    assert dims == [{"Name": "LoadBalancer", "Value": "app/lb/abc"},
                    {"Name": "TargetGroup", "Value": "targetgroup/g/def"}]

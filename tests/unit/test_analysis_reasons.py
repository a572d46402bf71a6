"""The reasons a verdict and a failed step give, word for word: they are what the result's `analysis`
samples, the HTML report and the deploy's failure reason carry to people and to Jenkins (issue 21:
each assertion here failed on a mutant that survived the unit tier)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pipeline_py.config import AnalysisConfig
from pipeline_py.deploy.analysis import FAIL, INCONCLUSIVE, PASS, Analyzer, Sample, judge, next_whole_second
from tests.unit.test_analysis import CFG, GOOD, Guard, ScriptedMetrics, analyzer


def cfg(**kw: Any) -> AnalysisConfig:
    base: dict[str, Any] = {"max_error_rate": 0.01, "max_p99_ms": None, "min_requests": 100,
                            "max_error_rate_ratio": None, "max_p99_ratio": None}
    return AnalysisConfig(**{**base, **kw})


def test_every_note_of_a_verdict_with_a_comparable_stable_colour() -> None:
    # Wilson bounds at 99% (z 2.326): 2/20000 → 0.00%–0.04%, 1/1000 → 0.01%–0.72%
    passed = judge(Sample(20000, 2, 40), Sample(1000, 1, 30), cfg(max_p99_ms=50))
    assert passed.result == PASS and passed.reasons == (
        "upper bound 0.04% ≤ max 1.00%", "5XX rate 0.01% (99% CI 0.00%–0.04%)", "p99 40 ms ≤ 50 ms",
        "stable: 5XX 0.10% [0.01%–0.72%], p99 30 ms")
    unsure = judge(Sample(150, 2, 30), Sample(1000, 0, None), cfg())
    assert unsure.result == INCONCLUSIVE and unsure.reasons == (
        "not yet confident: upper bound 5.76% > max 1.00%", "5XX rate 1.33% (99% CI 0.30%–5.76%)", "p99 30 ms",
        "stable: 5XX 0.00% [0.00%–0.54%], p99 n/a")


def test_a_stable_colour_with_too_few_requests_is_carried_but_not_compared() -> None:
    stable = Sample(10, 1, 30)
    v = judge(Sample(1000, 2, 40), stable, cfg())
    assert v.result == PASS and v.stable == stable
    assert v.reasons == ("upper bound 0.89% ≤ max 1.00%", "5XX rate 0.20% (99% CI 0.04%–0.89%)", "p99 40 ms")
    few = judge(Sample(50, 2, 30), Sample(1000, 0, None), cfg())
    assert few.reasons == ("50 requests < min_requests 100",) and few.stable == Sample(1000, 0, None)


def test_the_comparison_with_stable_needs_the_absolute_difference() -> None:
    # 2.00% against 0.50%: 4× and highly significant, but 1.5 points apart, under a 2-point delta
    canary, stable = Sample(10000, 200, None), Sample(10000, 50, None)
    assert judge(canary, stable, cfg(max_error_rate=0.5, max_error_rate_ratio=3.0,
                                     min_error_rate_delta=0.02)).result == PASS
    v = judge(canary, stable, cfg(max_error_rate=0.5, max_error_rate_ratio=3.0, min_error_rate_delta=0.01))
    assert v.result == FAIL and v.reasons == ("5XX rate 2.00% is more than 3× stable's 0.50% (p = 9.9e-23 < 0.01)",)


def test_a_p_value_equal_to_one_minus_confidence_is_not_significant() -> None:
    # one error against none over equal traffic: P(X >= 1 | n = 1, p = 1/2) is exactly 0.5 = 1 - 0.5
    v = judge(Sample(1000, 1, None), Sample(1000, 0, None),
              cfg(confidence=0.5, max_error_rate=1.0, max_error_rate_ratio=3.0, min_error_rate_delta=0,
                  min_requests=1))
    assert v.result == PASS


def test_a_sample_of_one_request_carries_its_bounds() -> None:
    assert Sample(1, 1, None).to_dict(2.0)["error_rate_bounds"] == [0.2, 1.0]


def test_a_whole_second_is_its_own_first_window_start() -> None:
    t = datetime(2026, 1, 1, 0, 0, 5, tzinfo=timezone.utc)
    assert next_whole_second(t) == t
    assert next_whole_second(t.replace(microsecond=1)) == datetime(2026, 1, 1, 0, 0, 6, tzinfo=timezone.utc)


def test_a_look_is_timed_from_the_deploys_origin_to_the_millisecond() -> None:
    a, clock, _ = analyzer(ScriptedMetrics([GOOD]))
    b = Analyzer(a.metrics, None, CFG, a.reporter, clock, origin=clock.monotonic() - 2.12345)
    r = b.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=10)
    assert [s["t"] for s in r.samples] == [12.123]


def test_a_window_without_the_stable_colour_counts_as_empty() -> None:
    class CanaryOnly(ScriptedMetrics):
        def sample(self, tgs: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]:
            return {"canary": super().sample(tgs, start, end)["canary"]}

    a, _, _ = analyzer(CanaryOnly([GOOD]))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=10)
    assert r.ok is True and r.samples[0]["window"] == {"canary": GOOD.to_dict()}
    assert r.samples[0]["stable"] == {"requests": 0, "errors_5xx": 0, "error_rate": None, "p99_ms": None}


def test_a_failed_look_gives_every_reason_and_an_alarm_is_narrated() -> None:
    once = CFG.model_copy(update={"consecutive_failure_limit": 1})
    a, _, _ = analyzer(ScriptedMetrics([Sample(1000, 50, 900)]), once)
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=60)
    assert r.reason == (
        "canary analysis failed at 10%: 5XX rate 5.00% (99% CI 3.62%–6.86%) is above max 1.00% with confidence; "
        "p99 900 ms > max 500 ms; 5XX rate 5.00% is more than 3× stable's 0.00% (p = 8.9e-16 < 0.01); "
        "p99 900 ms is more than 2× stable's 20 ms (1 failed looks, 1 in a row)")
    fired = "alarm went into ALARM during the deploy: svc-5xx"
    b, _, out = analyzer(ScriptedMetrics([GOOD]), guard=Guard(fired))
    b.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=60)
    assert out.getvalue().rstrip().endswith(f"— {fired}")


def test_too_little_traffic_fails_a_step_with_the_reason_the_policy_gives() -> None:
    few = CFG.model_copy(update={"inconclusive": "fail", "max_inconclusive_extensions": 3, "min_requests": 1000})
    a, _, _ = analyzer(ScriptedMetrics([Sample(5, 0, 20)]), few)
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert r.reason == "canary analysis inconclusive at 10%: 10 requests < min_requests 1000 (policy: fail)"
    b, _, _ = analyzer(ScriptedMetrics([Sample(5, 0, 20)]), few.model_copy(update={"inconclusive": "wait"}))
    r = b.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert r.reason == "canary analysis still inconclusive at 10% after 3 extensions: 25 requests < min_requests 1000"

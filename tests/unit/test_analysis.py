"""Canary analysis maths and the sampling loop on fake time."""

from __future__ import annotations

import io
from datetime import datetime

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.config import AnalysisConfig
from pipeline_py.deploy.analysis import FAIL, INCONCLUSIVE, PASS, Analyzer, CloudWatchMetrics, Sample, judge
from pipeline_py.report import Reporter

CFG = AnalysisConfig(max_error_rate=0.01, max_p99_ms=500, min_requests=100, interval=10)


def test_too_few_requests_is_inconclusive_not_pass() -> None:
    v = judge(Sample(99, 0, 20), Sample(1000, 0, 20), CFG)
    assert v.result == INCONCLUSIVE
    assert "99 requests < min_requests 100" in v.reasons[0]


def test_absolute_error_rate_limit() -> None:
    v = judge(Sample(1000, 20, 30), None, CFG)
    assert v.result == FAIL
    assert "5XX rate 2.00% > max 1.00%" in v.reasons[0]


def test_absolute_p99_limit() -> None:
    v = judge(Sample(1000, 0, 900), None, CFG)
    assert v.result == FAIL
    assert v.reasons == ("p99 900 ms > max 500 ms",)


def test_relative_to_stable_fails_under_the_absolute_limit() -> None:
    cfg = CFG.model_copy(update={"max_error_rate": 0.05})
    v = judge(Sample(1000, 30, 30), Sample(5000, 10, 30), cfg)
    assert v.result == FAIL
    assert "more than 3× stable's 0.20%" in v.reasons[0]


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


def test_pass_reasons_carry_the_numbers() -> None:
    v = judge(Sample(1000, 1, 45), Sample(1000, 1, 40), CFG)
    assert v.result == PASS
    assert any("0.10%" in r for r in v.reasons)


class ScriptedMetrics:
    def __init__(self, canary: list[Sample], stable: Sample | None = None) -> None:
        self.canary = canary
        self.stable = stable or Sample(1000, 0, 20)
        self.windows: list[tuple[datetime, datetime]] = []

    def sample(self, tgs: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]:
        self.windows.append((start, end))
        c = self.canary[min(len(self.windows) - 1, len(self.canary) - 1)]
        return {"canary": c, "stable": self.stable}


class Alarms:
    def __init__(self, firing: list[tuple[str, str]] = ()) -> None:
        self._firing = list(firing)

    def firing(self, names: list[str]) -> list[tuple[str, str]]:
        return self._firing


def analyzer(metrics: ScriptedMetrics, cfg: AnalysisConfig = CFG, alarms: Alarms | None = None,
             names: list[str] = ()) -> tuple[Analyzer, FakeClock, io.StringIO]:
    out = io.StringIO()
    clock = FakeClock()
    return Analyzer(metrics, alarms or Alarms(), cfg, list(names), Reporter(out, timestamps=False), clock), clock, out


GOOD = Sample(1000, 0, 30)
BAD = Sample(1000, 50, 30)


def test_one_noisy_sample_does_not_roll_back() -> None:
    a, _, _ = analyzer(ScriptedMetrics([GOOD, BAD, GOOD, GOOD]))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=40)
    assert r.ok
    assert [s["result"] for s in r.samples] == ["pass", "fail", "pass", "pass"]


def test_consecutive_failures_roll_back_with_the_numbers() -> None:
    a, clock, out = analyzer(ScriptedMetrics([BAD, BAD, GOOD]))
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=40)
    assert not r.ok
    assert "5XX rate 5.00% > max 1.00%" in r.reason and "2 in a row" in r.reason
    assert len(r.samples) == 2
    assert clock.monotonic() - 1000 == 20
    assert "analysis at 10%: FAIL — canary 1000 req, 5XX 5.00%" in out.getvalue()


def test_failure_limit_counts_across_steps() -> None:
    cfg = CFG.model_copy(update={"consecutive_failure_limit": 5, "failure_limit": 1})
    a, _, _ = analyzer(ScriptedMetrics([BAD, GOOD, GOOD, BAD]), cfg)
    assert a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20).ok
    r = a.run_step(weight=25, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert not r.ok and "2 failed samples" in r.reason


@pytest.mark.parametrize("policy, ok, samples", [("pass", True, 2), ("fail", False, 2), ("wait", False, 5)])
def test_inconclusive_policy(policy: str, ok: bool, samples: int) -> None:
    cfg = CFG.model_copy(update={"inconclusive": policy, "max_inconclusive_extensions": 3})
    a, _, _ = analyzer(ScriptedMetrics([Sample(5, 0, 20)]), cfg)
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert r.ok is ok
    assert len(r.samples) == samples


def test_wait_policy_passes_when_traffic_arrives() -> None:
    cfg = CFG.model_copy(update={"inconclusive": "wait"})
    a, _, _ = analyzer(ScriptedMetrics([Sample(5, 0, 20), Sample(5, 0, 20), GOOD]), cfg)
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=20)
    assert r.ok and [s["result"] for s in r.samples] == ["inconclusive", "inconclusive", "pass"]


def test_alarm_fails_the_step_immediately() -> None:
    a, _, _ = analyzer(ScriptedMetrics([GOOD]), alarms=Alarms([("svc-5xx", "Threshold Crossed")]),
                       names=["svc-5xx"])
    r = a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=60)
    assert not r.ok and "svc-5xx" in r.reason and len(r.samples) == 1


def test_initial_delay_and_contiguous_windows() -> None:
    cfg = CFG.model_copy(update={"initial_delay": 30})
    m = ScriptedMetrics([GOOD])
    a, clock, _ = analyzer(m, cfg)
    a.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=30)
    assert clock.sleeps[0] == 30
    assert len(m.windows) == 3
    assert all(m.windows[i][1] == m.windows[i + 1][0] for i in range(2))


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

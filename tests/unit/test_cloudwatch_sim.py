"""CloudWatch maths of the local stack on fake time: statistics from stored samples, period
alignment, series identity, retention, and metric-alarm evaluation."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from statistics import NormalDist

import pytest

from pipeline_py.local import cloudwatch_sim as cw

T0 = int(datetime(2026, 11, 27, 5, 30, tzinfo=timezone.utc).timestamp())
NS = "AWS/ApplicationELB"
LB = (("LoadBalancer", "app/lb/1"),)
TG = (("LoadBalancer", "app/lb/1"), ("TargetGroup", "targetgroup/tg/2"))


def bucket_of(values: list[float], counts: list[float] | None = None) -> cw.Bucket:
    b = cw.Bucket()
    for v, c in zip(values, counts or [1.0] * len(values), strict=True):
        b.add_value(v, c)
    return b


# ---- statistics


def test_basic_statistics() -> None:
    b = bucket_of([1, 2, 3, 4, 100], [10, 10, 10, 10, 1])
    assert cw.compute(b, "SampleCount") == 41
    assert cw.compute(b, "Sum") == 200
    assert cw.compute(b, "Average") == pytest.approx(200 / 41)
    assert (cw.compute(b, "Minimum"), cw.compute(b, "Maximum")) == (1, 100)


@pytest.mark.parametrize("stat, expected", [
    ("p0", 1), ("p1", 1), ("p50", 50), ("p90", 90), ("p99", 99), ("p99.5", 100), ("p100", 100),
    ("P50", 50),
    ("tm90", sum(range(1, 91)) / 90), ("TM(10%:90%)", sum(range(11, 91)) / 80), ("IQM", sum(range(26, 76)) / 50),
    ("tc90", 90), ("TC(:10)", 10), ("TC(10:20)", 10),
    ("ts10", 55), ("TS(90%:)", sum(range(91, 101))),
    ("wm90", (sum(range(1, 91)) + 10 * 90) / 100), ("WM(:50)", (sum(range(1, 51)) + 50 * 50) / 100),
    ("PR(:50)", 50), ("PR(90:)", 10), ("TM(150:1000)", None),
])
def test_percentile_family_is_nearest_rank_over_the_samples(stat: str, expected: float | None) -> None:
    b = bucket_of([float(v) for v in range(100, 0, -1)])
    got = cw.compute(b, stat)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_counts_weigh_values() -> None:
    b = bucket_of([0.01, 0.9], [98, 2])
    assert cw.compute(b, "p98") == 0.01
    assert cw.compute(b, "p99") == 0.9


@pytest.mark.parametrize("text", ["p101", "px", "Avg", "TM(10%:90)", "PR(10%:20%)", "TM(:)", "TM(90%:10%)", ""])
def test_invalid_statistics_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        cw.parse_stat(text)


def test_statistic_sets_allow_percentiles_only_when_they_are_one_value() -> None:
    spread = cw.Bucket()
    spread.add_statistics(total=30, count=10, minimum=1, maximum=5)
    assert cw.compute(spread, "Sum") == 30 and cw.compute(spread, "SampleCount") == 10
    assert cw.compute(spread, "p99") is None
    single = cw.Bucket()
    single.add_statistics(total=7, count=1, minimum=7, maximum=7)
    same = cw.Bucket()
    same.add_statistics(total=12, count=4, minimum=3, maximum=3)
    assert cw.compute(single, "p50") == 7 and cw.compute(same, "p99") == 3
    mixed = bucket_of([1, 2, 3])
    mixed.merge(spread)
    assert cw.compute(mixed, "p50") is None and cw.compute(mixed, "SampleCount") == 13


def test_negative_values_have_no_percentiles() -> None:
    b = bucket_of([-1.0, 2.0])
    assert cw.compute(b, "p50") is None and cw.compute(b, "Sum") == 1.0


def test_lognormal_histogram_has_the_scenarios_quantiles_and_mean() -> None:
    h = cw.lognormal(0.02, 0.9)
    b = cw.Bucket()
    b.add_distribution(h, 20)  # however few requests: the percentiles are the distribution's
    assert cw.compute(b, "p50") == pytest.approx(0.02)
    assert cw.compute(b, "p99") == pytest.approx(0.9)
    sigma = math.log(0.9 / 0.02) / NormalDist().inv_cdf(0.99)
    for p in (90, 95, 99.9):
        expected = math.exp(math.log(0.02) + sigma * NormalDist().inv_cdf(p / 100))
        assert cw.compute(b, f"p{p}") == pytest.approx(expected)
    assert cw.compute(b, "Average") == pytest.approx(0.02 * math.exp(sigma ** 2 / 2))
    assert cw.compute(b, "SampleCount") == 20
    assert cw.lognormal(0.02, 0.9) is h
    assert cw.compute(cw.Bucket(), "p99") is None


def test_mixtures_of_distributions_and_plain_values() -> None:
    b = cw.Bucket()
    b.add_distribution(cw.lognormal(0.02, 0.06), 90)
    b.add_distribution(cw.lognormal(0.02, 0.9), 10)
    p99 = cw.compute(b, "p99")
    assert p99 is not None and 0.06 < p99 < 0.9
    b.add_value(10.0, 1)
    assert cw.compute(b, "p100") == 10.0 and cw.compute(b, "SampleCount") == 101


def test_merge_keeps_every_value() -> None:
    a, b = bucket_of([1.0]), bucket_of([2.0, 3.0])
    merged = cw.Bucket()
    merged.merge(a)
    merged.merge(b)
    assert cw.compute(merged, "p0") == 1 and cw.compute(merged, "p100") == 3
    assert cw.compute(merged, "SampleCount") == 3 and cw.compute(merged, "Sum") == 6


# ---- the store


def test_series_are_exact_dimension_sets_within_a_namespace() -> None:
    s = cw.MetricStore()
    s.put_value(cw.series_key(NS, "RequestCount", TG), T0, 20)
    s.put_value(cw.series_key(NS, "RequestCount", LB), T0, 200)
    s.put_value(cw.series_key("Other", "RequestCount", TG), T0, 7)
    assert cw.compute(s.window(cw.series_key(NS, "RequestCount", TG), T0, T0 + 1), "Sum") == 20
    assert cw.compute(s.window(cw.series_key(NS, "RequestCount", reversed(TG)), T0, T0 + 1), "Sum") == 20
    assert cw.compute(s.window(cw.series_key(NS, "RequestCount", LB), T0, T0 + 1), "Sum") == 200
    assert s.window(cw.series_key(NS, "RequestCount", ()), T0, T0 + 1) is None
    assert [k[0] for k in s.keys(name="RequestCount", dimensions=[{"Name": "TargetGroup"}])] == [NS, "Other"]
    assert s.keys(NS, dimensions=[{"Name": "LoadBalancer", "Value": "app/lb/1"}]) == [
        cw.series_key(NS, "RequestCount", LB), cw.series_key(NS, "RequestCount", TG)]


def test_put_metric_data_shapes() -> None:
    s = cw.MetricStore()
    s.put_metric_data("App", [
        {"MetricName": "lat", "Values": [1.0, 2.0], "Counts": [3.0, 1.0], "Unit": "Seconds"},
        {"MetricName": "lat", "Value": 4.0, "Timestamp": datetime.fromtimestamp(T0 + 5, timezone.utc),
         "Unit": "Seconds"},
        {"MetricName": "lat", "StatisticValues": {"Sum": 10, "SampleCount": 2, "Minimum": 5, "Maximum": 5}},
    ], now=T0 + 0.7)
    key = cw.series_key("App", "lat")
    assert cw.compute(s.window(key, T0, T0 + 1), "SampleCount") == 6
    assert cw.compute(s.window(key, T0, T0 + 1, unit="Seconds"), "SampleCount") == 4
    assert cw.compute(s.window(key, T0, T0 + 10), "p100") == 5
    assert s.units(key) == {"Seconds", None}


def test_periods_are_aligned_as_cloudwatch_documents() -> None:
    s = cw.MetricStore()
    key = cw.series_key(NS, "RequestCount", LB)
    for second in range(T0, T0 + 120):
        s.put_value(key, second, 1)
    # period 10, start 05:30:13 → rounded down to 05:30:10; end exclusive
    points = list(s.datapoints(key, T0 + 13, T0 + 23, 10))
    assert [(t - T0, cw.compute(b, "Sum")) for t, b in points] == [(10, 10), (20, 3)]
    # period 60: to the whole minute
    points = list(s.datapoints(key, T0 + 34, T0 + 120, 60))
    assert [(t - T0, cw.compute(b, "Sum")) for t, b in points] == [(0, 60), (60, 60)]
    # period 1 and the periods CloudWatch does not list: whole seconds only
    assert [t - T0 for t, _ in s.datapoints(key, T0 + 3, T0 + 6, 1)] == [3, 4, 5]
    assert [(t - T0, cw.compute(b, "Sum")) for t, b in s.datapoints(key, T0 + 3, T0 + 8, 2)] == [
        (3, 2), (5, 2), (7, 1)]
    assert cw.align_start(T0 + 47, 5) == T0 + 45 and cw.align_start(T0 + 47, 300) == T0


def test_fractional_window_bounds() -> None:
    s = cw.MetricStore()
    key = cw.series_key(NS, "RequestCount", LB)
    for second in (T0, T0 + 1, T0 + 2):
        s.put_value(key, second, 1)
    assert [t - T0 for t, _ in s.datapoints(key, T0 + 0.5, T0 + 2.5, 1)] == [1, 2]


def test_roll_up_and_retention_keep_memory_bounded() -> None:
    s = cw.MetricStore()
    key = cw.series_key(NS, "TargetResponseTime", TG)
    hist = cw.lognormal(0.02, 0.06)
    for second in range(T0, T0 + 600):
        s.put_distribution(key, second, hist, 20, "Seconds")
        s.put_value(cw.series_key(NS, "RequestCount", TG), second, 20, "Count")
    assert s.bucket_count() == 1200
    s.roll_up(T0 + 300)
    assert s.bucket_count() == 2 * 5 + 2 * 300
    rolled = list(s.datapoints(key, T0, T0 + 300, 60))
    assert [t - T0 for t, _ in rolled] == [0, 60, 120, 180, 240]
    assert cw.compute(rolled[0][1], "SampleCount") == 1200
    assert cw.compute(rolled[0][1], "p99") == pytest.approx(0.06)
    assert s.roll_up(T0 + 300) == 0
    s.prune(T0 + 420)
    assert min(s.series[key]) == T0 + 420 and s.bucket_count() == 2 * 180
    s.prune(T0 + 10_000)
    assert s.series == {}


# ---- alarms


def spec(**kw: object) -> cw.AlarmSpec:
    base: dict[str, object] = dict(name="a", namespace=NS, metric_name="HTTPCode_Target_5XX_Count", dimensions=LB,
                                   stat="Sum", period=10, evaluation_periods=1, threshold=50.0,
                                   comparison="GreaterThanThreshold", treat_missing="notBreaching")
    base.update(kw)
    return cw.AlarmSpec(**base)  # type: ignore[arg-type]


def store_with(values: dict[int, float], key: cw.SeriesKey | None = None) -> cw.MetricStore:
    s = cw.MetricStore()
    for second, value in values.items():
        s.put_value(key or cw.series_key(NS, "HTTPCode_Target_5XX_Count", LB), second, value)
    return s


AT = T0 + 60  # 05:31:00, a boundary of every period used here


def test_alarm_from_data_with_cloudwatchs_wording() -> None:
    s = store_with({AT - 10 + i: 12.0 for i in range(10)})
    d = cw.evaluate_alarm(spec(), s, AT, query_time=AT + 0.25)
    assert d is not None and d.state == cw.ALARM
    assert d.reason == ("Threshold Crossed: 1 datapoint [120.0 (27/11/26 05:30:50)] was greater than the "
                        "threshold (50.0).")
    assert d.reason_data == {
        "version": "1.0", "queryDate": "2026-11-27T05:31:00.250+0000", "startDate": "2026-11-27T05:30:50.000+0000",
        "statistic": "Sum", "period": 10, "recentDatapoints": [120.0], "threshold": 50.0,
        "evaluatedDatapoints": [{"timestamp": "2026-11-27T05:30:50.000+0000", "sampleCount": 10.0, "value": 120.0}]}
    json.dumps(d.reason_data)
    ok = cw.evaluate_alarm(spec(), store_with({AT - 5: 3.0}), AT)
    assert ok is not None and ok.state == cw.OK
    assert ok.reason == ("Threshold Crossed: 1 datapoint [3.0 (27/11/26 05:30:50)] was not greater than the "
                         "threshold (50.0).")


@pytest.mark.parametrize("treat, state, reason", [
    ("missing", cw.INSUFFICIENT_DATA, "Insufficient Data: 1 datapoint was unknown."),
    ("notBreaching", cw.OK, "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
                            "was treated as [NonBreaching]."),
    ("breaching", cw.ALARM, "Threshold Crossed: no datapoints were received for 1 period and 1 missing datapoint "
                            "was treated as [Breaching]."),
    ("ignore", None, None),
])
def test_treat_missing_data_when_nothing_arrived(treat: str, state: str | None, reason: str | None) -> None:
    d = cw.evaluate_alarm(spec(treat_missing=treat), cw.MetricStore(), AT)
    if state is None:
        assert d is None
    else:
        assert d is not None and (d.state, d.reason) == (state, reason)


def test_m_out_of_n() -> None:
    alarm = spec(evaluation_periods=3, datapoints_to_alarm=2)
    d = cw.evaluate_alarm(alarm, store_with({AT - 25: 60.0, AT - 15: 10.0, AT - 5: 70.0}), AT)
    assert d is not None and d.state == cw.ALARM
    assert d.reason == ("Threshold Crossed: 2 out of the last 3 datapoints [70.0 (27/11/26 05:30:50), 60.0 "
                        "(27/11/26 05:30:30)] were greater than the threshold (50.0) (minimum 2 datapoints for "
                        "OK -> ALARM transition).")
    d = cw.evaluate_alarm(alarm, store_with({AT - 25: 60.0, AT - 15: 10.0, AT - 5: 1.0}), AT)
    assert d is not None and d.state == cw.OK
    assert d.reason.endswith("were not greater than the threshold (50.0) (minimum 2 datapoints for ALARM -> OK "
                             "transition).")
    three = spec(evaluation_periods=3)
    d = cw.evaluate_alarm(three, store_with({AT - 25: 60.0, AT - 15: 55.0, AT - 5: 70.0}), AT)
    assert d is not None and d.state == cw.ALARM and d.reason.startswith("Threshold Crossed: 3 datapoints [70.0")


@pytest.mark.parametrize("treat, state", [("breaching", cw.ALARM), ("notBreaching", cw.OK), ("missing", cw.OK),
                                          ("ignore", None)])
def test_some_datapoints_missing_are_filled_as_treat_missing_data_says(treat: str, state: str | None) -> None:
    alarm = spec(evaluation_periods=3, treat_missing=treat)
    d = cw.evaluate_alarm(alarm, store_with({AT - 5: 70.0}), AT)
    if state is None:
        assert d is None  # could still go either way: ignore keeps the state
    else:
        assert d is not None and d.state == state
    if treat == "breaching":
        assert d is not None and d.reason.endswith("was greater than the threshold (50.0) and 2 missing datapoints "
                                                   "were treated as [Breaching].")


def test_the_evaluation_range_reaches_back_past_evaluation_periods() -> None:
    """With EvaluationPeriods real datapoints in the range, the most recent decide — even when the
    newest periods had no data (CloudWatch's documented evaluation range)."""
    stale = store_with({AT - 25: 120.0})
    d = cw.evaluate_alarm(spec(), stale, AT)
    assert d is not None and d.state == cw.ALARM
    d = cw.evaluate_alarm(spec(), stale, AT + 10)
    assert d is not None and d.state == cw.OK and "no datapoints were received" in d.reason


def test_comparisons_percentiles_and_low_sample_counts() -> None:
    key = cw.series_key(NS, "TargetResponseTime", TG)
    s = cw.MetricStore()
    for second in range(AT - 60, AT):
        s.put_distribution(key, second, cw.lognormal(0.02, 0.9), 20)
    p99 = spec(metric_name="TargetResponseTime", dimensions=TG, stat="p99", extended=True, period=60,
               threshold=0.5, comparison="GreaterThanOrEqualToThreshold")
    d = cw.evaluate_alarm(p99, s, AT)
    assert d is not None and d.state == cw.ALARM and d.reason_data["extendedStatistic"] == "p99"
    assert "[0.9 (27/11/26 05:30:00)] was greater than or equal to the threshold (0.5)" in d.reason
    lt = cw.evaluate_alarm(spec(metric_name="TargetResponseTime", dimensions=TG, stat="p50", period=60,
                                threshold=0.01, comparison="LessThanThreshold"), s, AT)
    assert lt is not None and lt.state == cw.OK and "was not less than the threshold (0.01)" in lt.reason
    sparse = cw.MetricStore()
    sparse.put_distribution(key, AT - 30, cw.lognormal(0.02, 0.9), 50)  # p99 needs 1000 samples
    assert cw.evaluate_alarm(spec(metric_name="TargetResponseTime", dimensions=TG, stat="p99", period=60,
                                  threshold=0.5, low_sample="ignore"), sparse, AT) is None
    assert cw.evaluate_alarm(spec(metric_name="TargetResponseTime", dimensions=TG, stat="p99", period=60,
                                  threshold=0.5, low_sample="evaluate"), sparse, AT) is not None


def test_alarms_not_modelled_are_not_evaluated() -> None:
    assert cw.evaluate_alarm(spec(comparison="LessThanLowerOrGreaterThanUpperThreshold"), cw.MetricStore(), AT) is None


@pytest.mark.parametrize("value, text", [(50, "50.0"), (0.25, "0.25"), (0, "0.0"), (1e7, "1.0E7"),
                                         (123456789.0, "1.23456789E8"), (0.0001, "1.0E-4"), (-3, "-3.0")])
def test_numbers_are_printed_as_cloudwatch_prints_them(value: float, text: str) -> None:
    assert cw.java_double(value) == text


def test_schedule_evaluates_at_period_boundaries_and_holds_a_set_state() -> None:
    sched = cw.AlarmSchedule()
    assert sched.due("a", 10, T0 + 3.2) is None  # first sight: from the next boundary on
    assert sched.due("a", 10, T0 + 9.9) is None
    assert sched.due("a", 10, T0 + 10.05) == T0 + 10
    assert sched.due("a", 10, T0 + 12) is None
    sched.hold("a", T0 + 17.5, 5.0)  # SetAlarmState at 17.5: the boundary at 20 is too soon
    assert sched.due("a", 10, T0 + 20.1) is None
    assert sched.due("a", 10, T0 + 30.0) == T0 + 30
    assert sched.due("b", 300, T0 + 1) is None
    assert sched.due("b", 300, T0 + 61) == T0 + 60  # alarms of 60 s and more: every minute
    assert cw.evaluation_interval(30) == 30 and cw.evaluation_interval(600) == 60
    sched.reset()
    assert sched.due("a", 10, T0 + 40) is None

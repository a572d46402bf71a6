"""The traffic model on fake time: weight split, deterministic error counts, latency percentiles,
fail-open and ELB errors, what an ALB publishes and when."""

from __future__ import annotations

import pytest

from pipeline_py.local import cloudwatch_sim as cw
from pipeline_py.local.scenario import parse
from pipeline_py.local.traffic_sim import (
    Backend,
    Behaviour,
    Group,
    MetricPoint,
    Route,
    Topology,
    TrafficSim,
    lb_dimension,
    tg_dimension,
)

ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012"
LB = f"{ARN}:loadbalancer/app/web/50dc6c495c0c9188"
BLUE = f"{ARN}:targetgroup/blue/73e2d6bc24d8a067"
GREEN = f"{ARN}:targetgroup/green/1a3c53c45749e266"
T0 = 1_800_000_000.0
LB_DIMS = (("LoadBalancer", "app/web/50dc6c495c0c9188"),)


def dims(tg: str) -> tuple[tuple[str, str], ...]:
    return (("LoadBalancer", lb_dimension(LB)), ("TargetGroup", tg_dimension(tg)))


class Recorder:
    def __init__(self) -> None:
        self.points: list[MetricPoint] = []
        self.store = cw.MetricStore()

    def __call__(self, p: MetricPoint) -> None:
        self.points.append(p)
        key = cw.series_key(p.namespace, p.name, p.dimensions)
        if p.distribution:
            for hist, count in p.distribution:
                self.store.put_distribution(key, p.second, hist, count, p.unit)
        elif p.value is not None:
            self.store.put_value(key, p.second, p.value, p.unit)

    def stat(self, name: str, dimensions: tuple[tuple[str, str], ...], start: float, end: float,
             stat: str = "Sum") -> float | None:
        return cw.compute(self.store.window(cw.series_key("AWS/ApplicationELB", name, dimensions), int(start),
                                            int(end)), stat)

    def per_second(self, name: str, dimensions: tuple[tuple[str, str], ...]) -> dict[int, float]:
        return {p.second: p.value for p in self.points
                if p.name == name and p.dimensions == dimensions and p.value is not None}


def topology(blue: int = 90, green: int = 10, rate: float = 200.0, *, blue_group: Group | None = None,
             green_group: Group | None = None) -> Topology:
    return Topology(
        (Route("listener/80", LB, rate, ((BLUE, blue), (GREEN, green)), "web:80"),),
        {BLUE: blue_group or Group(BLUE, (Backend("b1"), Backend("b2"))),
         GREEN: green_group or Group(GREEN, (Backend("g1", Behaviour(error_rate=0.2)),))})


def run(sim: TrafficSim, topo: Topology, start: float, end: float, step: float = 0.05) -> float:
    t = start
    sim.advance(t, topo)
    while t < end - 1e-9:
        t = min(t + step, end)
        sim.advance(t, topo)
    return t


def test_weights_split_the_rate_exactly_per_second() -> None:
    rec = Recorder()
    sim = TrafficSim(rec)
    run(sim, topology(), T0, T0 + 10)
    blue = rec.per_second("RequestCount", dims(BLUE))
    green = rec.per_second("RequestCount", dims(GREEN))
    assert set(blue) == set(range(int(T0), int(T0) + 10))  # seconds are published once complete
    assert set(blue.values()) == {180} and set(green.values()) == {20}
    assert set(rec.per_second("RequestCount", LB_DIMS).values()) == {200}


def test_error_rates_are_deterministic_counts() -> None:
    rec = Recorder()
    sim = TrafficSim(rec)
    run(sim, topology(), T0, T0 + 10)
    assert set(rec.per_second("HTTPCode_Target_5XX_Count", dims(GREEN)).values()) == {4}
    assert set(rec.per_second("HTTPCode_Target_2XX_Count", dims(GREEN)).values()) == {16}
    assert rec.per_second("HTTPCode_Target_5XX_Count", dims(BLUE)) == {}  # zero counts are not published
    assert rec.stat("HTTPCode_Target_5XX_Count", LB_DIMS, T0, T0 + 10) == 40
    rare = Recorder()
    group = Group(GREEN, (Backend("g1", Behaviour(error_rate=0.015)),))
    run(TrafficSim(rare), topology(green_group=group), T0, T0 + 11)  # 20 req/s × 1.5 % = 0.3 errors/s
    assert rare.stat("HTTPCode_Target_5XX_Count", dims(GREEN), T0, T0 + 10) == 3
    assert rare.stat("RequestCount", dims(GREEN), T0, T0 + 10) == 200


def test_round_robin_over_healthy_targets() -> None:
    rec = Recorder()
    group = Group(GREEN, (Backend("good"), Backend("bad", Behaviour(error_rate=1.0))))
    run(TrafficSim(rec), topology(0, 100, green_group=group), T0, T0 + 5)
    assert set(rec.per_second("HTTPCode_Target_5XX_Count", dims(GREEN)).values()) == {100}
    assert set(rec.per_second("RequestCountPerTarget", dims(GREEN)).values()) == {100}
    assert set(rec.per_second("HealthyHostCount", dims(GREEN)).values()) == {2}


def test_latency_percentiles_are_the_scenarios() -> None:
    rec = Recorder()
    group = Group(GREEN, (Backend("g1", Behaviour.from_scenario(parse("p99-ms=900"))),))
    run(TrafficSim(rec), topology(green_group=group), T0, T0 + 4)
    for second in range(int(T0), int(T0) + 3):
        assert rec.stat("TargetResponseTime", dims(GREEN), second, second + 1, "p99") == pytest.approx(0.9)
        assert rec.stat("TargetResponseTime", dims(GREEN), second, second + 1, "p50") == pytest.approx(0.02)
        assert rec.stat("TargetResponseTime", dims(GREEN), second, second + 1, "SampleCount") == 20
        assert rec.stat("TargetResponseTime", dims(BLUE), second, second + 1, "p99") == pytest.approx(0.06)
    lb_p99 = rec.stat("TargetResponseTime", LB_DIMS, T0, T0 + 3, "p99")
    assert lb_p99 is not None and 0.06 < lb_p99 < 0.9  # the load balancer sees the mixture


def test_weight_changes_take_effect_at_once() -> None:
    rec = Recorder()
    sim = TrafficSim(rec)
    t = run(sim, topology(100, 0), T0, T0 + 2.5)
    run(sim, topology(50, 50), t, T0 + 5)
    green = rec.per_second("RequestCount", dims(GREEN))
    assert green == {int(T0) + 2: 50, int(T0) + 3: 100, int(T0) + 4: 100}
    assert rec.per_second("RequestCount", dims(BLUE))[int(T0) + 2] == 150


def test_weight_zero_gets_no_requests_but_host_counts() -> None:
    rec = Recorder()
    run(TrafficSim(rec), topology(100, 0), T0, T0 + 3)
    assert rec.per_second("RequestCount", dims(GREEN)) == {}
    assert set(rec.per_second("HealthyHostCount", dims(GREEN)).values()) == {1}
    assert set(rec.per_second("UnHealthyHostCount", dims(GREEN)).values()) == {0}


def test_no_target_to_send_to_is_an_elb_503() -> None:
    rec = Recorder()
    run(TrafficSim(rec), topology(green_group=Group(GREEN)), T0, T0 + 3)
    assert set(rec.per_second("HTTPCode_ELB_503_Count", LB_DIMS).values()) == {20}
    assert set(rec.per_second("HTTPCode_ELB_5XX_Count", LB_DIMS).values()) == {20}
    assert rec.per_second("RequestCount", dims(GREEN)) == {}  # no target chosen: not a request
    assert set(rec.per_second("RequestCount", LB_DIMS).values()) == {180}
    assert set(rec.per_second("HealthyHostCount", dims(GREEN)).values()) == {0}


def test_fail_open_to_unhealthy_targets() -> None:
    rec = Recorder()
    answering = Group(GREEN, unhealthy=(Backend("u1", Behaviour()),))
    run(TrafficSim(rec), topology(green_group=answering), T0, T0 + 3)
    assert set(rec.per_second("RequestCount", dims(GREEN)).values()) == {20}
    assert set(rec.per_second("UnHealthyHostCount", dims(GREEN)).values()) == {1}
    rec = Recorder()
    silent = Group(GREEN, unhealthy=(Backend("u1", None),))
    run(TrafficSim(rec), topology(green_group=silent), T0, T0 + 3)
    assert set(rec.per_second("HTTPCode_ELB_502_Count", LB_DIMS).values()) == {20}
    assert set(rec.per_second("RequestCount", dims(GREEN)).values()) == {20}
    assert rec.per_second("TargetResponseTime", dims(GREEN)) == {}


def test_zero_rate_and_zero_weights() -> None:
    rec = Recorder()
    run(TrafficSim(rec), topology(rate=0), T0, T0 + 3)
    assert {p.name for p in rec.points} == {"HealthyHostCount", "UnHealthyHostCount"}
    rec = Recorder()
    run(TrafficSim(rec), topology(0, 0), T0, T0 + 3)
    assert set(rec.per_second("HTTPCode_ELB_503_Count", LB_DIMS).values()) == {200}


def test_publishing_follows_the_clock_it_is_given() -> None:
    rec = Recorder()
    sim = TrafficSim(rec)
    sim.advance(T0 + 0.5, topology())
    sim.advance(T0 + 0.9, topology())
    assert rec.points == []
    sim.advance(T0 + 0.8, topology())  # time going backwards changes nothing
    sim.advance(T0 + 1.2, topology())
    assert rec.per_second("RequestCount", LB_DIMS) == {int(T0): 100}  # half a second of traffic
    sim.advance(T0 + 10_000.5, topology())  # a suspended machine: no invented traffic for the gap
    assert max(rec.per_second("RequestCount", LB_DIMS)) == int(T0)
    sim.advance(T0 + 10_002.0, topology())
    assert rec.per_second("RequestCount", LB_DIMS) == {int(T0): 100, int(T0) + 10_000: 100, int(T0) + 10_001: 200}
    sim.reset()
    assert sim.last is None and sim.carry == {}


def test_points_carry_account_region_units_and_dimensions() -> None:
    rec = Recorder()
    run(TrafficSim(rec), topology(), T0, T0 + 2)
    p = next(p for p in rec.points if p.name == "TargetResponseTime" and p.dimensions == dims(GREEN))
    assert (p.account, p.region, p.namespace, p.unit) == ("123456789012", "us-east-1", "AWS/ApplicationELB",
                                                          "Seconds")
    assert dims(GREEN) == (("LoadBalancer", "app/web/50dc6c495c0c9188"),
                           ("TargetGroup", "targetgroup/green/1a3c53c45749e266"))
    assert {p.unit for p in rec.points if p.name != "TargetResponseTime"} == {"Count"}


def test_behaviour_from_scenario() -> None:
    b = Behaviour.from_scenario(parse("error-rate=0.05,latency-ms=40,p99-ms=300"))
    assert (b.error_rate, b.latency_ms, b.p99_ms) == (0.05, 40.0, 300.0)
    assert cw.compute(_one(b.latency), "p99") == pytest.approx(0.3)
    assert Behaviour.from_scenario(parse("healthy")) == Behaviour()


def _one(hist: cw.Histogram) -> cw.Bucket:
    b = cw.Bucket()
    b.add_distribution(hist, 1)
    return b

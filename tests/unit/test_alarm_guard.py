"""The alarm guard on its own, on FakeAlarms and the fake clock: what a pre-existing alarm does under each
policy, what "went into ALARM" means, the reasons word for word, and how long `settle` waits (issue 21:
each assertion here failed on a mutant that survived the unit tier)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.deploy.alarm_guard import AlarmGuard
from pipeline_py.errors import OperationFailed
from pipeline_py.report import Reporter
from tests.fakes import FakeAlarms


def guard(alarms: FakeAlarms, names: list[str], policy: str = "wait",
          grace: float = 60) -> tuple[AlarmGuard, FakeClock, io.StringIO]:
    out, clock = io.StringIO(), FakeClock()
    return AlarmGuard.start(alarms, names, policy=policy, grace=grace, clock=clock,
                            reporter=Reporter(out, timestamps=False)), clock, out


def test_fail_refuses_to_start_naming_every_firing_alarm_and_its_reason() -> None:
    alarms = FakeAlarms({"a": "ALARM", "b": "ALARM", "c": "OK"})
    alarms.alarms["b"]["reason"] = ""
    with pytest.raises(OperationFailed) as err:
        guard(alarms, ["a", "b", "c"], "fail")
    assert err.value.message == ("refusing to start while alarms are in ALARM (preexisting_alarms: fail): "
                                 "a (a is ALARM); b (no reason)")
    assert err.value.result == {"status": "not_started", "alarms_in_alarm": ["a", "b"]}


@pytest.mark.parametrize(("policy", "then"), [
    ("wait", "they fail the deploy only if still firing 60s after the new revision takes all traffic"),
    ("ignore", "ignored (preexisting_alarms: ignore)"),
])
def test_a_preexisting_alarm_is_reported_with_what_the_policy_will_do(policy: str, then: str) -> None:
    _, _, out = guard(FakeAlarms({"a": "ALARM"}), ["a"], policy)
    assert f"already in ALARM when the deploy started: a (a is ALARM); {then}" in out.getvalue()


def test_every_alarm_that_went_into_alarm_is_named_even_one_created_since() -> None:
    alarms = FakeAlarms({"ok": "OK", "x": "OK"})
    g, _, _ = guard(alarms, ["ok", "x", "new"])
    assert g.check() is None
    alarms.set("x", "ALARM", "5xx")
    alarms.set("new", "ALARM")
    alarms.alarms["new"]["reason"] = ""
    assert g.check() == "alarm went into ALARM during the deploy: x (5xx); new ()"


def test_a_stale_alarm_fails_exactly_when_the_grace_is_over() -> None:
    alarms = FakeAlarms({"a": "ALARM", "b": "ALARM"})
    g, clock, _ = guard(alarms, ["a", "b"], grace=60)
    g.took_all_traffic()
    clock.advance(59.5)
    assert g.check() is None
    clock.advance(0.5)
    assert g.check() == ("alarm still in ALARM 60s after the new revision took all traffic (it was already firing "
                         "when the deploy started): a (a is ALARM); b (b is ALARM)")


def test_without_preexisting_alarms_none_are_asked_for() -> None:
    alarms = FakeAlarms({"a": "OK"})
    g, _, _ = guard(alarms, ["a"])
    asked: list[list[str]] = []
    states = alarms.states

    def spy(names: list[str]) -> dict[str, dict[str, Any]]:
        asked.append(list(names))
        return states(names)

    alarms.states = spy  # type: ignore[method-assign]
    assert g.still_preexisting() == [] and asked == []  # CloudWatch's DescribeAlarms without names lists them all


@pytest.mark.parametrize(("since", "sleeps"), [
    (20.0, [7, 7, 7, 7, 7, 5.001]),  # 40 s of grace left, in polls of 7 s, the last one cut to the grace
    (59.5, [0.501]),  # half a second left
])
def test_settle_waits_out_the_rest_of_the_grace_for_a_preexisting_alarm(since: float, sleeps: list[float]) -> None:
    g, clock, out = guard(FakeAlarms({"a": "ALARM"}), ["a"], grace=60)
    g.took_all_traffic()
    clock.advance(since)
    assert g.settle(7).startswith("alarm still in ALARM 60s after")  # type: ignore[union-attr]
    assert clock.sleeps == pytest.approx(sleeps)
    assert f"waiting up to {60 - since:.0f}s for alarms that fired before the deploy to clear: a" in out.getvalue()

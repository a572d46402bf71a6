"""The decorated validators of the config model at their boundaries (mutmut does not mutate decorated
functions: tests/mutation/hand_mutations.py mutates these by hand, and these tests kill them)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline_py.config import AnalysisConfig, CanaryConfig, NativeConfig


@pytest.mark.parametrize(("steps", "message"), [
    ([10, 10, 100], "steps must be increasing: [10, 10, 100]"),
    ([10, 50], "steps must end at 100: [10, 50]"),
    ([0, 100], "step 0 is not a percentage in 1..100"),
    ([50, 101], "step 101 is not a percentage in 1..100"),
    ([], "needs at least one step"),
])
def test_canary_steps_that_are_refused(steps: list[int], message: str) -> None:
    with pytest.raises(ValidationError) as err:
        CanaryConfig(steps=steps)
    assert message in str(err.value)


@pytest.mark.parametrize("steps", [[100], [1, 100], [1, 2, 99, 100]])
def test_canary_steps_that_are_taken(steps: list[int]) -> None:
    assert CanaryConfig(steps=steps).steps == steps


@pytest.mark.parametrize(("period", "ok"), [(1, True), (5, True), (30, True), (60, True), (120, True),
                                            (2, False), (45, False), (90, False)])
def test_analysis_period_is_one_cloudwatch_takes(period: int, ok: bool) -> None:
    if ok:
        assert AnalysisConfig(period=period).period == period
        return
    with pytest.raises(ValidationError, match=f"1, 5, 10, 20, 30 or a multiple of 60 seconds, not {period}"):
        AnalysisConfig(period=period)


@pytest.mark.parametrize(("percent", "ok"), [(0.1, True), (12.5, True), (100, True), (12.55, False), (3.01, False)])
def test_native_percentages_are_tenths(percent: float, ok: bool) -> None:
    if ok:
        assert NativeConfig(canary_percent=percent).canary_percent == percent
        assert percent < 3 or NativeConfig(linear_step_percent=percent).linear_step_percent == percent
        return
    with pytest.raises(ValidationError, match=r"is not a multiple of 0\.1"):
        NativeConfig(canary_percent=percent)
    with pytest.raises(ValidationError, match=r"is not a multiple of 0\.1"):
        NativeConfig(linear_step_percent=percent)

"""The canary analysis never asks CloudWatch for a window whose start and end fall in the same second.

CloudWatch's time stamps are whole seconds: GetMetricData refuses StartTime == EndTime ("The parameter
StartTime must not equal parameter EndTime.") and so does the local stack (issue 19). The analysis cuts its
windows to whole seconds and skips a look when no whole second has passed since the last window ended."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from pipeline_py.clock import FakeClock
from pipeline_py.config import AnalysisConfig
from pipeline_py.deploy.analysis import Analyzer, Sample
from pipeline_py.report import Reporter


class WholeSecondCloudWatch:
    """Answers like the local stack: a window that is empty once cut to whole seconds is an error."""

    def __init__(self) -> None:
        self.windows: list[tuple[datetime, datetime]] = []

    def sample(self, tgs: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]:
        if int(start.timestamp()) >= int(end.timestamp()):
            raise AssertionError(f"ValidationError: StartTime {start} must not equal EndTime {end}")
        self.windows.append((start, end))
        seconds = (end - start).total_seconds()
        return {"canary": Sample(100 * seconds, 0, 20), "stable": Sample(100 * seconds, 0, 20)}


def test_looks_faster_than_a_second_never_ask_for_an_empty_window() -> None:
    cfg = AnalysisConfig(max_error_rate=0.01, max_p99_ms=500, min_requests=10, interval=0.3)
    cw = WholeSecondCloudWatch()
    clock = FakeClock(datetime(2026, 1, 1, 0, 0, 0, 400000, tzinfo=timezone.utc))
    analyzer = Analyzer(cw, None, cfg, Reporter(io.StringIO(), timestamps=False), clock)  # type: ignore[arg-type]
    step = analyzer.run_step(weight=10, canary_tg="c", stable_tg="s", bake_seconds=5)
    assert step.ok
    assert len(clock.sleeps) > len(cw.windows) >= 4  # looks without a new whole second were skipped
    for start, end in cw.windows:
        assert start.microsecond == 0 and end.microsecond == 0
        assert end - start >= timedelta(seconds=1)
    assert cw.windows[0][0] == datetime(2026, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert all(cw.windows[i][1] == cw.windows[i + 1][0] for i in range(len(cw.windows) - 1))
    assert [s["window"]["canary"]["requests"] for s in step.samples] == [100] * len(cw.windows)

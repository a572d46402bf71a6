"""The deploy report rendered by a real browser (Debian's chromium, headless, no network): the chart's
series and the analysis decisions are actually drawn, not only present in the markup."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipeline_py.config import AnalysisConfig, BlueGreenConfig, CanaryConfig
from pipeline_py.deploy import engine, html_report
from pipeline_py.deploy.request import DeployRequest
from tests.fakes import HOLDER, TOPOLOGY, Behaviour, world
from tests.png import colour_counts, near

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def canary_result(error_rate: float) -> dict[str, Any]:
    w = world()
    old = w.ecs.revision("app")
    new = w.ecs.revision("app", Behaviour(error_rate=error_rate))
    w.ecs.add_service("app-blue", old, desired=2, target_groups=[TOPOLOGY.target_groups["blue"]])
    w.ecs.add_service("app-green", old, desired=0, target_groups=[TOPOLOGY.target_groups["green"]])
    req = DeployRequest(strategy="canary", cluster="c", service="app", task_definition_arn=new, timeout=60,
                        poll_interval=5, blue_green=BlueGreenConfig(),
                        canary=CanaryConfig(steps=[10, 50, 100], bake_seconds=20,
                                            analysis=AnalysisConfig(max_error_rate=0.01, min_requests=10,
                                                                    interval=5, period=1)))
    return engine.deploy(w.ports, req, holder=HOLDER)


def screenshot(html: str, tmp_path: Path) -> Path:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed (scripts/setup.sh installs Debian's chromium)"
    page, png = tmp_path / "report.html", tmp_path / "report.png"
    page.write_text(html, encoding="utf-8")
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1150",
                    f"--screenshot={png}", page.as_uri()], capture_output=True, timeout=120, check=True)
    return png


@pytest.mark.parametrize("error_rate, status", [(0.0, "succeeded"), (0.2, "rolled_back")])
def test_the_report_draws_weights_rates_and_decisions(tmp_path: Path, error_rate: float, status: str) -> None:
    result = canary_result(error_rate)
    assert result["status"] == status
    html = html_report.render(result)
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    counts = colour_counts(screenshot(html, tmp_path))
    blue, green, red = (0x2B, 0x6C, 0xB0), (0x2F, 0x85, 0x5A), (0xC5, 0x30, 0x30)
    assert near(counts, blue) > 400, "the blue colour's series are drawn"
    assert near(counts, green) > 300, "the green colour's series are drawn"
    if status == "rolled_back":
        assert near(counts, red) > 150, "the failed decision and the rollback are marked"
        assert 'class="decision decision-fail"' in html and 'class="event event-rollback"' in html
    else:
        assert html.count('class="decision decision-') == len(result["analysis_samples"])


def test_a_report_is_written_next_to_the_result(tmp_path: Path) -> None:
    result = canary_result(0.0)
    path = html_report.write(result, tmp_path / "reports", "20260101T000000Z")
    assert path.name == "app-blue-app-green-canary-20260101T000000Z.html"
    assert path.read_text().startswith("<!DOCTYPE html>")

"""The human ending of a command: a few lines, never the whole result."""

from __future__ import annotations

import io

from pipeline_py import summary
from pipeline_py.report import Reporter


def test_a_deploy_summary_names_the_revisions_the_steps_and_the_report() -> None:
    result = {"status": "succeeded", "command": "deploy", "strategy": "canary",
              "task_definition_arn": "arn:aws:ecs:us-east-1:1:task-definition/app:7",
              "previous_task_definition_arn": "arn:aws:ecs:us-east-1:1:task-definition/app:6",
              "weights": {"blue": 0, "green": 100},
              "analysis": [{"weight": 10, "result": "pass"}, {"weight": 100, "result": "pass"}],
              "events": [{"message": "x"}] * 50, "report_html": "/tmp/r.html",
              "timings": {"total_seconds": 16.84}, "api_calls": {"total": 56, "by_operation": {"a": 1}}}
    assert summary.lines(result) == [
        "✓ deploy: succeeded",
        "  strategy: canary",
        "  new revision: app:7",
        "  previous revision: app:6",
        "  weights: blue 0%, green 100%",
        "  report: /tmp/r.html",
        "  analysis: 10% pass → 100% pass",
        "  took 16.8s · 56 AWS API calls",
    ]


def test_a_failure_says_why_and_how_to_get_everything() -> None:
    lines = summary.lines({"status": "rolled_back", "command": "deploy", "reason": "canary analysis failed",
                           "exit_code": 1})
    assert lines[0] == "↺ deploy: rolled back — canary analysis failed"
    assert lines[-1] == "  exit code 1 · the full result: --json or --output FILE"


def test_a_dry_run_lists_its_plan() -> None:
    lines = summary.lines({"status": "dry_run", "command": "deploy", "plan": ["a", "b"], "changed": True})
    assert lines == ["· deploy: dry run", "  plan:", "    - a", "    - b", "  changed: yes"]


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_updates_one_line_on_a_terminal() -> None:
    out = _Tty()
    rep = Reporter(out, timestamps=False)
    rep.progress("1/2 running · 1s of 60s", key="1/2")
    rep.progress("1/2 running · 2s of 60s", key="1/2")
    rep.info("done")
    assert out.getvalue() == "\r\x1b[2K1/2 running · 1s of 60s\r\x1b[2K1/2 running · 2s of 60s\ndone\n"


def test_progress_prints_a_line_per_change_of_state_elsewhere() -> None:
    out = io.StringIO()
    rep = Reporter(out, timestamps=False)
    for second in range(5):
        rep.progress(f"1/2 running · {second}s of 60s", key="1/2")
    rep.progress("2/2 running · 5s of 60s", key="2/2")
    assert out.getvalue().splitlines() == ["1/2 running · 0s of 60s", "2/2 running · 5s of 60s"]

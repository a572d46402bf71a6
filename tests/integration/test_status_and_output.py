"""What people read: `status` shows the whole environment (both colours, the weights, a paused rollout
with the commands that continue or abort it, the lock); without --json a command ends with a short
summary, and --output FILE keeps the full result."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.integration.deploy_fixtures import Project, project

__all__ = ["project"]


def test_status_shows_a_paused_canary_with_its_weights_and_the_commands(project: Project) -> None:
    r = run_cli(*project.args("--json", "deploy", "--strategy", "canary", "--image", "task-api:v2", "--pause-at", "25"))
    assert r.code == 0 and r.json["status"] == "paused", r.stderr
    s = run_cli(*project.args("--json", "status"))
    assert s.code == 0, s.stderr
    two = s.json["two_colour"]
    assert two["weights"] == {"blue": 75, "green": 25} and two["live_colour"] is None
    assert two["colours"]["green"]["weight"] == 25 and two["colours"]["green"]["task_definition"].endswith(":2")
    rollout = two["rollout"]
    assert rollout["state"] == "paused" and rollout["new_colour"] == "green" and rollout["at_percent"] == 25
    assert rollout["next_steps"] == ["50", "100"]
    assert rollout["continue"] == "pipeline-py --env local deploy promote"
    assert rollout["abort"] == "pipeline-py --env local deploy abort"
    assert {svc["service"] for svc in s.json["services"]} == {"task-api", "task-api-blue", "task-api-green"}
    assert [lock["held"] for lock in s.json["locks"]] == [False, False]
    assert "is paused at 25%" in s.stderr and "deploy promote" in s.stderr


def test_a_deploy_without_json_ends_with_a_short_summary(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    r = run_cli(*project.args("deploy", "--strategy", "canary", "--image", "task-api:v2", "--output", str(out)))
    assert r.code == 0, r.stderr
    summary = r.stdout.splitlines()
    assert summary[0] == "✓ deploy: succeeded"
    assert any(line.startswith("  new revision: task-api-local:") for line in summary)
    assert any(line.startswith("  analysis: 10% pass → 25% pass → 50% pass → 100% pass") for line in summary)
    assert any(line.startswith("  report: ") and line.endswith(".html") for line in summary)
    assert len(summary) <= 10, r.stdout
    assert "events" not in r.stdout and "by_operation" not in r.stdout
    full = json.loads(out.read_text())
    assert full["status"] == "succeeded" and full["events"] and full["api_calls"]["by_operation"]


def test_a_failed_deploy_summary_says_why_and_the_exit_code(project: Project) -> None:
    r = run_cli(*project.args("deploy", "--strategy", "canary", "--image", "task-api:v2",
                              "--var", "scenario=error-rate=0.3"))
    assert r.code == 1
    first = r.stdout.splitlines()[0]
    assert first.startswith("↺ deploy: rolled back — canary analysis failed at 10%")
    assert "exit code 1" in r.stdout

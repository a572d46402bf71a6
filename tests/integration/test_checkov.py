"""checkov over terraform/, judged against terraform/checkov-baseline.yaml (each accepted finding with its
reason): a finding not in the baseline fails, and so does a baseline entry that no longer fires.

checkov runs once per session (~10 s), over a copy of terraform/ with prod's terraform.tfvars (the
production standard: HTTPS, access logs, Performance Insights, enhanced monitoring). It lives in its own
virtualenv (scripts/setup.sh: $SETUP_STATE/checkov-venv): it pins boto3 exactly, which pipeline-py's
boto3 excludes. $PIPELINE_PY_CHECKOV names another checkov executable.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.terraform_fixtures import copy_terraform

pytestmark = pytest.mark.terraform

BASELINE = REPO / "terraform" / "checkov-baseline.yaml"
VAR_FILE = "environments/prod/terraform.tfvars"
Key = tuple[str, str]


def checkov_executable() -> str:
    candidates = [os.environ.get("PIPELINE_PY_CHECKOV"),
                  str(Path(os.environ.get("SETUP_STATE") or REPO / ".state") / "checkov-venv" / "bin" / "checkov"),
                  shutil.which("checkov")]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise AssertionError("checkov is not installed: run scripts/setup.sh (it installs the `checkov` extra of "
                         "pyproject.toml into $SETUP_STATE/checkov-venv) or set PIPELINE_PY_CHECKOV")


def resource_key(resource: str) -> str:
    """``module.rds[0].aws_db_instance.this`` → ``module.rds.aws_db_instance.this`` (checkov reports one
    instance of a count/for_each resource, not always the same one)."""
    return re.sub(r"\[[^\]]*\]", "", resource)


def compare(failed: list[dict[str, Any]], accepted: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Key]]:
    """(findings the baseline does not accept, baseline entries that no longer fire)."""
    allowed = {(a["check"], a["resource"]) for a in accepted}
    fired = {(f["check_id"], resource_key(f["resource"])) for f in failed}
    new = [f for f in failed if (f["check_id"], resource_key(f["resource"])) not in allowed]
    stale = sorted(allowed - fired)
    return new, stale


def load_baseline() -> dict[str, Any]:
    data = yaml.safe_load(BASELINE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("accepted"), list), f"{BASELINE}: no accepted list"
    return data


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tf = copy_terraform(tmp_path_factory.mktemp("checkov"))
    done = subprocess.run(
        [checkov_executable(), "--directory", ".", "--var-file", VAR_FILE, "--framework", "terraform",
         "--skip-download", "--output", "json"],
        cwd=tf, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), f"checkov exited {done.returncode}:\n{done.stderr[-3000:]}"
    data = json.loads(done.stdout)
    runs = data if isinstance(data, list) else [data]
    [run] = [r for r in runs if r.get("check_type") == "terraform"]
    return dict(run)


def test_checkov_is_the_version_of_the_baseline(report: dict[str, Any]) -> None:
    assert report["summary"]["checkov_version"] == load_baseline()["checkov"], \
        "checkov's version differs from the baseline's: new checks come with new releases; install the pinned " \
        "one (scripts/setup.sh) or review the findings and update terraform/checkov-baseline.yaml"


def test_the_whole_tree_is_scanned(report: dict[str, Any]) -> None:
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 100, summary  # both roots, every module, prod's optional resources
    files = {c["file_path"] for c in report["results"]["passed_checks"] + report["results"]["failed_checks"]}
    for module in ("alb", "rds", "state-backend", "ecs-service", "network", "monitoring", "ecr", "security-groups"):
        assert any(f.startswith(f"/modules/{module}/") for f in files), module


def test_no_finding_outside_the_baseline(report: dict[str, Any]) -> None:
    new, _ = compare(report["results"]["failed_checks"], load_baseline()["accepted"])
    lines = [f"  - check: {f['check_id']}\n    resource: {resource_key(f['resource'])}\n    reason: ...  "
             f"# {f['check_name']} ({f['file_path']}:{f['file_line_range'][0]})" for f in new]
    assert not new, "checkov findings not in terraform/checkov-baseline.yaml (fix them, or accept each with a " \
                    "reason):\n" + "\n".join(lines)


def test_every_baseline_entry_still_fires(report: dict[str, Any]) -> None:
    _, stale = compare(report["results"]["failed_checks"], load_baseline()["accepted"])
    assert not stale, "baseline entries checkov no longer reports (remove them from " \
                      "terraform/checkov-baseline.yaml):\n" + "\n".join(f"  {c} {r}" for c, r in stale)


def test_every_accepted_finding_has_a_reason_and_appears_once() -> None:
    accepted = load_baseline()["accepted"]
    keys = [(a.get("check"), a.get("resource")) for a in accepted]
    assert len(keys) == len(set(keys)), "duplicate baseline entries"
    for a in accepted:
        assert set(a) == {"check", "resource", "reason"}, a
        assert re.fullmatch(r"CKV2?_AWS_\d+", a["check"]), a
        assert a["resource"] == resource_key(a["resource"]), f"{a['resource']}: name it without [keys]"
        assert len(a["reason"].split()) >= 8, f"{a['check']} {a['resource']}: say why it is accepted"


def test_the_production_findings_of_issue_14_pass_now(report: dict[str, Any]) -> None:
    """checkov's findings the issue named: RDS Performance Insights and enhanced monitoring (prod), access
    logging of the state bucket, the ALB behind WAF, now pass — and none of them is merely accepted."""
    passed = {(c["check_id"], resource_key(c["resource"])) for c in report["results"]["passed_checks"]}
    fixed = {("CKV_AWS_353", "module.rds.aws_db_instance.this"), ("CKV_AWS_118", "module.rds.aws_db_instance.this"),
             ("CKV_AWS_18", "module.state_backend.aws_s3_bucket.state"), ("CKV2_AWS_28", "module.alb.aws_lb.this"),
             ("CKV_AWS_91", "module.alb.aws_lb.this"), ("CKV_AWS_2", "module.alb.aws_lb_listener.http_redirect")}
    assert fixed <= passed, sorted(fixed - passed)
    accepted = {(a["check"], a["resource"]) for a in load_baseline()["accepted"]}
    assert not fixed & accepted


def test_the_comparison_reports_new_and_stale_findings() -> None:
    """The gate itself: an unlisted finding is new (whatever its instance key), an entry that stopped firing
    is stale."""
    accepted = [{"check": "CKV_AWS_1", "resource": "module.a.aws_x.this", "reason": "r"},
                {"check": "CKV_AWS_2", "resource": "module.b.aws_y.this", "reason": "r"}]
    failed = [{"check_id": "CKV_AWS_1", "resource": 'module.a.aws_x.this["green"]'},
              {"check_id": "CKV_AWS_3", "resource": "module.c[0].aws_z.this"}]
    new, stale = compare(failed, accepted)
    assert [f["check_id"] for f in new] == ["CKV_AWS_3"]
    assert stale == [("CKV_AWS_2", "module.b.aws_y.this")]

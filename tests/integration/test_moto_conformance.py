"""An outside suite for the local stack: moto's own tests for ECS, ELBv2 and CloudWatch (tests/test_ecs,
tests/test_elbv2, tests/test_cloudwatch of the installed moto's source distribution, which
scripts/setup.sh keeps under $SETUP_STATE/moto-tests/<version>) run in a pytest child process against the
patched backend: ``moto_ext.install()`` applied and the simulation ticking, as LocalServer runs it
(tests/moto_conformance/moto_conformance_plugin.py), with a per-test timeout.

The run must match tests/moto_conformance/baseline.yaml: every failure listed there with its reason, every
listed test still failing, no hang. The numbers are recorded in docs/local-stack.md ("How far to trust a
rehearsal")."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.moto_conformance import verdict

MOTO_SUITES = ("tests/test_ecs", "tests/test_elbv2", "tests/test_cloudwatch")
PER_TEST_TIMEOUT = 30  # seconds; the slowest test takes about 4 s on an idle machine
SUITE_TIMEOUT = 900  # the whole child process, should pytest-timeout itself fail


def moto_tests_dir() -> Path:
    version = importlib.metadata.version("moto")
    state = Path(os.environ.get("SETUP_STATE") or REPO / ".state")
    path = state / "moto-tests" / version
    assert (path / ".complete").is_file(), (
        f"moto {version}'s own tests are not in {path}: scripts/setup.sh downloads them (make setup)")
    return path


def child_environment(report: Path) -> dict[str, str]:
    """No AWS settings of the caller (an endpoint URL would send moto's mocked calls elsewhere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "TEST_SERVER_MODE"))}
    env["PYTHONPATH"] = str(REPO / "tests" / "moto_conformance")
    env["MOTO_CONFORMANCE_REPORT"] = str(report)
    return env


@pytest.fixture(scope="module")
def conformance_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("moto-conformance")
    report, log = out / "report.json", out / "pytest.log"
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "moto_conformance_plugin",
           "-o", "addopts=", "-q", "--color=no", "-W", "ignore", f"--timeout={PER_TEST_TIMEOUT}", *MOTO_SUITES]
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, cwd=moto_tests_dir(), env=child_environment(report), stdout=fh,
                              stderr=subprocess.STDOUT, timeout=SUITE_TIMEOUT, check=False)
    tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
    assert report.is_file(), f"the suite wrote no report (exit {proc.returncode}); its output ends:\n{tail}"
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    data["log_tail"] = tail
    return data


@pytest.mark.slow
def test_moto_suite_matches_the_baseline(conformance_run: dict[str, Any]) -> None:
    baseline = verdict.load_baseline()
    problems = verdict.judge(conformance_run, baseline)
    numbers = verdict.summary(conformance_run, baseline)
    print("moto conformance:", json.dumps(numbers, sort_keys=True))
    assert not problems, "\n".join([*problems, f"numbers: {numbers}", "output ends:", conformance_run["log_tail"]])
    assert numbers["tests"] == conformance_run["collected"] > 500
    assert numbers["unexplained"] == 0 and numbers["hangs"] == 0

"""The Groovy tests of vars/ and the Jenkinsfile, on Groovy 2.4 (the version Jenkins core runs).

All of them run in one JVM (startup is the slow part); each Groovy test method is reported as one
pytest case. The harness and the tests live in tests/groovy/ (see tests/groovy/run.groovy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

GROOVY_DIR = REPO / "tests" / "groovy"
_TEST_METHOD = re.compile(r"^\s*void\s+(test\w+)\s*\(\s*\)", re.M)

pytestmark = pytest.mark.groovy


def _declared() -> list[str]:
    ids = []
    for f in sorted((GROOVY_DIR / "cases").glob("*Test.groovy")):
        ids += [f"{f.stem}.{m}" for m in _TEST_METHOD.findall(f.read_text(encoding="utf-8"))]
    return ids


@pytest.fixture(scope="session")
def groovy_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    groovy = shutil.which("groovy")
    assert groovy, "groovy is not on PATH (scripts/setup.sh installs Debian's groovy package)"
    work = tmp_path_factory.mktemp("groovy")
    out = work / "results.jsonl"
    # a `pipeline-py` for EndToEndTest that runs this checkout with this interpreter
    bin_dir = work / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "pipeline-py"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m pipeline_py "$@"\n')
    wrapper.chmod(0o755)
    contract = work / "contract.json"
    proc = subprocess.run(
        [groovy, "-cp", str(GROOVY_DIR / "src"), str(GROOVY_DIR / "run.groovy"), str(REPO), str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
        env={**os.environ, "PIPELINE_PY_CONTRACT_OUT": str(contract), "PIPELINE_PY_E2E_BIN_DIR": str(bin_dir)},
    )
    results = {}
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            results[r["id"]] = r
    return {"results": results, "stdout": proc.stdout, "stderr": proc.stderr, "code": proc.returncode,
            "contract": json.loads(contract.read_text()) if contract.exists() else None}


@pytest.mark.parametrize("test_id", _declared())
def test_groovy(groovy_results: dict[str, Any], test_id: str) -> None:
    r = groovy_results["results"].get(test_id)
    assert r is not None, (f"{test_id} did not run\nstdout:\n{groovy_results['stdout'][-3000:]}\n"
                           f"stderr:\n{groovy_results['stderr'][-3000:]}")
    assert r["status"] == "pass", r["message"]


def test_groovy_run_is_complete(groovy_results: dict[str, Any]) -> None:
    """No compile error, no test the scan above missed, and the runner's own verdict agrees."""
    results = groovy_results["results"]
    assert results, groovy_results["stderr"][-3000:]
    compile_errors = {k: v["message"] for k, v in results.items() if k.endswith("<compile>")}
    assert not compile_errors
    assert set(results) == set(_declared())
    failed = [k for k, v in results.items() if v["status"] != "pass"]
    assert (groovy_results["code"] == 0) == (not failed), groovy_results["stdout"][-3000:]


def test_the_params_the_steps_hand_over_are_accepted_by_the_cli(groovy_results: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    """Each (command, params) a step wrote is parsed by pipeline-py's own parser. Commands that are
    not registered yet are listed, not parsed; the jenkins ones always are."""
    from pipeline_py.cli import build_parser, parse

    pairs = groovy_results["contract"]
    assert pairs, "ContractTest wrote no params"
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    checked, pending = [], []
    for i, pair in enumerate(pairs):
        words = pair["command"].split()
        parser = top.choices.get(words[0])
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None) if parser else None
        if parser is None or (len(words) > 1 and (sub is None or words[1] not in sub.choices)):
            pending.append(pair["command"])
            continue
        f = tmp_path / f"params-{i}.json"
        f.write_text(json.dumps(pair["params"]))
        ns = parse([*words, "--params-file", str(f)])
        assert ns.env == pair["params"].get("env"), pair
        checked.append(pair["command"])
    assert {"jenkins preflight", "jenkins sync", "jenkins validate", "jenkins build"} <= set(checked)
    print(f"parsed: {sorted(set(checked))}; not registered yet: {sorted(set(pending))}")


def test_library_version_matches_the_python_package() -> None:
    from pipeline_py import __version__

    version = (REPO / "resources" / "pipeline-py" / "VERSION").read_text(encoding="utf-8").strip()
    assert version == __version__


def test_no_step_interpolates_into_a_shell_line() -> None:
    """The only sh calls in vars/ run constant scripts (RUN_SCRIPT, INSTALL_SCRIPT); nothing else calls sh."""
    offenders = []
    for f in sorted((REPO / "vars").glob("*.groovy")):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            code = re.sub(r"'[^']*'|\"[^\"]*\"", "", line.split("//")[0])
            calls_sh = re.search(r"\bsh\b\s*(\(|$)", code)
            if calls_sh and not re.search(r"\bsh\(script: (RUN_SCRIPT|INSTALL_SCRIPT),", line):
                offenders.append(f"{f.name}:{n}: {line.strip()}")
    assert offenders == []


def test_every_step_has_a_help_page() -> None:
    steps = {p.stem for p in (REPO / "vars").glob("*.groovy")}
    assert {"pipelinePy", "buildImage", "pushImage", "renderTaskDefinition", "terraformPlan", "terraformApply",
            "ecsDeploy", "ecsRollback", "ecsRunTask", "ecsPipeline"} <= steps
    assert steps == {p.stem for p in (REPO / "vars").glob("*.txt")}


def test_jenkinsfile_uses_the_library_by_its_configured_name() -> None:
    text = (REPO / "Jenkinsfile").read_text(encoding="utf-8")
    assert re.search(r"^@Library\('pipeline-py@v1'\) _$", text, re.M)
    assert "ecsPipeline(" in text

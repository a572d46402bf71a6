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
_SUPERCLASS = re.compile(r"^(?:abstract\s+)?class\s+\w+\s+extends\s+(\w+)", re.M)

pytestmark = pytest.mark.groovy


def _test_methods(text: str) -> list[str]:
    """A class's test methods: its own and those it inherits from a support class in tests/groovy/src."""
    base = _SUPERCLASS.search(text)
    support = GROOVY_DIR / "src" / f"{base.group(1)}.groovy" if base else None
    inherited = _test_methods(support.read_text(encoding="utf-8")) if support and support.exists() else []
    return inherited + _TEST_METHOD.findall(text)


def _declared() -> list[str]:
    ids = []
    for f in sorted((GROOVY_DIR / "cases").glob("*Test.groovy")):
        ids += [f"{f.stem}.{m}" for m in _test_methods(f.read_text(encoding="utf-8"))]
    return ids


def _java_home() -> str | None:
    """JAVA_HOME for Debian's groovy launcher, which otherwise assumes /usr/lib/jvm/default-java
    (absent on machines with only a versioned JDK): the JDK of the `java` on PATH."""
    current = os.environ.get("JAVA_HOME")
    if current and Path(current, "bin", "java").exists():
        return current
    if Path("/usr/lib/jvm/default-java/bin/java").exists():
        return None
    java = shutil.which("java")
    if not java:
        return None
    real = Path(java).resolve()
    return str(real.parent.parent) if real.name == "java" and real.parent.name == "bin" else None


# C1 only and the serial collector: the run is one short-lived JVM (~4 s faster on 2 cores).
_JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xss4m"


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
    env = {**os.environ, "PIPELINE_PY_CONTRACT_OUT": str(contract), "PIPELINE_PY_E2E_BIN_DIR": str(bin_dir),
           "PIPELINE_PY_SANDBOX_REPORT": str(work / "sandbox-report.json"),
           "JAVA_OPTS": f"{_JAVA_OPTS} {os.environ.get('JAVA_OPTS', '')}".strip()}
    env.pop("PIPELINE_PY_SANDBOX_DISCOVER", None)
    java_home = _java_home()
    if java_home:
        env["JAVA_HOME"] = java_home
    proc = subprocess.run(
        [groovy, "-cp", str(GROOVY_DIR / "src"), str(GROOVY_DIR / "run.groovy"), str(REPO), str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO, env=env,
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


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every command of the CLI by its words ("deploy", "deploy promote", ...)."""
    from pipeline_py.cli import build_parser

    out: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if words:
            out[" ".join(words)] = parser
        if sub:
            for name, child in sub.choices.items():
                walk(child, [*words, name])

    walk(build_parser(), [])
    return out


def test_every_command_the_steps_hand_over_is_registered_and_accepts_their_params(
        groovy_results: dict[str, Any], tmp_path: Path) -> None:
    """Each (command, params) a step wrote is parsed by pipeline-py's own parser; a command the
    CLI does not register (yet) is a failure, not a pending note."""
    from pipeline_py.cli import parse

    triples = groovy_results["contract"]
    assert triples, "ContractTest wrote no params"
    commands = _commands()
    unregistered = sorted({t["command"] for t in triples if t["command"] not in commands})
    assert unregistered == [], f"steps hand over commands the CLI does not register: {unregistered}"
    for i, t in enumerate(triples):
        f = tmp_path / f"params-{i}.json"
        f.write_text(json.dumps(t["params"]))
        ns = parse([*t["command"].split(), "--params-file", str(f)])
        assert ns.env == t["params"].get("env"), t


# The command(s) each step exists to run: every option of these must be a step parameter or hidden.
STEP_COMMANDS = {
    "buildImage": ["build"],
    "pushImage": ["push"],
    "renderTaskDefinition": ["render"],
    "terraformPlan": ["terraform init", "terraform plan"],
    "terraformApply": ["terraform init", "terraform apply"],
    "ecsDeploy": ["deploy", "deploy promote", "deploy abort"],
    "ecsRollback": ["rollback"],
    "ecsRunTask": ["run-task"],
    "scanImage": ["scan"],
    "ecsDiagnose": ["diagnose"],
    "dbSnapshot": ["db snapshot"],
    "ecsPipeline": ["jenkins preflight", "config"],
}
# Global options: the common step parameters (env, config, dryRun, set), or set by pipelinePy itself.
GLOBAL_OPTIONS = {"help", "version", "config", "env", "dry_run", "set", "json", "params_file"}
HIDDEN_FILE = GROOVY_DIR / "hidden-cli-options.txt"


def _hidden() -> dict[tuple[str, str, str], str]:
    """(command or '*', option, step or '*') -> reason, from tests/groovy/hidden-cli-options.txt."""
    out = {}
    for n, line in enumerate(HIDDEN_FILE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split(" | ")]
        m = re.fullmatch(r"(\*|[a-z-]+(?: [a-z-]+)?) --([a-z0-9-]+)", parts[0])
        assert m and len(parts) == 3 and parts[2], \
            f"{HIDDEN_FILE.name}:{n}: expected '<command> --<option> | <step> | <reason>'"
        out[(m.group(1), m.group(2), parts[1])] = parts[2]
    return out


def _names(action: argparse.Action) -> set[str]:
    """The params-file keys that reach an option: its dest and its long names (- or _)."""
    names = {action.dest}
    for opt in action.option_strings:
        if opt.startswith("--") and not opt.startswith("--no-"):
            names.add(opt[2:].replace("-", "_"))
    return names


def test_every_cli_option_of_a_steps_command_is_exposed_or_deliberately_hidden(groovy_results: dict[str, Any]) -> None:
    """The reverse contract: when pipeline-py gains an option, the step that runs the command either
    gets a parameter for it (and ContractTest passes it) or hidden-cli-options.txt says why not."""
    triples = groovy_results["contract"]
    commands = _commands()
    hidden = _hidden()
    problems, used_hidden = [], set()
    for step, step_commands in STEP_COMMANDS.items():
        for command in step_commands:
            parser = commands.get(command)
            assert parser is not None, f"{step} runs '{command}', which the CLI does not register"
            runs = [t for t in triples if t["step"] == step and t["command"] == command]
            given = {k.replace("-", "_") for t in runs for k in t["params"]}
            assert runs, f"ContractTest never ran '{command}' through {step}"
            for action in parser._actions:
                if not action.option_strings or _names(action) & GLOBAL_OPTIONS:
                    continue
                option = max((o for o in action.option_strings if o.startswith("--")), key=len)[2:]
                if _names(action) & given:
                    continue
                candidates = [(command, option, step), ("*", option, step), ("*", option, "*")]
                key = next((k for k in candidates if k in hidden), None)
                if key:
                    used_hidden.add(key)
                    continue
                problems.append(f"pipeline-py {command} --{option}: not a parameter of {step} and not listed in "
                                f"tests/groovy/{HIDDEN_FILE.name}; add a {step} parameter for it (and pass it in "
                                f"ContractTest), or add the line "
                                f"'{command} --{option} | {step} | <why it stays hidden>'")
    stale = [f"{c} --{o} | {s}" for (c, o, s) in hidden if (c, o, s) not in used_hidden]
    assert problems == [], "\n".join(problems)
    assert stale == [], f"{HIDDEN_FILE.name} lists options that are now exposed or gone: {stale}"


def test_library_version_matches_the_python_package() -> None:
    from pipeline_py import __version__

    version = (REPO / "resources" / "pipeline-py" / "VERSION").read_text(encoding="utf-8").strip()
    assert version == __version__


def test_no_step_interpolates_into_a_shell_line() -> None:
    """The only sh calls in vars/ and src/ run constant scripts (RUN_SCRIPT, WAIT_SCRIPT, INSTALL_SCRIPT,
    PHYSICAL_PWD_SCRIPT)."""
    offenders = []
    for f in sorted([*(REPO / "vars").glob("*.groovy"), *(REPO / "src").rglob("*.groovy")]):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            code = re.sub(r"'[^']*'|\"[^\"]*\"", "", line.split("//")[0])
            calls_sh = re.search(r"\bsh\b\s*(\(|$)", code)
            if calls_sh and not re.search(r"\bsh\(script: (RUN_SCRIPT|WAIT_SCRIPT|INSTALL_SCRIPT|PHYSICAL_PWD_SCRIPT),",
                                          line):
                offenders.append(f"{f.name}:{n}: {line.strip()}")
    assert offenders == []


def test_every_step_has_a_help_page() -> None:
    steps = {p.stem for p in (REPO / "vars").glob("*.groovy")}
    assert {"pipelinePy", "buildImage", "pushImage", "renderTaskDefinition", "terraformPlan", "terraformApply",
            "ecsDeploy", "ecsRollback", "ecsRunTask", "ecsPipeline", "scanImage", "ecsDiagnose", "dbSnapshot"} <= steps
    assert steps == {p.stem for p in (REPO / "vars").glob("*.txt")}


def test_jenkinsfile_uses_the_library_by_its_configured_name() -> None:
    text = (REPO / "Jenkinsfile").read_text(encoding="utf-8")
    assert re.search(r"^@Library\('pipeline-py@v1'\) _$", text, re.M)
    assert "ecsPipeline(" in text

"""The README's laptop section, executed command by command exactly as written, on a fresh local stack
(its own state directory; the sample copied to a scratch directory so the checkout stays clean). The
README can then never rot: a command that changed shape, an option that went away, a step that needs
a step the README forgot — each fails here.

How the block is run: ``pip install …`` is the installation this test runs under (checked, not run);
``eval "$(X)"`` runs X and exports the ``export K=V`` lines it prints; ``cd D`` changes directory; every
other line runs as written (``pipeline-py`` is this checkout's) and must exit 0.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import EXAMPLE, REPO


def laptop_block() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Using it from a laptop", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the README's laptop section has no ```sh block"
    lines = []
    for raw in block.group(1).splitlines():
        command = re.split(r"\s{2,}#", raw, maxsplit=1)[0].strip()
        if command:
            lines.append(command)
    return lines


def test_the_block_is_the_whole_flow() -> None:
    lines = laptop_block()
    assert lines[0].startswith("pip install") and lines[1] == 'eval "$(pipeline-py local up)"'
    assert lines[-1] == "pipeline-py local down"
    assert any("local infra" in line for line in lines) and any("--pause-at 25" in line for line in lines)


@pytest.fixture
def laptop(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "work"
    shutil.copytree(EXAMPLE, work / "examples" / "task-api", ignore=shutil.ignore_patterns(".pipeline-py", "bin"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "pipeline-py"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m pipeline_py "$@"\n')
    exe.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIPELINE_PY_"))}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", PIPELINE_PY_STATE_DIR=str(tmp_path / "state"),
               AWS_CONFIG_FILE=str(tmp_path / "aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "creds"))
    return work, env


def test_the_readme_laptop_flow_runs_as_written(laptop: tuple[Path, dict[str, str]]) -> None:
    cwd, env = laptop
    ran: list[str] = []
    try:
        for line in laptop_block():
            if line.startswith("pip install"):
                assert shutil.which("pipeline-py", path=env["PATH"]), "pipeline-py is not installed"
                continue
            if line.startswith("cd "):
                cwd = cwd / line[3:].strip()
                assert cwd.is_dir(), line
                continue
            m = re.fullmatch(r'eval "\$\((.*)\)"', line)
            argv = shlex.split(m.group(1) if m else line)
            done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
            ran.append(line)
            assert done.returncode == 0, (f"$ {line}\nexit {done.returncode}\n{done.stdout[-3000:]}\n"
                                          f"{done.stderr[-5000:]}")
            if m:
                for export in re.findall(r"^export (\w+)=(.*)$", done.stdout, re.M):
                    env[export[0]] = shlex.split(export[1])[0]
                assert env.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1:")
            if "--pause-at 25" in line or "deploy promote" in line:
                status = subprocess.run(["pipeline-py", "status", "--env", "local", "--json"], cwd=cwd, env=env,
                                        capture_output=True, text=True, timeout=120)
                weights = json.loads(status.stdout)["two_colour"]["weights"]
                assert weights == ({"blue": 75, "green": 25} if "pause" in line else {"blue": 0, "green": 100})
            if "local down" not in line:
                continue
            with pytest.raises(requests.RequestException):
                requests.get(env["AWS_ENDPOINT_URL"] + "/_pipeline_py/status", timeout=2)
        assert ran[-1] == "pipeline-py local down"
    finally:
        subprocess.run(["pipeline-py", "local", "down"], cwd=cwd, env=env, capture_output=True, timeout=120)

"""The package alone, as a user installs it: a wheel built from this checkout, installed into a clean
virtualenv without any extra. The CLI works for what needs no local stack, and the local stack says
which extra it needs instead of failing with a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, REPO


@pytest.fixture(scope="module")
def bare_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work / "dist"), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    wheels = list((work / "dist").glob("pipeline_py-*.whl"))
    assert len(wheels) == 1, wheels
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True, timeout=120)
    pip = subprocess.run([str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", str(wheels[0])],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return work / "venv" / "bin" / "pipeline-py"


def run(exe: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *argv], capture_output=True, text=True, cwd=EXAMPLE, timeout=120)


def test_the_wheel_carries_no_extra(bare_install: Path) -> None:
    python = bare_install.parent / "python"
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('moto') is None)"],
                           capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "True"


def test_version_config_and_render_work_without_extras(bare_install: Path) -> None:
    from pipeline_py import __version__

    assert run(bare_install, "--version").stdout.strip() == f"pipeline-py {__version__}"
    cfg = run(bare_install, "config", "--env", "local", "--json")
    assert cfg.returncode == 0, cfg.stderr
    rendered = run(bare_install, "render", "--env", "local", "--image", "task-api:v1", "--json")
    assert rendered.returncode == 0, rendered.stderr
    assert '"family": "task-api-local"' in rendered.stdout


def test_the_local_stack_names_the_extra_it_needs(bare_install: Path) -> None:
    r = run(bare_install, "local", "up")
    assert r.returncode == 2
    assert "pip install 'pipeline-py[local]'" in r.stderr
    assert "Traceback" not in r.stderr

"""resources/pipeline-py/install.sh, run for real with bash: how the Jenkins library puts
pipeline-py on an agent.

The package is installed from a copy of this repository (a local path source, as an agent
building this repository does) and from a wheel built from it. ``PIPELINE_PY_PIP_ARGS=--no-deps``
keeps the tests off the network and fast: what is under test is the script (virtualenv per
version and source, version pin, cache, retries, messages), not pip's resolver; the installed
version is checked from the package metadata, which needs no dependency.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "resources" / "pipeline-py" / "install.sh"
VERSION = (REPO / "resources" / "pipeline-py" / "VERSION").read_text().strip()

pytestmark = pytest.mark.slow


def install(env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_PY_")}
    return subprocess.run(["bash", str(SCRIPT)], env={**base, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parts of this repository pip needs to build pipeline-py."""
    root = tmp_path_factory.mktemp("workspace")
    src = root / "pipeline-py-src"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copytree(REPO / "pipeline_py", src / "pipeline_py", ignore=shutil.ignore_patterns("__pycache__"))
    readme = REPO / "README.md"
    (src / "README.md").write_text(readme.read_text() if readme.exists() else "pipeline-py\n")
    return src


@pytest.fixture(scope="module")
def wheel(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(checkout)],
                   check=True, timeout=300, capture_output=True)
    (whl,) = dist.glob("pipeline_py-*.whl")
    return whl


def test_the_wheel_ships_what_jenkins_sync_needs(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pipeline_py/templates/jenkins-folder.xml.j2", "pipeline_py/templates/jenkins-multibranch.xml.j2",
            "pipeline_py/commands/jenkins.py", "pipeline_py/jenkins/sync.py"} <= names


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PIPELINE_PY_VERSION": VERSION,
        "PIPELINE_PY_CACHE_DIR": str(tmp_path / "cache"),
        "PIPELINE_PY_PYTHON": sys.executable,
        "PIPELINE_PY_PIP_ARGS": "--no-deps",
        "PIPELINE_PY_RETRY_DELAY": "0",
        **extra,
    }


def installed_version(bin_path: Path) -> str:
    out = subprocess.run([str(bin_path.parent / "python"), "-c",
                          "import importlib.metadata as m; print(m.version('pipeline-py'))"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_installs_a_checkout_relative_to_the_workspace_pinned_to_the_library_version(
        checkout: Path, tmp_path: Path) -> None:
    r = install(base_env(tmp_path, PIPELINE_PY_SOURCE=checkout.name, WORKSPACE=str(checkout.parent)), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, "stdout must carry only the executable's path"
    bin_path = Path(lines[0])
    assert bin_path.name == "pipeline-py" and os.access(bin_path, os.X_OK)
    assert bin_path.parent.parent.parent == tmp_path / "cache"
    assert bin_path.parent.parent.name.startswith(f"{VERSION}-")
    assert installed_version(bin_path) == VERSION
    assert f"installed pipeline-py {VERSION}" in r.stderr


def test_a_wheel_is_installed_once_then_reused(wheel: Path, tmp_path: Path) -> None:
    env = base_env(tmp_path, PIPELINE_PY_SOURCE=wheel.as_uri())
    first = install(env)
    assert first.returncode == 0, first.stderr
    assert "attempt 1 of 3" in first.stderr
    venv = Path(first.stdout.splitlines()[0]).parent.parent

    def files() -> dict[Path, int]:
        return {f: f.stat().st_mtime_ns for f in venv.rglob("*") if f.is_file() and "__pycache__" not in f.parts}

    before = files()
    second = install(env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    assert "cached:" in second.stderr and "installing" not in second.stderr and "attempt" not in second.stderr
    assert len(before) > 100 and files() == before  # a cache hit writes nothing into the virtualenv
    # another source at the same version gets its own virtualenv
    other = install(base_env(tmp_path, PIPELINE_PY_SOURCE=str(wheel)))
    assert other.returncode == 0, other.stderr
    assert other.stdout != first.stdout


def test_a_package_of_another_version_is_refused(wheel: Path, tmp_path: Path) -> None:
    r = install(base_env(tmp_path, PIPELINE_PY_SOURCE=str(wheel), PIPELINE_PY_VERSION="9.9.9"))
    assert r.returncode == 1
    assert r.stdout == ""
    assert f"installed pipeline-py is version '{VERSION}' but this library needs 9.9.9" in r.stderr


def test_a_failing_install_is_retried_then_reported(tmp_path: Path) -> None:
    missing = (tmp_path / "nowhere" / f"pipeline_py-{VERSION}-py3-none-any.whl").as_uri()
    r = install(base_env(tmp_path, PIPELINE_PY_SOURCE=missing, PIPELINE_PY_RETRIES="3"))
    assert r.returncode == 1
    assert [f"attempt {n} of 3" in r.stderr for n in (1, 2, 3)] == [True, True, True]
    assert f"could not install {missing} after 3 attempts" in r.stderr


def test_path_uses_a_preinstalled_pipeline_py_of_the_right_version(tmp_path: Path) -> None:
    stub_dir = tmp_path / "bin"
    stub_dir.mkdir()
    stub = stub_dir / "pipeline-py"
    stub.write_text(f"#!/bin/sh\necho 'pipeline-py {VERSION}'\n")
    stub.chmod(0o755)
    path = f"{stub_dir}:{os.environ['PATH']}"
    r = install(base_env(tmp_path, PIPELINE_PY_SOURCE="path", PATH=path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(stub)
    stub.write_text("#!/bin/sh\necho 'pipeline-py 0.9.0'\n")
    r = install(base_env(tmp_path, PIPELINE_PY_SOURCE="path", PATH=path))
    assert r.returncode == 1
    assert f"is version '0.9.0'; this library needs {VERSION}" in r.stderr


@pytest.mark.parametrize(("env", "message"), [
    ({"PIPELINE_PY_VERSION": ""}, "PIPELINE_PY_VERSION is not set"),
    ({"PIPELINE_PY_VERSION": "1.0; rm -rf /"}, "is not a version"),
    ({"PIPELINE_PY_SOURCE": "no/such/dir"}, "is neither pypi, path, a URL nor an existing file or directory"),
    ({"PIPELINE_PY_RETRIES": "many"}, "PIPELINE_PY_RETRIES must be a positive integer"),
    ({"PIPELINE_PY_SOURCE": "path", "PATH": "/usr/bin:/bin"}, "PIPELINE_PY_SOURCE=path but no pipeline-py on PATH"),
])
def test_bad_input_is_named(tmp_path: Path, env: dict[str, str], message: str) -> None:
    r = install({**base_env(tmp_path), "WORKSPACE": str(tmp_path), **env})
    assert r.returncode == 1
    assert message in r.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").glob("*/bin"))


def test_credentials_in_a_source_url_are_neither_logged_nor_stamped(wheel: Path, tmp_path: Path) -> None:
    """A private wheel URL may carry a token (https://user:token@host/...): install.sh strips the
    userinfo before it logs or stamps the source; pip gets the URL as given."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(wheel.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        secret = "s3cr3t-t0ken"
        url = f"http://ci-user:{secret}@127.0.0.1:{port}/{wheel.name}"
        r = install(base_env(tmp_path, PIPELINE_PY_SOURCE=url,
                             PIPELINE_PY_INDEX_URL=f"https://ci-user:{secret}@pypi.example.invalid/simple"))
        assert r.returncode == 0, r.stderr
        assert f"installing http://127.0.0.1:{port}/{wheel.name} into" in r.stderr
        assert secret not in r.stderr + r.stdout
        stamps = list((tmp_path / "cache").glob("*/.pipeline-py-source"))
        assert len(stamps) == 1
        assert secret not in stamps[0].read_text()
        assert f"http://127.0.0.1:{port}/{wheel.name} https://pypi.example.invalid/simple" in stamps[0].read_text()
        # a failing install names the source without its credentials too
        missing = f"http://ci-user:{secret}@127.0.0.1:{port}/missing-{wheel.name}"
        r = install(base_env(tmp_path, PIPELINE_PY_SOURCE=missing, PIPELINE_PY_RETRIES="1"))
        assert r.returncode == 1
        assert f"could not install http://127.0.0.1:{port}/missing-{wheel.name} after 1 attempts" in r.stderr
        assert secret not in r.stderr
    finally:
        server.shutdown()


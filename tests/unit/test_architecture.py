"""The package's layers, checked from the source: the engine never reaches into the command line or
the local stack; the CLI parses arguments without importing heavy libraries."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from tests.conftest import REPO

PKG = REPO / "pipeline_py"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-local imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def modules_under(sub: str) -> list[Path]:
    return sorted((PKG / sub).rglob("*.py"))


def offenders(files: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for f in files:
        for imp in sorted(imports_of(f)):
            if any(imp == bad or imp.startswith(bad + ".") for bad in forbidden):
                out.append(f"{f.relative_to(REPO)} imports {imp}")
    return out


def test_the_engine_knows_nothing_of_the_command_line() -> None:
    files = modules_under("deploy")
    assert len(files) > 10
    assert offenders(files, ("argparse", "pipeline_py.context", "pipeline_py.commands", "pipeline_py.cli")) == []


def test_the_runbooks_know_nothing_of_the_command_line_nor_the_local_stack() -> None:
    """pipeline_py/ops (diagnose, logs, db, cost, state lock) is an engine like deploy/: commands call it."""
    files = modules_under("ops")
    assert len(files) >= 7
    assert offenders(files, ("argparse", "pipeline_py.context", "pipeline_py.commands", "pipeline_py.cli",
                             "pipeline_py.local")) == []


def test_the_engine_and_the_commands_do_not_reach_into_the_local_stack() -> None:
    """Local and AWS differ by environment, never by code path: only `local` and `demo` may use it."""
    allowed = {PKG / "commands" / "local.py", PKG / "commands" / "demo.py"}
    product = [f for f in PKG.rglob("*.py") if "local" not in f.relative_to(PKG).parts[:1] and f not in allowed]
    assert offenders(product, ("pipeline_py.local",)) == []


def test_the_local_stack_imports_no_command() -> None:
    assert offenders(modules_under("local"), ("pipeline_py.commands", "pipeline_py.cli", "pipeline_py.context")) == []


def test_terraform_and_images_take_settings_not_the_context() -> None:
    files = modules_under("terraform") + modules_under("images")
    assert offenders(files, ("pipeline_py.context", "pipeline_py.commands", "argparse")) == []


HEAVY = ("boto3", "botocore", "pydantic", "yaml", "jinja2", "docker", "moto", "requests", "jenkins", "werkzeug")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["deploy", "--help"], ["local", "up", "--help"]])
def test_parsing_arguments_imports_no_heavy_library(argv: list[str]) -> None:
    """Jenkins runs the CLI many times a build and people type it: argument parsing loads only the
    standard library (the commands import what they use when they run)."""
    code = (
        "import sys\n"
        "from pipeline_py.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_one_list_of_strategies() -> None:
    from pipeline_py.config import Settings
    from pipeline_py.deploy import STRATEGY_NAMES
    from pipeline_py.deploy.engine import STRATEGIES

    literal = typing.get_args(Settings.model_fields["strategy"].annotation)
    assert tuple(STRATEGIES) == STRATEGY_NAMES == literal

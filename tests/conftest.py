"""Shared fixtures: the local stack in-process (a real moto server with our extensions on a free
loopback port), AWS environment pointing at it, and helpers to run the CLI."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "task-api"

logging.getLogger("werkzeug").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_http(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """A loopback HTTP server with ``handler`` on a free port (yielded) for the block's duration."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Poll a condition with a bounded timeout (never a fixed sleep); returns its truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        threading.Event().wait(interval)


@pytest.fixture(scope="session")
def local_server() -> Iterator[Any]:
    """One in-process local stack for the session; tests isolate by reset (see ``aws``)."""
    from pipeline_py.local.server import LocalServer

    server = LocalServer("127.0.0.1", free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def aws(local_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """AWS environment pointed at the local stack, with a clean moto state for every test."""
    from pipeline_py.local.stack import aws_environment

    requests.post(local_server.url + "/moto-api/reset", timeout=10)
    for k, v in aws_environment(local_server.url).items():
        monkeypatch.setenv(k, v)
    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    yield local_server


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def run_cli(*argv: str, cwd: Path | None = None) -> CliResult:
    """Run the CLI in-process (fast; shares the environment and the in-process local stack)."""
    from pipeline_py.cli import main

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            code = main(list(argv))
    finally:
        os.chdir(old)
    return CliResult(code, out.getvalue(), err.getvalue())


def run_cli_process(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                    timeout: float = 300) -> CliResult:
    """Run ``python -m pipeline_py`` as a child process (signals, real stdout separation)."""
    p = subprocess.run([sys.executable, "-m", "pipeline_py", *argv], cwd=cwd, env={**os.environ, **(env or {})},
                       capture_output=True, text=True, timeout=timeout)
    return CliResult(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def cli() -> Any:
    return run_cli

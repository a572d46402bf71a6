"""``local up|down|status``: start the local stack in the background, record what was started
(process ids in a state file), stop exactly that, and report what runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from pipeline_py.errors import OperationFailed
from pipeline_py.local import registry
from pipeline_py.local.defaults import DEFAULT_PORT, DEFAULT_REGION, DEFAULT_REGISTRY_PORT
from pipeline_py.report import Reporter

__all__ = ["DEFAULT_PORT", "DEFAULT_REGION", "DEFAULT_REGISTRY_PORT", "Stack", "aws_environment", "state_dir"]


def state_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("PIPELINE_PY_STATE_DIR") or os.path.join(
        env.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "pipeline-py"
    )
    return Path(base) / "local"


def aws_environment(url: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """What a shell needs so boto3, terraform and pipeline-py talk to the local stack."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child still "exists"; treat it as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return requests.get(url + "/_pipeline_py/status", timeout=timeout).ok
    except requests.RequestException:
        return False


def wait_until(predicate: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@dataclass
class Stack:
    directory: Path
    reporter: Reporter

    @property
    def state_file(self) -> Path:
        return self.directory / "stack.json"

    def read(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def write(self, state: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    def environment(self, state: dict[str, Any]) -> dict[str, str]:
        env = aws_environment(state["moto"]["url"], state.get("region", DEFAULT_REGION))
        if state.get("registry"):
            env.update(registry.environment(state["registry"]))
        return env

    def status(self, environ: dict[str, str] | None = None) -> dict[str, Any]:
        """What runs, from the state file; without one, a stack found by its endpoint
        (``$AWS_ENDPOINT_URL``, else the default port) — started from another state directory."""
        state = self.read()
        out: dict[str, Any] = {"state_file": str(self.state_file), "components": {}}
        if not state:
            env = os.environ if environ is None else environ
            url = env.get("AWS_ENDPOINT_URL") or f"http://127.0.0.1:{DEFAULT_PORT}"
            if url.startswith(("http://127.", "http://localhost")) and answers(url):
                out["components"]["moto"] = {"pid": None, "url": url, "running": True, "found_by": "endpoint"}
                out["running"] = True
                out["environment"] = aws_environment(url)
                return out
        moto = state.get("moto")
        if moto:
            out["components"]["moto"] = {
                "pid": moto["pid"],
                "url": moto["url"],
                "running": pid_alive(moto["pid"]) and answers(moto["url"]),
            }
        reg = state.get("registry")
        if reg:
            out["components"]["registry"] = {**reg, "running": pid_alive(reg.get("pid"))}
        out["running"] = bool(out["components"]) and all(c["running"] for c in out["components"].values())
        if moto and out["running"]:
            out["environment"] = self.environment(state)
        return out

    def up(self, *, port: int, registry_port: int, with_registry: bool | None, timing: str | None) -> dict[str, Any]:
        current = self.status()
        if current.get("running"):
            self.reporter.info(f"local stack already running ({current['components']['moto']['url']})")
            return {**current, "started": []}
        if current["components"]:
            self.down()
        self.directory.mkdir(parents=True, exist_ok=True)
        url = f"http://127.0.0.1:{port}"
        if answers(url):
            raise OperationFailed(f"something else already answers on {url}; choose --port")
        cmd = [sys.executable, "-m", "pipeline_py.local.server", "--port", str(port)]
        if timing:
            cmd += ["--timing", timing]
        log = open(self.directory / "moto.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        state: dict[str, Any] = {"moto": {"pid": proc.pid, "url": url, "log": str(self.directory / "moto.log")},
                                 "region": DEFAULT_REGION}
        self.write(state)
        if not wait_until(lambda: answers(url) or proc.poll() is not None, timeout=60):
            raise OperationFailed(f"the moto server did not answer on {url} within 60 s; see {state['moto']['log']}")
        if proc.poll() is not None:
            tail = (self.directory / "moto.log").read_text(errors="replace")[-2000:]
            raise OperationFailed(f"the moto server exited with {proc.returncode}:\n{tail}")
        self.reporter.info(f"moto server with fidelity extensions: {url} (pid {proc.pid})")
        started = ["moto"]
        ok, why = registry.available()
        if with_registry is None:
            with_registry = ok
            if not ok:
                self.reporter.info(f"no registry: {why}")
        elif with_registry and not ok:
            raise OperationFailed(f"cannot start the registry: {why}")
        if with_registry:
            state["registry"] = registry.start(self.directory, registry_port, url)
            self.write(state)
            started.append("registry")
            reg = state["registry"]
            self.reporter.info(f"registry for ECR pushes: {reg.get('url')} (pid {reg['pid']})")
        return {**self.status(), "started": started}

    def down(self) -> dict[str, Any]:
        state = self.read()
        stopped = []
        for name in ("registry", "moto"):
            comp = state.get(name)
            if comp and pid_alive(comp.get("pid")):
                _terminate(comp["pid"])
                stopped.append(name)
                self.reporter.info(f"stopped {name} (pid {comp['pid']})")
        try:
            self.state_file.unlink()
        except FileNotFoundError:
            pass
        if not stopped:
            self.reporter.info("nothing was running")
        return {"stopped": stopped}


def _terminate(pid: int, timeout: float = 10.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not wait_until(lambda: not pid_alive(pid), timeout):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def shell_exports(env: dict[str, str]) -> str:
    import shlex

    return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())

"""``local up|down|status``: start the local stack in the background, record what was started
(process ids in a state file), stop exactly that, and report what runs.

With the Docker runtime (the default when an engine answers and HAProxy is installed) the server
process also runs the tasks' containers and the HAProxy serving the ALB listeners; ``down`` stops
it, then removes whatever of this stack is still left (containers carrying its stack id, the
HAProxy recorded in its run directory) and the background ``local traffic`` runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from pipeline_py.errors import OperationFailed
from pipeline_py.local import registry
from pipeline_py.local.defaults import DEFAULT_PORT, DEFAULT_REGION, DEFAULT_REGISTRY_PORT
from pipeline_py.local.procs import pid_alive
from pipeline_py.report import Reporter

__all__ = ["DEFAULT_PORT", "DEFAULT_REGION", "DEFAULT_REGISTRY_PORT", "Stack", "aws_environment", "state_dir"]

# The timing of the Docker runtime when `local up` is given none: real containers start in about a
# second and answer real health checks, so AWS seconds last 50 ms (a 10 s health-check interval is
# 0.5 s, a 30 s deregistration delay 1.5 s) instead of the simulator's 4 ms.
DOCKER_TIMING: dict[str, Any] = {"scale": 0.05}


def choose_runtime(requested: str | None) -> tuple[str, str]:
    """``(runtime, why)``: docker when asked for or, by default, when an engine answers and HAProxy
    is installed; simulated otherwise."""
    from pipeline_py.local import haproxy
    from pipeline_py.local.docker_runtime import engine_answers

    if requested == "simulated":
        return "simulated", "asked for"
    ok, why = engine_answers()
    if ok:
        ok, why = haproxy.available()
    if requested == "docker" and not ok:
        raise OperationFailed(f"cannot use the docker runtime: {why}")
    return ("docker", "a Docker engine answers") if ok else ("simulated", why)


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
                runtime = _runtime_of(url) or {}
                out["runtime"] = runtime.get("runtime")
                out["listeners"] = [{k: li[k] for k in ("load_balancer", "port", "url")}
                                    for li in runtime.get("listeners") or []]
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
        live = (_runtime_of(moto["url"]) if moto and out["components"]["moto"]["running"] else None) or {}
        out["runtime"] = live.get("runtime") or (state.get("runtime") or {}).get("kind")
        out["listeners"] = [{k: li[k] for k in ("load_balancer", "port", "url")} for li in live.get("listeners") or []]
        traffic = [t for t in state.get("traffic") or [] if pid_alive(t.get("pid"))]
        if traffic:
            out["traffic"] = traffic
        return out

    def up(self, *, port: int, registry_port: int, with_registry: bool | None, timing: str | None,
           runtime: str | None = None) -> dict[str, Any]:
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
        kind, why = choose_runtime(runtime)
        stack_id = uuid.uuid4().hex[:10]
        cmd = [sys.executable, "-m", "pipeline_py.local.server", "--port", str(port), "--runtime", kind,
               "--stack-id", stack_id]
        if timing or kind == "docker":
            cmd += ["--timing", timing or json.dumps(DOCKER_TIMING)]
        log = open(self.directory / "moto.log", "ab")  # noqa: SIM115 - handed to the child
        rds_dir = _rds_dir(self.directory)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env={**os.environ, "PIPELINE_PY_RDS_DIR": str(rds_dir)})
        state: dict[str, Any] = {"moto": {"pid": proc.pid, "url": url, "log": str(self.directory / "moto.log")},
                                 "region": DEFAULT_REGION, "runtime": {"kind": kind, "stack_id": stack_id},
                                 "rds": {"dir": str(rds_dir)}}
        self.write(state)
        if not wait_until(lambda: answers(url) or proc.poll() is not None, timeout=60):
            raise OperationFailed(f"the moto server did not answer on {url} within 60 s; see {state['moto']['log']}")
        if proc.poll() is not None:
            tail = (self.directory / "moto.log").read_text(errors="replace")[-2000:]
            raise OperationFailed(f"the moto server exited with {proc.returncode}:\n{tail}")
        self.reporter.info(f"moto server with fidelity extensions: {url} (pid {proc.pid})")
        self.reporter.info(f"runtime: {kind} ({why})" + (": tasks are real containers behind HAProxy"
                                                          if kind == "docker" else ": tasks are simulated"))
        started = ["moto"]
        if kind == "docker":
            state["runtime"]["rundir"] = (_runtime_of(url) or {}).get("rundir")
            self.write(state)
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
            if kind == "docker":
                _post_runtime(url, {"registry": {"host": reg["host"]}})
                self.reporter.info("containers pull ECR images from that registry")
        return {**self.status(), "started": started}

    def add_traffic(self, entry: dict[str, Any]) -> None:
        """Record a background ``local traffic`` run so that ``down`` stops it."""
        state = self.read()
        state["traffic"] = [t for t in state.get("traffic") or [] if pid_alive(t.get("pid"))] + [entry]
        self.write(state)

    def down(self) -> dict[str, Any]:
        state = self.read()
        stopped = []
        traffic = [t for t in state.get("traffic") or [] if pid_alive(t.get("pid"))]
        for t in traffic:
            _terminate(t["pid"], timeout=5)
        if traffic:
            stopped.append("traffic")
            self.reporter.info(f"stopped {len(traffic)} local traffic run(s)")
        for name in ("registry", "moto"):
            comp = state.get(name)
            if comp and pid_alive(comp.get("pid")):
                _terminate(comp["pid"], timeout=60 if name == "moto" else 10)
                stopped.append(name)
                self.reporter.info(f"stopped {name} (pid {comp['pid']})")
        out: dict[str, Any] = {"stopped": stopped}
        rds = (state.get("rds") or {}).get("dir")
        if rds:  # the server stops its PostgreSQL clusters on the way out; these are what a crash left
            from pipeline_py.local.postgres import stop_all_under

            left = stop_all_under(Path(rds))
            if left:
                self.reporter.info(f"stopped {len(left)} PostgreSQL cluster(s) left under {rds}")
            shutil.rmtree(rds, ignore_errors=True)
        runtime = state.get("runtime") or {}
        if runtime.get("kind") == "docker":
            out["containers_removed"] = _remove_leftovers(runtime, self.reporter)
        try:
            self.state_file.unlink()
        except FileNotFoundError:
            pass
        if not stopped:
            self.reporter.info("nothing was running")
        return out


def _rds_dir(directory: Path) -> Path:
    """Where the local RDS keeps its clusters: the stack's state directory, or (as root, since PostgreSQL
    then runs as an unprivileged user who cannot reach a root home) a fresh directory in /tmp."""
    if os.geteuid() == 0:
        return Path(tempfile.mkdtemp(prefix="pipeline-py-rds-"))
    path = directory / "rds"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _runtime_of(url: str) -> dict[str, Any] | None:
    try:
        resp = requests.get(url + "/_pipeline_py/runtime", timeout=5)
        return resp.json() if resp.ok else None
    except (requests.RequestException, ValueError):
        return None


def _post_runtime(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    resp = requests.post(url + "/_pipeline_py/runtime", json=payload, timeout=120)
    if not resp.ok:
        raise OperationFailed(f"the local stack refused the runtime settings: {resp.text[:500]}")
    return dict(resp.json())


def _remove_leftovers(runtime: dict[str, Any], reporter: Reporter) -> int:
    """What the server should have removed on its way out, should it have died: this stack's
    containers (by their stack label) and its HAProxy (by the pid in its run directory)."""
    from pipeline_py.local import haproxy
    from pipeline_py.local.docker_runtime import remove_stack_containers

    if runtime.get("rundir"):
        if haproxy.stop_recorded(Path(runtime["rundir"])):
            reporter.info("stopped the stack's HAProxy")
        shutil.rmtree(runtime["rundir"], ignore_errors=True)
    removed = 0
    if runtime.get("stack_id"):
        try:
            import docker

            removed = remove_stack_containers(docker.from_env(timeout=30), runtime["stack_id"])
        except Exception as exc:  # no engine any more: nothing of ours can be running in it either
            reporter.warn(f"could not look for containers of stack {runtime['stack_id']}: {exc}")
    if removed:
        reporter.info(f"removed {removed} leftover container(s) of stack {runtime['stack_id']}")
    return removed


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

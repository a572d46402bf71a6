"""Shared bits of the benchmarks: the local stack (in-process, or ``$AWS_ENDPOINT_URL``), the
peers' virtualenv, child processes with time-stamped output lines, server-side API call counts,
the sample project's config, and markdown tables.

Every tool runs as a child process against the same endpoint with the same environment, and every
instant is a wall-clock UTC time on this machine: the harness stamps each output line and the
process exit with ``time.time()``, the simulator stamps events, deployments and tasks from the
same clock (it maps ``time.monotonic()`` onto the wall clock once at start-up).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "task-api"
if str(REPO) not in sys.path:  # run as `python benchmarks/x.py` without pipeline-py installed
    sys.path.insert(0, str(REPO))

CLUSTER = "task-api-local"
SERVICE = "task-api"
REGION = "us-east-1"
STEADY_EVENT = f"(service {SERVICE}) has reached a steady state."
# botocore honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) from 1.31.0 on.
MIN_BOTOCORE = (1, 31, 0)
# The simulator's timing during measured runs (set-up runs at the stack's own, faster model). With the
# default model (scale 0.004, a task starts in 0.2 s) a whole rolling deploy, crash and circuit-breaker
# rollback included, fits inside one 1 s poll interval, so every tool's numbers would be set by the phase
# of its polling, not by what it does. This one keeps AWS's ratios (scale: 1 AWS second = 20 ms) and gives
# a Fargate task ~2.5 s from launch to RUNNING: a healthy rollout takes a few poll intervals.
BENCH_TIMING: dict[str, Any] = {"scale": 0.02, "provisioning": 0.5, "pending": 1.5, "activating": 0.5,
                                "stopping": 0.3, "deprovisioning": 0.3, "crash_delay": 0.5}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the peers' virtualenv


def state_dir() -> Path:
    return Path(os.environ.get("PIPELINE_PY_STATE_DIR") or REPO / ".state")


def bench_requirements() -> list[str]:
    """The ``bench`` extra of pyproject.toml: the peers at the versions these numbers were taken with."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        m = re.search(r"^bench\s*=\s*\[(.*?)\]", text, re.M | re.S)
        return re.findall(r'"([^"]+)"', m.group(1)) if m else []
    return list(tomllib.loads(text)["project"]["optional-dependencies"]["bench"])


@dataclass(frozen=True)
class Peers:
    bin: Path
    versions: dict[str, str]

    @property
    def ecs(self) -> str:
        return str(self.bin / "ecs")

    @property
    def aws(self) -> str:
        return str(self.bin / "aws")


def ensure_peers(venv: Path | None = None) -> Peers:
    """Create ``.state/bench-venv`` with ecs-deploy and awscli on first use (never in the project's
    own environment: awscli pins botocore exactly and would fight pipeline-py's boto3)."""
    venv = venv or state_dir() / "bench-venv"
    py = venv / "bin" / "python"
    reqs = bench_requirements()
    if not reqs:
        raise SystemExit("pyproject.toml has no `bench` extra")
    stamp = venv / ".bench-requirements"
    if not py.exists():
        log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if not stamp.exists() or stamp.read_text() != json.dumps(reqs):
        log(f"installing {' '.join(reqs)} into {venv}")
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", *reqs], check=True)
        stamp.write_text(json.dumps(reqs))
    probe = ("import json, importlib.metadata as m; "
             "print(json.dumps({n: m.version(n) for n in ('ecs-deploy', 'awscli', 'boto3', 'botocore')}))")
    versions = json.loads(subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True).stdout)
    have = tuple(int(x) for x in re.findall(r"\d+", versions["botocore"])[:3])
    if have < MIN_BOTOCORE:
        raise SystemExit(f"{venv}: botocore {versions['botocore']} ignores AWS_ENDPOINT_URL (needs >= 1.31); "
                         "the peers would not talk to the local stack")
    return Peers(venv / "bin", versions)


# ---------------------------------------------------------------- the local stack


class StampedCounter(Counter):
    """The in-process server's request counter, also remembering when each request arrived and what
    it was (``(time, "service.Operation")``), so a run's calls can be split by phase."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.log: list[tuple[float, str]] = []
        super().__init__(*args, **kwargs)
        self.log.clear()

    def __setitem__(self, key: str, value: int) -> None:
        if value > self.get(key, 0):
            self.log.append((time.time(), key))
        super().__setitem__(key, value)

    def clear(self) -> None:
        super().clear()
        self.log.clear()


class Stack:
    """The endpoint every tool talks to, its request counter, and the environment for children.

    Without ``$AWS_ENDPOINT_URL`` an in-process ``LocalServer`` on a free port is started and reset
    (``/moto-api/reset``) before every run, so each run starts from the same state. With it, that
    stack is used as it is: never reset, and its request counter also counts anybody else's calls.
    """

    def __init__(self, timing: dict[str, Any] | None = None) -> None:
        self.timing = dict(BENCH_TIMING if timing is None else timing)
        self.server: Any = None
        self.url = ""
        self.external = False
        self.tmp = Path(tempfile.mkdtemp(prefix="pipeline-py-bench-"))
        self.env: dict[str, str] = {}
        self.counter: StampedCounter | None = None

    def __enter__(self) -> Stack:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        given = os.environ.get("AWS_ENDPOINT_URL")
        if given:
            self.external, self.url = True, given.rstrip("/")
        else:
            from pipeline_py.local.server import LocalServer

            self.server = LocalServer("127.0.0.1", 0).start()
            self.url = self.server.url
            middleware = getattr(getattr(self.server, "_server", None), "app", None)
            if isinstance(getattr(middleware, "requests", None), Counter):
                self.counter = middleware.requests = StampedCounter(middleware.requests)
        from pipeline_py.local.stack import aws_environment

        aws = {**aws_environment(self.url, REGION),
               "AWS_CONFIG_FILE": str(self.tmp / "aws-config"),
               "AWS_SHARED_CREDENTIALS_FILE": str(self.tmp / "aws-credentials")}
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "PIPELINE_PY_CONFIG", "PIPELINE_PY_ENV"):
            os.environ.pop(k, None)
        os.environ.update(aws)  # the harness's own boto3 calls and in-process CLI runs
        self.env = {**os.environ, **aws, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        return self

    def __exit__(self, *exc: object) -> None:
        if self.server is not None:
            self.server.stop()
        else:
            with contextlib.suppress(requests.RequestException):
                self.setup_timing()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def reset(self) -> None:
        if not self.external:
            requests.post(self.url + "/moto-api/reset", timeout=30).raise_for_status()

    def setup_timing(self) -> None:
        """Back to the stack's configured (fast) model, for set-up steps."""
        requests.delete(self.url + "/_pipeline_py/timing", timeout=10).raise_for_status()

    def measured_timing(self, phase_offset: float = 0.0) -> dict[str, Any]:
        """The benchmark's model (knobs not given: defaults), for the measured run. ``phase_offset``
        lengthens the task launch (``pending``) so that successive runs put the rollout's milestones at
        different points of the tools' polling cycle (which starts at the update)."""
        model = dict(self.timing)
        if phase_offset:
            model["pending"] = float(model.get("pending", 0.1)) + phase_offset
        r = requests.put(self.url + "/_pipeline_py/timing", json=model, timeout=10)
        r.raise_for_status()
        return r.json()["timing"]

    def reset_requests(self) -> None:
        requests.delete(self.url + "/_pipeline_py/requests", timeout=10).raise_for_status()

    def requests(self) -> dict[str, Any]:
        return requests.get(self.url + "/_pipeline_py/requests", timeout=10).json()

    def request_log(self) -> list[tuple[float, str]] | None:
        """Every AWS request since the last reset, in arrival order (in-process stack only)."""
        return list(self.counter.log) if self.counter is not None else None

    def run_pipeline_py(self, argv: list[str], timeout: float
                        ) -> tuple[ToolRun, dict[str, Any], list[tuple[float, str]] | None, dict[str, Any]]:
        """Run pipeline-py (``argv``, with --json) against this stack, counting the AWS requests it makes:
        the run, the counts, the request log and its JSON result ({} when it printed none)."""
        self.reset_requests()
        run = run_tool(argv, env={**self.env, "PYTHONPATH": str(REPO)}, timeout=timeout)
        calls = self.requests()
        log = self.request_log()
        try:
            result = json.loads(run.stdout)
        except json.JSONDecodeError:
            result = {}
        return run, calls, log, result



def ecs() -> Any:
    import boto3

    return boto3.client("ecs")


def service() -> dict[str, Any]:
    return ecs().describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]


def steady(name: str = SERVICE) -> bool:
    s = ecs().describe_services(cluster=CLUSTER, services=[name])["services"][0]
    return (len(s["deployments"]) == 1 and s["runningCount"] == s["desiredCount"]
            and s["deployments"][0].get("rolloutState") in (None, "COMPLETED"))


def primary_td(name: str = SERVICE) -> str:
    s = ecs().describe_services(cluster=CLUSTER, services=[name])["services"][0]
    return next(d["taskDefinition"] for d in s["deployments"] if d["status"] == "PRIMARY")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def ts(value: Any) -> float | None:
    """An AWS timestamp (datetime) as epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


# ---------------------------------------------------------------- the sample project


BENCH_ENV: dict[str, Any] = {
    "cluster": CLUSTER,
    "ecs_service": SERVICE,
    "desired_count": 2,
    "strategy": "rolling",
    "poll_interval": 1,
    "timeout": 60,
    "rollback_timeout": 60,
    "bake_seconds": 0,
    "max_failed_tasks": 3,
    "alarms": [],
}


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class Project:
    """The sample's pipeline.yaml and template in a temporary directory, `local` tuned for the bench."""

    dir: Path
    config: Path = field(init=False)
    settings: dict[str, Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.config = self.dir / "pipeline.yaml"
        (self.dir / "deploy").mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLE / "deploy" / "taskdef.json.j2", self.dir / "deploy" / "taskdef.json.j2")

    def write(self, **overrides: Any) -> Path:
        data = yaml.safe_load((EXAMPLE / "pipeline.yaml").read_text(encoding="utf-8"))
        env = _merge(_merge(data["environments"]["local"], BENCH_ENV), overrides)
        data["environments"] = {"local": env}
        self.settings = env
        self.config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return self.config

    def args(self, *argv: str) -> list[str]:
        return ["--config", str(self.config), "--env", "local", *argv]

    def pipeline_py(self, *argv: str) -> list[str]:
        """The child-process command line of pipeline-py (as Jenkins runs it)."""
        return [sys.executable, "-m", "pipeline_py", *self.args(*argv)]


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def run_cli(*argv: str) -> CliResult:
    """pipeline-py in-process: for set-up steps that are not measured."""
    from pipeline_py.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return CliResult(code, out.getvalue(), err.getvalue())


# ---------------------------------------------------------------- child processes


@dataclass
class Line:
    at: float
    stream: str
    text: str


@dataclass
class ToolRun:
    argv: list[str]
    started: float
    ended: float
    code: int | None
    lines: list[Line]
    killed_after: float | None = None

    @property
    def stdout(self) -> str:
        return "\n".join(ln.text for ln in self.lines if ln.stream == "stdout")

    @property
    def stderr(self) -> str:
        return "\n".join(ln.text for ln in self.lines if ln.stream == "stderr")

    def first(self, pattern: str | re.Pattern[str], after: float = 0.0) -> Line | None:
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        return next((ln for ln in self.lines if ln.at >= after and rx.search(ln.text)), None)

    def output(self) -> str:
        return "\n".join(f"{ln.at:.3f} {ln.stream[3]} {ln.text}" for ln in self.lines)


def run_tool(argv: Sequence[str], *, env: dict[str, str], timeout: float, cwd: Path = REPO) -> ToolRun:
    """Run one tool; stamp every output line on arrival and the exit when ``waitpid`` returns.

    After ``timeout`` seconds the child's own process group (it gets a new session) is sent SIGTERM,
    then SIGKILL: that ends the tool and whatever it started, and nothing else."""
    lines: list[Line] = []
    lock = threading.Lock()
    started = time.time()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, bufsize=1, start_new_session=True)
    ended: list[float] = []

    def pump(stream: Any, name: str) -> None:
        for raw in stream:
            now = time.time()
            with lock:
                lines.append(Line(now, name, raw.rstrip("\n")))

    def reap() -> None:
        proc.wait()
        ended.append(time.time())

    threads = [threading.Thread(target=pump, args=(proc.stdout, "stdout"), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, "stderr"), daemon=True),
               threading.Thread(target=reap, daemon=True)]
    for t in threads:
        t.start()

    def stop() -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            threads[2].join(10.0)
            if not threads[2].is_alive():
                return

    try:
        threads[2].join(timeout)
    except BaseException:  # Ctrl-C: the child has its own session and would not get the signal
        stop()
        raise
    killed_after = None
    if threads[2].is_alive():
        killed_after = time.time() - started
        stop()
    for t in threads[:2]:
        t.join(5)
    with lock:
        ordered = sorted(lines, key=lambda ln: ln.at)
    return ToolRun(list(argv), started, ended[0] if ended else time.time(), proc.returncode, ordered, killed_after)


# ---------------------------------------------------------------- numbers and tables


def stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    got = [v for v in values if v is not None]
    if not got:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(got), "min": min(got), "max": max(got), "n": len(got)}


def fmt_stats(values: Sequence[float | None], digits: int = 2, unit: str = "") -> str:
    s = stats(values)
    if s["median"] is None:
        return "–"
    med, lo, hi = (f"{s[k]:.{digits}f}" for k in ("median", "min", "max"))
    text = f"{med}{unit}"
    if len(values) > 1 and lo != hi:
        text += f" ({lo}–{hi})"
    if s["n"] != len(values):
        text += f" [{s['n']}/{len(values)} runs]"
    return text


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers], *[[("–" if c is None else str(c)) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"

    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line(r) for r in cells[1:])])


def alb_datapoints(lb_arn: str, tg_arn: str, start: float, end: float) -> list[tuple[float, float, float]]:
    """(second, requests, 5XX) of a target group behind a load balancer, per second, from CloudWatch."""
    import boto3

    dims = [{"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/", 1)[1]},
            {"Name": "TargetGroup", "Value": tg_arn.split(":", 5)[-1]}]
    queries = [{"Id": qid, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": name, "Dimensions": dims},
        "Period": 1, "Stat": "Sum"}} for qid, name in (("r", "RequestCount"), ("e", "HTTPCode_Target_5XX_Count"))]
    resp = boto3.client("cloudwatch").get_metric_data(
        MetricDataQueries=queries, StartTime=datetime.fromtimestamp(int(start) - 1, tz=timezone.utc),
        EndTime=datetime.fromtimestamp(int(end) + 2, tz=timezone.utc), ScanBy="TimestampAscending")
    series: dict[str, dict[float, float]] = {}
    for r in resp["MetricDataResults"]:
        series[r["Id"]] = {ts(t) or 0.0: v for t, v in zip(r["Timestamps"], r["Values"], strict=True)}
    seconds = sorted(set(series.get("r", {})) | set(series.get("e", {})))
    return [(t, series.get("r", {}).get(t, 0.0), series.get("e", {}).get(t, 0.0)) for t in seconds]


def repeat(runs: int, label: str, measure: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """``runs`` measurements, numbered; an outcome other than the expected one (``ok``) is logged with its output."""
    out = []
    for i in range(runs):
        log(f"{label}: run {i + 1}/{runs}")
        r = measure()
        r["run"] = i + 1
        out.append(r)
        if not r.get("ok"):
            log(f"  unexpected outcome: {r.get('status')} {r.get('reason')}\n{r.get('output', '')}")
    return out


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
        log(f"raw numbers written to {path}")


def run_and_report(args: argparse.Namespace, run: Callable[[argparse.Namespace], dict[str, Any]],
                   render: Callable[[dict[str, Any]], str]) -> int:
    """A benchmark's ending: measure, print the table, write the raw numbers where ``--json`` says."""
    data = run(args)
    print(render(data), flush=True)
    write_json(args.json, data)
    return 0


@contextlib.contextmanager
def project_dir(stack: Stack, name: str) -> Iterator[Project]:
    d = stack.tmp / name
    d.mkdir(parents=True, exist_ok=True)
    yield Project(d)

"""HAProxy as the ALB's data plane: the routing model, its configuration, the process and its logs.

Why HAProxy (Debian's ``haproxy``) rather than nginx: a master-worker **seamless reload** (``SIGUSR2``:
the listening sockets pass to the new worker, the old one finishes its in-flight requests and
exits), so a weight change or a deregistration applies without dropping a request; weighted random
choice between backends and content-based rules in the configuration language itself; **per-request
logs with timings** (``%Tr``: the target's response time, ``%tsc``: who ended the request) to a
datagram socket, from which the local stack computes ALB metrics. Open-source nginx has no active
health checks and no per-request server timings of that kind. Health checks are not HAProxy's here:
the ALB's own state machine (``initial``, thresholds, ``draining``, fail-open) decides which targets
receive traffic, fed by real HTTP checks (:mod:`pipeline_py.local.alb_plane`).

The model (:class:`ProxyConfig`) is built from ELBv2 state elsewhere (``moto_ext.dataplane``); this
module renders it (:func:`render`), runs the process (:class:`HAProxy`) and reads its request log
(:class:`LogReceiver`, :func:`parse_record`). Everything binds to 127.0.0.1 and every server is a
loopback address.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("pipeline_py.local.haproxy")

BINARY = "haproxy"
LOG_MARK = "PPY1"
LOG_FORMAT = f"{LOG_MARK} %ft %b %s %ST %Tr %Ta %tsc %Ts.%ms"
PICK_RANGE = 1_000_000
NO_TARGETS = "none"


# --------------------------------------------------------------------------------------------
# the routing model


@dataclass(frozen=True)
class Server:
    name: str
    address: str
    port: int


@dataclass(frozen=True)
class Backend:
    """A target group's targets that receive traffic now, or a fixed response."""

    name: str
    servers: tuple[Server, ...] = ()
    fixed_status: int | None = None
    fixed_body: str = ""
    fixed_content_type: str = "text/plain"


@dataclass(frozen=True)
class Condition:
    """One ALB rule condition: ``path-pattern``, ``host-header``, ``http-request-method``,
    ``source-ip``, ``http-header`` (``header`` names it) or ``query-string`` (values ``key=value``)."""

    field: str
    values: tuple[str, ...]
    header: str | None = None


@dataclass(frozen=True)
class Rule:
    """Conditions (all must hold) and the weighted backends of its forward action (or one fixed
    response backend, weight 1)."""

    priority: int
    conditions: tuple[Condition, ...]
    forwards: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Frontend:
    name: str
    port: int
    rules: tuple[Rule, ...]
    default: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class ProxyConfig:
    frontends: tuple[Frontend, ...] = ()
    backends: tuple[Backend, ...] = ()
    hard_stop_after: float = 30.0
    connect_timeout: float = 5.0
    idle_timeout: float = 60.0


# --------------------------------------------------------------------------------------------
# rendering


def _wildcard_regex(value: str, *, host: bool = False) -> str:
    """An ALB pattern (``*`` any characters, ``?`` one) as an anchored regular expression."""
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in value)
    return f"^{body}$"


def _quote(value: str) -> str:
    """HAProxy's strong quoting: nothing inside is interpreted (a value with a quote is refused)."""
    if "'" in value or "\n" in value:
        raise ValueError(f"cannot express {value!r} in the proxy configuration")
    return f"'{value}'"


def condition_acl(cond: Condition) -> str | None:
    """The anonymous ACL of one condition, or None when it cannot be expressed (never matches)."""
    values = [v for v in cond.values if v]
    if not values:
        return None
    try:
        if cond.field == "path-pattern":
            return "{ path -m reg " + " ".join(_quote(_wildcard_regex(v)) for v in values) + " }"
        if cond.field == "host-header":
            return "{ req.hdr(host),field(1,:) -m reg -i " + " ".join(
                _quote(_wildcard_regex(v, host=True)) for v in values) + " }"
        if cond.field == "http-request-method":
            return "{ method " + " ".join(_quote(v) for v in values) + " }"
        if cond.field == "source-ip":
            return "{ src " + " ".join(str(ipaddress.ip_network(v, strict=False)) for v in values) + " }"
        if cond.field == "http-header" and cond.header:
            return "{ req.hdr(" + re.sub(r"[^A-Za-z0-9_-]", "", cond.header) + ") -m reg -i " + " ".join(
                _quote(_wildcard_regex(v)) for v in values) + " }"
        if cond.field == "query-string":
            # key=value pairs; either side may be a wildcard pattern; any pair matching is enough
            regexes = []
            for v in values:
                key, _, val = v.partition("=")
                k = _wildcard_regex(key)[1:-1] if key else "[^&=]*"
                regexes.append(_quote(f"(^|&){k}={_wildcard_regex(val)[1:-1]}(&|$)"))
            return "{ query -m reg " + " ".join(regexes) + " }"
    except ValueError:
        return None
    return None


def _use_backend_lines(forwards: tuple[tuple[str, int], ...], conditions: list[str]) -> list[str]:
    live = [(b, w) for b, w in forwards if w > 0]
    cond = " ".join(conditions)
    suffix = f" if {cond}" if cond else ""
    if not live:
        return [f"    use_backend {NO_TARGETS}{suffix}"]
    if len(live) == 1:
        return [f"    use_backend {live[0][0]}{suffix}"]
    total = sum(w for _, w in live)
    lines, cumulative = [], 0
    for i, (backend, weight) in enumerate(live):
        cumulative += weight
        if i == len(live) - 1:
            lines.append(f"    use_backend {backend}{suffix}")
        else:
            threshold = round(PICK_RANGE * cumulative / total)
            pick = f"{{ var(txn.pick) -m int lt {threshold} }}"
            lines.append(f"    use_backend {backend} if {cond + ' ' if cond else ''}{pick}")
    return lines


def render(cfg: ProxyConfig, rundir: Path) -> str:
    """The whole configuration file for ``cfg``, with sockets in ``rundir``."""
    out = [
        "# written by pipeline-py's local stack; regenerated from ELBv2 state on every change",
        "global",
        "    master-worker",
        f"    pidfile {rundir / 'haproxy.pid'}",
        f"    stats socket {rundir / 'admin.sock'} mode 600 level admin expose-fd listeners",
        f"    log {rundir / 'log.sock'} len 8192 format raw local0",
        f"    hard-stop-after {max(1, round(cfg.hard_stop_after * 1000))}ms",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option dontlognull",
        f"    timeout connect {max(1, round(cfg.connect_timeout * 1000))}ms",
        f"    timeout client {max(1, round(cfg.idle_timeout * 1000))}ms",
        f"    timeout server {max(1, round(cfg.idle_timeout * 1000))}ms",
        "    timeout http-request 10s",
        f'    log-format "{LOG_FORMAT}"',
        "",
    ]
    for fe in cfg.frontends:
        out += [f"frontend {fe.name}", f"    bind 127.0.0.1:{fe.port}",
                f"    http-request set-var(txn.pick) rand({PICK_RANGE})"]
        for rule in sorted(fe.rules, key=lambda r: r.priority):
            acls = [condition_acl(c) for c in rule.conditions]
            if not acls or any(a is None for a in acls):
                out.append(f"    # rule {rule.priority}: a condition the local proxy cannot express; never matches")
                continue
            out.append(f"    # rule {rule.priority}")
            out += _use_backend_lines(rule.forwards, [a for a in acls if a])
        out.append("    # default action")
        out += _use_backend_lines(fe.default, [])
        out.append("")
    names = {b.name for b in cfg.backends}
    backends = list(cfg.backends)
    if NO_TARGETS not in names:
        backends.append(Backend(NO_TARGETS))
    for be in backends:
        out.append(f"backend {be.name}")
        if be.fixed_status is not None:
            body = be.fixed_body.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
            out.append(f'    http-request return status {be.fixed_status} content-type "{be.fixed_content_type}" '
                       f'string "{body}"')
        else:
            out.append("    balance roundrobin")
            for srv in be.servers:
                out.append(f"    server {srv.name} {srv.address}:{srv.port}")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# per-request records


@dataclass(frozen=True)
class RequestRecord:
    """One request as HAProxy logged it: ``response_ms`` is the target's response time (None when no
    target answered), ``status`` what the client got."""

    frontend: str
    backend: str
    server: str | None
    status: int
    response_ms: int | None
    total_ms: int | None
    termination: str
    accepted_at: float


def parse_record(line: str) -> RequestRecord | None:
    parts = line.strip().split()
    if len(parts) < 9 or parts[0] != LOG_MARK:
        return None
    try:
        tr, ta = int(parts[5]), int(parts[6])
        return RequestRecord(frontend=parts[1], backend=parts[2],
                             server=None if parts[3] == "<NOSRV>" else parts[3], status=int(parts[4]),
                             response_ms=tr if tr >= 0 else None, total_ms=ta if ta >= 0 else None,
                             termination=parts[7], accepted_at=float(parts[8]))
    except ValueError:
        return None


class LogReceiver:
    """A datagram socket HAProxy logs to; each record goes to ``sink`` with the time it arrived."""

    def __init__(self, path: Path, sink: Callable[[RequestRecord, float], None],
                 wall: Callable[[], float] = time.time) -> None:
        self.path = path
        self.sink = sink
        self.wall = wall
        self.received = 0
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        self._sock.bind(str(path))
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="haproxy-log", daemon=True)

    def start(self) -> LogReceiver:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in data.decode("utf-8", "replace").splitlines():
                record = parse_record(line)
                if record is not None:
                    self.received += 1
                    try:
                        self.sink(record, self.wall())
                    except Exception:  # a bad record must not stop the receiver
                        log.exception("request record not accounted: %s", line)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------------------------
# the process


def available() -> tuple[bool, str]:
    if shutil.which(BINARY) is None:
        return False, "haproxy is not installed (apt-get install haproxy)"
    return True, ""


def check_config(text: str, rundir: Path) -> str | None:
    """None when ``haproxy -c`` accepts ``text``; else its complaint."""
    candidate = rundir / "haproxy.check.cfg"
    candidate.write_text(text)
    p = subprocess.run([BINARY, "-c", "-q", "-f", str(candidate)], capture_output=True, text=True, timeout=30)
    if p.returncode == 0:
        return None
    return (p.stderr or p.stdout).strip()[-2000:] or f"haproxy -c exited with {p.returncode}"


@dataclass
class HAProxy:
    """One master-worker HAProxy whose configuration follows :meth:`apply` (a background thread
    validates, writes and reloads; the latest configuration wins)."""

    rundir: Path
    pid: int | None = None
    reloads: int = 0
    last_error: str | None = None
    applied: str | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _wanted: str | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _stopping: bool = False
    history: list[tuple[float, int | None]] = field(default_factory=list)  # (applied at, worker pid)

    @property
    def config_path(self) -> Path:
        return self.rundir / "haproxy.cfg"

    def start(self) -> HAProxy:
        self.rundir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name="haproxy-apply", daemon=True)
        self._thread.start()
        return self

    def apply(self, text: str | None) -> None:
        """Make ``text`` the running configuration (None: no frontend, stop the process)."""
        with self._cond:
            self._wanted = text
            self._cond.notify_all()

    def wait_applied(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._wanted != self.applied and self.last_error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return self._wanted == self.applied

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and self._wanted == self.applied:
                    self._cond.wait(1.0)
                if self._stopping:
                    return
                wanted = self._wanted
            try:
                self._apply_now(wanted)
                error = None
            except Exception as exc:  # keep serving the last good configuration
                error = str(exc)
                log.error("proxy configuration not applied: %s", exc)
            with self._cond:
                self.last_error = error
                self.history.append((round(time.time(), 3), self.worker_pid() if wanted else None))
                del self.history[:-20]
                if error is None:
                    self.applied = wanted
                elif self._wanted == wanted:
                    self.applied = wanted  # do not retry the same broken text in a loop
                self._cond.notify_all()

    def _apply_now(self, text: str | None) -> None:
        if text is None:
            self._stop_process()
            return
        # written as is (a reload is on the path of every weight change: no `haproxy -c` first); when the
        # master refuses it, `haproxy -c` says why
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.config_path)
        if self._proc is None or self._proc.poll() is not None:
            self._start_process()
            if not self._wait_for_worker(None):
                raise RuntimeError(f"haproxy did not start: {check_config(text, self.rundir) or 'see haproxy.log'}")
        else:
            # A SIGUSR2 that arrives while the master re-executes itself is lost: wait for the new
            # worker of each reload (the master CLI's `show proc`) before the next one.
            before = self.worker_pid()
            for _ in range(3):
                os.kill(self._proc.pid, signal.SIGUSR2)
                if self._wait_for_worker(before):
                    break
            else:
                raise RuntimeError("haproxy did not start a new worker after 3 reload signals: "
                                   f"{check_config(text, self.rundir) or 'see haproxy.log'}")
            self.reloads += 1

    def _master_cli(self, command: str, timeout: float = 2.0) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.rundir / "master.sock"))
            s.sendall(command.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n\n"):  # a CLI answer ends with an empty line
                data = s.recv(65536)
                if not data:
                    break
                buf += data
        return buf.decode("utf-8", "replace")

    def worker_pid(self) -> int | None:
        """The current worker's pid (None while there is none or the master does not answer)."""
        try:
            text = self._master_cli("show proc")
        except OSError:
            return None
        section = ""
        for raw in text.splitlines():
            stripped = raw.strip()
            if stripped.startswith("#"):
                section = stripped
                continue
            fields = stripped.split()
            if section == "# workers" and len(fields) >= 2 and fields[1] == "worker":
                try:
                    return int(fields[0])
                except ValueError:
                    return None
        return None

    def _wait_for_worker(self, previous: int | None, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.worker_pid()
            if pid is not None and pid != previous:
                return True
            if self._proc is None or self._proc.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    def _start_process(self) -> None:
        out = open(self.rundir / "haproxy.log", "ab")  # noqa: SIM115 - the child's stdout for its lifetime
        self._proc = subprocess.Popen([BINARY, "-W", "-S", f"{self.rundir / 'master.sock'},mode,600",
                                       "-f", str(self.config_path)], stdout=out,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.pid = self._proc.pid
        (self.rundir / "master.pid").write_text(str(self.pid))

    def _stop_process(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        self.pid = None
        try:
            (self.rundir / "master.pid").unlink()
        except FileNotFoundError:
            pass

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._stop_process()

    def status(self) -> dict[str, Any]:
        return {"pid": self.pid if self.running() else None, "reloads": self.reloads, "error": self.last_error,
                "config": str(self.config_path), "applied": self.history[-10:]}


def stop_recorded(rundir: Path) -> bool:
    """Stop an HAProxy master recorded in ``rundir`` (by ``local down`` when its server died)."""
    try:
        pid = int((rundir / "master.pid").read_text())
    except (OSError, ValueError):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    if not cmdline.endswith(BINARY.encode()):
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True

"""The real data plane: tasks as containers (:mod:`pipeline_py.local.docker_runtime`), each ALB as an
HAProxy whose routing follows moto's ELBv2 state (:mod:`pipeline_py.local.haproxy`), target health
from real checks and ALB metrics from real requests (:mod:`pipeline_py.local.alb_plane`).

:class:`DataPlane` is a ticker. Every tick (and whenever metrics are read) it

1. applies the health checks that completed to the ELB state machine and starts the ones due;
2. rebuilds the proxy's routing from moto's load balancers, listeners, rules (conditions,
   priorities), forward actions with their weights and fixed responses, and the target states —
   so whoever changed them (a ``ModifyListener``/``ModifyRule`` from a deploy, the simulated ECS,
   terraform) the proxy follows; an unchanged routing is not reloaded;
3. publishes the completed seconds of request metrics.

Switched on and off with the ``runtime`` control route (``POST {"runtime": "docker", "registry":
{"host": "127.0.0.1:5000"}}``), ``LocalServer(runtime="docker")`` or ``local up --runtime docker``.
While it is on, the traffic model publishes nothing (real requests are the only traffic) and every
registered target is health checked for real.
"""


from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_py.local import haproxy
from pipeline_py.local.alb_plane import CheckSpec, HealthChecker, RequestMetrics
from pipeline_py.local.docker_runtime import DockerRuntime, RegistryAccess, is_loopback
from pipeline_py.local.elb_sim import DRAINING, HEALTHY, INITIAL, UNAVAILABLE, UNHEALTHY, Target, TargetGroupConfig
from pipeline_py.local.haproxy import Backend, Condition, Frontend, ProxyConfig, RequestRecord, Rule, Server
from pipeline_py.local.moto_ext.cloudwatch import _backends
from pipeline_py.local.moto_ext.traffic import forward_groups
from pipeline_py.local.task_sim import SimulatedRuntime

if TYPE_CHECKING:
    from pipeline_py.local.moto_ext.fidelity import Fidelity

log = logging.getLogger("pipeline_py.local")


# moto internals used here (pinned in tests/unit/moto_pins/test_dataplane.py):
#   moto.elbv2.models.elbv2_backends; ELBv2Backend: load_balancers
#   FakeLoadBalancer: arn, name, type, listeners; FakeListener: arn, port, protocol, default_actions, rules
#   FakeListenerRule: arn, priority, conditions (dicts as given: Field + Values or <Type>Config), actions,
#     is_default; FakeAction.data (Type, TargetGroupArn, ForwardConfig, FixedResponseConfig)
#   FakeTargetGroup: health_check_path, health_check_timeout_seconds, health_check_protocol, matcher

CHECKED_STATES = (INITIAL, HEALTHY, UNHEALTHY)
# A real HTTP request needs real time: however fast the timing model, a check waits this long (seconds)
# before it counts as timed out (a busy machine answers a forked shell handler in tens of milliseconds,
# now and then in a second).
HEALTH_CHECK_MIN_TIMEOUT = 2.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _conditions(raw: list[dict[str, Any]]) -> tuple[Condition, ...]:
    """moto keeps a rule's conditions as given: ``Field`` with ``Values`` or the ``…Config`` form."""
    out = []
    for c in raw or []:
        name = str(c.get("Field") or "")
        configs = {"path-pattern": "PathPatternConfig", "host-header": "HostHeaderConfig",
                   "http-request-method": "HttpRequestMethodConfig", "source-ip": "SourceIpConfig",
                   "http-header": "HttpHeaderConfig", "query-string": "QueryStringConfig"}
        conf = c.get(configs.get(name, "")) or {}
        if name == "query-string":
            pairs = conf.get("Values") or c.get("Values") or []
            values = tuple(f"{p.get('Key') or ''}={p.get('Value') or ''}" if isinstance(p, dict) else str(p)
                           for p in pairs)
            out.append(Condition(name, values))
            continue
        values = tuple(str(v) for v in (conf.get("Values") or c.get("Values") or []))
        header = conf.get("HttpHeaderName") if name == "http-header" else None
        out.append(Condition(name, values, header))
    return tuple(out)


class DataPlane:
    """The ticker described in the module docstring."""

    def __init__(self, fid: Fidelity, runtime: DockerRuntime, *, rundir: Path | None = None) -> None:
        self.fid = fid
        self.runtime = runtime
        self.rundir = rundir or Path(tempfile.mkdtemp(prefix="ppy-lb-"))
        self.proxy = haproxy.HAProxy(self.rundir).start()
        self.metrics = RequestMetrics(fid.metrics.sink, self._resolve)
        self.logs = haproxy.LogReceiver(self.rundir / "log.sock", self.metrics.add, wall=fid.wall_seconds).start()
        self.checker = HealthChecker(clock=fid.clock)
        # listener ARN → (frontend name, load balancer ARN, listener port, local port, load balancer name)
        self._frontends: dict[str, tuple[str, str, int, int, str]] = {}
        self._frontend_by_name: dict[str, str] = {}  # frontend name → load balancer ARN
        self._backend_names: dict[str, str] = {}  # target group ARN or fixed-response key → backend name
        self._backend_targets: dict[str, str] = {}  # backend name → target group ARN ("" for fixed responses)
        self._next_check: dict[tuple[str, str, int], float] = {}
        self._drain_delay: dict[tuple[str, str, int], float] = {}
        self._pairs: set[tuple[str, str]] = set()
        self._config: str | None = None
        self.health_results = 0
        self.changes: list[dict[str, Any]] = []  # the last routing changes, for `status`

    # ---- ticker

    def tick(self, now: float) -> None:
        self._health(now)
        self._route()
        self._hold_drains(now)
        self.publish(now)

    def _hold_drains(self, now: float) -> None:
        """An ALB stops sending new requests to a target the moment it is deregistered, and the
        deregistration delay lets the ones in flight finish. The proxy stops when its new
        configuration is loaded (a reload takes a moment): until then a draining target's delay is
        held open, so its task is not stopped under requests the proxy still sends it."""
        caught_up = self.proxy.applied == self._config
        draining = set()
        for target in list(self.fid.elb.targets.values()):
            if target.state != DRAINING or target.drain_until is None:
                continue
            draining.add(target.key)
            delay = self._drain_delay.setdefault(target.key, max(0.0, target.drain_until - target.changed_at))
            if not caught_up:
                target.drain_until = max(target.drain_until, now + delay)
        for key in [k for k in self._drain_delay if k not in draining]:
            del self._drain_delay[key]

    def publish(self, now: float) -> None:
        self.metrics.publish(self.fid.wall_seconds(), self._hosts())

    def reset(self) -> None:
        self.runtime.reset()
        self.checker.reset()
        self.metrics.reset()
        self._next_check.clear()
        self._route()

    def set_timing(self, timing: Any) -> None:
        self.runtime.set_timing(timing)

    def status(self) -> dict[str, Any]:
        return {"dataplane": {"containers": self.runtime.status(), "proxy": self.proxy.status(),
                              "listeners": self.listeners(), "requests_logged": self.logs.received,
                              "health_checks": self.checker.checks, "rundir": str(self.rundir),
                              "routing_changes": self.changes[-10:]}}

    def close(self) -> None:
        try:
            self.runtime.close()
        finally:
            self.proxy.stop()
            self.logs.close()
            self.checker.close()
            shutil.rmtree(self.rundir, ignore_errors=True)

    # ---- listeners as URLs

    def listeners(self) -> list[dict[str, Any]]:
        """``[{load_balancer, port, url, listener_arn}]``: where each ALB listener answers on this machine."""
        out = []
        for listener_arn, (_, _, port, local_port, lb_name) in sorted(self._frontends.items(),
                                                                        key=lambda kv: (kv[1][4], kv[1][2])):
            out.append({"load_balancer": lb_name, "port": port, "url": f"http://127.0.0.1:{local_port}",
                        "listener_arn": listener_arn})
        return out

    # ---- health checks

    def _health(self, now: float) -> None:
        elb = self.fid.elb
        configs: dict[str, TargetGroupConfig | None] = {}

        def config_of(arn: str) -> TargetGroupConfig | None:
            if arn not in configs:
                configs[arn] = self.fid.world.target_group(arn)
            return configs[arn]

        for key, probe, at in self.checker.drain():
            target = elb.targets.get(key)
            tg = config_of(key[0])
            if target is None or tg is None:
                continue
            self.health_results += 1
            elb.record(target, tg, probe, at)
        timing = self.fid.timing
        live = set()
        for target in list(elb.targets.values()):
            if target.state not in CHECKED_STATES:
                continue
            tg = config_of(target.target_group_arn)
            if tg is None or not tg.in_use or not tg.health_check_enabled:
                continue
            live.add(target.key)
            interval = max(timing.health_check_seconds(tg.interval), 0.05)
            due = self._next_check.get(target.key)
            if due is None:
                due = self._next_check[target.key] = target.registered_at + interval
            if now < due:
                continue
            port = target.port if tg.health_check_port in ("traffic-port", "", "None") else int(tg.health_check_port)
            spec = CheckSpec(target.id, port, tg.health_check_path or "/",
                             timeout=max(timing.aws(tg.health_check_timeout), HEALTH_CHECK_MIN_TIMEOUT),
                             matcher=tg.matcher)
            if self.checker.submit(target.key, spec):
                self._next_check[target.key] = now + interval
        for key in [k for k in self._next_check if k not in live]:
            del self._next_check[key]

    # ---- routing

    def _frontend(self, lb: Any, listener: Any) -> tuple[str, int]:
        known = self._frontends.get(listener.arn)
        if known is None:
            name = f"l{len(self._frontends) + 1}"
            known = (name, lb.arn, int(listener.port), _free_port(), lb.name)
            self._frontends[listener.arn] = known
            self._frontend_by_name[name] = lb.arn
        return known[0], known[3]

    def _backend_name(self, key: str, target_group: str) -> str:
        name = self._backend_names.get(key)
        if name is None:
            name = f"b{len(self._backend_names) + 1}"
            self._backend_names[key] = name
            self._backend_targets[name] = target_group
        return name

    def _forwards(self, actions: list[Any], backends: dict[str, Backend]) -> tuple[tuple[str, int], ...]:
        for action in actions or ():
            data = getattr(action, "data", action) or {}
            kind = data.get("Type")
            if kind == "forward":
                out = []
                for tg, weight in forward_groups([action]):
                    name = self._backend_name(tg, tg)
                    if name not in backends:
                        backends[name] = Backend(name, self._servers(tg))
                    out.append((name, weight))
                return tuple(out)
            if kind == "fixed-response":
                conf = data.get("FixedResponseConfig") or {}
                status = int(conf.get("StatusCode") or 503)
                ctype = str(conf.get("ContentType") or "text/plain")
                body = str(conf.get("MessageBody") or "")
                name = self._backend_name(f"fixed:{status}:{ctype}:{body}", "")
                backends[name] = Backend(name, fixed_status=status, fixed_body=body, fixed_content_type=ctype)
                return ((name, 1),)
        return ()

    def _servers(self, target_group_arn: str) -> tuple[Server, ...]:
        """The targets that get requests, as an ALB chooses them: healthy ones; with none, every
        unhealthy one (fail open); with neither, none (the load balancer answers 503)."""
        healthy, unhealthy = [], []
        for t in self.fid.elb.in_group(target_group_arn):
            if not is_loopback(t.id):
                continue
            if t.state in (HEALTHY, UNAVAILABLE):
                healthy.append(t)
            elif t.state == UNHEALTHY:
                unhealthy.append(t)
        chosen = healthy or unhealthy
        return tuple(Server(_server_name(t), t.id, t.port) for t in sorted(chosen, key=lambda t: (t.id, t.port)))

    def routing(self) -> ProxyConfig:
        from moto.elbv2.models import elbv2_backends

        frontends: list[Frontend] = []
        backends: dict[str, Backend] = {}
        pairs: set[tuple[str, str]] = set()
        drain = 0.0
        for _, _, backend in _backends(elbv2_backends):
            for tg in list(backend.target_groups.values()):
                delay = float(tg.attributes.get("deregistration_delay.timeout_seconds", 300) or 0)
                drain = max(drain, self.fid.timing.deregistration_delay(delay))
            for lb in list(backend.load_balancers.values()):
                if (getattr(lb, "type", "application") or "application") != "application":
                    continue
                for listener in list(lb.listeners.values()):
                    if str(getattr(listener, "protocol", "HTTP") or "HTTP").upper() not in ("HTTP", "HTTPS"):
                        continue
                    name, port = self._frontend(lb, listener)
                    rules = []
                    for rule in list(listener.rules.values()):
                        if rule.is_default:
                            continue
                        forwards = self._forwards(rule.actions, backends)
                        rules.append(Rule(int(rule.priority), _conditions(rule.conditions), forwards))
                    default = self._forwards(listener.default_actions, backends)
                    frontends.append(Frontend(name, port, tuple(rules), default))
                    for forwards in [default, *(r.forwards for r in rules)]:
                        for backend_name, _ in forwards:
                            tg_arn = self._backend_targets.get(backend_name)
                            if tg_arn:
                                pairs.add((lb.arn, tg_arn))
        self._pairs = pairs
        return ProxyConfig(tuple(frontends), tuple(backends[k] for k in sorted(backends)),
                           hard_stop_after=max(5.0, drain + 2.0))

    def _route(self) -> None:
        cfg = self.routing()
        text = haproxy.render(cfg, self.rundir) if cfg.frontends else None
        if text != self._config:
            self._config = text
            self.proxy.apply(text)
            names = {b.name: (self._backend_targets.get(b.name) or b.name).split("/") for b in cfg.backends}
            groups = {(names[b.name][-2] if len(names[b.name]) > 2 else b.name):
                      [f"{srv.address}:{srv.port}" for srv in b.servers]
                      for b in cfg.backends if b.fixed_status is None}
            self.changes.append({"at": round(self.fid.wall_seconds(), 3), "backends": groups})
            del self.changes[:-50]

    # ---- metrics

    def _resolve(self, record: RequestRecord) -> tuple[str | None, str | None, bool]:
        lb = self._frontend_by_name.get(record.frontend)
        if lb is None:
            return None, None, False
        tg = self._backend_targets.get(record.backend)
        if tg is None:
            return lb, None, False
        return lb, tg or None, tg == ""

    def _hosts(self) -> dict[tuple[str, str], tuple[int, int]]:
        out = {}
        for lb, tg in self._pairs:
            targets = self.fid.elb.in_group(tg)
            out[(lb, tg)] = (sum(1 for t in targets if t.state in (HEALTHY, UNAVAILABLE)),
                             sum(1 for t in targets if t.state == UNHEALTHY))
        return out


def _server_name(t: Target) -> str:
    return f"t{t.id.replace('.', '_')}_{t.port}"


# ---- switching runtimes


def enable(fid: Fidelity, *, registry: dict[str, Any] | None = None, stack_id: str | None = None,
           client: Any = None) -> DataPlane:
    """Tasks become containers, listeners a real proxy (idempotent: reconfigures a running one).
    Switch on an empty stack (right after start or ``POST /moto-api/reset``): tasks the simulated
    runtime started are not adopted."""
    current: DataPlane | None = getattr(fid, "dataplane", None)
    access = _registry_access(fid, registry) if registry else None
    if current is not None:
        current.runtime.configure(registry=access, aws_endpoint=fid.endpoint)
        return current
    ok, why = haproxy.available()
    if not ok:
        raise ValueError(f"runtime docker: {why}")
    if client is None:
        from pipeline_py.images.engine import connect

        client = connect(timeout=120)
    runtime = DockerRuntime(client, stack_id=stack_id or uuid.uuid4().hex[:10], timing=fid.timing,
                            registry=access, aws_endpoint=fid.endpoint, clock=fid.clock).start()
    with fid.lock:
        plane = DataPlane(fid, runtime)
        fid.ecs.runtime = runtime
        fid.world.address_source = runtime.address_for
        fid.elb.external = lambda target: True
        fid.traffic.enabled = False
        fid.tickers.insert(fid.tickers.index(fid.metrics), plane)
        fid.dataplane = plane
    log.info("runtime docker: stack %s, proxy in %s", runtime.stack_id, plane.rundir)
    return plane


def disable(fid: Fidelity) -> None:
    """Back to the simulated runtime: every container of the stack removed, the proxy stopped, the
    simulations reset (reset moto as well: its services and tasks are not adopted)."""
    plane: DataPlane | None = getattr(fid, "dataplane", None)
    if plane is None:
        return
    with fid.lock:
        fid.tickers.remove(plane)
        fid.dataplane = None
        try:
            plane.close()
        finally:
            fid.ecs.runtime = SimulatedRuntime(fid.timing)
            fid.world.address_source = None
            fid.elb.external = None
            fid.traffic.enabled = True
            # the tasks the containers were: the simulated runtime cannot adopt them (reset moto too)
            fid.reset()


def _registry_access(fid: Fidelity, registry: dict[str, Any]) -> RegistryAccess:
    host = str(registry.get("host") or "").strip()
    if not host:
        raise ValueError("runtime: registry.host is required (e.g. 127.0.0.1:5000)")
    user, password = registry.get("username"), registry.get("password")
    if not password:
        from pipeline_py.local.registry import ecr_login

        if not fid.endpoint:
            raise ValueError("runtime: no registry password and no endpoint to ask ECR for one")
        user, password = ecr_login(fid.endpoint)
    return RegistryAccess(host, str(user or "AWS"), str(password))


def route(fid: Fidelity, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``/_pipeline_py/runtime``: GET says which runtime runs; POST switches or configures
    (``{"runtime": "docker"|"simulated", "registry": {"host": …}}``)."""
    if method == "POST":
        if not isinstance(payload, dict) or set(payload) - {"runtime", "registry", "stack_id"}:
            raise ValueError('runtime: expected {"runtime": "docker"|"simulated", "registry": {"host": "…"}}')
        kind = payload.get("runtime") or ("docker" if fid.dataplane is not None else "simulated")
        if kind == "docker":
            enable(fid, registry=payload.get("registry"), stack_id=payload.get("stack_id"))
        elif kind == "simulated":
            disable(fid)
        else:
            raise ValueError(f"runtime: unknown runtime {kind!r} (docker or simulated)")
    elif method != "GET":
        raise ValueError(f"runtime: method {method} not allowed (GET, POST)")
    plane: DataPlane | None = fid.dataplane
    if plane is None:
        return {"runtime": "simulated", "listeners": []}
    return {"runtime": "docker", "stack_id": plane.runtime.stack_id, "listeners": plane.listeners(),
            **plane.status()["dataplane"]}


def listeners_route(fid: Fidelity, method: str, payload: dict[str, Any]) -> dict[str, Any]:
    plane: DataPlane | None = fid.dataplane
    return {"listeners": plane.listeners() if plane is not None else []}


def install(fid: Fidelity) -> None:
    fid.add_route("runtime", lambda method, payload: route(fid, method, payload))
    fid.add_route("listeners", lambda method, payload: listeners_route(fid, method, payload))
    fid.add_closer(lambda: disable(fid))


__all__ = ["DRAINING", "DataPlane", "disable", "enable", "install"]

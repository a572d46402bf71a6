"""One process: the moto server for every service on one endpoint, our fidelity extensions, and
the simulation loop that moves ECS deployments, target health, traffic and alarms along.

Run it as ``python -m pipeline_py.local.server`` (what ``pipeline-py local up`` does) or
in-process with ``LocalServer(...).start()`` (what the tests do). Requests under
``/_pipeline_py/`` are ours (status, registry notifications, simulator control); everything else
goes to moto unchanged.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import BaseWSGIServer, make_server

from pipeline_py.local import moto_ext

CONTROL_PREFIX = "/_pipeline_py/"


def operation_of(environ: dict[str, Any]) -> str | None:
    """``service.Operation`` of an AWS request (JSON protocol target header, RPC v2 CBOR path
    ``/service/S/operation/Op``, or query ``Action``), reading a form body without consuming it."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    if environ.get("HTTP_SMITHY_PROTOCOL") and "/operation/" in path:
        return path.rsplit("/operation/", 1)[-1].strip("/") or None
    if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        return action[0] if action else None
    return None


def service_of(environ: dict[str, Any]) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        parts = auth.split("Credential=", 1)[1].split("/")
        if len(parts) > 3:
            return parts[3]
    return "?"


class ControlMiddleware:
    """Routes ``/_pipeline_py/*`` to our control handlers and counts every AWS request by
    operation, so benchmarks can compare API calls of tools we do not instrument."""

    def __init__(self, app: Callable, fidelity: moto_ext.Fidelity, server_url: Callable[[], str]) -> None:
        self.app = app
        self.fidelity = fidelity
        self.server_url = server_url
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(path[len(CONTROL_PREFIX):], environ, start_response)
        op = operation_of(environ)
        if op:
            service = service_of(environ)
            with self._lock:
                self.requests[f"{service}.{op}"] += 1
            decision = self.fidelity.faults.decide(service, op)
            if decision is not None:
                return self._inject(decision, service, environ, start_response)
        return self.app(environ, start_response)

    def _inject(self, decision: Any, service: str, environ: dict[str, Any], start_response: Callable
                ) -> Iterable[bytes]:
        """Latency, then the rule's error in the request's protocol (see moto_ext.faults); for
        ``error_after`` moto handles the request first and its answer is dropped."""
        from pipeline_py.local.moto_ext.faults import error_response, protocol_of

        if decision.latency:
            threading.Event().wait(decision.latency)
        protocol = protocol_of(environ)
        if decision.error is None or protocol is None:
            return self.app(environ, start_response)
        if decision.error.fault == "error_after":
            self._apply(environ)
        status, headers, body = error_response(decision.error, protocol, service, environ)
        start_response(status, headers)
        return [body]

    def _apply(self, environ: dict[str, Any]) -> None:
        """Let moto handle the request; its answer is read to the end and discarded."""
        def discard(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            return lambda data: None

        answer = self.app(environ, discard)
        try:
            for _ in answer:
                pass
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    def _control(self, route: str, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            payload = json.loads(body) if body else {}
        except json.JSONDecodeError:
            payload = {"raw": body.decode("utf-8", "replace")}
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if route == "requests":
                with self._lock:
                    out = {"total": sum(self.requests.values()), "by_operation": dict(sorted(self.requests.items()))}
                    if method == "DELETE":
                        self.requests.clear()
                status = "200 OK"
            elif route == "registry-events":
                from pipeline_py.local import ecr_mirror

                status, out = "200 OK", ecr_mirror.handle(payload, self.server_url())
            else:
                status, out = "200 OK", self.fidelity.control(route, method, payload)
        except KeyError as exc:
            status, out = "404 Not Found", {"error": f"no such control route: {exc}"}
        except ValueError as exc:
            status, out = "400 Bad Request", {"error": str(exc)}
        data = json.dumps(out, default=str).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


class LocalServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        *,
        tick_interval: float = 0.05,
        timing: dict[str, float] | None = None,
        runtime: str = "simulated",
        stack_id: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tick_interval = tick_interval
        self.timing = timing
        self.runtime = runtime
        self.stack_id = stack_id
        self.fidelity: moto_ext.Fidelity | None = None
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalServer:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self.fidelity = moto_ext.install(timing=self.timing)
        app = ControlMiddleware(DomainDispatcherApplication(create_backend_app), self.fidelity, lambda: self.url)
        self._server = make_server(self.host, self.port, app, threaded=True)
        self.port = self._server.server_address[1]
        self.fidelity.endpoint = self.url
        if self.runtime == "docker":
            from pipeline_py.local.moto_ext import dataplane

            dataplane.enable(self.fidelity, stack_id=self.stack_id)
        serve = threading.Thread(target=self._server.serve_forever, name="moto-server", daemon=True)
        loop = threading.Thread(target=self._loop, name="simulation", daemon=True)
        self._threads = [serve, loop]
        for t in self._threads:
            t.start()
        return self

    def _loop(self) -> None:
        log = logging.getLogger("pipeline_py.local")
        while not self._stop.wait(self.tick_interval):
            try:
                assert self.fidelity is not None
                self.fidelity.tick()
            except Exception:  # the loop must survive a bad tick; the error is logged
                log.exception("simulation tick failed")

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        if self.fidelity is not None:
            self.fidelity.close()  # PostgreSQL clusters of the local RDS

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pipeline_py.local.server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4566)
    ap.add_argument("--tick", type=float, default=0.05, help="simulation tick in seconds")
    ap.add_argument("--timing", default=None, help="JSON object overriding the simulator's timing model")
    ap.add_argument("--runtime", choices=("docker", "simulated"), default="simulated",
                    help="docker: tasks are real containers behind a real load balancer (HAProxy)")
    ap.add_argument("--stack-id", default=None, help="label value naming this stack's containers")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = LocalServer(a.host, a.port, tick_interval=a.tick, timing=json.loads(a.timing) if a.timing else None,
                         runtime=a.runtime, stack_id=a.stack_id)
    server.start()
    logging.getLogger("pipeline_py.local").info("local stack listening on %s", server.url)
    stop = threading.Event()
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

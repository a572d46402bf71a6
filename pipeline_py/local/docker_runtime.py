"""Tasks as real containers: the :class:`~pipeline_py.local.task_sim.TaskRuntime` of the Docker engine.

The ECS simulator keeps the control plane (deployments, circuit breaker, events, the task lifecycle);
what a task's containers do is asked of this runtime, which starts them through the Docker Engine
API and answers by looking at them:

- **images** are pulled from the local registry through the mapping ``push`` uses: an ECR URI of the
  stack's account and region (``<acct>.dkr.ecr.<region>.amazonaws.com/<repo>`` with ``:tag`` or
  ``@sha256:…``) becomes ``<registry host>/<repo>`` with the same tag or digest, pulled with the
  ECR login. Other references are used only when the engine already has them (the runtime never
  reaches a public registry). A failed pull stops the task with ``CannotPullContainerError``;
- **container definitions**: ``image``, ``entryPoint``, ``command``, ``environment``, ``secrets``
  (Secrets Manager / SSM of the local stack, resolved into environment variables; a missing one
  fails the task with ECS's ``ResourceInitializationError``), ``portMappings``, ``essential``,
  ``dependsOn`` (START, COMPLETE, SUCCESS, HEALTHY), ``healthCheck`` (the container's Docker health
  check; its status is the container's ``healthStatus``), ``stopTimeout`` (SIGTERM, then SIGKILL),
  ``memory``/``memoryReservation`` (else the task's memory: a hard limit, no swap; exceeding it is
  exit 137 with ``OutOfMemoryError: Container killed due to memory usage``), ``cpu``, ``user``,
  ``workingDirectory``, ``readonlyRootFilesystem``, and a ``RunTask``'s ``containerOverrides``
  (``command``, ``environment``);
- **addresses**: every task gets its own loopback address (``127.10.x.y``, see
  :class:`AddressPool`); its container ports are published on that address only, so the task's
  ENI address and its targets (``address:containerPort``, as ``awsvpc`` gives on AWS) are what a
  load balancer on this machine connects to. The containers of one task share one network
  namespace (a small ``pause`` container, as ECS's agent uses, when a task has several);
- **logs**: an ``awslogs`` log configuration ships stdout and stderr to the local CloudWatch Logs, in
  the group named and the stream ``<prefix>/<container>/<task id>`` (a missing group fails the task
  unless ``awslogs-create-group`` is ``true``, as on ECS);
- **cleanup**: every container carries the labels :data:`LABEL_STACK`, :data:`LABEL_CLUSTER`,
  :data:`LABEL_GROUP`, :data:`LABEL_SERVICE`, :data:`LABEL_TASK` and :data:`LABEL_CONTAINER`; a task's
  containers are removed when it stopped, :meth:`DockerRuntime.reset` and
  :func:`remove_stack_containers` remove exactly one stack's.

Docker calls never run under the simulator's lock: ``launch`` and ``terminate`` hand work to a small
pool of threads, one thread follows the engine's event stream (``start``, ``die``, ``oom``,
``health_status``), and ``observe`` only reads what they recorded.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import math
import random
import re
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline_py.local.elb_sim import Probe
from pipeline_py.local.task_sim import (
    EXITED,
    OOM_EXIT_CODE,
    OOM_REASON,
    PULL_FAILED,
    PULLING,
    RUNNING,
    Observation,
    RuntimeTask,
)
from pipeline_py.local.timing import TimingModel

log = logging.getLogger("pipeline_py.local.docker")

LABEL_STACK = "pipeline-py.stack"
LABEL_CLUSTER = "pipeline-py.cluster"
LABEL_GROUP = "pipeline-py.group"
LABEL_SERVICE = "pipeline-py.service"
LABEL_TASK = "pipeline-py.task-arn"
LABEL_CONTAINER = "pipeline-py.container"
PAUSE_CONTAINER = "~pause"
PAUSE_IMAGE = "pipeline-py/pause:2"
ADDRESS_NETWORK = "127.10.0.0/16"
# Container health checks run as `docker exec`: however fast the timing model, not more often than
# this, and never with a shorter timeout (seconds).
CONTAINER_CHECK_MIN_INTERVAL = 1.0
CONTAINER_CHECK_MIN_TIMEOUT = 2.0
# Stopped tasks whose record is kept (the simulator asks about a task until it is STOPPED).
RUNS_KEPT = 200

_ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
                        r"(?P<repo>[^:@]+)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$")


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class AddressPool:
    """Loopback addresses for tasks, handed out in order from ``start`` (by default a random point, so
    that two stacks on one machine do not pick the same ones) and skipped while in use — by this stack
    or, as found when the pool was made, by another stack's containers (``taken``) — so an address is
    not given again until the pool wrapped around the whole range (65,000 tasks)."""

    def __init__(self, network: str = ADDRESS_NETWORK, *, start: int | None = None,
                 taken: set[str] | frozenset[str] = frozenset()) -> None:
        self.network = ipaddress.ip_network(network)
        if not self.network.is_loopback:
            raise ValueError(f"{network} is not a loopback range")
        size = self.network.num_addresses
        self._next = start if start is not None else random.randrange(257, max(258, size - 1))
        self._used: set[str] = set(taken)
        self._lock = threading.Lock()

    def allocate(self) -> str:
        with self._lock:
            size = self.network.num_addresses
            for _ in range(size):
                offset = self._next
                self._next = self._next + 1 if self._next + 1 < size - 1 else 257
                if offset % 256 in (0, 255) or offset < 257:
                    continue
                address = str(self.network.network_address + offset)
                if address not in self._used:
                    self._used.add(address)
                    return address
            raise RuntimeError(f"no free address left in {self.network}")

    def release(self, address: str) -> None:
        with self._lock:
            self._used.discard(address)


@dataclass(frozen=True)
class RegistryAccess:
    """Where ECR's data plane is on this machine and the login it takes (``push``'s override)."""

    host: str
    username: str = "AWS"
    password: str = ""


def local_reference(image: str, registry: RegistryAccess | None, account: str, region: str) -> tuple[str, str] | None:
    """``(repository, tag-or-digest)`` to pull for an ECR URI of this account and region, or None when
    ``image`` is not one (or there is no registry)."""
    m = _ECR_IMAGE.match(image or "")
    if not m or registry is None or m["account"] != account or m["region"] != region:
        return None
    return f"{registry.host}/{m['repo']}", m["digest"] or m["tag"] or "latest"


def _pull_error(image: str, detail: str) -> str:
    return (f"CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref "
            f"{image}: {detail}")


class TaskStartError(Exception):
    """The task cannot start (ECS: ``TaskFailedToStart``): the message is the stopped reason."""


# --------------------------------------------------------------------------------------------
# what the runtime reads of a container definition


@dataclass(frozen=True)
class Spec:
    """The fields of a container definition the runtime acts on."""

    name: str
    image: str
    essential: bool = True
    environment: tuple[tuple[str, str], ...] = ()
    port_mappings: tuple[dict[str, Any], ...] = ()
    entry_point: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    health_check: dict[str, Any] | None = None
    cpu: int | None = None
    memory: int | None = None
    memory_reservation: int | None = None
    user: str | None = None
    working_directory: str | None = None
    readonly_root_filesystem: bool = False
    depends_on: tuple[dict[str, Any], ...] = ()
    start_timeout: int | None = None
    stop_timeout: int | None = None
    secrets: tuple[dict[str, Any], ...] = ()
    log_configuration: dict[str, Any] | None = None

    @classmethod
    def of(cls, c: Any) -> Spec:
        """From the simulator's ``ContainerDef`` (its ``raw`` API shape) or a plain dict."""
        raw: dict[str, Any] = c if isinstance(c, dict) else (getattr(c, "raw", None) or {})
        env = tuple((str(e.get("name")), str(e.get("value", ""))) for e in raw.get("environment") or [])
        if not raw:
            env = tuple(getattr(c, "environment", ()) or ())
        return cls(
            name=str(raw.get("name") or getattr(c, "name", "")),
            image=str(raw.get("image") or getattr(c, "image", "")),
            essential=bool(raw.get("essential", getattr(c, "essential", True))),
            environment=env,
            port_mappings=tuple(pm for pm in raw.get("portMappings") or [] if "containerPort" in pm)
            or tuple({"containerPort": p} for p in getattr(c, "container_ports", ()) or ()),
            entry_point=tuple(raw.get("entryPoint") or ()), command=tuple(raw.get("command") or ()),
            health_check=raw.get("healthCheck", getattr(c, "health_check", None)),
            cpu=int(raw["cpu"]) if raw.get("cpu") else None,
            memory=int(raw["memory"]) if raw.get("memory") else None,
            memory_reservation=int(raw["memoryReservation"]) if raw.get("memoryReservation") else None,
            user=raw.get("user"), working_directory=raw.get("workingDirectory"),
            readonly_root_filesystem=bool(raw.get("readonlyRootFilesystem")),
            depends_on=tuple(raw.get("dependsOn") or ()), start_timeout=raw.get("startTimeout"),
            stop_timeout=raw.get("stopTimeout"), secrets=tuple(raw.get("secrets") or ()),
            log_configuration=raw.get("logConfiguration"))


# --------------------------------------------------------------------------------------------
# what the runtime records per task


@dataclass
class Box:
    """One container of a task, as the engine reported it."""

    name: str
    essential: bool
    image: str
    id: str | None = None
    image_digest: str | None = None
    status: str = "PENDING"  # PENDING, RUNNING, STOPPED
    exit_code: int | None = None
    reason: str | None = None
    health: str = "UNKNOWN"
    has_health_check: bool = False
    started_at: float | None = None
    exited_at: float | None = None
    shipper: threading.Thread | None = None


@dataclass
class Run:
    """A task's real containers."""

    arn: str
    task_id: str
    address: str
    launched_at: float
    boxes: dict[str, Box] = field(default_factory=dict)
    pause_id: str | None = None
    phase: str = PULLING
    since: float = 0.0
    exit_code: int | None = None
    reason: str | None = None
    stop_requested: bool = False
    stop_timeout: int = 30
    cancelled: bool = False
    torn_down: threading.Event = field(default_factory=threading.Event)
    future: Future[None] | None = None

    @property
    def essential(self) -> list[Box]:
        return [b for b in self.boxes.values() if b.essential]

    def container_ids(self) -> list[str]:
        return [b.id for b in self.boxes.values() if b.id] + ([self.pause_id] if self.pause_id else [])


# --------------------------------------------------------------------------------------------
# the runtime


class DockerRuntime:
    """Real containers for simulated tasks (see the module docstring)."""

    def __init__(self, client: Any, *, stack_id: str, timing: TimingModel | None = None,
                 registry: RegistryAccess | None = None, aws_endpoint: str | None = None,
                 clock: Callable[[], float] = time.monotonic, workers: int = 4,
                 addresses: AddressPool | None = None) -> None:
        self.client = client
        self.stack_id = stack_id
        self.timing = timing or TimingModel()
        self.registry = registry
        self.aws_endpoint = aws_endpoint
        self.clock = clock
        self.addresses = addresses or AddressPool(taken=addresses_in_use(client))
        self._runs: dict[str, Run] = {}
        self._by_container: dict[str, tuple[Run, str]] = {}
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="docker-runtime")
        self._closed = threading.Event()
        self._events_stream: Any = None
        self._events_thread: threading.Thread | None = None
        self._clients: dict[str, Any] = {}
        self._pause_ready = threading.Lock()
        self._pause_built = False
        self.started_containers = 0

    # ---- lifecycle of the runtime itself

    def start(self) -> DockerRuntime:
        self._events_thread = threading.Thread(target=self._follow_events, name="docker-events", daemon=True)
        self._events_thread.start()
        return self

    def close(self) -> None:
        """Remove every container of this stack and stop the threads."""
        self.reset()
        self._closed.set()
        stream = self._events_stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # the stream may already be broken
                pass
        self._pool.shutdown(wait=False, cancel_futures=True)

    def set_timing(self, timing: TimingModel) -> None:
        self.timing = timing

    def configure(self, *, registry: RegistryAccess | None = None, aws_endpoint: str | None = None) -> None:
        if registry is not None:
            self.registry = registry
        if aws_endpoint is not None:
            self.aws_endpoint = aws_endpoint

    def reset(self, timeout: float = 60.0) -> None:
        """Stop tracking every task and remove every container of this stack (waits for launches
        in flight, so nothing is created after it returns)."""
        with self._lock:
            runs = list(self._runs.values())
            for run in runs:
                run.cancelled = True
            self._runs.clear()
        deadline = time.monotonic() + timeout
        for run in runs:
            if run.future is not None:
                try:
                    run.future.result(timeout=max(0.1, deadline - time.monotonic()))
                except Exception:  # a failed launch was already recorded
                    pass
        removed = remove_stack_containers(self.client, self.stack_id)
        with self._lock:
            self._by_container.clear()
        for run in runs:
            for box in run.boxes.values():
                if box.shipper is not None:
                    box.shipper.join(timeout=max(0.1, deadline - time.monotonic()))
            self.addresses.release(run.address)
            run.torn_down.set()
        if removed:
            log.info("removed %d containers of stack %s", removed, self.stack_id)

    # ---- addresses (the ENI the simulator attaches)

    def address_for(self, task: Any) -> str:
        return self.addresses.allocate()

    # ---- TaskRuntime

    def launch(self, task: RuntimeTask, now: float) -> None:
        t: Any = task
        address = t.eni.private_ip if getattr(t, "eni", None) is not None else self.addresses.allocate()
        run = Run(arn=t.arn, task_id=t.id, address=address, launched_at=now, since=now)
        for c in map(Spec.of, t.task_definition.containers):
            run.boxes[c.name] = Box(name=c.name, essential=c.essential, image=c.image,
                                    has_health_check=bool(c.health_check))
        with self._lock:
            self._runs[run.arn] = run
            done = [arn for arn, r in self._runs.items() if r.torn_down.is_set()]
            for arn in done[: max(0, len(done) - RUNS_KEPT)]:  # the simulator stopped asking long ago
                del self._runs[arn]
        task.runtime_state.clear()
        task.runtime_state["address"] = address
        run.future = self._pool.submit(self._launch, run, t)

    def observe(self, task: RuntimeTask, now: float) -> Observation:
        t: Any = task
        with self._lock:
            run = self._runs.get(t.arn)
            if run is None:
                return Observation(EXITED, now, exit_code=None, reason="the container runtime was reset")
            self._copy_details(run, t)
            if run.phase == EXITED:
                return Observation(EXITED, run.since, exit_code=run.exit_code, reason=run.reason)
            if run.phase == PULL_FAILED:
                return Observation(PULL_FAILED, run.since, reason=run.reason)
            return Observation(run.phase, run.since)

    def probe(self, task: RuntimeTask, now: float) -> Probe:
        obs = self.observe(task, now)
        if obs.phase != RUNNING:
            return Probe(False, None)
        health = self.container_health(task, now)
        essential = [v for k, v in health.items() if k in self._essential_names(task)]
        return Probe(all(h != "UNHEALTHY" for h in essential), 200)

    def terminate(self, task: RuntimeTask, now: float) -> None:
        t: Any = task
        with self._lock:
            run = self._runs.get(t.arn)
            if run is None or run.stop_requested:
                return
            run.stop_requested = True
            run.stop_timeout = self._stop_seconds(Spec.of(t.task_definition.essential))
        self._pool.submit(self._teardown, run, "stop")

    def container_health(self, task: RuntimeTask, now: float) -> dict[str, str]:
        t: Any = task
        with self._lock:
            run = self._runs.get(t.arn)
            if run is None:
                return {}
            return {b.name: b.health for b in run.boxes.values() if b.has_health_check}

    # ---- what the runtime shows

    def status(self) -> dict[str, Any]:
        with self._lock:
            runs = list(self._runs.values())
        return {"runtime": "docker", "stack": self.stack_id, "started_containers": self.started_containers,
                "registry": self.registry.host if self.registry else None,
                "tasks": [{"taskArn": r.arn, "address": r.address, "phase": r.phase,
                           "containers": [{"name": b.name, "id": (b.id or "")[:12], "image": b.image,
                                           "imageDigest": b.image_digest, "status": b.status,
                                           "exitCode": b.exit_code, "health": b.health}
                                          for b in r.boxes.values()]}
                          for r in runs]}

    # ---- helpers

    @staticmethod
    def _essential_names(task: Any) -> set[str]:
        return {c.name for c in task.task_definition.containers if c.essential}

    def _stop_seconds(self, container: Spec) -> int:
        return max(1, math.ceil(self.timing.aws(float(container.stop_timeout or 30))))

    def _copy_details(self, run: Run, task: Any) -> None:
        """What the engine said about each container, into the task's container states."""
        for state in task.containers:
            box = run.boxes.get(state.name)
            if box is None:
                continue
            if box.image_digest and not state.image_digest:
                state.image_digest = box.image_digest
            if box.exit_code is not None and state.exit_code is None:
                state.exit_code = box.exit_code
            if box.reason and not state.reason:
                state.reason = box.reason

    def _set_phase(self, run: Run, phase: str, *, exit_code: int | None = None, reason: str | None = None) -> None:
        with self._lock:
            if run.phase in (EXITED, PULL_FAILED):
                return
            run.phase = phase
            run.since = self.clock()
            if phase in (EXITED, PULL_FAILED):
                run.exit_code = exit_code
                run.reason = reason

    # ---- launching

    def _launch(self, run: Run, task: Any) -> None:
        try:
            self._prepare_and_start(run, task)
        except TaskStartError as exc:
            self._set_phase(run, PULL_FAILED, reason=str(exc))
            self._teardown(run, "failed")
        except Exception as exc:  # an engine error: the task fails to start, saying why
            log.exception("task %s could not start", run.task_id)
            self._set_phase(run, PULL_FAILED, reason=f"CannotStartContainerError: {exc}")
            self._teardown(run, "failed")

    def _prepare_and_start(self, run: Run, task: Any) -> None:
        td = task.task_definition
        specs = [Spec.of(c) for c in td.containers]
        by_name = {c.name: c for c in specs}
        overrides = {o.get("name"): o for o in (task.overrides or {}).get("containerOverrides") or []}
        images = {c.name: self._image(c.image, task.account, task.region) for c in specs}
        for c in specs:
            run.boxes[c.name].image_digest = self._digest_of(images[c.name], c.image)
        secrets = {c.name: self._secrets(c, task.account, task.region) for c in specs}
        streams = {c.name: self._log_stream(c, task) for c in specs}
        if run.cancelled or run.stop_requested:
            self._set_phase(run, EXITED)
            return
        labels = {LABEL_STACK: self.stack_id, LABEL_CLUSTER: task.cluster_arn, LABEL_GROUP: task.group,
                  LABEL_TASK: task.arn}
        if str(task.group).startswith("service:"):
            labels[LABEL_SERVICE] = task.group.split(":", 1)[1]
        ports = {}
        for c in specs:
            for pm in c.port_mappings:
                proto = str(pm.get("protocol") or "tcp").lower()
                port = int(pm["containerPort"])
                ports[f"{port}/{proto}"] = (run.address, int(pm.get("hostPort") or port))
        shared_network = len(specs) > 1
        if shared_network:
            self._ensure_pause_image()
            pause = self.client.containers.create(
                PAUSE_IMAGE, name=self._name(run, "pause"), labels={**labels, LABEL_CONTAINER: PAUSE_CONTAINER},
                ports=ports, detach=True)
            with self._lock:
                run.pause_id = pause.id
            pause.start()
            pause.reload()
            if pause.status != "running":
                raise TaskStartError(f"CannotStartContainerError: the task's network namespace holder exited "
                                     f"({pause.attrs.get('State', {}).get('Error') or pause.status})")
        memory = _task_memory(td)
        created: dict[str, Any] = {}
        for c in specs:
            if run.cancelled:
                break
            override = overrides.get(c.name) or {}
            env = {k: v for k, v in c.environment}
            env.update({e["name"]: str(e.get("value", "")) for e in override.get("environment") or []})
            env.update(secrets[c.name])
            kwargs: dict[str, Any] = {
                "name": self._name(run, c.name), "labels": {**labels, LABEL_CONTAINER: c.name},
                "environment": env, "detach": True,
            }
            if shared_network:
                kwargs["network_mode"] = f"container:{run.pause_id}"
            else:
                kwargs["ports"] = ports
            if c.entry_point:
                kwargs["entrypoint"] = list(c.entry_point)
            command = override.get("command") or c.command
            if command:
                kwargs["command"] = list(command)
            limit = c.memory or memory
            if limit:
                kwargs["mem_limit"] = f"{int(limit)}m"
                kwargs["memswap_limit"] = f"{int(limit)}m"
            if c.memory_reservation:
                kwargs["mem_reservation"] = f"{int(c.memory_reservation)}m"
            if c.cpu:
                kwargs["cpu_shares"] = max(2, int(c.cpu))
            if c.user:
                kwargs["user"] = c.user
            if c.working_directory:
                kwargs["working_dir"] = c.working_directory
            if c.readonly_root_filesystem:
                kwargs["read_only"] = True
            if c.health_check:
                kwargs["healthcheck"] = self._healthcheck(c.health_check)
            container = self.client.containers.create(images[c.name], **kwargs)
            created[c.name] = container
            with self._lock:
                run.boxes[c.name].id = container.id
                self._by_container[container.id] = (run, c.name)
        if run.cancelled:
            return
        for name in _start_order(specs):
            self._wait_for_dependencies(run, by_name[name])
            if run.cancelled or run.stop_requested or run.phase in (EXITED, PULL_FAILED):
                break
            box = run.boxes[name]
            created[name].start()
            self.started_containers += 1
            with self._lock:
                if box.status == "PENDING":
                    box.status = "RUNNING"
                    box.started_at = self.clock()
            where = streams[name]
            if where is not None:
                group, stream = where
                box.shipper = threading.Thread(target=self._ship_logs, args=(created[name], group, stream),
                                               name=f"logs-{run.task_id[:8]}-{name}", daemon=True)
                box.shipper.start()
        if run.stop_requested or run.cancelled:
            return
        with self._lock:
            running = all(b.status == "RUNNING" for b in run.essential)
        if running:
            self._set_phase(run, RUNNING)

    def _name(self, run: Run, container: str) -> str:
        safe = re.sub(r"[^a-zA-Z0-9_.-]", "-", container)
        return f"ppy-{self.stack_id}-{run.task_id[:12]}-{safe}"

    def _image(self, image: str, account: str, region: str) -> str:
        """A reference the engine has, pulling it from the local registry when it is an ECR URI."""
        import docker

        mapped = local_reference(image, self.registry, account, region)
        if mapped is None:
            try:
                self.client.images.get(image)
                return image
            except docker.errors.ImageNotFound:
                raise TaskStartError(_pull_error(
                    image, "not found (the local stack's Docker runtime pulls ECR images of this account and "
                           "region from its registry, and uses other images only when the engine has them)")
                ) from None
        repository, ref = mapped
        local = f"{repository}{'@' if ref.startswith('sha256:') else ':'}{ref}"
        registry = self.registry
        assert registry is not None
        try:
            self.client.images.pull(repository, tag=ref,
                                    auth_config={"username": registry.username, "password": registry.password})
        except docker.errors.APIError as exc:
            detail = str(getattr(exc, "explanation", None) or exc)
            raise TaskStartError(_pull_error(image, detail)) from None
        return local

    def _digest_of(self, local: str, image: str) -> str | None:
        if "@sha256:" in image:
            return image.rsplit("@", 1)[1]
        try:
            digests = self.client.images.get(local).attrs.get("RepoDigests") or []
        except Exception:  # the digest is informational
            return None
        return digests[0].rsplit("@", 1)[1] if digests else None

    def _ensure_pause_image(self) -> None:
        import docker

        with self._pause_ready:
            if self._pause_built:
                return
            try:
                self.client.images.get(PAUSE_IMAGE)
            except docker.errors.ImageNotFound:
                self.client.images.build(fileobj=_pause_context(), custom_context=True, tag=PAUSE_IMAGE, rm=True)
            self._pause_built = True

    def _healthcheck(self, hc: dict[str, Any]) -> dict[str, Any]:
        def ns(seconds: float, floor: float) -> int:
            return int(max(self.timing.aws(seconds), floor) * 1e9)

        # Floors: each check is a `docker exec` (a process started in the container by runc), which
        # takes a few hundred milliseconds of the engine's time on a busy machine.
        out = {"test": list(hc.get("command") or []),
               "interval": ns(float(hc.get("interval", 30)), CONTAINER_CHECK_MIN_INTERVAL),
               "timeout": ns(float(hc.get("timeout", 5)), CONTAINER_CHECK_MIN_TIMEOUT),
               "retries": int(hc.get("retries", 3))}
        if hc.get("startPeriod"):
            out["start_period"] = ns(float(hc["startPeriod"]), 0.001)
        return out

    def _wait_for_dependencies(self, run: Run, c: Spec) -> None:
        """Block until every ``dependsOn`` condition of ``c`` holds (bounded by its ``startTimeout``)."""
        for dep in c.depends_on:
            name, condition = str(dep.get("containerName")), str(dep.get("condition") or "START").upper()
            box = run.boxes.get(name)
            if box is None:
                continue
            timeout = max(self.timing.aws(float(c.start_timeout or 300)), 5.0)
            deadline = time.monotonic() + timeout
            while True:
                with self._lock:
                    done = _condition_met(box, condition)
                if done is True:
                    break
                if done is False or time.monotonic() > deadline or run.cancelled or run.stop_requested:
                    found = f"exit code {box.exit_code}" if box.exit_code is not None else f"health {box.health}"
                    raise TaskStartError(f"CannotStartContainerError: container {c.name} depends on {name} "
                                         f"reaching {condition}, which it did not ({found})")
                self._closed.wait(0.05)

    # ---- secrets and logs (through the local stack's own API)

    def _aws(self, service: str, region: str) -> Any:
        key = f"{service}:{region}"
        client = self._clients.get(key)
        if client is None:
            import boto3

            client = boto3.client(service, endpoint_url=self.aws_endpoint, region_name=region,
                                  aws_access_key_id="testing", aws_secret_access_key="testing")
            self._clients[key] = client
        return client

    def _secrets(self, c: Spec, account: str, region: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for secret in c.secrets:
            name, ref = str(secret.get("name")), str(secret.get("valueFrom") or "")
            out[name] = self._secret_value(ref, region)
        return out

    def _secret_value(self, ref: str, default_region: str) -> str:
        from botocore.exceptions import ClientError

        if ":secretsmanager:" in ref:
            parts = ref.split(":")
            region = parts[3] or default_region
            secret_id = ":".join(parts[:7])
            json_key, stage, version = [*parts[7:10], "", "", ""][:3]
            try:
                kwargs: dict[str, Any] = {"SecretId": secret_id}
                if version:
                    kwargs["VersionId"] = version
                elif stage:
                    kwargs["VersionStage"] = stage
                value = self._aws("secretsmanager", region).get_secret_value(**kwargs).get("SecretString") or ""
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "Error")
                message = exc.response.get("Error", {}).get("Message", str(exc))
                raise TaskStartError(
                    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                    "retrieval failed: unable to retrieve secret from asm: service call has been retried 1 "
                    f"time(s): failed to fetch secret {ref} from secrets manager: {code}: {message}") from None
            if json_key:
                try:
                    return str(json.loads(value)[json_key])
                except (ValueError, KeyError, TypeError):
                    raise TaskStartError(
                        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                        f"retrieval failed: unable to retrieve secret from asm: retrieved secret from Secrets "
                        f"Manager did not contain json key {json_key}") from None
            return value
        region = default_region
        name = ref
        if ref.startswith("arn:") and ":parameter" in ref:
            region = ref.split(":")[3] or default_region
            name = ref.split(":parameter", 1)[1]
        try:
            return str(self._aws("ssm", region).get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except ClientError:
            raise TaskStartError(
                "ResourceInitializationError: unable to pull secrets or registry auth: execution resource "
                "retrieval failed: unable to retrieve secrets from ssm: service call has been retried 1 time(s): "
                f"invalid ssm parameters: {name}") from None

    def _log_stream(self, c: Spec, task: Any) -> tuple[str, str] | None:
        from botocore.exceptions import ClientError

        conf = c.log_configuration or {}
        if conf.get("logDriver") != "awslogs":
            return None
        opts = conf.get("options") or {}
        group = opts.get("awslogs-group")
        if not group:
            return None
        region = opts.get("awslogs-region") or task.region
        prefix = opts.get("awslogs-stream-prefix")
        stream = f"{prefix}/{c.name}/{task.id}" if prefix else task.id
        logs = self._aws("logs", region)
        if str(opts.get("awslogs-create-group", "")).lower() == "true":
            try:
                logs.create_log_group(logGroupName=group)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                    raise
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                raise TaskStartError(
                    "ResourceInitializationError: failed to validate logger args: create stream has been retried "
                    "1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified "
                    f"log group does not exist. : exit status 1 (log group {group})") from None
            if code != "ResourceAlreadyExistsException":
                raise
        return group, f"{region}|{stream}"

    def _ship_logs(self, container: Any, group: str, where: str) -> None:
        region, stream = where.split("|", 1)
        logs = self._aws("logs", region)
        batch: list[dict[str, Any]] = []
        last = time.monotonic()

        def flush() -> None:
            nonlocal batch, last
            if batch:
                try:
                    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
                except Exception:  # the stack may be shutting down; logs are best effort
                    log.debug("could not ship %d log events to %s/%s", len(batch), group, stream, exc_info=True)
            batch, last = [], time.monotonic()

        try:
            for line in _log_lines(container.logs(stream=True, follow=True, timestamps=True)):
                batch.append(line)
                if len(batch) >= 200 or time.monotonic() - last > 0.5:
                    flush()
        except Exception:  # the container was removed under us
            log.debug("log stream of %s ended", container.id[:12], exc_info=True)
        flush()

    # ---- the engine's event stream

    def _follow_events(self) -> None:
        while not self._closed.is_set():
            try:
                since = datetime.now().timestamp()
                self._events_stream = self.client.events(
                    decode=True, since=int(since) - 1,
                    filters={"type": "container", "label": [f"{LABEL_STACK}={self.stack_id}"]})
                for event in self._events_stream:
                    self._on_event(event)
            except Exception:  # the engine restarted or the stream broke: follow again
                if self._closed.wait(0.5):
                    return

    def _on_event(self, event: dict[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        cid = event.get("id") or (event.get("Actor") or {}).get("ID")
        with self._lock:
            found = self._by_container.get(cid or "")
        if found is None:
            return
        run, name = found
        attrs = (event.get("Actor") or {}).get("Attributes") or {}
        now = self.clock()
        if action == "oom":
            with self._lock:
                run.boxes[name].reason = OOM_REASON
        elif action.startswith("health_status"):
            status = action.split(":", 1)[1].strip().upper() if ":" in action else ""
            with self._lock:
                if status in ("HEALTHY", "UNHEALTHY"):
                    run.boxes[name].health = status
        elif action == "die":
            code = _int(attrs.get("exitCode"))
            oom = False
            try:
                state = self.client.api.inspect_container(cid)["State"]
                code = int(state.get("ExitCode", code if code is not None else -1))
                oom = bool(state.get("OOMKilled"))
            except Exception:  # already removed: the event's exit code stands
                pass
            with self._lock:
                box = run.boxes[name]
                box.status = "STOPPED"
                box.exit_code = code
                box.exited_at = now
                if oom or (code == OOM_EXIT_CODE and box.reason == OOM_REASON):
                    box.reason = OOM_REASON
                essential = box.essential
            if essential:
                self._set_phase(run, EXITED, exit_code=code, reason=box.reason)
                if not run.stop_requested:
                    self._pool.submit(self._teardown, run, "essential exited")

    # ---- stopping

    def _teardown(self, run: Run, why: str) -> None:
        """Stop what still runs (SIGTERM, then SIGKILL after the stop timeout), let the logs drain,
        remove the containers and give the address back."""
        import docker

        if run.future is not None and why == "stop":
            try:
                run.future.result(timeout=120)
            except Exception:  # launch failures were recorded
                pass
        with self._lock:
            boxes = [b for b in run.boxes.values() if b.id]
        for box in sorted(boxes, key=lambda b: b.essential):  # non-essential first, as ECS stops them
            if box.status == "RUNNING":
                try:
                    self.client.api.stop(box.id, timeout=run.stop_timeout)
                except docker.errors.NotFound:
                    pass
                except docker.errors.APIError:
                    log.debug("stop of %s failed", box.id, exc_info=True)
        if run.phase not in (EXITED, PULL_FAILED):
            deadline = time.monotonic() + run.stop_timeout + 10
            while run.phase not in (EXITED, PULL_FAILED) and time.monotonic() < deadline:
                if self._closed.wait(0.05):
                    break
            if run.phase not in (EXITED, PULL_FAILED):  # the die event never came: read the state
                code = None
                essential = run.essential
                if essential and essential[0].id:
                    try:
                        code = int(self.client.api.inspect_container(essential[0].id)["State"]["ExitCode"])
                    except Exception:  # removed already
                        code = None
                self._set_phase(run, EXITED, exit_code=code)
        for box in boxes:
            if box.shipper is not None:
                box.shipper.join(timeout=5)
        for cid in run.container_ids():
            try:
                self.client.api.remove_container(cid, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                log.debug("removing %s failed", cid, exc_info=True)
        with self._lock:
            for cid in run.container_ids():
                self._by_container.pop(cid, None)
        self.addresses.release(run.address)
        run.torn_down.set()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _condition_met(box: Box, condition: str) -> bool | None:
    """True when met, False when it can no longer be met, None while waiting."""
    if condition == "START":
        return True if box.status in ("RUNNING", "STOPPED") else None
    if condition == "COMPLETE":
        return True if box.status == "STOPPED" else None
    if condition == "SUCCESS":
        if box.status == "STOPPED":
            return box.exit_code == 0
        return None
    if condition == "HEALTHY":
        if box.health == "HEALTHY":
            return True
        if box.health == "UNHEALTHY" or box.status == "STOPPED":
            return False
        return None
    return True


def _start_order(specs: list[Spec]) -> list[str]:
    """Containers in ``dependsOn`` order (dependencies first; the definition's order otherwise)."""
    names = [c.name for c in specs]
    deps = {c.name: [str(d.get("containerName")) for d in c.depends_on if d.get("containerName") in names]
            for c in specs}
    order: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for dep in deps[name]:
            visit(dep)
        visiting.discard(name)
        order.append(name)

    for name in names:
        visit(name)
    return order


def _task_memory(td: Any) -> int | None:
    try:
        return int(str(td.memory)) if td.memory else None
    except ValueError:
        return None


def _log_lines(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    """Docker's timestamped log stream as CloudWatch log events (``timestamp`` in ms, ``message``)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        while b"\n" in pending:
            raw, pending = pending.split(b"\n", 1)
            event = _log_event(raw)
            if event is not None:
                yield event
    if pending:
        event = _log_event(pending)
        if event is not None:
            yield event


def _log_event(raw: bytes) -> dict[str, Any] | None:
    text = raw.decode("utf-8", "replace").rstrip("\r")
    if not text:
        return None
    stamp, _, message = text.partition(" ")
    try:
        whole, _, frac = stamp.rstrip("Z").partition(".")
        at = datetime.fromisoformat(whole + "+00:00").timestamp() + float("0." + (frac or "0"))
    except ValueError:
        at, message = time.time(), text
    return {"timestamp": int(at * 1000), "message": message}


def _pause_context() -> io.BytesIO:
    """A build context for the pause container: a static busybox sleeping (Debian's busybox-static)."""
    from pipeline_py.local.busybox import SOURCE, check_static_busybox

    check_static_busybox(SOURCE)
    buf = io.BytesIO()
    # busybox picks the applet by its own name: it stays /busybox, and `sleep` is its argument
    dockerfile = (b'FROM scratch\nCOPY busybox /busybox\nENTRYPOINT ["/busybox", "sleep", "2147483647"]\n'
                  b'LABEL pipeline-py.role=pause\n')
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        data = Path(SOURCE).read_bytes()
        info = tarfile.TarInfo("busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def addresses_in_use(client: Any) -> set[str]:
    """Loopback addresses the containers of any pipeline-py stack on this engine publish ports on."""
    found: set[str] = set()
    try:  # the low-level list: no inspect per container, which races with removals
        containers = client.api.containers(all=True, filters={"label": LABEL_STACK})
    except Exception:  # no answer: nothing known to avoid
        return found
    for container in containers:
        for port in container.get("Ports") or []:
            if port.get("IP"):
                found.add(str(port["IP"]))
    return found


def remove_stack_containers(client: Any, stack_id: str) -> int:
    """Remove every container labelled with ``stack_id`` (running or not); returns how many."""
    import docker

    label = {"label": f"{LABEL_STACK}={stack_id}"}
    removed = 0
    for container in client.api.containers(all=True, filters=label):  # ids only: no inspect races
        try:
            client.api.remove_container(container["Id"], force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # e.g. 409: a task's own teardown is removing it right now
            log.debug("could not remove %s: %s", container["Id"][:12], exc)
    # what was being removed concurrently is gone once those removals finish; wait for them (bounded)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and client.api.containers(all=True, filters=label):
        time.sleep(0.2)
    return removed


def engine_answers(timeout: int = 5) -> tuple[bool, str]:
    try:
        import docker

        docker.from_env(timeout=timeout).ping()
        return True, ""
    except Exception as exc:  # any failure means no engine
        return False, f"no Docker engine answers ({exc.__class__.__name__}: {exc})"

"""The service's application logs: where they are (the log group and stream prefix of the running task
definition's ``awslogs`` configuration) and which streams are the service's (ECS names them
``<prefix>/<container>/<task id>``, so a log group shared by several services is told apart by the
service's tasks, running and recently stopped).

``follow`` polls ``FilterLogEvents`` and asks ECS for the service's tasks again on every round, so a
task replaced by a deploy (or by ECS after a crash) is followed into its successor's stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from pipeline_py.clock import Clock
from pipeline_py.errors import Aborted, BadInput
from pipeline_py.ops.adapters import Logs


class EcsReader(Protocol):
    """What the runbooks read of ECS (``deploy.adapters.ecs.EcsServices`` has it)."""

    def describe(self, cluster: str, names: Iterable[str]) -> dict[str, Any]: ...

    def task_definition(self, arn: str) -> dict[str, Any] | None: ...

    def list_task_arns(self, cluster: str, *, started_by: str | None = None, service: str | None = None,
                       family: str | None = None, desired_status: str = "RUNNING") -> list[str]: ...

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class LogSource:
    """One container's awslogs destination in one task definition."""

    group: str
    prefix: str
    container: str
    task_definition: str

    def stream(self, task_id: str) -> str:
        return f"{self.prefix}/{self.container}/{task_id}"


def sources_from(task_definition: dict[str, Any], essential_only: bool = False) -> list[LogSource]:
    out = []
    for c in task_definition.get("containerDefinitions") or []:
        if essential_only and c.get("essential") is False:
            continue
        lc = c.get("logConfiguration") or {}
        opts = lc.get("options") or {}
        if lc.get("logDriver") == "awslogs" and opts.get("awslogs-group"):
            out.append(LogSource(group=opts["awslogs-group"], prefix=opts.get("awslogs-stream-prefix") or "ecs",
                                 container=str(c.get("name")), task_definition=task_definition.get(
                                     "taskDefinitionArn", "")))
    return out


def service_sources(ecs: EcsReader, cluster: str, services: list[str], essential_only: bool = False
                    ) -> list[LogSource]:
    """The log destinations of the task definitions the services run (every deployment's)."""
    views = ecs.describe(cluster, services)
    arns: list[str] = []
    for name in services:
        view = views.get(name)
        if view is None:
            continue
        for d in view.deployments:
            if d.task_definition and d.task_definition not in arns:
                arns.append(d.task_definition)
        if view.task_definition and view.task_definition not in arns:
            arns.append(view.task_definition)
    seen: dict[tuple[str, str, str], LogSource] = {}
    for arn in arns:
        td = ecs.task_definition(arn)
        for src in sources_from(td or {}, essential_only):
            seen.setdefault((src.group, src.prefix, src.container), src)
    return list(seen.values())


def task_ids(ecs: EcsReader, cluster: str, services: list[str]) -> list[str]:
    """The services' tasks ECS still knows: running, and stopped within about an hour."""
    ids: list[str] = []
    for name in services:
        for status in ("RUNNING", "STOPPED"):
            for arn in ecs.list_task_arns(cluster, service=name, desired_status=status):
                tid = arn.rsplit("/", 1)[-1]
                if tid not in ids:
                    ids.append(tid)
    return ids


@dataclass
class LogQuery:
    cluster: str
    services: list[str]
    since: float  # seconds back
    pattern: str | None = None
    task: str | None = None
    limit: int = 10000
    log_group: str | None = None  # overrides the task definitions' (when they log elsewhere)


@dataclass
class Event:
    timestamp: int
    stream: str
    message: str
    event_id: str
    group: str

    @property
    def task(self) -> str:
        return self.stream.rsplit("/", 1)[-1]

    @property
    def container(self) -> str:
        parts = self.stream.split("/")
        return parts[-2] if len(parts) >= 3 else ""

    def line(self) -> str:
        stamp = datetime.fromtimestamp(self.timestamp / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        return f"{stamp}Z {self.task[:8]} {self.container} {self.message.rstrip()}"

    def to_dict(self) -> dict[str, Any]:
        return {"timestamp": datetime.fromtimestamp(self.timestamp / 1000, timezone.utc).isoformat(),
                "task": self.task, "container": self.container, "stream": self.stream, "message": self.message}


@dataclass
class Streams:
    """Which streams to read: the sources' streams for the services' tasks (or one task)."""

    sources: list[LogSource]
    ids: list[str] = field(default_factory=list)

    def by_group(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for src in self.sources:
            out.setdefault(src.group, [])
            out[src.group].extend(src.stream(t) for t in self.ids)
        return out


def resolve(ecs: EcsReader, q: LogQuery, essential_only: bool = False) -> Streams:
    sources = service_sources(ecs, q.cluster, q.services, essential_only)
    if q.log_group:
        sources = [LogSource(q.log_group, s.prefix, s.container, s.task_definition) for s in sources] or \
            [LogSource(q.log_group, "ecs", "*", "")]
    if not sources:
        raise BadInput(f"service(s) {', '.join(q.services)} in {q.cluster}: no container logs with the awslogs "
                       "driver in the task definitions they run, so there is no log group to read (set "
                       "--log-group)")
    ids = task_ids(ecs, q.cluster, q.services)
    if q.task:
        wanted = q.task.rsplit("/", 1)[-1]
        matching = [t for t in ids if t.startswith(wanted)]
        if not matching:
            raise BadInput(f"--task {q.task}: not a task of {', '.join(q.services)} that ECS still knows "
                           f"(known: {', '.join(t[:8] for t in ids) or 'none'})")
        ids = matching
    return Streams(sources, ids)


def fetch(logs: Logs, streams: Streams, start_ms: int, pattern: str | None, limit: int = 10000,
          end_ms: int | None = None) -> list[Event]:
    events: list[Event] = []
    for group, names in streams.by_group().items():
        if not names:
            continue
        for i in range(0, len(names), 100):
            for e in logs.filter(group, start_ms=start_ms, end_ms=end_ms, pattern=pattern, streams=names[i:i + 100],
                                 limit=limit):
                events.append(Event(int(e.get("timestamp", 0)), str(e.get("logStreamName", "")),
                                    str(e.get("message", "")), str(e.get("eventId", "")), group))
    events.sort(key=lambda e: (e.timestamp, e.stream, e.event_id))
    return events[-limit:]


def read(ecs: EcsReader, logs: Logs, q: LogQuery, now: datetime) -> tuple[Streams, list[Event]]:
    streams = resolve(ecs, q)
    start = int((now.timestamp() - q.since) * 1000)
    return streams, fetch(logs, streams, start, q.pattern, q.limit)


def follow(ecs: EcsReader, logs: Logs, q: LogQuery, clock: Clock, emit: Callable[[Event], None],
           note: Callable[[str], None], *, poll_interval: float = 2.0, until: Callable[[], bool] = lambda: False,
           first: list[Event] | None = None) -> int:
    """Print new events as they arrive until interrupted (or ``until()``); returns how many were printed.
    Each round asks ECS for the service's tasks again, so replacements are followed."""
    seen: dict[str, None] = {}
    known_tasks: set[str] = set()
    printed = 0
    last_ts = int((clock.utcnow().timestamp() - q.since) * 1000)
    for e in first or []:
        seen[f"{e.stream}/{e.event_id}"] = None
        last_ts = max(last_ts, e.timestamp)
    try:
        while not until():
            streams = resolve(ecs, q)
            for t in streams.ids:
                if t not in known_tasks:
                    if known_tasks:
                        note(f"following task {t[:8]} too (new task of {', '.join(q.services)})")
                    known_tasks.add(t)
            for e in fetch(logs, streams, max(last_ts - 5000, 0), q.pattern, q.limit):
                key = f"{e.stream}/{e.event_id}"
                if key in seen:
                    continue
                seen[key] = None
                last_ts = max(last_ts, e.timestamp)
                emit(e)
                printed += 1
            if len(seen) > 50000:  # forget the oldest ids; events older than the overlap cannot come back
                for k in list(seen)[:25000]:
                    del seen[k]
            if until():
                break
            clock.sleep(poll_interval)
    except (Aborted, KeyboardInterrupt):
        note("stopped following")
    return printed

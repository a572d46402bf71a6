"""CloudWatch Logs: filter patterns as CloudWatch applies them, and the log lines of simulated tasks.

- ``FilterLogEvents`` matches with :mod:`pipeline_py.local.log_patterns` (moto understands plain terms
  only and returns every event for ``[...]`` and ``{...}`` patterns).
- :class:`TaskLogs` (a ticker) writes what the sample app prints, for every simulated task whose
  essential container logs with the ``awslogs`` driver, into ``<group>/<prefix>/<container>/<task id>``
  as ECS does: a start line when the container starts, a request line per second while it runs (an
  ``ERROR`` line at the scenario's ``error-rate``, ``WARN`` when ``unhealthy``), and a last line when it
  exits (``ERROR`` with a non-zero exit code, except SIGTERM's 143). Lines start with the level, so the
  runbooks' ``[level = ERROR*, ...]`` pattern finds them. The group must exist (terraform or the sandbox
  creates it) unless the task definition asks ``awslogs-create-group``. Timestamps are wall-clock,
  because clients read logs over windows of their own clock.

moto internals used here (pinned in tests/unit/moto_pins/test_logs.py):
  moto.logs.models.LogStream.filter_log_events(self, start_time, end_time, filter_pattern) (replaced),
    .events (LogEvent: timestamp, message, to_filter_dict()), .log_stream_name
  moto.logs.models.logs_backends[account][region].groups ({name: LogGroup}); LogGroup.streams,
    create_log_stream(name), put_log_events(stream, events); LogsBackend.create_log_group(name, tags)
  moto.ecs.models.ecs_backends[account][region].task_definitions[family][revision].container_definitions
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pipeline_py.local import log_patterns
from pipeline_py.local.moto_ext.core import patch_moto

log = logging.getLogger("pipeline_py.local")

LINE_INTERVAL = 1.0  # wall seconds between request lines of a running task
SIGTERM_EXIT_CODE = 143


def install(fid: Any) -> TaskLogs:
    from moto.logs.models import LogStream

    patch_moto(LogStream, "filter_log_events", _filter_log_events)
    ticker = TaskLogs(fid)
    fid.add_ticker(ticker)
    return ticker


def _filter_log_events(self: Any, start_time: int, end_time: int, filter_pattern: str) -> list[dict[str, Any]]:
    try:
        match = log_patterns.compile_pattern(filter_pattern)
    except log_patterns.PatternError as exc:
        from moto.logs.exceptions import InvalidParameterException

        raise InvalidParameterException(f"Invalid filter pattern: {exc}") from None
    out = []
    for event in sorted(self.events, key=lambda e: e.timestamp):
        if start_time and event.timestamp < start_time:
            continue
        if end_time and event.timestamp > end_time:
            continue
        if match(event.message):
            item = event.to_filter_dict()
            item["logStreamName"] = self.log_stream_name
            out.append(item)
    return out


@dataclass
class _TaskState:
    started: bool = False
    ended: bool = False
    next_at: float = 0.0
    carry: float = 0.0
    lines: int = 0


class TaskLogs:
    """What the simulated tasks print, written into moto's CloudWatch Logs."""

    def __init__(self, fid: Any) -> None:
        self.fid = fid
        self.tasks: dict[str, _TaskState] = {}
        self._configs: dict[str, dict[str, str] | None] = {}
        self.written = 0
        self.missing_groups: set[str] = set()

    def reset(self) -> None:
        self.tasks.clear()
        self._configs.clear()
        self.missing_groups.clear()

    def status(self) -> dict[str, Any]:
        return {"task_logs": {"tasks": len(self.tasks), "lines": self.written,
                              "missing_groups": sorted(self.missing_groups)}}

    def _config(self, task: Any) -> dict[str, str] | None:
        """The essential container's awslogs options (with its name under ``container``), or None."""
        td = task.task_definition
        if td.arn in self._configs:
            return self._configs[td.arn]
        from moto.ecs.models import ecs_backends

        found: dict[str, str] | None = None
        try:
            moto_td = ecs_backends[task.account][task.region].task_definitions[td.family][td.revision]
            essential = td.essential.name
            for c in moto_td.container_definitions:
                lc = c.get("logConfiguration")
                if c.get("name") == essential and isinstance(lc, dict) and lc.get("logDriver") == "awslogs":
                    found = {**(lc.get("options") or {}), "container": essential}
        except (KeyError, AttributeError):
            found = None
        self._configs[td.arn] = found
        return found

    def tick(self, now: float) -> None:
        if getattr(self.fid, "dataplane", None) is not None:
            return  # the Docker runtime ships what the real containers print (docker_runtime)
        wall = self.fid.wall_seconds()
        live = set()
        for task in list(self.fid.ecs.all_tasks()):
            live.add(task.arn)
            if not task.launched:
                continue
            config = self._config(task)
            if config is None or not config.get("awslogs-group"):
                continue
            state = self.tasks.setdefault(task.arn, _TaskState())
            if state.ended:
                continue
            try:
                self._advance(task, config, state, now, wall)
            except Exception:  # a task's logs must not stop the others'
                log.exception("task logs of %s failed", task.arn)
        for arn in [a for a in self.tasks if a not in live]:
            del self.tasks[arn]

    def _advance(self, task: Any, config: dict[str, str], state: _TaskState, now: float, wall: float) -> None:
        from pipeline_py.local.task_sim import EXITED, PULL_FAILED, PULLING, RUNNING

        obs = self.fid.ecs.runtime.observe(task, now)
        if obs.phase in (PULLING, PULL_FAILED):
            state.ended = obs.phase == PULL_FAILED
            return
        sc = task.scenario
        env = dict(task.task_definition.essential.environment)
        lines: list[tuple[float, str]] = []
        if not state.started:
            state.started = True
            at = self._wall_at(obs.since, wall)
            port = next(iter(task.task_definition.essential.container_ports), 8080)
            lines.append((at, f"INFO starting {task.task_definition.family} version={env.get('APP_VERSION', '?')} "
                              f"scenario={sc.text}"))
            lines.append((at, f"INFO listening on :{port}"))
            state.next_at = wall + LINE_INTERVAL
        if obs.phase == RUNNING:
            while state.next_at <= wall:
                lines.append((state.next_at, self._request_line(sc, state)))
                state.next_at += LINE_INTERVAL
        elif obs.phase == EXITED:
            at = self._wall_at(obs.since, wall)
            code = obs.exit_code
            if code == SIGTERM_EXIT_CODE or code is None:
                lines.append((at, "INFO received SIGTERM, shutting down"))
            elif code == 0:
                lines.append((at, "INFO done, exiting with code 0"))
            else:
                lines.append((at, f"ERROR fatal: exiting with code {code} (scenario {sc.text})"))
            state.ended = True
        if lines:
            self._write(task, config, lines)

    def _wall_at(self, at: float, wall_now: float) -> float:
        stamp = self.fid.ecs.wall(at)
        return min(stamp.timestamp(), wall_now) if stamp is not None else wall_now

    @staticmethod
    def _request_line(sc: Any, state: _TaskState) -> str:
        state.lines += 1
        if sc.unhealthy:
            return "WARN GET /health 503 unhealthy (scenario)"
        state.carry += sc.error_rate
        if state.carry >= 1.0:
            state.carry -= 1.0
            return f"ERROR GET /tasks 500 {int(sc.latency_ms)}ms internal error (scenario error-rate={sc.error_rate:g})"
        return f"INFO GET /tasks 200 {int(sc.latency_ms)}ms"

    def _write(self, task: Any, config: dict[str, str], lines: list[tuple[float, str]]) -> None:
        from moto.logs.models import logs_backends

        backend = logs_backends[task.account][config.get("awslogs-region") or task.region]
        name = config["awslogs-group"]
        group = backend.groups.get(name)
        if group is None:
            if str(config.get("awslogs-create-group", "")).lower() != "true":
                self.missing_groups.add(name)
                return
            group = backend.create_log_group(name, {})
        stream_name = f"{config.get('awslogs-stream-prefix', 'ecs')}/{config['container']}/{task.id}"
        if stream_name not in group.streams:
            group.create_log_stream(stream_name)
        group.put_log_events(stream_name, [{"timestamp": int(at * 1000), "message": msg} for at, msg in lines])
        self.written += len(lines)

"""A one-off task (e.g. a database migration before a deploy) with the service's network
configuration and a command override, waited on until it stops; its exit code decides ours."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from pipeline_py.clock import Deadline
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.views import short_id, td_label
from pipeline_py.errors import Aborted, BadInput, HumanNeeded, OperationFailed

STARTED_BY = "pipeline-py/run-task"


@dataclass
class RunTaskRequest:
    cluster: str
    service: str
    task_definition_arn: str | None = None
    """The revision to run; None = what the service runs now."""
    task_definition: dict[str, Any] | None = None
    """A rendered revision to register first (``--image``)."""
    container: str | None = None
    command: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    timeout: float = 1800.0
    poll_interval: float = 5.0


def essential_container(td: dict[str, Any]) -> str:
    for c in td.get("containerDefinitions", []):
        if c.get("essential", True):
            return str(c["name"])
    raise BadInput(f"task definition {td.get('family')} has no essential container")


def run_task(ports: Ports, req: RunTaskRequest, *, dry_run: bool = False) -> dict[str, Any]:
    services, reporter = ports.services, ports.reporter
    cluster = req.cluster
    view = services.get(cluster, req.service)
    if req.task_definition is not None:
        td_arn = "<rendered>" if dry_run else services.register(req.task_definition)[0]
    else:
        td_arn = req.task_definition_arn or (view.primary.task_definition if view.primary else view.task_definition)
    live = services.task_definition(td_arn) if not td_arn.startswith("<") else None
    if live is None and not td_arn.startswith("<"):
        raise BadInput(f"task definition {td_arn} does not exist")
    container = req.container or (essential_container(live) if live else "app")
    if live and container not in [c["name"] for c in live.get("containerDefinitions", [])]:
        names = ", ".join(c["name"] for c in live.get("containerDefinitions", []))
        raise BadInput(f"--container {container!r} is not in {td_label(td_arn)} (containers: {names})")
    if not view.network_configuration:
        raise BadInput(f"service {req.service} has no network configuration to borrow (awsvpc is required on Fargate)")

    kwargs: dict[str, Any] = {
        "cluster": cluster,
        "taskDefinition": td_arn,
        "count": 1,
        "startedBy": STARTED_BY,
        "networkConfiguration": view.network_configuration,
    }
    if view.capacity_provider_strategy:
        kwargs["capacityProviderStrategy"] = list(view.capacity_provider_strategy)
    else:
        kwargs["launchType"] = view.launch_type or "FARGATE"
    if view.platform_version and not view.capacity_provider_strategy:
        kwargs["platformVersion"] = view.platform_version
    override: dict[str, Any] = {"name": container}
    if req.command:
        override["command"] = req.command
    if req.environment:
        override["environment"] = [{"name": k, "value": str(v)} for k, v in req.environment.items()]
    if len(override) > 1:
        kwargs["overrides"] = {"containerOverrides": [override]}

    reporter.step(f"run-task in {cluster} with {td_label(td_arn)} (container {container}"
                  + (f", command {shlex.join(req.command)}" if req.command else "") + ")")
    if dry_run:
        return {"status": "dry_run", "plan": [f"ecs:RunTask {json.dumps(kwargs, default=str)}",
                                              f"wait for STOPPED up to {req.timeout:g}s"]}
    resp = services.run_task(**kwargs)
    if resp.get("failures") or not resp.get("tasks"):
        reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')} {f.get('detail', '')}".strip()
                            for f in resp.get("failures", []))
        raise OperationFailed(f"ECS did not start the task: {reasons or 'no task returned'}")
    task_arn = resp["tasks"][0]["taskArn"]
    reporter.info(f"task {short_id(task_arn)} started")
    try:
        task = wait_stopped(ports, cluster, task_arn, req.timeout, req.poll_interval)
    except Aborted as exc:
        services.stop_task(cluster, task_arn, f"pipeline-py: {exc}")
        raise OperationFailed(f"{exc}; stopped task {short_id(task_arn)}",
                              result={"status": "aborted", "task_arn": task_arn}) from None
    if task is None:
        services.stop_task(cluster, task_arn, f"pipeline-py: timed out after {req.timeout:g}s")
        raise OperationFailed(f"task {short_id(task_arn)} did not finish within {req.timeout:g}s; it was stopped",
                              result={"status": "timed_out", "task_arn": task_arn})
    c: dict[str, Any] = next((c for c in task.get("containers", []) if c.get("name") == container), {})
    exit_code = c.get("exitCode")
    result = {
        "task_arn": task_arn,
        "task_definition_arn": task.get("taskDefinitionArn", td_arn),
        "container": container,
        "container_exit_code": exit_code,
        "stop_code": task.get("stopCode"),
        "stopped_reason": task.get("stoppedReason"),
        "container_reason": c.get("reason"),
    }
    reporter.info(f"task {short_id(task_arn)} stopped: {task.get('stoppedReason')}; "
                  f"container {container} exit code {exit_code}" + (f" ({c['reason']})" if c.get("reason") else ""))
    if exit_code == 0:
        return {"status": "succeeded", **result}
    if exit_code is None:
        raise HumanNeeded(f"task {short_id(task_arn)} stopped without an exit code: {task.get('stoppedReason')}",
                          result={"status": "failed", **result})
    raise OperationFailed(f"task {short_id(task_arn)} exited with code {exit_code}: {task.get('stoppedReason')}",
                          result={"status": "failed", **result})


def wait_stopped(ports: Ports, cluster: str, task_arn: str, timeout: float, poll: float) -> dict[str, Any] | None:
    deadline = Deadline(ports.clock, timeout)
    last = ""
    while True:
        tasks = ports.services.describe_tasks(cluster, [task_arn])
        task = tasks[0] if tasks else {}
        status = task.get("lastStatus", "?")
        if status != last:
            ports.reporter.info(f"task {short_id(task_arn)}: {status}")
            last = status
        if status == "STOPPED":
            return task
        if deadline.expired:
            return None
        ports.clock.sleep(min(poll, max(deadline.remaining, 0.0)))

"""``pipeline-py run-task``: a one-off task (e.g. a database migration before a deploy) with the
service's network configuration, a command override, waited on until it stops; its exit code
decides ours."""

from __future__ import annotations

import argparse
import json
import shlex
from typing import Any

from pipeline_py import taskdef
from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.commands.deploy import settings_for, template_vars
from pipeline_py.context import Context
from pipeline_py.deploy.ecs import short_id, td_label
from pipeline_py.deploy.ports import Ports
from pipeline_py.errors import Aborted, BadInput, HumanNeeded, OperationFailed

STARTED_BY = "pipeline-py/run-task"


def parse_command(text: str | None) -> list[str] | None:
    """A JSON list (how the params file carries it) or a shell-like string."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise BadInput(f"--command: not a valid JSON list: {exc.msg}") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadInput("--command: a JSON list of strings is expected")
        return value
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise BadInput(f"--command: {exc}") from None


def essential_container(td: dict[str, Any]) -> str:
    for c in td.get("containerDefinitions", []):
        if c.get("essential", True):
            return c["name"]
    raise BadInput(f"task definition {td.get('family')} has no essential container")


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    settings = settings_for(ctx, args)
    if not settings.cluster:
        raise BadInput("no cluster configured for this environment")
    ports = Ports(ctx.aws(settings), ctx.reporter, ctx.clock)
    ecs = ports.aws.client("ecs")
    cluster, service = settings.cluster, settings.service_name
    view = ports.services.get(cluster, service)
    timeout = settings.run_task.timeout if args.timeout is None else _seconds(args.timeout)
    command = parse_command(args.command) or settings.run_task.command

    if args.task_definition:
        td_arn = args.task_definition
    elif args.image:
        td = taskdef.render(settings, ctx.loaded().base_dir, env=ctx.env, image=args.image,
                            extra_vars=template_vars(args))
        td_arn = "<rendered>" if ctx.dry_run else taskdef.register(ecs, td)[0]
    else:
        td_arn = view.primary.task_definition if view.primary else view.task_definition
    live = ports.services.task_definition_exists(td_arn) if not td_arn.startswith("<") else None
    if live is None and not td_arn.startswith("<"):
        raise BadInput(f"task definition {td_arn} does not exist")
    container = args.container or settings.run_task.container or (essential_container(live) if live else "app")
    if live and container not in [c["name"] for c in live.get("containerDefinitions", [])]:
        names = ", ".join(c["name"] for c in live.get("containerDefinitions", []))
        raise BadInput(f"--container {container!r} is not in {td_label(td_arn)} (containers: {names})")
    if not view.network_configuration:
        raise BadInput(f"service {service} has no network configuration to borrow (awsvpc is required on Fargate)")

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
    if command:
        override["command"] = command
    env_overrides = [{"name": k, "value": str(v)} for k, v in template_vars(args).items()] if args.image is None else []
    if env_overrides:
        override["environment"] = env_overrides
    if len(override) > 1:
        kwargs["overrides"] = {"containerOverrides": [override]}

    ctx.reporter.step(f"run-task in {cluster} with {td_label(td_arn)} (container {container}"
                      + (f", command {shlex.join(command)}" if command else "") + ")")
    if ctx.dry_run:
        return {"status": "dry_run", "plan": [f"ecs:RunTask {json.dumps(kwargs, default=str)}",
                                              f"wait for STOPPED up to {timeout:g}s"]}
    resp = ecs.run_task(**kwargs)
    if resp.get("failures") or not resp.get("tasks"):
        reasons = "; ".join(f"{f.get('arn', '')} {f.get('reason', '')} {f.get('detail', '')}".strip()
                            for f in resp.get("failures", []))
        raise OperationFailed(f"ECS did not start the task: {reasons or 'no task returned'}")
    task_arn = resp["tasks"][0]["taskArn"]
    ctx.reporter.info(f"task {short_id(task_arn)} started")
    try:
        task = wait_stopped(ctx, ports, cluster, task_arn, timeout, settings.poll_interval)
    except Aborted as exc:
        ecs.stop_task(cluster=cluster, task=task_arn, reason=f"pipeline-py: {exc}")
        raise OperationFailed(f"{exc}; stopped task {short_id(task_arn)}",
                              result={"status": "aborted", "task_arn": task_arn}) from None
    if task is None:
        ecs.stop_task(cluster=cluster, task=task_arn, reason=f"pipeline-py: timed out after {timeout:g}s")
        raise OperationFailed(f"task {short_id(task_arn)} did not finish within {timeout:g}s; it was stopped",
                              result={"status": "timed_out", "task_arn": task_arn})
    c = next((c for c in task.get("containers", []) if c.get("name") == container), {})
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
    ctx.reporter.info(f"task {short_id(task_arn)} stopped: {task.get('stoppedReason')}; "
                      f"container {container} exit code {exit_code}" + (f" ({c['reason']})" if c.get("reason") else ""))
    if exit_code == 0:
        return {"status": "succeeded", **result}
    if exit_code is None:
        raise HumanNeeded(f"task {short_id(task_arn)} stopped without an exit code: {task.get('stoppedReason')}",
                          result={"status": "failed", **result})
    raise OperationFailed(f"task {short_id(task_arn)} exited with code {exit_code}: {task.get('stoppedReason')}",
                          result={"status": "failed", **result})


def wait_stopped(ctx: Context, ports: Ports, cluster: str, task_arn: str, timeout: float,
                 poll: float) -> dict[str, Any] | None:
    from pipeline_py.clock import Deadline

    deadline = Deadline(ctx.clock, timeout)
    last = ""
    while True:
        tasks = ports.services.describe_tasks(cluster, [task_arn])
        task = tasks[0] if tasks else {}
        status = task.get("lastStatus", "?")
        if status != last:
            ctx.reporter.info(f"task {short_id(task_arn)}: {status}")
            last = status
        if status == "STOPPED":
            return task
        if deadline.expired:
            return None
        ctx.clock.sleep(min(poll, max(deadline.remaining, 0.0)))


def _seconds(text: str) -> float:
    from pipeline_py.config import _duration

    try:
        value = float(_duration(text))
    except ValueError as exc:
        raise BadInput(f"--timeout: {exc}") from None
    if value <= 0:
        raise BadInput(f"--timeout must be a positive number of seconds, got {text!r}")
    return value


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "run-task", run,
                    "run a one-off task (e.g. a migration) with the service's network configuration")
    p.add_argument("--command", default=None, help="command override: a string (shell-split) or a JSON list")
    p.add_argument("--container", default=None, help="container to override (default: the essential one)")
    p.add_argument("--task-definition", default=None, metavar="ARN", help="default: what the service runs now")
    p.add_argument("--image", default=None, help="render and register the template with this image first")
    p.add_argument("--var", action="append", metavar="K=V",
                   help="template variable with --image; otherwise an environment override")
    p.add_argument("--timeout", default=None, help="how long to wait for the task to stop")

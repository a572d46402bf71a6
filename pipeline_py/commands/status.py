"""``pipeline-py status``: deployments, counts, recent events and target health of the
environment's service(s), and the listener weights for two-colour environments."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.commands.deploy import settings_for
from pipeline_py.context import Context
from pipeline_py.deploy.ecs import ServiceView, td_label
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.watch import progress_line
from pipeline_py.errors import BadInput


def describe_service(ports: Ports, view: ServiceView, events: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "service": view.name,
        "cluster": view.cluster,
        "task_definition": view.task_definition,
        "desired": view.desired,
        "running": view.running,
        "pending": view.pending,
        "deployment_controller": view.controller,
        "circuit_breaker": view.circuit_breaker or None,
        "deployments": [d.summary() for d in view.deployments],
        "events": [
            {"created_at": e.get("createdAt"), "message": e.get("message")} for e in list(view.events)[:events]
        ],
        "target_health": {},
    }
    primary = view.primary
    if primary is not None:
        ports.reporter.info(progress_line(view, primary.id))
    for d in view.deployments:
        ports.reporter.detail(f"{d.status:<8} {d.id} {td_label(d.task_definition)} {d.running}/{d.desired} running "
                              f"{d.pending} pending {d.failed} failed {d.rollout_state or ''}")
    for e in reversed(out["events"]):
        ports.reporter.detail(f"event: {e['message']}")
    for tg in view.target_groups:
        states = ports.targets.health(tg)
        out["target_health"][tg] = [
            {"target": f"{t.id}:{t.port}", "state": t.state, "reason": t.reason} for t in states
        ]
        counts: dict[str, int] = {}
        for t in states:
            counts[t.state] = counts.get(t.state, 0) + 1
        ports.reporter.detail(f"targets in {tg.rsplit(':', 1)[-1]}: "
                              + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
    return out


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    settings = settings_for(ctx, args)
    ports = Ports(ctx.aws(settings), ctx.reporter, ctx.clock)
    if not settings.cluster:
        raise BadInput("no cluster configured for this environment")
    names = [settings.service_name]
    bg = settings.blue_green
    if settings.strategy != "rolling" and bg.services.blue and bg.services.green:
        names = [bg.services.blue, bg.services.green]
    views = ports.services.describe(settings.cluster, names)
    missing = [n for n in names if n not in views]
    if missing:
        raise BadInput(f"ECS service(s) {', '.join(missing)} not found in cluster {settings.cluster!r}")
    result: dict[str, Any] = {
        "cluster": settings.cluster,
        "strategy": settings.strategy,
        "services": [describe_service(ports, views[n], args.events) for n in names],
    }
    if settings.strategy != "rolling" and bg.listener_arn:
        from pipeline_py.deploy.traffic import Traffic

        weights = Traffic(ports.aws, bg).read()
        result["weights"] = weights
        ctx.reporter.info("listener weights: " + ", ".join(f"{k} {v}%" for k, v in weights.items()))
    return result


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "status", run,
                    "deployments, counts, recent events and target health of the environment's service")
    p.add_argument("--events", type=int, default=10, help="how many recent events to show")

"""What an environment runs: its service(s) with deployments, counts, recent events and target
health, and for two-colour environments the listener weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline_py.config import BlueGreenConfig
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.views import ServiceView, td_label
from pipeline_py.deploy.watch import progress_line
from pipeline_py.errors import BadInput


@dataclass
class StatusRequest:
    cluster: str
    service: str
    strategy: str
    blue_green: BlueGreenConfig
    events: int = 10


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


def environment_status(ports: Ports, req: StatusRequest) -> dict[str, Any]:
    names = [req.service]
    bg = req.blue_green
    two_colour = req.strategy != "rolling" and bool(bg.services.blue and bg.services.green)
    if two_colour:
        names = [bg.services.blue, bg.services.green]  # type: ignore[list-item]
    views = ports.services.describe(req.cluster, names)
    missing = [n for n in names if n not in views]
    if missing:
        raise BadInput(f"ECS service(s) {', '.join(missing)} not found in cluster {req.cluster!r}")
    result: dict[str, Any] = {
        "cluster": req.cluster,
        "strategy": req.strategy,
        "services": [describe_service(ports, views[n], req.events) for n in names],
    }
    if two_colour and (bg.listener_arn or bg.load_balancer):
        weights = ports.router_for(bg, req.strategy).weights()
        result["weights"] = weights
        ports.reporter.info("listener weights: " + ", ".join(f"{k} {v}%" for k, v in weights.items()))
    return result

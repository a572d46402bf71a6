"""What an environment runs, as one object: every service of it (deployments, counts, recent events,
target health), and for two-colour environments both colours, the listener weights, which colour is
live and any unfinished rollout with the commands that continue or abort it; the deploy locks and who
holds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pipeline_py.config import BlueGreenConfig
from pipeline_py.deploy.locking import lock_key
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.rollback import known_good
from pipeline_py.deploy.topology import TrafficError, live_colour
from pipeline_py.deploy.two_colour import RESUMABLE, TAG_STABLE, TAG_STATE, TAG_STEPS, TAG_STRATEGY
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
    env: str | None = None


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
        "known_good": known_good(view),
        "deployments": [d.summary() for d in view.deployments],
        "events": [
            {"created_at": e.get("createdAt"), "message": e.get("message")} for e in list(view.events)[:events]
        ],
        "target_health": {},
    }
    primary = view.primary
    if primary is not None:
        ports.reporter.info(progress_line(view, primary.id))
    for e in reversed(out["events"][:3]):
        ports.reporter.detail(f"event: {e['message']}")
    for tg in view.target_groups:
        states = ports.targets.health(tg)
        out["target_health"][tg] = [
            {"target": f"{t.id}:{t.port}", "state": t.state, "reason": t.reason} for t in states
        ]
        counts: dict[str, int] = {}
        for t in states:
            counts[t.state] = counts.get(t.state, 0) + 1
        ports.reporter.detail(f"targets in {tg.rsplit('/', 2)[-2] if '/' in tg else tg}: "
                              + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
    return out


def _rollout(views: dict[str, ServiceView], weights: dict[str, int], env: str | None) -> dict[str, Any] | None:
    """An unfinished two-colour rollout, from the tags on the new colour, with what to run next."""
    for colour, v in views.items():
        tags = {t.get("key"): t.get("value") for t in v.tags}
        state = tags.get(TAG_STATE)
        if state not in RESUMABLE:
            continue
        steps = (tags.get(TAG_STEPS) or "").split()
        at = weights.get(colour, 0)
        remaining = [s for s in steps if s.isdigit() and int(s) > at]
        where = f" --env {env}" if env else ""
        return {
            "state": state, "strategy": tags.get(TAG_STRATEGY), "new_colour": colour,
            "stable_colour": tags.get(TAG_STABLE), "at_percent": at, "steps": steps,
            "next_steps": remaining,
            "continue": f"pipeline-py{where} deploy promote",
            "abort": f"pipeline-py{where} deploy abort",
        }
    if weights and sorted(weights.values()) != [0, 100]:
        where = f" --env {env}" if env else ""
        return {"state": "split-without-tags", "at_percent": None,
                "abort": f"pipeline-py{where} deploy abort", "continue": None}
    return None


def environment_status(ports: Ports, req: StatusRequest) -> dict[str, Any]:
    bg = req.blue_green
    colours = {c: n for c, n in (("blue", bg.services.blue), ("green", bg.services.green)) if n}
    names = [req.service, *[n for n in colours.values() if n != req.service]]
    views = ports.services.describe(req.cluster, names)
    wanted = [req.service] if req.strategy == "rolling" or len(colours) < 2 else list(colours.values())
    missing = [n for n in wanted if n not in views]
    if missing:
        raise BadInput(f"ECS service(s) {', '.join(missing)} not found in cluster {req.cluster!r} (on the local "
                       f"stack `pipeline-py local infra` creates them; on AWS, terraform)")
    result: dict[str, Any] = {
        "cluster": req.cluster,
        "strategy": req.strategy,
        "services": [],
    }
    for n in names:
        if n in views:
            ports.reporter.step(f"service {n}" + (f" ({next(c for c, s in colours.items() if s == n)})"
                                                  if n in colours.values() else ""))
            result["services"].append(describe_service(ports, views[n], req.events))
    if len(colours) == 2 and all(n in views for n in colours.values()) and (bg.listener_arn or bg.load_balancer):
        result["two_colour"] = _two_colour(ports, req, {c: views[n] for c, n in colours.items()})
    result["locks"] = _locks(ports, req, colours)
    return result


def _two_colour(ports: Ports, req: StatusRequest, views: dict[str, ServiceView]) -> dict[str, Any]:
    try:
        weights = ports.router_for(req.blue_green, req.strategy if req.strategy != "rolling" else "canary").weights()
    except (TrafficError, ClientError, BotoCoreError, BadInput) as exc:
        ports.reporter.warn(f"listener weights unavailable: {exc}")
        return {"weights": None, "error": str(exc)}
    live = live_colour(weights)
    out: dict[str, Any] = {
        "weights": weights,
        "live_colour": live if weights[live] == 100 else None,
        "colours": {c: {"service": v.name, "task_definition": td_label(v.task_definition), "desired": v.desired,
                        "running": v.running, "weight": weights.get(c, 0)} for c, v in views.items()},
        "rollout": _rollout(views, weights, req.env),
    }
    ports.reporter.step("listener weights: " + ", ".join(f"{c} {w}% ({td_label(views[c].task_definition)})"
                                                          for c, w in weights.items()))
    rollout = out["rollout"]
    if rollout:
        if rollout.get("new_colour"):
            ports.reporter.warn(f"{rollout['strategy']} rollout to {rollout['new_colour']} is {rollout['state']} at "
                                f"{rollout['at_percent']}% (steps {' '.join(rollout['steps'])}): continue with "
                                f"`{rollout['continue']}`, or roll back with `{rollout['abort']}`")
        else:
            ports.reporter.warn(f"traffic is split without rollout tags: `{rollout['abort']}` restores it")
    return out


def _locks(ports: Ports, req: StatusRequest, colours: dict[str, str]) -> list[dict[str, Any]]:
    keys = [lock_key(req.cluster, [req.service])]
    if len(colours) == 2:
        keys.append(lock_key(req.cluster, list(colours.values())))
    out: list[dict[str, Any]] = []
    now = ports.clock.utcnow()
    for key in keys:
        try:
            info = ports.locks.describe(key)
        except (BadInput, ClientError, BotoCoreError) as exc:
            out.append({"key": key, "held": None, "error": str(exc)})
            continue
        if info is None:
            out.append({"key": key, "held": False})
            continue
        held = not info.expired(now)
        ports.reporter.info(f"deploy lock {key}: {info.describe(now)}")
        out.append({"key": key, "held": held, **info.to_dict()})
    return out

"""The deploy engine's entry points: one map from strategy name to strategy class, and the
functions the ``deploy`` command calls. ``--dry-run`` and the deploy lock are handled here, the same
way for every strategy."""

from __future__ import annotations

from typing import Any

from pipeline_py.deploy import NATIVE_STRATEGIES
from pipeline_py.deploy.locking import Holder, holding, lock_key
from pipeline_py.deploy.native import NativeDeploy
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.request import DeployRequest
from pipeline_py.deploy.rolling import RollingDeploy
from pipeline_py.deploy.strategy import Strategy
from pipeline_py.deploy.two_colour import TwoColourDeploy
from pipeline_py.errors import BadInput

STRATEGIES: dict[str, type[Strategy[Any]]] = {
    "rolling": RollingDeploy,
    "blue-green": TwoColourDeploy,
    "canary": TwoColourDeploy,
    "linear": TwoColourDeploy,
    "ecs-blue-green": NativeDeploy,
    "ecs-linear": NativeDeploy,
    "ecs-canary": NativeDeploy,
}


def strategy_for(ports: Ports, req: DeployRequest) -> Strategy[Any]:
    try:
        cls = STRATEGIES[req.strategy]
    except KeyError:
        raise BadInput(f"unknown strategy {req.strategy!r} (known: {', '.join(STRATEGIES)})") from None
    return cls(ports, req)


def lock_state(ports: Ports, key: str) -> dict[str, Any]:
    """What a dry run says about the lock: free, or who holds it."""
    info = ports.locks.describe(key)
    now = ports.clock.utcnow()
    if info is None or info.expired(now):
        ports.reporter.info(f"deploy lock {key}: free")
        return {"key": key, "held": False}
    ports.reporter.warn(f"deploy lock {key}: {info.describe(now)} (a deploy now would wait or exit 2)")
    return {"key": key, "held": True, **info.to_dict()}


def deploy(ports: Ports, req: DeployRequest, *, holder: Holder, dry_run: bool = False) -> dict[str, Any]:
    """Deploy ``req`` with its strategy under the service's lock: preflight, then the deploy itself;
    with ``dry_run``, preflight and the plan (no lock taken, nothing changed)."""
    key = lock_key(req.cluster, req.lock_services())
    if dry_run:
        strategy = strategy_for(ports, req)
        result = strategy.dry_run(strategy.preflight())
        result["lock"] = lock_state(ports, key)
        return result
    wait = req.lock.wait if req.wait_for_lock is None else req.wait_for_lock
    with holding(ports, key, holder, ttl=req.lock.ttl, wait=wait) as lease:
        strategy = strategy_for(ports, req)
        result = strategy.run(strategy.preflight())
    result["lock"] = {"key": key, "lock_id": lease.lock_id, "holder": holder.to_dict()}
    return result


def resume(ports: Ports, req: DeployRequest, action: str, *, holder: Holder, dry_run: bool = False) -> dict[str, Any]:
    """``deploy promote`` / ``deploy abort`` of an unfinished rollout, found from AWS (tags, weights)."""
    if req.strategy == "rolling":
        req.strategy = "canary"
    if dry_run:
        return _resumable(ports, req, action).resume(action, dry_run=True)
    key = lock_key(req.cluster, req.lock_services())
    wait = req.lock.wait if req.wait_for_lock is None else req.wait_for_lock
    with holding(ports, key, holder, ttl=req.lock.ttl, wait=wait) as lease:
        result = _resumable(ports, req, action).resume(action)
    result["lock"] = {"key": key, "lock_id": lease.lock_id, "holder": holder.to_dict()}
    return result


def _resumable(ports: Ports, req: DeployRequest, action: str) -> TwoColourDeploy | NativeDeploy:
    """The paused deploy's strategy: ECS-native ones find the waiting hook in ECS, the two-colour ones
    the rollout tags and the listener's split."""
    strategy = strategy_for(ports, req)
    if req.strategy in NATIVE_STRATEGIES:
        assert isinstance(strategy, NativeDeploy)
        return strategy
    if not isinstance(strategy, TwoColourDeploy):
        raise BadInput(f"the {req.strategy} strategy has no paused rollouts to {action}")
    return strategy

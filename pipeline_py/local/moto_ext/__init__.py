"""Every extension we make to moto lives in this package, one module per moto service.

moto's internals change between releases. Everything we touch is listed in each module's "moto
internals used here" block and checked by ``tests/unit/moto_pins/``, which fails loudly when the
installed moto is outside :data:`MOTO_RANGE` or an internal we rely on changed shape.

Modules:

- :mod:`.core` — the patch registry (:func:`~.core.patch_moto`), the ticker protocol, the installed
  handle and moto's global reset also resetting the simulations.
- :mod:`.fidelity` — :class:`Fidelity`, the handle the server holds: one lock, the clock, a list of
  tickers advanced by ``tick()``, the ``/_pipeline_py/<route>`` control routes.
- :mod:`.ecs` — the rollout simulator (:mod:`pipeline_py.local.ecs_sim`) wired into moto's ECS
  responses: ``CreateService``/``UpdateService``/``DeleteService``/``DescribeServices`` answer
  from the simulator, ``RunTask``/``StopTask``/``ListTasks``/``DescribeTasks`` serve simulated
  tasks, and ``ListServiceDeployments``/``DescribeServiceDeployments``/
  ``DescribeServiceRevisions``/``StopServiceDeployment`` (which moto lacks) are added.
- :mod:`.ecs_native` — ECS-native blue/green, linear and canary (:mod:`pipeline_py.local.ecs_native`): ECS
  moving moto's listener-rule weights, ``ContinueServiceDeployment`` (added), deployment configurations
  validated as ECS does.
- :mod:`.elbv2` — target health from :mod:`pipeline_py.local.elb_sim`: ``DescribeTargetHealth``,
  ``RegisterTargets``, ``DeregisterTargets`` (draining).
- :mod:`.cloudwatch` — metrics answered from :mod:`pipeline_py.local.cloudwatch_sim` (moto keeps
  each value as an object, ignores ``ExtendedStatistics``, fails on percentile ``Stat``s and ignores
  the namespace when dimensions are given); metric alarms evaluated from the data;
  ``DescribeAlarmHistory`` (which moto lacks) added.
- :mod:`.traffic` — :mod:`pipeline_py.local.traffic_sim` fed from moto's listeners and the simulated
  target health, publishing ALB metrics into the CloudWatch stores; the ``traffic`` control route.
- :mod:`.faults` — the ``faults`` control route and the wrappers that obey it.
- :mod:`.ecr` — ``DescribeImageScanFindings`` answered from what the ``scan-findings`` control route
  was given (the local stack has no scanner), so the image scan gate can be rehearsed.
- :mod:`.dataplane` — the real data plane (the ``runtime`` and ``listeners`` routes): tasks as Docker
  containers, each ALB listener an HAProxy frontend following moto's ELBv2 state, target health from
  real checks, ALB metrics from real requests.
- :mod:`.appautoscaling` — ``DescribeScalableTargets`` as botocore's model shapes it (the required ``RoleARN``,
  no JSON ``null``).
- :mod:`.terraform_gaps` — what terraform-provider-aws needs and moto lacks, or reports back
  differently from AWS, so that a plan right after an apply shows no changes.
- :mod:`.logs` — CloudWatch Logs filter patterns as CloudWatch applies them; what simulated tasks print.
- :mod:`.cost` — Cost Explorer ``GetCostAndUsage`` and Budgets' spend from cost data recorded through the
  ``cost`` control route.
- :mod:`.rds` — RDS for PostgreSQL on real clusters (:mod:`pipeline_py.local.postgres`): instances,
  snapshots as base backups, point-in-time restores as WAL replay, ``DatabaseConnections`` metrics.

New modules: patch with :func:`~.core.patch_moto`, add a ticker with ``Fidelity.add_ticker`` and control
routes with ``Fidelity.add_route``, and call the module's ``install`` from :func:`install` below.

Threading: moto serves requests on werkzeug threads while the simulation loop ticks. Every patched
action and every tick runs under ``Fidelity.lock`` (re-entrant), so simulator state and the moto
objects it mirrors into (ENIs, target-group registrations) change under one lock.
"""

from __future__ import annotations

import threading
from typing import Any

from pipeline_py.local.moto_ext import (
    appautoscaling,
    cloudwatch,
    cost,
    dataplane,
    ecr,
    ecs,
    ecs_native,
    elbv2,
    faults,
    logs,
    rds,
    terraform_gaps,
)
from pipeline_py.local.moto_ext.core import MOTO_RANGE, installed, moto_version_supported, patches
from pipeline_py.local.moto_ext.fidelity import Fidelity

__all__ = ["MOTO_RANGE", "Fidelity", "install", "installed", "moto_version_supported", "patches"]

_install_lock = threading.Lock()


def install(timing: dict[str, Any] | None = None) -> Fidelity:
    """Patch moto (once per process) and return the process's :class:`Fidelity`."""
    from pipeline_py.local.moto_ext import core

    with _install_lock:
        current = core.installed()
        if current is None:
            core.warn_if_untested_moto()
            fidelity = Fidelity(timing)
            core.install_reset_hook()
            ecs.install()
            elbv2.install()
            cloudwatch.install()
            faults.install()
            terraform_gaps.install()
            appautoscaling.install()
            ecr.install(fidelity)
            ecs_native.install(fidelity)
            rds.install(fidelity)
            logs.install(fidelity)
            cost.install(fidelity)
            dataplane.install(fidelity)
            core.set_installed(fidelity)
            return fidelity
        if timing is not None:
            current.configure(timing)
        return current

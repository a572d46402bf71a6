"""``pipeline-py diagnose``: the seed's troubleshooting guide for an environment as one command. Every check
gives a verdict (ok / problem / unknown), its evidence and the next step: load balancer, target health,
service and deployments, stopped tasks, alarms, error lines in the logs, memory and CPU trend, the
database (a real connection when configured) and the terraform state lock. Exit 0 when nothing is
wrong, 1 when a problem was found (``--json``: the checks in one object). See pipeline_py/ops/diagnose.py.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.errors import BadInput, OperationFailed

if TYPE_CHECKING:
    from pipeline_py.config import Settings
    from pipeline_py.context import Context
    from pipeline_py.ops import tflock

# = pipeline_py.ops.diagnose.CHECK_NAMES (kept here: --help imports no engine module)
CHECKS = ("load_balancer", "targets", "service", "stopped_tasks", "alarms", "error_rate", "error_logs", "resources",
          "database", "state_lock")


def _state_backend(ctx: Context, settings: Settings) -> tuple[tflock.StateBackend | None, str | None, str | None]:
    """(backend, error, note): the environment's S3 state backend, when it has terraform at all."""
    from pipeline_py.commands._shared import tf_workspace
    from pipeline_py.ops import tflock
    from pipeline_py.terraform import env as terraform_env

    try:
        tfenv = terraform_env.resolve(settings, tf_workspace(ctx))
        backend = tflock.backend_of(tfenv.backend_type, tfenv.backend_source, tfenv.data_dir, dict(ctx.environ))
    except BadInput as exc:
        return None, None, f"no terraform for this environment ({exc.message})"
    except OSError as exc:
        return None, f"cannot read the backend configuration: {exc}", None
    return backend, None, None


def _only(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [n.strip().replace("-", "_") for v in values for n in v.split(",") if n.strip()]
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise BadInput(f"--only {', '.join(unknown)}: unknown check (known: {', '.join(CHECKS)})")
    return names


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.commands._shared import positive_duration, require_cluster, settings_for
    from pipeline_py.commands.db import database_for
    from pipeline_py.commands.logs import service_names
    from pipeline_py.deploy.adapters.ecs import EcsServices
    from pipeline_py.deploy.adapters.elbv2 import ElbTargets
    from pipeline_py.ops import adapters
    from pipeline_py.ops import diagnose as ops_diagnose

    settings = settings_for(ctx, args)
    cfg = settings.diagnose
    env = ctx.require_env()
    only = _only(args.only)
    backend, backend_error, backend_note = _state_backend(ctx, settings)
    req = ops_diagnose.DiagnoseRequest(
        env=env, service=settings.service, cluster=require_cluster(settings), services=service_names(settings),
        alarms=list(settings.alarms), alarm_prefix=cfg.alarm_prefix, error_pattern=args.filter or cfg.error_pattern,
        log_window=positive_duration(args.since, "--since") if args.since else cfg.log_window,
        max_error_lines=cfg.max_error_lines,
        max_error_rate=(cfg.max_error_rate if cfg.max_error_rate is not None
                        else settings.canary.analysis.max_error_rate),
        stuck_after=cfg.stuck_after, stopped_window=cfg.stopped_window,
        trend_window=cfg.trend_window, memory_limit=cfg.memory_limit, cpu_limit=cfg.cpu_limit,
        leak_horizon=cfg.leak_horizon, database=database_for(ctx, settings),
        database_configured=settings.database.instance is not None,
        database_connect=settings.database.connect and not args.no_connect,
        state_backend=backend, state_backend_error=backend_error, state_backend_note=backend_note, only=only)
    if ctx.dry_run:
        return {"env": env, "checks": only or list(CHECKS), "dry_run": True,
                "plan": [f"read-only: {name}" for name in (only or CHECKS)]}
    aws = ctx.aws(settings)
    src = ops_diagnose.Sources(
        ecs=EcsServices(aws), targets=ElbTargets(aws), elb=adapters.LoadBalancers(aws), alarms=adapters.Alarms(aws),
        logs=adapters.Logs(aws), metrics=adapters.Metrics(aws), rds=adapters.Rds(aws), secrets=adapters.Secrets(aws),
        locks=adapters.StateLocks(aws), clock=ctx.clock, reporter=ctx.reporter)
    out = ops_diagnose.diagnose(src, req)
    if out["problems"]:
        raise OperationFailed(f"diagnose {env}: {len(out['problems'])} problem(s) found: "
                              + ", ".join(out["problems"]), result={**out, "status": "problems"})
    return out


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "diagnose", run,
                    "the troubleshooting guide for an environment: each check's verdict, evidence and next step "
                    "(exit 1 when a problem is found)")
    p.add_argument("--since", metavar="DURATION", default=None,
                   help="how far back to look for error lines (default: diagnose.log_window, 15m)")
    p.add_argument("--filter", metavar="PATTERN", default=None,
                   help="filter pattern of an error line (default: diagnose.error_pattern, '[level = ERROR*, ...]')")
    p.add_argument("--only", action="append", metavar="CHECK", choices=None,
                   help=f"run only these checks (repeatable or comma-separated): {', '.join(CHECKS)}")
    p.add_argument("--no-connect", action="store_true", help="do not open a database connection")

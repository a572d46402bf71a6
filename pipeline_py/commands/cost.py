"""``pipeline-py cost [--month YYYY-MM] [--by service]``: the month's cost from Cost Explorer grouped by
service (or region, usage type, account) and the environment's budget from AWS Budgets: actual and
forecast against the limit and its alert threshold (``cost.budget``, default ``<service>-<env>-monthly``).
See pipeline_py/ops/cost.py."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command

if TYPE_CHECKING:
    from pipeline_py.context import Context

BY = ("service", "region", "usage-type", "account")  # = pipeline_py.ops.cost.GROUP_KEYS


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.ops import cost as ops_cost
    from pipeline_py.ops.adapters import Costs

    settings = ctx.settings()
    budget = None if args.no_budget else (args.budget or settings.cost.budget
                                          or f"{settings.service}-{ctx.require_env()}-monthly")
    req = ops_cost.CostRequest(month=args.month, by=args.by, metric=settings.cost.metric, budget=budget,
                               alert_threshold=settings.cost.alert_threshold)
    today = ctx.clock.utcnow().date()
    if ctx.dry_run:
        first, end, _ = ops_cost.month_range(args.month, today)
        return {"plan": [f"ce:GetCostAndUsage {first}..{end} MONTHLY {req.metric} by {args.by}",
                         *([f"budgets:DescribeBudget {budget}"] if budget else [])], "dry_run": True}
    return ops_cost.report(Costs(ctx.aws(settings)), req, today, ctx.reporter)


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "cost", run,
                    "the month's cost by service (Cost Explorer) and the budget's status (actual, forecast, alert)")
    p.add_argument("--month", metavar="YYYY-MM", default=None, help="which month (default: this one, so far)")
    p.add_argument("--by", choices=BY, default="service", help="group by (default: service)")
    p.add_argument("--budget", metavar="NAME", default=None,
                   help="the budget (default: cost.budget, else <service>-<env>-monthly)")
    p.add_argument("--no-budget", action="store_true", help="do not read a budget")

"""The seed's cost runbook: what the month cost, by service (Cost Explorer ``GetCostAndUsage`` grouped
by SERVICE), and the budget's status from AWS Budgets: actual and forecast spend against the limit and
the alert threshold (the budget's ACTUAL notification, 80 % in terraform/modules/monitoring)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pipeline_py.errors import BadInput
from pipeline_py.ops.adapters import Costs
from pipeline_py.report import Reporter

GROUP_KEYS = {"service": "SERVICE", "region": "REGION", "usage-type": "USAGE_TYPE", "account": "LINKED_ACCOUNT"}


@dataclass
class CostRequest:
    month: str | None  # YYYY-MM; None = this month
    by: str = "service"
    metric: str = "UnblendedCost"
    budget: str | None = None
    alert_threshold: float = 80.0


def month_range(month: str | None, today: date) -> tuple[date, date, bool]:
    """(first day, end exclusive, whether it is the current month); the current month ends tomorrow."""
    if month is None:
        first = today.replace(day=1)
    else:
        m = re.match(r"^(\d{4})-(\d{2})$", month)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise BadInput(f"--month {month!r}: expected YYYY-MM")
        first = date(int(m.group(1)), int(m.group(2)), 1)
    following = (first + timedelta(days=32)).replace(day=1)
    if first > today:
        raise BadInput(f"--month {month}: in the future (today is {today.isoformat()})")
    current = first <= today < following
    return first, min(following, today + timedelta(days=1)), current


def _amount(metrics: dict[str, Any], metric: str) -> tuple[float, str]:
    m = metrics.get(metric) or {}
    return float(m.get("Amount") or 0.0), str(m.get("Unit") or "USD")


def budget_status(budget: dict[str, Any], notifications: list[dict[str, Any]], fallback: float) -> dict[str, Any]:
    limit = float((budget.get("BudgetLimit") or {}).get("Amount") or 0.0)
    unit = (budget.get("BudgetLimit") or {}).get("Unit") or "USD"
    spend = budget.get("CalculatedSpend") or {}
    actual = float((spend.get("ActualSpend") or {}).get("Amount") or 0.0)
    forecast = float((spend.get("ForecastedSpend") or {}).get("Amount") or 0.0)
    thresholds = [float(n.get("Threshold") or 0) for n in notifications
                  if n.get("NotificationType") == "ACTUAL" and n.get("ThresholdType", "PERCENTAGE") == "PERCENTAGE"]
    threshold = min(thresholds) if thresholds else fallback
    pct = 100.0 * actual / limit if limit else 0.0
    fpct = 100.0 * forecast / limit if limit else 0.0
    if limit and actual >= limit:
        state = "over"
    elif limit and pct >= threshold:
        state = "alert"
    elif limit and forecast >= limit:
        state = "forecast_over"
    else:
        state = "ok"
    return {"name": budget.get("BudgetName"), "limit": limit, "unit": unit, "actual": round(actual, 2),
            "forecast": round(forecast, 2), "actual_percent": round(pct, 1), "forecast_percent": round(fpct, 1),
            "alert_threshold_percent": threshold,
            "alert_from": "notification" if thresholds else "cost.alert_threshold",
            "state": state}


def report(costs: Costs, req: CostRequest, today: date, reporter: Reporter) -> dict[str, Any]:
    if req.by not in GROUP_KEYS:
        raise BadInput(f"--by {req.by}: expected one of {', '.join(GROUP_KEYS)}")
    first, end, current = month_range(req.month, today)
    results = costs.cost_and_usage(first.isoformat(), end.isoformat(), granularity="MONTHLY", metric=req.metric,
                                   group_by=GROUP_KEYS[req.by])
    totals: dict[str, float] = {}
    unit = "USD"
    estimated = False
    for r in results:
        estimated = estimated or bool(r.get("Estimated"))
        for g in r.get("Groups") or []:
            amount, unit = _amount(g.get("Metrics") or {}, req.metric)
            key = " / ".join(g.get("Keys") or ["?"])
            totals[key] = totals.get(key, 0.0) + amount
        if not r.get("Groups") and r.get("Total"):
            amount, unit = _amount(r["Total"], req.metric)
            totals["(total)"] = totals.get("(total)", 0.0) + amount
    rows = [{"key": k, "amount": round(v, 2), "unit": unit} for k, v in sorted(totals.items(), key=lambda kv: -kv[1])
            if round(v, 2) != 0]
    total = round(sum(totals.values()), 2)
    month = first.strftime("%Y-%m")
    reporter.info(f"{month}{' (so far, estimated)' if estimated else ''}: {total:.2f} {unit} {req.metric} by {req.by}")
    for row in rows:
        reporter.detail(f"{row['amount']:>12.2f} {unit}  {row['key']}")
    out: dict[str, Any] = {"month": month, "period": {"start": first.isoformat(), "end": end.isoformat()},
                           "metric": req.metric, "by": req.by, "total": total, "unit": unit, "estimated": estimated,
                           "groups": rows, "budget": None}
    if req.budget:
        account = costs.account_id()
        budget = costs.budget(account, req.budget)
        if budget is None:
            reporter.warn(f"budget {req.budget} not found in account {account} (cost.budget)")
            out["budget"] = {"name": req.budget, "state": "missing"}
        else:
            status = budget_status(budget, costs.notifications(account, req.budget), req.alert_threshold)
            status["current_month"] = datetime(today.year, today.month, 1).strftime("%Y-%m")
            out["budget"] = status
            reporter.info(f"budget {status['name']}: {status['actual']:.2f} of {status['limit']:.2f} {status['unit']} "
                          f"({status['actual_percent']:.0f}%, alert at {status['alert_threshold_percent']:.0f}%), "
                          f"forecast {status['forecast']:.2f} ({status['forecast_percent']:.0f}%): {status['state']}"
                          + ("" if current else f" (the budget's month is {status['current_month']})"))
    return out

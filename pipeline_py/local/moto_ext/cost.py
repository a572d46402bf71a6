"""Cost Explorer and Budgets answering from cost data recorded on the local stack.

AWS bills are not simulated: tests and the demo record line items through the ``cost`` control route
(``POST /_pipeline_py/cost`` ``{"records": [{"date": "2026-03-02", "service": "Amazon Elastic Container
Service", "amount": 12.5, "unit": "USD", "region": "us-east-1", "usage_type": "...", "tags":
{"Environment": "staging"}}]}``, ``account`` optional; ``GET`` lists, ``DELETE`` clears). Then:

- ``GetCostAndUsage`` aggregates them as Cost Explorer does: ``TimePeriod`` (start inclusive, end
  exclusive), ``Granularity`` DAILY or MONTHLY, any cost ``Metrics`` (one amount locally; ``UsageQuantity``
  from ``usage``), ``GroupBy`` a dimension (SERVICE, REGION, USAGE_TYPE, LINKED_ACCOUNT) or a tag, and
  ``Filter`` with ``Dimensions``, ``Tags``, ``And``, ``Or``, ``Not``. Months not yet over are ``Estimated``.
- ``DescribeBudget(s)`` report ``CalculatedSpend``: the actual spend of the budget's current month
  (its ``CostFilters`` applied: ``Service``, ``Region``, ``TagKeyValue`` ``user:Key$Value``) and a forecast
  extrapolating the month so far.

moto internals used here (pinned in tests/unit/moto_pins/test_cost.py):
  moto.ce.models.CostExplorerBackend.get_cost_and_usage(self, body) (replaced; body is the request JSON)
  moto.budgets.models.BudgetsBackend.describe_budget(self, account_id, budget_name) and
    describe_budgets(self, account_id) (wrapped; they return Budget.to_dict() dicts with CalculatedSpend)
"""

from __future__ import annotations

import calendar
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pipeline_py.local.moto_ext.core import original_of, patch_moto

ACCOUNT = "123456789012"
DIMENSIONS = {"SERVICE": "service", "REGION": "region", "USAGE_TYPE": "usage_type", "LINKED_ACCOUNT": "account"}
BUDGET_FILTERS = {"Service": "service", "Region": "region", "UsageType": "usage_type", "LinkedAccount": "account"}


@dataclass
class Record:
    day: date
    service: str
    amount: float
    unit: str = "USD"
    region: str = "us-east-1"
    usage_type: str = ""
    usage: float = 0.0
    account: str = ACCOUNT
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any], account: str) -> Record:
        try:
            day = date.fromisoformat(str(d["date"]))
            amount = float(d["amount"])
            service = str(d["service"])
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"cost: each record needs date (YYYY-MM-DD), service and amount: {exc}") from None
        tags = d.get("tags") or {}
        if not isinstance(tags, dict):
            raise ValueError("cost: tags must be an object")
        return cls(day, service, amount, str(d.get("unit") or "USD"), str(d.get("region") or "us-east-1"),
                   str(d.get("usage_type") or ""), float(d.get("usage") or 0.0), str(d.get("account") or account),
                   {str(k): str(v) for k, v in tags.items()})

    def value(self, key: str) -> str:
        if key.startswith("tag:"):
            return self.tags.get(key[4:], "")
        return str(getattr(self, DIMENSIONS.get(key, key.lower()), ""))

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "service": self.service, "amount": self.amount, "unit": self.unit,
                "region": self.region, "usage_type": self.usage_type, "usage": self.usage, "account": self.account,
                "tags": self.tags}


class CostData:
    """Recorded line items per account (a ticker only to be reset with moto)."""

    def __init__(self, today: Any = None) -> None:
        self.records: list[Record] = []
        self.today = today or (lambda: datetime.now(timezone.utc).date())

    def tick(self, now: float) -> None:
        pass

    def reset(self) -> None:
        self.records.clear()

    def status(self) -> dict[str, Any]:
        return {"cost_records": len(self.records)}

    def route(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method in ("POST", "PUT"):
            records = payload.get("records") if isinstance(payload, dict) else None
            if not isinstance(records, list):
                raise ValueError('cost: expected {"records": [{"date", "service", "amount", ...}]}')
            parsed = [Record.from_dict(r, str(payload.get("account") or ACCOUNT)) for r in records]
            if method == "PUT":
                self.records.clear()
            self.records.extend(parsed)
        elif method == "DELETE":
            self.records.clear()
        elif method != "GET":
            raise ValueError(f"cost: method {method} not allowed (GET, POST adds, PUT replaces, DELETE clears)")
        return {"records": [r.to_dict() for r in self.records]}

    # ---- Cost Explorer

    def cost_and_usage(self, request: dict[str, Any], account: str) -> dict[str, Any]:
        period = request.get("TimePeriod") or {}
        try:
            start, end = date.fromisoformat(period["Start"]), date.fromisoformat(period["End"])
        except (KeyError, ValueError):
            raise ValueError("TimePeriod needs Start and End as YYYY-MM-DD") from None
        if end <= start:
            raise ValueError("Start must be before End")
        granularity = request.get("Granularity") or "DAILY"
        metrics = request.get("Metrics") or []
        if not metrics:
            raise ValueError("Metrics is required")
        group_by = request.get("GroupBy") or []
        keys = [("tag:" + g["Key"]) if g.get("Type") == "TAG" else g["Key"] for g in group_by]
        for k in keys:
            if not k.startswith("tag:") and k not in DIMENSIONS:
                raise ValueError(f"GroupBy {k} is not supported by the local stack ({', '.join(DIMENSIONS)})")
        chosen = [r for r in self.records if r.account == account and start <= r.day < end
                  and _matches(r, request.get("Filter"))]
        results = []
        today = self.today()
        for lo, hi in _buckets(start, end, granularity):
            inside = [r for r in chosen if lo <= r.day < hi]
            item: dict[str, Any] = {"TimePeriod": {"Start": lo.isoformat(), "End": hi.isoformat()},
                                    "Total": {}, "Groups": [], "Estimated": hi > today}
            if keys:
                groups: dict[tuple[str, ...], list[Record]] = defaultdict(list)
                for r in inside:
                    groups[tuple(_group_key(r, k) for k in keys)].append(r)
                item["Groups"] = [{"Keys": list(k), "Metrics": _metrics(rs, metrics)}
                                  for k, rs in sorted(groups.items())]
            else:
                item["Total"] = _metrics(inside, metrics)
            results.append(item)
        return {"ResultsByTime": results, "DimensionValueAttributes": [],
                "GroupDefinitions": group_by}

    # ---- Budgets

    def calculated_spend(self, budget: dict[str, Any], account: str) -> dict[str, Any]:
        today = self.today()
        first = today.replace(day=1)
        days = calendar.monthrange(today.year, today.month)[1]
        filters = budget.get("CostFilters") or {}
        actual = sum(r.amount for r in self.records if r.account == account and first <= r.day <= today
                     and _budget_match(r, filters))
        forecast = actual / today.day * days if today.day else actual
        unit = ((budget.get("BudgetLimit") or {}).get("Unit")) or "USD"
        return {"ActualSpend": {"Amount": f"{actual:.2f}", "Unit": unit},
                "ForecastedSpend": {"Amount": f"{forecast:.2f}", "Unit": unit}}


def _group_key(r: Record, key: str) -> str:
    if key.startswith("tag:"):
        return f"{key[4:]}${r.tags.get(key[4:], '')}"
    return r.value(key)


def _metrics(records: list[Record], metrics: list[str]) -> dict[str, Any]:
    out = {}
    for m in metrics:
        if m == "UsageQuantity":
            out[m] = {"Amount": f"{sum(r.usage for r in records):.10g}", "Unit": "N/A"}
        else:
            unit = records[0].unit if records else "USD"
            out[m] = {"Amount": f"{sum(r.amount for r in records):.10f}".rstrip("0").rstrip(".") or "0",
                      "Unit": unit}
    return out


def _buckets(start: date, end: date, granularity: str) -> list[tuple[date, date]]:
    out = []
    cur = start
    while cur < end:
        if granularity == "MONTHLY":
            nxt = (cur.replace(day=1) + timedelta(days=32)).replace(day=1)
        else:
            nxt = cur + timedelta(days=1)
        out.append((cur, min(nxt, end)))
        cur = min(nxt, end)
    return out


def _matches(r: Record, expr: dict[str, Any] | None) -> bool:
    if not expr:
        return True
    if "And" in expr:
        return all(_matches(r, e) for e in expr["And"])
    if "Or" in expr:
        return any(_matches(r, e) for e in expr["Or"])
    if "Not" in expr:
        return not _matches(r, expr["Not"])
    if "Dimensions" in expr:
        d = expr["Dimensions"]
        return r.value(d["Key"]) in (d.get("Values") or [])
    if "Tags" in expr:
        t = expr["Tags"]
        return r.tags.get(t["Key"], "") in (t.get("Values") or [""])
    return True


def _budget_match(r: Record, filters: dict[str, list[str]]) -> bool:
    for name, values in filters.items():
        if name == "TagKeyValue":
            pairs = {v.split("$", 1)[0].removeprefix("user:"): v.split("$", 1)[1] for v in values if "$" in v}
            if not any(r.tags.get(k) == v for k, v in pairs.items()):
                return False
        elif name in BUDGET_FILTERS and str(getattr(r, BUDGET_FILTERS[name])) not in values:
            return False
    return True


_data: CostData | None = None


def install(fid: Any) -> CostData:
    global _data
    from moto.budgets.models import BudgetsBackend
    from moto.ce.models import CostExplorerBackend

    _data = CostData()
    fid.add_ticker(_data)
    fid.add_route("cost", _data.route)
    patch_moto(CostExplorerBackend, "get_cost_and_usage", _get_cost_and_usage)
    patch_moto(BudgetsBackend, "describe_budget", _describe_budget)
    patch_moto(BudgetsBackend, "describe_budgets", _describe_budgets)
    return _data


def _get_cost_and_usage(self: Any, body: str) -> dict[str, Any]:
    assert _data is not None
    try:
        return _data.cost_and_usage(json.loads(body or "{}"), self.account_id)
    except ValueError as exc:
        from moto.core.exceptions import JsonRESTError

        raise JsonRESTError("ValidationException", str(exc)) from None


def _describe_budget(self: Any, account_id: str, budget_name: str) -> dict[str, Any]:
    out = original_of(type(self), "describe_budget")(self, account_id, budget_name)
    if _data is not None and _data.records:
        out["CalculatedSpend"] = _data.calculated_spend(out, account_id)
    return dict(out)


def _describe_budgets(self: Any, account_id: str) -> Any:
    out = list(original_of(type(self), "describe_budgets")(self, account_id))
    if _data is not None and _data.records:
        for b in out:
            b["CalculatedSpend"] = _data.calculated_spend(b, account_id)
    return out

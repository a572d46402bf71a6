"""The alarms and metrics ports on CloudWatch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline_py.aws import AwsFactory
from pipeline_py.deploy.analysis import Sample
from pipeline_py.errors import BadInput


class CloudWatchAlarms:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def states(self, names: list[str]) -> dict[str, dict[str, Any]]:
        if not names:
            return {}
        out: dict[str, dict[str, Any]] = {}
        paginator = self.aws.client("cloudwatch").get_paginator("describe_alarms")
        for page in paginator.paginate(AlarmNames=names, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            for a in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                out[a["AlarmName"]] = {"state": a.get("StateValue"), "reason": a.get("StateReason"),
                                       "updated": a.get("StateUpdatedTimestamp")}
        return out

    def check_exist(self, names: list[str]) -> None:
        missing = sorted(set(names) - set(self.states(names)))
        if missing:
            raise BadInput(f"configured alarms not found in CloudWatch: {', '.join(missing)}")

    def firing(self, names: list[str]) -> list[tuple[str, str]]:
        return [(n, s.get("reason") or "") for n, s in self.states(names).items() if s.get("state") == "ALARM"]


class CloudWatchMetrics:
    """Per-target-group ALB metrics (namespace AWS/ApplicationELB, dimensions LoadBalancer and
    TargetGroup) in one ``get_metric_data`` call per sample.

    The query uses the configured period (1 s high resolution, or 60 s — periods CloudWatch
    accepts); counts are summed over the window's datapoints and the window's p99 is the highest
    per-period p99, which errs on the side of failing a slow canary."""

    def __init__(self, cloudwatch: Any, load_balancer_arn: str, period: int) -> None:
        self.cw = cloudwatch
        self.lb_dimension = load_balancer_arn.split(":loadbalancer/", 1)[-1]
        self.period = period

    @staticmethod
    def tg_dimension(arn: str) -> str:
        return arn.split(":", 5)[-1]

    def sample(self, target_groups: dict[str, str], start: datetime, end: datetime) -> dict[str, Sample]:
        period = self.period
        queries = []
        for key, arn in target_groups.items():
            dims = [{"Name": "LoadBalancer", "Value": self.lb_dimension},
                    {"Name": "TargetGroup", "Value": self.tg_dimension(arn)}]
            for qid, metric, stat in (("r", "RequestCount", "Sum"), ("e", "HTTPCode_Target_5XX_Count", "Sum"),
                                      ("p", "TargetResponseTime", "p99")):
                queries.append({
                    "Id": f"{qid}_{key}",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": metric, "Dimensions": dims},
                        "Period": period,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                })
        resp = self.cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                       ScanBy="TimestampAscending")
        values: dict[str, list[float]] = {r["Id"]: list(r.get("Values", [])) for r in resp.get("MetricDataResults", [])}
        out = {}
        for key in target_groups:
            p = values.get(f"p_{key}", [])
            out[key] = Sample(
                requests=sum(values.get(f"r_{key}", [])),
                errors=sum(values.get(f"e_{key}", [])),
                p99_ms=max(p) * 1000.0 if p else None,
            )
        return out

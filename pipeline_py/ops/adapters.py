"""What the runbooks ask of AWS, as small classes over boto3 clients from the one factory.

ECS services and target health are the deploy engine's adapters (``deploy/adapters``), reused as they
are; what only the runbooks read lives here. Each method is one question with a plain answer (dicts as
the API returns them, ``None`` for "does not exist"), so the unit tests replace a class with a fake of
the same methods. Pagination lives here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code


def _absent(exc: ClientError, *codes: str) -> bool:
    return error_code(exc) in codes


def _one(describe: Callable[[], dict[str, Any]], key: str, *absent: str) -> dict[str, Any] | None:
    """The one item a describe-by-identifier call returns under ``key``; None when it does not exist."""
    try:
        found = describe().get(key, [])
    except ClientError as exc:
        if _absent(exc, *absent):
            return None
        raise
    return dict(found[0]) if found else None


class Rds:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    @property
    def rds(self) -> Any:
        return self.aws.client("rds")

    def instance(self, identifier: str) -> dict[str, Any] | None:
        return _one(lambda: self.rds.describe_db_instances(DBInstanceIdentifier=identifier), "DBInstances",
                    "DBInstanceNotFound", "DBInstanceNotFoundFault")

    def snapshot(self, identifier: str) -> dict[str, Any] | None:
        return _one(lambda: self.rds.describe_db_snapshots(DBSnapshotIdentifier=identifier), "DBSnapshots",
                    "DBSnapshotNotFound", "DBSnapshotNotFoundFault")

    def snapshots(self, instance: str, snapshot_type: str | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"DBInstanceIdentifier": instance}
        if snapshot_type:
            kwargs["SnapshotType"] = snapshot_type
        out: list[dict[str, Any]] = []
        for page in self.rds.get_paginator("describe_db_snapshots").paginate(**kwargs):
            out.extend(page.get("DBSnapshots", []))
        return out

    def create_snapshot(self, instance: str, snapshot: str, tags: dict[str, str]) -> dict[str, Any]:
        return dict(self.rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=snapshot,
                                                Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["DBSnapshot"])

    def restore_to_time(self, source: str, target: str, when: datetime | None, **overrides: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"SourceDBInstanceIdentifier": source, "TargetDBInstanceIdentifier": target,
                                  **overrides}
        if when is None:
            kwargs["UseLatestRestorableTime"] = True
        else:
            kwargs["RestoreTime"] = when
        return dict(self.rds.restore_db_instance_to_point_in_time(**kwargs)["DBInstance"])

    def restore_from_snapshot(self, snapshot: str, target: str, **overrides: Any) -> dict[str, Any]:
        return dict(self.rds.restore_db_instance_from_db_snapshot(
            DBSnapshotIdentifier=snapshot, DBInstanceIdentifier=target, **overrides)["DBInstance"])


class Secrets:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def json(self, secret_id: str) -> dict[str, Any]:
        value = self.aws.client("secretsmanager").get_secret_value(SecretId=secret_id)
        data = json.loads(value.get("SecretString") or "{}")
        if not isinstance(data, dict):
            raise ValueError(f"secret {secret_id} is not a JSON object")
        return data


class LoadBalancers:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    @property
    def elbv2(self) -> Any:
        return self.aws.client("elbv2")

    def target_groups(self, arns: list[str]) -> list[dict[str, Any]]:
        if not arns:
            return []
        return list(self.elbv2.describe_target_groups(TargetGroupArns=arns).get("TargetGroups", []))

    def load_balancers(self, arns: list[str]) -> list[dict[str, Any]]:
        if not arns:
            return []
        return list(self.elbv2.describe_load_balancers(LoadBalancerArns=arns).get("LoadBalancers", []))

    def listeners(self, load_balancer_arn: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in self.elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=load_balancer_arn):
            out.extend(page.get("Listeners", []))
        return out

    def rules(self, listener_arn: str) -> list[dict[str, Any]]:
        return list(self.elbv2.describe_rules(ListenerArn=listener_arn).get("Rules", []))


class Alarms:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def in_alarm(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        paginator = self.aws.client("cloudwatch").get_paginator("describe_alarms")
        for page in paginator.paginate(StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            out.extend([*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])])
        return out


class Metrics:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def series(self, namespace: str, metric: str, dimensions: dict[str, str], start: datetime, end: datetime,
               period: int, statistic: str = "Average") -> list[tuple[datetime, float]]:
        resp = self.aws.client("cloudwatch").get_metric_statistics(
            Namespace=namespace, MetricName=metric, StartTime=start, EndTime=end, Period=period,
            Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()], Statistics=[statistic])
        points = [(p["Timestamp"], float(p[statistic])) for p in resp.get("Datapoints", []) if statistic in p]
        return sorted(points, key=lambda p: p[0])


class Logs:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    @property
    def logs(self) -> Any:
        return self.aws.client("logs")

    def group_exists(self, group: str) -> bool:
        groups = self.logs.describe_log_groups(logGroupNamePrefix=group).get("logGroups", [])
        return any(g.get("logGroupName") == group for g in groups)

    def filter(self, group: str, *, start_ms: int, end_ms: int | None = None, pattern: str | None = None,
               streams: list[str] | None = None, limit: int = 10000) -> list[dict[str, Any]]:
        """Every matching event from ``start_ms`` on, oldest first (all pages, at most ``limit``)."""
        kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
        if end_ms is not None:
            kwargs["endTime"] = end_ms
        if pattern:
            kwargs["filterPattern"] = pattern
        if streams:
            kwargs["logStreamNames"] = streams[:100]
        events: list[dict[str, Any]] = []
        try:
            while len(events) < limit:
                resp = self.logs.filter_log_events(**kwargs)
                events.extend(resp.get("events", []))
                token = resp.get("nextToken")
                if not token or token == kwargs.get("nextToken"):
                    break
                kwargs["nextToken"] = token
        except ClientError as exc:
            if _absent(exc, "ResourceNotFoundException"):
                return []
            raise
        return sorted(events[:limit], key=lambda e: (e.get("timestamp", 0), e.get("eventId", "")))


class StateLocks:
    """The terraform S3 backend's DynamoDB lock table (partition key ``LockID``)."""

    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def get(self, table: str, lock_id: str, region: str | None = None) -> dict[str, Any] | None:
        item = self.aws.client("dynamodb", region).get_item(TableName=table, Key={"LockID": {"S": lock_id}},
                                                             ConsistentRead=True).get("Item")
        return {k: next(iter(v.values())) for k, v in item.items()} if item else None

    def delete(self, table: str, lock_id: str, info: str, region: str | None = None) -> bool:
        """Delete the lock only if it still carries ``info`` (the one shown); whether it did."""
        try:
            self.aws.client("dynamodb", region).delete_item(
                TableName=table, Key={"LockID": {"S": lock_id}}, ConditionExpression="Info = :info",
                ExpressionAttributeValues={":info": {"S": info}})
        except ClientError as exc:
            if _absent(exc, "ConditionalCheckFailedException"):
                return False
            raise
        return True


class Costs:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def cost_and_usage(self, start: str, end: str, *, granularity: str, metric: str,
                       group_by: str | None, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TimePeriod": {"Start": start, "End": end}, "Granularity": granularity,
                                  "Metrics": [metric]}
        if group_by:
            kwargs["GroupBy"] = [{"Type": "DIMENSION", "Key": group_by}]
        if filter:
            kwargs["Filter"] = filter
        results: list[dict[str, Any]] = []
        while True:
            resp = self.aws.client("ce").get_cost_and_usage(**kwargs)
            results.extend(resp.get("ResultsByTime", []))
            token = resp.get("NextPageToken")
            if not token:
                return results
            kwargs["NextPageToken"] = token

    def account_id(self) -> str:
        return str(self.aws.client("sts").get_caller_identity()["Account"])

    def budget(self, account: str, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.aws.client("budgets").describe_budget(AccountId=account, BudgetName=name)["Budget"])
        except ClientError as exc:
            if _absent(exc, "NotFoundException"):
                return None
            raise

    def notifications(self, account: str, name: str) -> list[dict[str, Any]]:
        return list(self.aws.client("budgets").describe_notifications_for_budget(
            AccountId=account, BudgetName=name).get("Notifications", []))

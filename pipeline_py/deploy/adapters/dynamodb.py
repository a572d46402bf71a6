"""The locks port on DynamoDB: one item per lock, written only with conditions (compare-and-set).

Table: partition key ``LockId`` (string), nothing else required; ``Expires`` (epoch seconds) may be
the table's TTL attribute so that DynamoDB itself clears long-dead locks.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code
from pipeline_py.deploy.locking import Holder, LockHeld, LockInfo, LockLost, new_lock_id, utc
from pipeline_py.errors import BadInput

CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoLocks:
    def __init__(self, aws: AwsFactory, table: str) -> None:
        self.aws = aws
        self.table = table

    @property
    def ddb(self) -> Any:
        return self.aws.client("dynamodb")

    def _missing_table(self, exc: ClientError) -> BadInput:
        return BadInput(
            f"the deploy lock table {self.table!r} does not exist ({exc}). Create it: terraform/bootstrap "
            f"makes it (output lock_table), or on the local stack `pipeline-py local infra`; "
            f"its key is LockId (string). Or set lock.table to an existing table")

    def _call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.ddb, op)(TableName=self.table, **kwargs)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise self._missing_table(exc) from None
            raise

    @staticmethod
    def _item(info: LockInfo) -> dict[str, Any]:
        h = info.holder
        item = {
            "LockId": {"S": info.key}, "LeaseId": {"S": info.lock_id}, "Who": {"S": h.who},
            "Command": {"S": h.command}, "Pid": {"N": str(h.pid)}, "Host": {"S": h.host},
            "Since": {"S": info.since.isoformat()}, "Expires": {"N": f"{info.expires.timestamp():.3f}"},
        }
        if h.url:
            item["Url"] = {"S": h.url}
        return item

    @staticmethod
    def _info(item: dict[str, Any]) -> LockInfo:
        def s(name: str) -> str:
            return str(item.get(name, {}).get("S", ""))

        holder = Holder(who=s("Who"), command=s("Command"), pid=int(item.get("Pid", {}).get("N", "0")),
                        host=s("Host"), url=s("Url") or None)
        return LockInfo(key=s("LockId"), lock_id=s("LeaseId"), holder=holder,
                        since=datetime.fromisoformat(s("Since")),
                        expires=utc(float(item.get("Expires", {}).get("N", "0"))))

    def describe(self, key: str) -> LockInfo | None:
        resp = self._call("get_item", Key={"LockId": {"S": key}}, ConsistentRead=True)
        return self._info(resp["Item"]) if resp.get("Item") else None

    def acquire(self, key: str, holder: Holder, ttl: float, now: datetime) -> LockInfo:
        info = LockInfo(key, new_lock_id(), holder, now, now + timedelta(seconds=ttl))
        try:
            self._call("put_item", Item=self._item(info),
                       ConditionExpression="attribute_not_exists(LockId) OR Expires < :now",
                       ExpressionAttributeValues={":now": {"N": f"{now.timestamp():.3f}"}})
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            current = self.describe(key)
            if current is None:  # released between the two calls: try once more
                return self.acquire(key, holder, ttl, now)
            if current.lock_id == info.lock_id:
                # our own write: DynamoDB applied the PutItem, its answer was lost and botocore sent it
                # again, which the condition then refused
                return info
            raise LockHeld(current) from None
        return info

    def renew(self, lease: LockInfo, ttl: float, now: datetime) -> LockInfo:
        expires = now + timedelta(seconds=ttl)
        try:
            self._call("update_item", Key={"LockId": {"S": lease.key}},
                       UpdateExpression="SET Expires = :e",
                       ConditionExpression="LeaseId = :id",
                       ExpressionAttributeValues={":e": {"N": f"{expires.timestamp():.3f}"},
                                                  ":id": {"S": lease.lock_id}})
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:
                raise
            current = self.describe(lease.key)
            raise LockLost(f"the lock is now {current.describe(now) if current else 'free'}") from None
        return LockInfo(lease.key, lease.lock_id, lease.holder, lease.since, expires)

    def release(self, lease: LockInfo) -> None:
        self.break_lock(lease.key, lease.lock_id)

    def break_lock(self, key: str, lock_id: str) -> bool:
        try:
            self._call("delete_item", Key={"LockId": {"S": key}}, ConditionExpression="LeaseId = :id",
                       ExpressionAttributeValues={":id": {"S": lock_id}})
        except ClientError as exc:
            if error_code(exc) == CONDITION_FAILED:
                return False
            raise
        return True

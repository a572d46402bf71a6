"""``jenkins preflight``: the machine-checkable part of the pre-deployment checklist, run by
``ecsPipeline`` just before a deploy: no configured alarm may be in ALARM, and (for prod) an RDS
snapshot is taken and waited for. Nothing of the service is changed; a gate that is closed fails
the command with exit 1 and says which.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code
from pipeline_py.clock import Clock, Deadline
from pipeline_py.deploy.adapters.cloudwatch import CloudWatchAlarms
from pipeline_py.errors import BadInput, OperationFailed
from pipeline_py.report import Reporter

_SNAPSHOT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")


def snapshot_id(instance: str, clock: Clock, given: str | None = None) -> str:
    """``<instance>-pre-deploy-YYYYmmdd-HHMMSS``: RDS ids are letters, digits and single hyphens."""
    sid = given or f"{instance}-pre-deploy-{clock.utcnow():%Y%m%d-%H%M%S}"
    sid = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", sid)).strip("-")
    if not _SNAPSHOT_ID.match(sid):
        raise BadInput(f"cannot make a valid RDS snapshot identifier from {sid!r}")
    return sid


def check_alarms(aws: AwsFactory, names: list[str], reporter: Reporter) -> dict[str, str]:
    alarms = CloudWatchAlarms(aws)
    alarms.check_exist(names)
    states = {name: s.get("state") or "UNKNOWN" for name, s in alarms.states(names).items()}
    firing = alarms.firing(names)
    for name in names:
        reporter.detail(f"alarm {name}: {states.get(name)}")
    if firing:
        raise OperationFailed(
            "not starting the deploy: " + "; ".join(f"alarm {n} is in ALARM ({r})" for n, r in firing),
            result={"alarms": states, "firing": [n for n, _ in firing]})
    return states


def take_snapshot(aws: AwsFactory, instance: str, sid: str, clock: Clock, reporter: Reporter, *,
                  timeout: float, poll_interval: float, tags: dict[str, str]) -> dict[str, Any]:
    rds = aws.client("rds")
    try:
        rds.create_db_snapshot(DBInstanceIdentifier=instance, DBSnapshotIdentifier=sid,
                               Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    except ClientError as exc:
        if error_code(exc) == "DBInstanceNotFound":
            raise BadInput(f"RDS instance {instance!r} not found (--rds-snapshot)") from None
        raise OperationFailed(f"cannot snapshot {instance}: {exc}") from None
    reporter.step(f"RDS snapshot {sid} of {instance} started")
    deadline = Deadline(clock, timeout)
    status = "creating"
    while True:
        snaps = rds.describe_db_snapshots(DBSnapshotIdentifier=sid).get("DBSnapshots", [])
        status = snaps[0].get("Status", "unknown") if snaps else "missing"
        if status == "available":
            reporter.info(f"RDS snapshot {sid}: available after {deadline.elapsed:.0f}s")
            return {"id": sid, "instance": instance, "status": status, "seconds": round(deadline.elapsed, 1)}
        if status in ("failed", "missing", "deleted"):
            raise OperationFailed(f"RDS snapshot {sid} of {instance} is {status}; not deploying",
                                  result={"snapshot": {"id": sid, "instance": instance, "status": status}})
        if deadline.expired:
            raise OperationFailed(f"RDS snapshot {sid} of {instance} still {status} after {timeout:.0f}s; "
                                  "not deploying",
                                  result={"snapshot": {"id": sid, "instance": instance, "status": status}})
        clock.sleep(min(poll_interval, max(deadline.remaining, 0.0)))

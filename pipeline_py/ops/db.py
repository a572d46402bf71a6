"""The database runbooks: a manual snapshot, the list of snapshots, a restore to a **new** instance (to a
point in time, or from a snapshot; the source is never touched), and a real connection check.

Restores copy what makes the new instance reachable where the source is (subnet group, security
groups, class, parameter group, Multi-AZ, port, tags) unless told otherwise, as the seed's
``aws rds restore-db-instance-to-point-in-time`` invocations do by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import error_code
from pipeline_py.clock import Clock, Deadline
from pipeline_py.errors import BadInput, OperationFailed
from pipeline_py.ops import pg
from pipeline_py.ops.adapters import Rds, Secrets
from pipeline_py.report import Reporter

_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
_SNAPSHOT_FAILED = ("failed", "deleted", "incompatible-restore", "incompatible-parameters")
_INSTANCE_FAILED = ("failed", "incompatible-restore", "incompatible-parameters", "incompatible-network",
                    "inaccessible-encryption-credentials", "storage-full", "deleting", "deleted")
Connector = Callable[[pg.Endpoint], pg.Connection]


@dataclass(frozen=True)
class Database:
    """Which instance, and how to log in (``database`` section of the config)."""

    instance: str
    source: str  # where the instance name came from, for messages
    name: str | None = None
    secret: str | None = None
    tls: str = "require"
    ca_bundle: str | None = None
    connect_timeout: float = 10.0


def valid_identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise BadInput(f"{what} {value!r} is not a valid RDS identifier (1–63 letters, digits and single hyphens, "
                       "starting with a letter, not ending with a hyphen)")
    return value


def snapshot_name(service: str, env: str, build: str | None, now: datetime) -> str:
    """``<service>-<env>-<build>-<UTC time>``: letters, digits and single hyphens, as RDS requires."""
    raw = "-".join(p for p in (service, env, build or "manual", now.strftime("%Y%m%d-%H%M%S")) if p)
    sid = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9-]", "-", raw)).strip("-")
    if not sid[:1].isalpha():
        sid = "s-" + sid
    return valid_identifier(sid[:255].rstrip("-"), "snapshot identifier")


def parse_time(text: str, what: str = "--to-time") -> datetime:
    """ISO 8601 (``2026-01-02T03:04:05Z``, an offset, or UTC when none is given)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{what} {text!r}: not an ISO 8601 time (e.g. 2026-01-02T03:04:05Z)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds") if t else None


def require_instance(rds: Rds, db: Database) -> dict[str, Any]:
    inst = rds.instance(db.instance)
    if inst is None:
        raise BadInput(f"RDS instance {db.instance!r} not found ({db.source})")
    return inst


def describe_instance(inst: dict[str, Any]) -> dict[str, Any]:
    ep = inst.get("Endpoint") or {}
    return {"instance": inst.get("DBInstanceIdentifier"), "instance_status": inst.get("DBInstanceStatus"),
            "engine": f"{inst.get('Engine')} {inst.get('EngineVersion', '')}".strip(),
            "class": inst.get("DBInstanceClass"), "multi_az": bool(inst.get("MultiAZ")),
            "endpoint": f"{ep.get('Address')}:{ep.get('Port')}" if ep.get("Address") else None,
            "backup_retention_days": inst.get("BackupRetentionPeriod"),
            "latest_restorable_time": _iso(inst.get("LatestRestorableTime"))}


def describe_snapshot(s: dict[str, Any]) -> dict[str, Any]:
    return {"id": s.get("DBSnapshotIdentifier"), "instance": s.get("DBInstanceIdentifier"),
            "type": s.get("SnapshotType"), "snapshot_status": s.get("Status"),
            "created": _iso(s.get("SnapshotCreateTime")), "engine": s.get("Engine"),
            "allocated_gib": s.get("AllocatedStorage"),
            "tags": {t["Key"]: t["Value"] for t in s.get("TagList") or []}}


# ---- snapshot and snapshots


def take_snapshot(rds: Rds, db: Database, sid: str, tags: dict[str, str], clock: Clock, reporter: Reporter, *,
                  timeout: float, poll_interval: float, dry_run: bool = False) -> dict[str, Any]:
    valid_identifier(sid, "snapshot identifier")
    inst = require_instance(rds, db)
    if rds.snapshot(sid) is not None:
        raise BadInput(f"an RDS snapshot named {sid!r} already exists (choose another --snapshot-id)")
    out: dict[str, Any] = {"instance": db.instance, "snapshot": sid, "tags": tags}
    if dry_run:
        reporter.info(f"dry run: would snapshot {db.instance} ({inst.get('DBInstanceStatus')}) as {sid}")
        return {**out, "status": "would create", "dry_run": True}
    try:
        rds.create_snapshot(db.instance, sid, tags)
    except ClientError as exc:
        if error_code(exc) in ("InvalidDBInstanceState", "InvalidDBInstanceStateFault"):
            raise OperationFailed(f"cannot snapshot {db.instance} now: {exc}", result={**out, "status": "refused"}
                                  ) from None
        raise
    reporter.step(f"RDS snapshot {sid} of {db.instance} started")
    snap = _wait_snapshot(rds, sid, clock, reporter, timeout=timeout, poll_interval=poll_interval)
    reporter.info(f"RDS snapshot {sid}: available")
    return {**out, **describe_snapshot(snap), "snapshot": sid}


def _poll_status(fetch: Callable[[], dict[str, Any] | None], key: str, failed: tuple[str, ...], clock: Clock,
                 reporter: Reporter, *, label: str, timeout: float,
                 poll_interval: float) -> tuple[dict[str, Any] | None, str, bool]:
    """Describe until ``available``, gone or failed (settled: True) or until ``timeout`` (settled: False);
    returns (what was described last, its status, settled)."""
    deadline = Deadline(clock, timeout)
    while True:
        found = fetch()
        status = (found or {}).get(key, "missing")
        if found is None or status == "available" or status in failed:
            return found, status, True
        if deadline.expired:
            return found, status, False
        reporter.progress(f"{label}: {status} ({deadline.elapsed:.0f}s)", key=status)
        clock.sleep(min(poll_interval, max(deadline.remaining, 0.0)))


def _wait_snapshot(rds: Rds, sid: str, clock: Clock, reporter: Reporter, *, timeout: float,
                   poll_interval: float) -> dict[str, Any]:
    snap, status, settled = _poll_status(lambda: rds.snapshot(sid), "Status", _SNAPSHOT_FAILED, clock, reporter,
                                         label=f"snapshot {sid}", timeout=timeout, poll_interval=poll_interval)
    if snap is not None and status == "available":
        return snap
    if settled:
        raise OperationFailed(f"RDS snapshot {sid} is {status}", result={"snapshot": sid, "status": status})
    raise OperationFailed(f"RDS snapshot {sid} still {status} after {timeout:.0f}s",
                          result={"snapshot": sid, "status": status})


def list_snapshots(rds: Rds, db: Database, snapshot_type: str | None = None) -> list[dict[str, Any]]:
    require_instance(rds, db)
    snaps = [describe_snapshot(s) for s in rds.snapshots(db.instance, snapshot_type)]
    return sorted(snaps, key=lambda s: s.get("created") or "", reverse=True)


# ---- restore


@dataclass
class RestoreRequest:
    source: Database
    target: str
    to_time: datetime | None = None
    latest: bool = False
    snapshot: str | None = None
    instance_class: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    timeout: float = 3600.0
    poll_interval: float = 15.0


def _copied_settings(inst: dict[str, Any], req: RestoreRequest) -> dict[str, Any]:
    """Where the new instance lives and how it is reached: as the source, unless the request says."""
    out: dict[str, Any] = {"DBInstanceClass": req.instance_class or inst.get("DBInstanceClass"),
                           "MultiAZ": bool(inst.get("MultiAZ")), "PubliclyAccessible": False,
                           "CopyTagsToSnapshot": True, "DeletionProtection": False}
    group = (inst.get("DBSubnetGroup") or {}).get("DBSubnetGroupName")
    if group:
        out["DBSubnetGroupName"] = group
    sgs = [g["VpcSecurityGroupId"] for g in inst.get("VpcSecurityGroups") or [] if g.get("VpcSecurityGroupId")]
    if sgs:
        out["VpcSecurityGroupIds"] = sgs
    params = [p["DBParameterGroupName"] for p in inst.get("DBParameterGroups") or [] if p.get("DBParameterGroupName")]
    if params:
        out["DBParameterGroupName"] = params[0]
    port = (inst.get("Endpoint") or {}).get("Port") or inst.get("DbInstancePort")
    if port:
        out["Port"] = int(port)
    if inst.get("MasterUserSecret"):
        out["ManageMasterUserPassword"] = True
    tags = {t["Key"]: t["Value"] for t in inst.get("TagList") or [] if not t["Key"].startswith("aws:")}
    tags.update(req.tags)
    out["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return {k: v for k, v in out.items() if v is not None}


def restore_window(inst: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    """[earliest, latest] restorable time: the backups RDS keeps (retention days, not before the instance
    existed) up to its ``LatestRestorableTime``."""
    retention = int(inst.get("BackupRetentionPeriod") or 0)
    created = inst.get("InstanceCreateTime") or now
    earliest = max(created, now - timedelta(days=retention))
    latest = inst.get("LatestRestorableTime") or now
    return earliest, latest


def restore(rds: Rds, req: RestoreRequest, clock: Clock, reporter: Reporter, *, dry_run: bool = False
            ) -> dict[str, Any]:
    valid_identifier(req.target, "--target")
    if req.snapshot and (req.to_time or req.latest):
        raise BadInput("give either --snapshot ID or --to-time TIME (or --latest), not both")
    if not req.snapshot and not (req.to_time or req.latest):
        raise BadInput("say what to restore: --to-time TIME, --latest, or --snapshot ID")
    source = require_instance(rds, req.source)
    if req.target == req.source.instance or rds.instance(req.target) is not None:
        raise BadInput(f"--target {req.target}: an RDS instance with that name already exists; restores always "
                       "create a new instance (choose another name)")
    now = clock.utcnow()
    out: dict[str, Any] = {"source": req.source.instance, "target": req.target}
    if req.snapshot:
        snap = rds.snapshot(req.snapshot)
        if snap is None:
            raise BadInput(f"--snapshot {req.snapshot}: no such RDS snapshot (see `pipeline-py db snapshots`)")
        if snap.get("Status") != "available":
            raise BadInput(f"--snapshot {req.snapshot} is {snap.get('Status')}, not available yet")
        out["snapshot"] = req.snapshot
        what = f"snapshot {req.snapshot}"
    else:
        if int(source.get("BackupRetentionPeriod") or 0) == 0:
            raise BadInput(f"{req.source.instance} keeps no automated backups (BackupRetentionPeriod 0): "
                           "point-in-time restore is not possible")
        earliest, latest = restore_window(source, now)
        if req.to_time is not None and not earliest <= req.to_time <= latest:
            raise BadInput(f"--to-time {_iso(req.to_time)} is outside the restore window of "
                           f"{req.source.instance}: {_iso(earliest)} to {_iso(latest)} "
                           f"(backups kept {source.get('BackupRetentionPeriod')} days)")
        out["to_time"] = _iso(req.to_time) if req.to_time else "latest"
        out["restore_window"] = {"earliest": _iso(earliest), "latest": _iso(latest)}
        what = f"{req.source.instance} at {out['to_time']}"
    settings = _copied_settings(source, req)
    out["settings"] = {k: v for k, v in settings.items() if k != "Tags"}
    if dry_run:
        reporter.info(f"dry run: would restore {what} into a new instance {req.target}")
        return {**out, "status": "would restore", "dry_run": True}
    reporter.step(f"restoring {what} into a new instance {req.target} (the source is not touched)")
    try:
        if req.snapshot:
            rds.restore_from_snapshot(req.snapshot, req.target, **settings)
        else:
            rds.restore_to_time(req.source.instance, req.target, req.to_time, **settings)
    except ClientError as exc:
        if error_code(exc) in ("InvalidRestoreFault", "PointInTimeRestoreNotEnabled", "DBInstanceAlreadyExists",
                               "DBSnapshotNotFound", "InvalidParameterValue", "InvalidParameterCombination"):
            raise BadInput(f"RDS refused the restore: {exc}", result=out) from None
        raise
    inst = wait_available(rds, req.target, clock, reporter, timeout=req.timeout, poll_interval=req.poll_interval)
    described = describe_instance(inst)
    reporter.info(f"{req.target} is available at {described['endpoint']}")
    return {**out, **described, "status": "restored", "instance": req.target}


def wait_available(rds: Rds, identifier: str, clock: Clock, reporter: Reporter, *, timeout: float,
                   poll_interval: float) -> dict[str, Any]:
    inst, status, settled = _poll_status(lambda: rds.instance(identifier), "DBInstanceStatus", _INSTANCE_FAILED,
                                         clock, reporter, label=identifier, timeout=timeout,
                                         poll_interval=poll_interval)
    if inst is not None and status == "available":
        return inst
    if settled:
        raise OperationFailed(f"the new instance {identifier} is {status}; the source was not touched",
                              result={"target": identifier, "status": status})
    raise OperationFailed(f"the new instance {identifier} is still {status} after {timeout:.0f}s; it may "
                          "become available later (pipeline-py db check)",
                          result={"target": identifier, "status": status})


# ---- a real connection


def endpoint(rds: Rds, secrets: Secrets, db: Database, reporter: Reporter,
             inst: dict[str, Any] | None = None) -> pg.Endpoint:
    inst = inst or require_instance(rds, db)
    secret_id = db.secret or (inst.get("MasterUserSecret") or {}).get("SecretArn")
    if not secret_id:
        raise BadInput(f"no credentials for {db.instance}: it does not manage its master password in Secrets "
                       "Manager; set database.secret to a secret with username and password")
    creds = secrets.json(secret_id)
    if "password" not in creds:
        raise BadInput(f"secret {secret_id} has no 'password' key (database.secret)")
    reporter.redact.add(str(creds["password"]))
    ep = inst.get("Endpoint") or {}
    host = str(creds.get("host") or ep.get("Address") or "")
    if not host:
        raise OperationFailed(f"{db.instance} has no endpoint yet (status {inst.get('DBInstanceStatus')})")
    return pg.Endpoint(host=host, port=int(creds.get("port") or ep.get("Port") or 5432),
                       user=str(creds.get("username") or inst.get("MasterUsername")),
                       password=str(creds["password"]),
                       database=str(db.name or creds.get("dbname") or inst.get("DBName") or "postgres"),
                       tls=db.tls, ca_bundle=db.ca_bundle, timeout=db.connect_timeout)


def check(rds: Rds, secrets: Secrets, db: Database, reporter: Reporter, *, connect: Connector = pg.connect,
          slowest: int = 5) -> dict[str, Any]:
    """A real connection with the credentials from Secrets Manager and the connectivity query."""
    inst = require_instance(rds, db)
    out: dict[str, Any] = describe_instance(inst)
    if inst.get("DBInstanceStatus") != "available":
        raise OperationFailed(f"{db.instance} is {inst.get('DBInstanceStatus')}: no connection possible",
                              result={**out, "connected": False})
    ep = endpoint(rds, secrets, db, reporter, inst)
    out["connection"] = ep.where()
    try:
        conn = connect(ep)
    except Exception as exc:  # any driver or network error is the answer to "can we connect"
        raise OperationFailed(f"cannot connect to {ep.where()}: {pg.error_text(exc)}",
                              result={**out, "connected": False}) from None
    try:
        out.update(connected=True, query=pg.CONNECTIVITY_QUERY, **pg.connectivity(conn))
        out["activity"] = pg.activity(conn)
        out["slowest_statements"] = pg.slowest_statements(conn, slowest)
    finally:
        conn.close()
    reporter.info(f"connected to {ep.where()}: {out['version']}; sessions "
                  + (", ".join(f"{n} {s}" for s, n in out["activity"].items()) or "none"))
    return out

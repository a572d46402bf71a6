"""RDS for PostgreSQL backed by real PostgreSQL clusters (:mod:`pipeline_py.local.postgres`).

moto keeps the control plane (identifiers, parameters, tags, events, snapshots' metadata); this module
gives every ``postgres`` instance a real cluster on a loopback port and makes the data-plane operations
real, each run in the background by the instance's own worker (one at a time, in order), with the
statuses RDS shows meanwhile:

- ``CreateDBInstance``: ``creating`` → cluster from the template (which is also its first automated
  backup), the master user (its password from the managed secret when ``ManageMasterUserPassword``:
  moto's secret gets the real user name and a random password) and ``DBName`` → ``available``.
  ``DescribeDBInstances`` answers the cluster's endpoint: the requested port (as RDS: terraform reads it
  back and plans no change) on 127.0.0.1, or on 127.0.0.N when another server has that port there.
- ``CreateDBSnapshot`` (manual, and the final snapshot of ``DeleteDBInstance``): ``creating`` →
  ``pg_basebackup`` → ``available``. ``DeleteDBSnapshot`` removes it.
- ``RestoreDBInstanceFromDBSnapshot``: a new instance started from the snapshot's base backup.
- ``RestoreDBInstanceToPointInTime``: a new instance recovered from the source's newest automated
  backup before the target plus its archived WAL, to ``RestoreTime`` (``recovery_target_time``); the
  source is only asked to archive what it wrote until now. A time outside the window (before the
  first backup, after now) is ``InvalidRestoreFault``.
- ``StopDBInstance`` / ``StartDBInstance`` / ``RebootDBInstance`` stop / start / restart the cluster;
  ``DeleteDBInstance`` stops and removes it.
- ``AWS/RDS DatabaseConnections`` is published every second from the server's ``pg_stat_activity``.

Other engines keep moto's behaviour.

moto internals used here (pinned in tests/unit/moto_pins/test_rds.py):
  moto.rds.models.RDSBackend: create_db_instance(db_kwargs), create_db_snapshot(db_instance_identifier,
    db_snapshot_identifier, snapshot_type=, ...), delete_db_snapshot(id), delete_db_instance(id, ...),
    stop_db_instance(id, snapshot_id), start_db_instance(id), reboot_db_instance(id),
    restore_db_instance_from_db_snapshot(from_snapshot_id, overrides),
    restore_db_instance_to_point_in_time(source_id, target_id, overrides) (overrides carry ``restore_time``,
    a naive UTC datetime, and ``use_latest_restorable_time``), databases, database_snapshots, account_id,
    region_name; moto.rds.exceptions.RDSClientError(code, message)
  moto.rds.models.DBInstance: address (a property, replaced), port, status, engine, db_instance_identifier,
    master_username, master_user_password, manage_master_user_password, master_user_secret, db_name,
    backend, add_event, _master_user_password (what the write-only master_user_password property stores);
    DBSnapshot: status, snapshot_type, db_instance_identifier, db_snapshot_identifier
  moto.rds.models.MasterUserSecret._generate_secret_string (replaced), .resource
"""

from __future__ import annotations

import atexit
import json
import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline_py.local.moto_ext.core import original_of, patch_moto
from pipeline_py.local.postgres import Backup, Cluster, Postgres, PostgresError, free_endpoint, stop_all_under

log = logging.getLogger("pipeline_py.local")

ENGINES = ("postgres",)
METRICS_INTERVAL = 1.0
Key = tuple[str, str, str]  # account, region, identifier


def install(fid: Any) -> RdsWorld:
    global _world
    from moto.rds.models import DBInstance, MasterUserSecret, RDSBackend

    _world = RdsWorld(fid)
    fid.add_ticker(_world)
    fid.add_closer(_world.close)
    atexit.register(_world.close)  # a process that never stopped its server leaves no cluster behind

    patch_moto(MasterUserSecret, "_generate_secret_string", _generate_secret_string)
    patch_moto(DBInstance, "address", property(_address))
    for name in ("create_db_instance", "create_db_snapshot", "delete_db_snapshot", "delete_db_instance",
                 "stop_db_instance", "start_db_instance", "reboot_db_instance",
                 "restore_db_instance_from_db_snapshot", "restore_db_instance_to_point_in_time"):
        patch_moto(RDSBackend, name, globals()[f"_{name}"])
    return _world


def _rds_error(code: str, message: str) -> Exception:
    from moto.rds.exceptions import RDSClientError

    return RDSClientError(code, message)


def _key(backend: Any, identifier: str) -> Key:
    return (backend.account_id, backend.region_name, identifier)


@dataclass
class LocalInstance:
    key: Key
    db: Any
    cluster: Cluster
    worker: ThreadPoolExecutor
    error: str | None = None
    cancelled: bool = False
    jobs: list[Future[None]] = field(default_factory=list)

    def status(self) -> dict[str, Any]:
        return {"status": self.db.status, "error": self.error, **self.cluster.status()}


@dataclass
class LocalSnapshot:
    key: Key
    snapshot: Any
    path: Path
    instance: Key


class RdsWorld:
    """The clusters of the process's RDS instances (a ticker: reset with moto, status in /status)."""

    def __init__(self, fid: Any) -> None:
        self.fid = fid
        self.instances: dict[Key, LocalInstance] = {}
        self.snapshots: dict[Key, LocalSnapshot] = {}
        self._pg: Postgres | None = None
        self._own_root = False
        self._metrics: threading.Thread | None = None
        self._stop = threading.Event()
        self._removals: list[threading.Thread] = []
        self.retiring: list[LocalInstance] = []
        self.restoring = threading.local()

    # ---- the Postgres root, made when the first instance needs it

    @property
    def pg(self) -> Postgres:
        if self._pg is None:
            import os

            self._own_root = not os.environ.get("PIPELINE_PY_RDS_DIR")
            self._pg = Postgres.create()
            log.info("local RDS: PostgreSQL clusters under %s (as %s)", self._pg.root,
                     self._pg.run_as.user or "this user")
        return self._pg

    # ---- ticker protocol

    def tick(self, now: float) -> None:
        """Metrics come from their own thread (queries must not run under the fidelity lock)."""

    def reset(self) -> None:
        """moto was reset: every cluster goes. Called under the fidelity lock, which a running job may be
        waiting for, so the removal waits for the jobs in a thread of its own (``close`` joins it)."""
        instances = [*self.instances.values(), *self.retiring]
        snapshots = list(self.snapshots.values())
        self.instances.clear()
        self.snapshots.clear()
        self.retiring = []
        for inst in instances:
            self.discard(inst)
        for snap in snapshots:
            shutil.rmtree(snap.path, ignore_errors=True)

    def discard(self, inst: LocalInstance) -> None:
        inst.cancelled = True

        def remove() -> None:
            inst.worker.shutdown(wait=True, cancel_futures=True)
            inst.cluster.remove()

        thread = threading.Thread(target=remove, name=f"rds-remove-{inst.key[2]}", daemon=True)
        self._removals = [t for t in self._removals if t.is_alive()] + [thread]
        thread.start()

    def close(self) -> None:
        """Stop every cluster and the metrics thread; remove the data root we made."""
        self._stop.set()
        with self.fid.lock:
            self.reset()
        for thread in self._removals:
            thread.join(timeout=120)
        self._removals = []
        if self._pg is not None:
            stop_all_under(self._pg.root)
            if self._own_root:
                shutil.rmtree(self._pg.root, ignore_errors=True)
            self._pg = None

    def status(self) -> dict[str, Any]:
        return {"rds": {"root": str(self._pg.root) if self._pg else None,
                        "instances": {k[2]: i.status() for k, i in self.instances.items()},
                        "snapshots": {k[2]: str(s.path) for k, s in self.snapshots.items()}}}

    # ---- work

    def submit(self, inst: LocalInstance, what: str, fn: Any) -> None:
        def job() -> None:
            if inst.cancelled:
                return
            try:
                fn()
            except Exception as exc:  # the instance shows it; the server keeps serving
                log.exception("local RDS %s of %s failed", what, inst.key[2])
                inst.error = f"{what}: {exc}"
                with self.fid.lock:
                    if inst.db.status not in ("deleting", "deleted"):
                        inst.db.status = "failed"

        inst.jobs.append(inst.worker.submit(job))
        self._ensure_metrics()

    def set_status(self, obj: Any, status: str) -> None:
        with self.fid.lock:
            if getattr(obj, "status", None) not in ("deleting", "deleted"):
                obj.status = status

    def instance_for(self, backend: Any, identifier: str) -> LocalInstance | None:
        return self.instances.get(_key(backend, identifier))

    # ---- metrics

    def _ensure_metrics(self) -> None:
        if self._metrics is None or not self._metrics.is_alive():
            self._stop.clear()
            self._metrics = threading.Thread(target=self._metrics_loop, name="rds-metrics", daemon=True)
            self._metrics.start()

    def _metrics_loop(self) -> None:
        from pipeline_py.local.traffic_sim import MetricPoint

        while not self._stop.wait(METRICS_INTERVAL):
            for inst in list(self.instances.values()):
                if inst.db.status != "available" or not inst.cluster.running():
                    continue
                try:
                    connections = inst.cluster.connections()
                except Exception:  # a cluster going away between the check and the query
                    continue
                account, region, ident = inst.key
                with self.fid.lock:
                    second = int(self.fid.wall_seconds())
                    self.fid.metrics.sink(MetricPoint(account, region, "DatabaseConnections",
                                                      (("DBInstanceIdentifier", ident),), second, "Count",
                                                      float(connections), namespace="AWS/RDS"))


_world: RdsWorld | None = None


def world() -> RdsWorld:
    if _world is None:  # pragma: no cover - install() made it
        raise RuntimeError("moto_ext.rds.install() was not called")
    return _world


# ---- secrets and endpoints


def _generate_secret_string(self: Any) -> str:
    """The managed secret holds the instance's real master user and a generated password (moto's is a
    fixed ``admin``)."""
    user = getattr(self.resource, "master_username", None) or "admin"
    return json.dumps({"username": user, "password": secrets.token_urlsafe(24)})


def _address(self: Any) -> str:
    inst = _world.instance_for(self.backend, self.db_instance_identifier) if _world is not None else None
    if inst is not None:
        return inst.cluster.host
    return original_of(type(self), "address").fget(self)


def _master_password(db: Any) -> str:
    if getattr(db, "manage_master_user_password", False) and getattr(db, "master_user_secret", None) is not None:
        return str(json.loads(db.master_user_secret.secret.secret_string)["password"])
    return str(db.__dict__.get("_master_user_password") or "")  # moto's property refuses to read it back


# ---- instances


@dataclass
class _Restore:
    kind: str  # "snapshot" | "pitr"
    path: Path
    source: LocalInstance | None = None
    target: datetime | None = None


def _create_db_instance(self: Any, db_kwargs: dict[str, Any]) -> Any:
    rds = world()
    restore: _Restore | None = getattr(rds.restoring, "value", None)
    rds.restoring.value = None
    if str(db_kwargs.get("engine") or "").lower() in ENGINES:
        try:
            rds.pg  # noqa: B018 - PostgreSQL must be there before moto records the instance
        except PostgresError as exc:
            raise _rds_error("InvalidParameterCombination", f"the local stack runs RDS for PostgreSQL on a real "
                             f"PostgreSQL server: {exc}") from None
    with rds.fid.lock:
        db = original_of(type(self), "create_db_instance")(self, db_kwargs)
        if str(getattr(db, "engine", "")).lower() not in ENGINES:
            return db
        key = _key(self, db.db_instance_identifier)
        host, port = free_endpoint(int(db.port or 5432))
        cluster = Cluster(rds.pg, f"{db.db_instance_identifier}-{secrets.token_hex(4)}", port, host)
        db.port = cluster.port
        db.status = "creating"
        inst = LocalInstance(key, db, cluster, ThreadPoolExecutor(1, thread_name_prefix=f"rds-{key[2]}"))
        rds.instances[key] = inst
        automated = [s for s in self.database_snapshots.values()
                     if s.snapshot_type == "automated" and s.db_instance_identifier == db.db_instance_identifier]
        for s in automated:
            s.status = "creating"
        master, password, db_name = db.master_username, _master_password(db), db.db_name

    def build() -> None:
        if restore is None:
            cluster.create()  # its first automated backup: the template (see Cluster.create)
            cluster.start()
            cluster.bootstrap(master, password, db_name)
        else:
            if restore.kind == "pitr" and restore.source is not None:
                cluster.restore(restore.path, archive=restore.source.cluster.archive, target=restore.target)
            else:
                cluster.restore(restore.path)
            cluster.start()
            cluster.wait_promoted()
            if master and password:
                cluster.set_password(master, password)
            rds.set_status(db, "backing-up")
            cluster.automated_backup()  # what the restored instance's own point-in-time restores start from
        with rds.fid.lock:
            for s in automated:
                s.status = "available"
            if db.status in ("creating", "backing-up"):
                db.status = "available"
        log.info("local RDS %s: available on %s:%s", key[2], cluster.host, cluster.port)

    rds.submit(inst, "restore" if restore else "create", build)
    return db


def _delete_db_instance(self: Any, db_instance_identifier: str, *args: Any, **kwargs: Any) -> Any:
    rds = world()
    with rds.fid.lock:
        db = original_of(type(self), "delete_db_instance")(self, db_instance_identifier, *args, **kwargs)
        inst = rds.instances.pop(_key(self, db_instance_identifier), None)
    if inst is not None:
        def remove() -> None:
            inst.cluster.remove()
            rds.set_status(db, "deleted")

        rds.submit(inst, "delete", remove)  # after a final snapshot queued by moto's delete
        inst.worker.shutdown(wait=False)
        rds.retiring.append(inst)
    return db


def _change_state(self: Any, method: str, args: tuple[Any, ...], *, status: str, what: str,
                  work: Callable[[LocalInstance], None], then: str) -> Any:
    """moto's ``method`` (which says ``status`` at once); the instance's server does ``work`` in the
    background and the instance is ``then`` when it is done."""
    rds = world()
    with rds.fid.lock:
        db = original_of(type(self), method)(self, *args)
        inst = rds.instance_for(self, args[0])
        if inst is None:
            return db
        db.status = status

    def job() -> None:
        work(inst)
        rds.set_status(db, then)

    rds.submit(inst, what, job)
    return db


def _stop_db_instance(self: Any, db_instance_identifier: str, db_snapshot_identifier: str | None = None) -> Any:
    def stop(inst: LocalInstance) -> None:
        if inst.cluster.running():
            inst.cluster.flush_archive()  # what was committed stays restorable while stopped
            inst.cluster.stop()

    return _change_state(self, "stop_db_instance", (db_instance_identifier, db_snapshot_identifier),
                         status="stopping", what="stop", work=stop, then="stopped")


def _start_db_instance(self: Any, db_instance_identifier: str) -> Any:
    return _change_state(self, "start_db_instance", (db_instance_identifier,), status="starting", what="start",
                         work=lambda inst: inst.cluster.start(), then="available")


def _reboot_db_instance(self: Any, db_instance_identifier: str) -> Any:
    def reboot(inst: LocalInstance) -> None:
        inst.cluster.stop()
        inst.cluster.start()

    return _change_state(self, "reboot_db_instance", (db_instance_identifier,), status="rebooting", what="reboot",
                         work=reboot, then="available")


# ---- snapshots


def _create_db_snapshot(self: Any, db_instance_identifier: str, db_snapshot_identifier: str,
                        *args: Any, **kwargs: Any) -> Any:
    rds = world()
    with rds.fid.lock:
        snapshot = original_of(type(self), "create_db_snapshot")(self, db_instance_identifier, db_snapshot_identifier,
                                                                *args, **kwargs)
        inst = rds.instance_for(self, db_instance_identifier)
        if inst is None or snapshot.snapshot_type == "automated":
            return snapshot  # automated: the instance's own base backups (see _create_db_instance)
        snapshot.status = "creating"
        key = _key(self, snapshot.db_snapshot_identifier)
        path = rds.pg.root / "snapshots" / f"{key[0]}-{key[1]}-{snapshot.db_snapshot_identifier}"
        rds.snapshots[key] = LocalSnapshot(key, snapshot, path, inst.key)

    def take() -> None:
        if inst.cluster.running():
            inst.cluster.base_backup(path)
        else:  # a stopped instance: its cleanly shut down data directory is the snapshot
            rds.pg.mkdir(path.parent)
            shutil.rmtree(path, ignore_errors=True)
            rds.pg.copy_tree(inst.cluster.data, path)
        rds.set_status(snapshot, "available")

    rds.submit(inst, f"snapshot {snapshot.db_snapshot_identifier}", take)
    return snapshot


def _delete_db_snapshot(self: Any, db_snapshot_identifier: str) -> Any:
    rds = world()
    with rds.fid.lock:
        snapshot = original_of(type(self), "delete_db_snapshot")(self, db_snapshot_identifier)
        local = rds.snapshots.pop(_key(self, str(db_snapshot_identifier).lower()), None)
    if local is not None:
        shutil.rmtree(local.path, ignore_errors=True)
    return snapshot


# ---- restores


def _restore_db_instance_from_db_snapshot(self: Any, from_snapshot_id: str, overrides: dict[str, Any]) -> Any:
    rds = world()
    snapshot_id = from_snapshot_id.rsplit(":", 1)[-1] if from_snapshot_id.startswith("arn:") else from_snapshot_id
    local = rds.snapshots.get(_key(self, snapshot_id.lower()))
    if local is not None:
        if local.snapshot.status != "available":
            raise _rds_error("InvalidDBSnapshotState", f"DB snapshot {snapshot_id} is {local.snapshot.status}, "
                                                       "not available")
        rds.restoring.value = _Restore("snapshot", local.path)
    try:
        return original_of(type(self), "restore_db_instance_from_db_snapshot")(self, from_snapshot_id, overrides)
    finally:
        rds.restoring.value = None


def restore_window(inst: LocalInstance, now: datetime) -> tuple[datetime | None, datetime]:
    first = min((b.end for b in inst.cluster.backups), default=None)
    return first, now


def _restore_db_instance_to_point_in_time(self: Any, source_db_identifier: str, target_db_identifier: str,
                                          overrides: dict[str, Any]) -> Any:
    rds = world()
    source = rds.instance_for(self, source_db_identifier)
    if source is not None:
        now = datetime.now(timezone.utc)
        target = overrides.get("restore_time")
        if target is None or overrides.get("use_latest_restorable_time"):
            target = now
        if target.tzinfo is None:
            target = target.replace(tzinfo=timezone.utc)
        earliest, latest = restore_window(source, now)
        if earliest is None:
            raise _rds_error("InvalidDBInstanceState", f"DB instance {source_db_identifier} has no automated "
                                                       "backup yet")
        if not earliest <= target <= latest:
            raise _rds_error("InvalidRestoreFault",
                             f"Restore time {target.isoformat()} is outside the restore window of "
                             f"{source_db_identifier}: {earliest.isoformat()} to {latest.isoformat()}")
        if target_db_identifier in self.databases:
            raise _rds_error("DBInstanceAlreadyExists", f"DB instance {target_db_identifier} already exists")
        if source.cluster.running():
            try:
                source.cluster.flush_archive()
            except PostgresError as exc:
                raise _rds_error("InvalidDBInstanceState", f"cannot archive {source_db_identifier}'s WAL: {exc}"
                                 ) from None
        backup: Backup | None = source.cluster.backup_before(target)
        if backup is None:
            raise _rds_error("InvalidRestoreFault", f"no automated backup of {source_db_identifier} before "
                                                    f"{target.isoformat()}")
        rds.restoring.value = _Restore("pitr", backup.path, source, target)
    try:
        return original_of(type(self), "restore_db_instance_to_point_in_time")(
            self, source_db_identifier, target_db_identifier, overrides)
    finally:
        rds.restoring.value = None

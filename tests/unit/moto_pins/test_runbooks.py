"""moto internals the runbooks' local extensions use (pipeline_py.local.moto_ext.rds, .logs, .cost).

Fail loudly when moto changes: every internal is exercised on fresh in-memory backends (no server, and
no PostgreSQL: the originals are called directly).
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from pipeline_py.local import moto_ext
from tests.unit.moto_pins._helpers import original

REGION = "us-east-1"
WRAPPED_RDS_BACKEND = {
    "create_db_instance": ["self", "db_kwargs"],
    "create_db_snapshot": ["self", "db_instance_identifier", "db_snapshot_identifier", "snapshot_type", "tags",
                           "original_created_at", "kms_key_id"],
    "delete_db_snapshot": ["self", "db_snapshot_identifier"],
    "delete_db_instance": ["self", "db_instance_identifier", "final_db_snapshot_identifier", "skip_final_snapshot",
                           "delete_automated_backups"],
    "stop_db_instance": ["self", "db_instance_identifier", "db_snapshot_identifier"],
    "start_db_instance": ["self", "db_instance_identifier"],
    "reboot_db_instance": ["self", "db_instance_identifier"],
    "restore_db_instance_from_db_snapshot": ["self", "from_snapshot_id", "overrides"],
    "restore_db_instance_to_point_in_time": ["self", "source_db_identifier", "target_db_identifier", "overrides"],
}


def test_the_rds_backend_methods_we_wrap_keep_their_signatures() -> None:
    from moto.rds.models import DBInstance, MasterUserSecret, RDSBackend

    for name, params in WRAPPED_RDS_BACKEND.items():
        fn = original(RDSBackend, name)
        assert inspect.isfunction(fn), name
        assert list(inspect.signature(fn).parameters) == params, name
    assert isinstance(original(DBInstance, "address"), property)
    generate = original(MasterUserSecret, "_generate_secret_string")
    assert list(inspect.signature(generate).parameters) == ["self"]
    init = inspect.getsource(MasterUserSecret.__init__)
    assert init.index("self.resource = resource") < init.index("self._create_secret(")


def _original_rds_calls(backend: Any, name: str, *args: Any) -> Any:
    from moto.rds.models import RDSBackend

    return original(RDSBackend, name)(backend, *args)


def test_rds_instance_and_snapshot_shapes() -> None:
    """What the wrappers read and set, on moto's own objects (originals only: no cluster starts)."""
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend, rds_backends

    account = "000000000061"
    backend = rds_backends[account][REGION]
    assert isinstance(backend, RDSBackend)
    db = _original_rds_calls(backend, "create_db_instance", {
        "db_instance_identifier": "pin-db", "engine": "postgres", "db_instance_class": "db.t3.micro",
        "master_username": "app_admin", "manage_master_user_password": True, "allocated_storage": 20,
        "db_name": "app", "backup_retention_period": 7})
    assert backend.databases["pin-db"] is db and (backend.account_id, backend.region_name) == (account, REGION)
    assert (db.engine, db.db_instance_identifier, db.master_username, db.db_name, db.port) == (
        "postgres", "pin-db", "app_admin", "app", 5432)
    assert db.status == "available" and db.manage_master_user_password is True
    secret = json.loads(db.master_user_secret.secret.secret_string)
    assert secret["username"] == "app_admin" and len(secret["password"]) >= 20  # ours: the real user, generated
    plain = _original_rds_calls(backend, "create_db_instance", {
        "db_instance_identifier": "pin-plain", "engine": "mysql", "db_instance_class": "db.t3.micro",
        "master_username": "admin", "master_user_password": "s3cret-s3cret", "allocated_storage": 20})
    assert plain.__dict__["_master_user_password"] == "s3cret-s3cret", "where the wrapper reads the password"
    automated = [s for s in backend.database_snapshots.values()
                 if s.snapshot_type == "automated" and s.db_instance_identifier == "pin-db"]
    assert [s.db_instance_identifier for s in automated] == ["pin-db"]
    snap = _original_rds_calls(backend, "create_db_snapshot", "pin-db", "pin-snap")
    assert (snap.status, snap.snapshot_type, snap.db_snapshot_identifier) == ("available", "manual", "pin-snap")
    assert db.address.endswith(".rds.amazonaws.com"), "moto's own address for an instance without a cluster"
    assert RDSClientError("InvalidRestoreFault", "outside the window").code == "InvalidRestoreFault"
    # restores create the new instance through create_db_instance (where the wrapper starts its cluster), with
    # the request's parameters as snake_case overrides (RestoreTime -> restore_time)
    for name in ("restore_db_instance_to_point_in_time", "restore_db_instance_from_db_snapshot"):
        source = inspect.getsource(original(RDSBackend, name))
        assert "self.create_db_instance(new_instance_props)" in source and "overrides.items()" in source, name
    from moto.core.parse import XFormedDict

    assert dict(XFormedDict({"RestoreTime": 1, "UseLatestRestorableTime": True})) == {
        "restore_time": 1, "use_latest_restorable_time": True}


def test_logs_internals_for_filter_patterns_and_task_lines() -> None:
    from moto.logs.models import LogStream, logs_backends

    fn = original(LogStream, "filter_log_events")
    assert list(inspect.signature(fn).parameters) == ["self", "start_time", "end_time", "filter_pattern"]
    backend = logs_backends["000000000062"][REGION]
    group = backend.create_log_group("/ecs/pin", {})
    assert backend.groups["/ecs/pin"] is group
    group.create_log_stream("app/app/0123")
    group.put_log_events("app/app/0123", [{"timestamp": 1000, "message": "ERROR GET /x 500"},
                                          {"timestamp": 2000, "message": "INFO GET /x 200"}])
    stream = group.streams["app/app/0123"]
    assert [e.message for e in stream.events] == ["ERROR GET /x 500", "INFO GET /x 200"]
    assert stream.log_stream_name == "app/app/0123"
    assert set(stream.events[0].to_filter_dict()) >= {"eventId", "message", "timestamp"}
    # ours (installed) understands the space-delimited pattern moto returns everything for
    moto_ext.install()
    assert [e["message"] for e in stream.filter_log_events(0, 0, "[level = ERROR*, ...]")] == ["ERROR GET /x 500"]
    assert len(fn(stream, 0, 0, "[level = ERROR*, ...]")) == 2, "moto now filters [...] itself: compare with ours"


def test_ecs_task_definitions_keep_the_log_configuration() -> None:
    from moto.ecs.models import ecs_backends

    backend = ecs_backends["000000000063"][REGION]
    td = backend.register_task_definition("pin", [{"name": "app", "image": "x", "memory": 512, "logConfiguration": {
        "logDriver": "awslogs", "options": {"awslogs-group": "/ecs/pin", "awslogs-stream-prefix": "app"}}}])
    stored = backend.task_definitions["pin"][td.revision]
    assert stored.container_definitions[0]["logConfiguration"]["options"]["awslogs-group"] == "/ecs/pin"


def test_cost_explorer_and_budgets_internals() -> None:
    from moto.budgets.models import BudgetsBackend
    from moto.ce.models import CostExplorerBackend

    assert list(inspect.signature(original(CostExplorerBackend, "get_cost_and_usage")).parameters) == ["self", "body"]
    describe = original(BudgetsBackend, "describe_budget")
    assert list(inspect.signature(describe).parameters) == ["self", "account_id", "budget_name"]
    assert list(inspect.signature(original(BudgetsBackend, "describe_budgets")).parameters) == ["self", "account_id"]
    backend = BudgetsBackend(REGION, "000000000064")
    backend.create_budget("000000000064", {"BudgetName": "b", "BudgetLimit": {"Amount": "10", "Unit": "USD"},
                                           "TimeUnit": "MONTHLY", "BudgetType": "COST"}, [])
    answer = describe(backend, "000000000064", "b")
    assert answer["CalculatedSpend"]["ActualSpend"] == {"Amount": "0", "Unit": "USD"}

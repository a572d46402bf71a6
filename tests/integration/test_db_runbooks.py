"""``pipeline-py db`` on the local stack, where every RDS instance is a real PostgreSQL cluster: a point-in-time
restore that really recovers data, a restore from a snapshot, a real connection check, and bad input."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from tests.conftest import run_cli, wait_for
from tests.integration.runbook_fixtures import SOURCE, DbProject, db_stack, instance, rows, run_sql

__all__ = ["db_stack"]


def test_point_in_time_restore_recovers_a_deleted_row(db_stack: DbProject) -> None:
    noted = run_sql(SOURCE, "CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL)",
                    "INSERT INTO orders VALUES (1, 'tea'), (2, 'coffee'), (3, 'cake')",
                    "SELECT clock_timestamp()",  # T: after the insert committed
                    "DELETE FROM orders WHERE id = 2")[2][0][0]
    assert rows(SOURCE, "SELECT id FROM orders ORDER BY id") == [[1], [3]]

    res = run_cli(*db_stack.args("--json", "db", "restore", "--to-time", noted.isoformat(), "--target", "pitr-1"))
    assert res.code == 0, res.stderr
    out = res.json
    assert (out["status"], out["source"], out["target"], out["instance_status"]) == (
        "restored", SOURCE, "pitr-1", "available")
    assert out["to_time"] == noted.astimezone(timezone.utc).isoformat(timespec="seconds")
    endpoint = instance("pitr-1")["Endpoint"]
    assert endpoint["Port"] == instance(SOURCE)["Endpoint"]["Port"] == 5432, "the source's port, as RDS restores"
    assert endpoint["Address"].startswith("127.0.0.") and out["endpoint"] == f"{endpoint['Address']}:5432"
    assert rows("pitr-1", "SELECT id, item FROM orders ORDER BY id") == [[1, "tea"], [2, "coffee"], [3, "cake"]]
    assert rows(SOURCE, "SELECT id FROM orders ORDER BY id") == [[1], [3]], "the source is untouched"
    assert instance(SOURCE)["DBInstanceStatus"] == "available"
    tags = {t["Key"]: t["Value"] for t in instance("pitr-1")["TagList"]}
    assert tags["pipeline-py:restored-from"] == SOURCE

    run_sql("pitr-1", "CREATE EXTENSION pg_stat_statements", "SELECT count(*) FROM orders, generate_series(1, 20000)")
    check = run_cli(*db_stack.args("--json", "db", "check", "--instance", "pitr-1"))
    assert check.code == 0, check.stderr
    assert check.json["connected"] is True and check.json["ok"] is True
    assert check.json["database"] == "app" and check.json["user"] == "app_admin"
    assert check.json["version"].startswith("PostgreSQL ")
    assert any("generate_series" in s["query"] for s in check.json["slowest_statements"])
    assert "PASSWORD" not in check.stdout.upper()


def test_restore_from_a_snapshot(db_stack: DbProject) -> None:
    run_sql(SOURCE, "CREATE TABLE notes (id int PRIMARY KEY)", "INSERT INTO notes VALUES (1), (2)")
    snap = run_cli(*db_stack.args("--json", "db", "snapshot", "--build", "build-7"))
    assert snap.code == 0, snap.stderr
    sid = snap.json["snapshot"]
    assert re.fullmatch(r"task-api-local-build-7-\d{8}-\d{6}", sid), sid
    assert snap.json["snapshot_status"] == "available"
    assert snap.json["tags"] == {"pipeline-py:service": "task-api", "pipeline-py:env": "local",
                                 "pipeline-py:build": "build-7"}
    rds = boto3.client("rds")
    described = rds.describe_db_snapshots(DBSnapshotIdentifier=sid)["DBSnapshots"][0]
    assert {t["Key"]: t["Value"] for t in described["TagList"]}["pipeline-py:build"] == "build-7"
    run_sql(SOURCE, "INSERT INTO notes VALUES (3)")  # after the snapshot: not in the restore

    listed = run_cli(*db_stack.args("--json", "db", "snapshots"))
    assert listed.code == 0, listed.stderr
    by_id = {s["id"]: s for s in listed.json["snapshots"]}
    assert by_id[sid]["type"] == "manual" and by_id[sid]["snapshot_status"] == "available"
    assert any(s["type"] == "automated" for s in listed.json["snapshots"])

    res = run_cli(*db_stack.args("--json", "db", "restore", "--snapshot", sid, "--target", "from-snap"))
    assert res.code == 0, res.stderr
    assert res.json["snapshot"] == sid and res.json["instance_status"] == "available"
    assert rows("from-snap", "SELECT id FROM notes ORDER BY id") == [[1], [2]]
    assert rows(SOURCE, "SELECT id FROM notes ORDER BY id") == [[1], [2], [3]]


def _bad(db_stack: DbProject, *argv: str) -> dict[str, Any]:
    res = run_cli(*db_stack.args("--json", "db", "restore", *argv))
    assert res.code == 2, (res.code, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    return dict(res.json)


def test_bad_input_is_refused_before_anything_is_created(db_stack: DbProject) -> None:
    before = {d["DBInstanceIdentifier"] for d in boto3.client("rds").describe_db_instances()["DBInstances"]}
    month_ago = (datetime.now(timezone.utc) - timedelta(days=30)).isoformat()
    out = _bad(db_stack, "--to-time", month_ago, "--target", "too-old")
    assert "outside the restore window of task-api-local" in out["message"] and "7 days" in out["message"]
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    assert "outside the restore window" in _bad(db_stack, "--to-time", future, "--target", "too-new")["message"]
    assert "not an ISO 8601 time" in _bad(db_stack, "--to-time", "yesterday", "--target", "x-1")["message"]
    assert _bad(db_stack, "--snapshot", "no-such-snapshot", "--target", "x-2")["message"].startswith(
        "--snapshot no-such-snapshot: no such RDS snapshot")
    taken = _bad(db_stack, "--latest", "--target", SOURCE)["message"]
    assert taken.startswith(f"--target {SOURCE}: an RDS instance with that name already exists")
    assert "not a valid RDS identifier" in _bad(db_stack, "--latest", "--target", "bad--name")["message"]
    unknown = run_cli(*db_stack.args("--json", "db", "check", "--instance", "nope"))
    assert unknown.code == 2 and "RDS instance 'nope' not found (--instance)" in unknown.json["message"]
    after = {d["DBInstanceIdentifier"] for d in boto3.client("rds").describe_db_instances()["DBInstances"]}
    assert after == before


def test_a_stopped_instance_fails_the_check_and_comes_back(db_stack: DbProject) -> None:
    rds = boto3.client("rds")
    rds.stop_db_instance(DBInstanceIdentifier=SOURCE)
    wait_for(lambda: instance(SOURCE)["DBInstanceStatus"] == "stopped", timeout=60, what="the instance to stop")
    res = run_cli(*db_stack.args("--json", "db", "check"))
    assert res.code == 1 and res.json["connected"] is False and "is stopped" in res.json["message"]
    rds.start_db_instance(DBInstanceIdentifier=SOURCE)
    wait_for(lambda: instance(SOURCE)["DBInstanceStatus"] == "available", timeout=60, what="the instance to start")
    again = run_cli(*db_stack.args("--json", "db", "check"))
    assert again.code == 0 and again.json["connected"] is True

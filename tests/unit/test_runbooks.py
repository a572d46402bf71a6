"""The runbooks' logic on fakes and a fake clock (pipeline_py/ops): diagnose's verdicts where the local
stack cannot make the case cheaply (out-of-memory kills, a rollout slow for hours, a memory leak over
hours, an unreadable source), restore validation, the terraform lock's safety rules, the budget's state."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pipeline_py.clock import FakeClock
from pipeline_py.deploy.views import ServiceView, TargetState
from pipeline_py.errors import BadInput
from pipeline_py.ops import cost, db, diagnose, tflock
from pipeline_py.report import Reporter

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
CLUSTER = "task-api-prod"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/task-api/0123456789abcdef"
LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/task-api/0123456789abcdef"


def view(running: int = 2, desired: int = 2, deployments: list[dict[str, Any]] | None = None) -> ServiceView:
    deps = deployments or [{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": "arn:td/task-api:7",
                            "desiredCount": desired, "runningCount": running, "rolloutState": "COMPLETED",
                            "createdAt": NOW - timedelta(days=1)}]
    return ServiceView.from_api(CLUSTER, {
        "serviceName": "task-api", "serviceArn": "arn:svc", "status": "ACTIVE", "desiredCount": desired,
        "runningCount": running, "taskDefinition": "arn:td/task-api:7", "deployments": deps,
        "events": [{"message": "(service task-api) has reached a steady state."}],
        "loadBalancers": [{"targetGroupArn": TG, "containerName": "app", "containerPort": 8080}]})


class FakeEcs:
    def __init__(self, v: ServiceView, stopped: list[dict[str, Any]] | None = None) -> None:
        self.v, self.stopped = v, stopped or []

    def describe(self, cluster: str, names: Any) -> dict[str, ServiceView]:
        return {self.v.name: self.v} if self.v.name in names else {}

    def task_definition(self, arn: str) -> dict[str, Any] | None:
        return {"taskDefinitionArn": arn, "containerDefinitions": [{"name": "app", "logConfiguration": {
            "logDriver": "awslogs", "options": {"awslogs-group": "/ecs/task-api", "awslogs-stream-prefix": "app"}}}]}

    def list_task_arns(self, cluster: str, *, service: str | None = None, desired_status: str = "RUNNING",
                       **_: Any) -> list[str]:
        if desired_status == "STOPPED":
            return [t["taskArn"] for t in self.stopped]
        return ["arn:task/task-api-prod/aaaa1111"]

    def describe_tasks(self, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
        return [t for t in self.stopped if t["taskArn"] in arns]


class Fake:
    """Any adapter: methods answer from a dict, or raise what they are given."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        if name not in self.answers:
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            value = self.answers[name]
            if isinstance(value, Exception):
                raise value
            return value(*args, **kwargs) if callable(value) else value

        return call


def sources(ecs: FakeEcs | None = None, **overrides: Any) -> diagnose.Sources:
    clock = FakeClock(NOW)
    parts: dict[str, Any] = {
        "ecs": ecs or FakeEcs(view()),
        "targets": Fake(health=[TargetState("10.0.1.5", 8080, "healthy", None, None)]),
        "elb": Fake(target_groups=[{"TargetGroupArn": TG, "LoadBalancerArns": [LB]}],
                    load_balancers=[{"LoadBalancerArn": LB, "LoadBalancerName": "task-api", "State": {"Code": "active"},
                                     "DNSName": "x"}],
                    listeners=[{"ListenerArn": "l1", "Port": 443, "Protocol": "HTTPS",
                                "DefaultActions": [{"Type": "forward", "TargetGroupArn": TG}]}],
                    rules=[]),
        "alarms": Fake(in_alarm=[]),
        "logs": Fake(filter=[]),
        "metrics": Fake(series=[]),
        "rds": Fake(instance=None),
        "secrets": Fake(),
        "locks": Fake(get=None),
        "clock": clock,
        "reporter": Reporter(quiet=True),
    }
    parts.update(overrides)
    return diagnose.Sources(**parts)


def run(src: diagnose.Sources, *only: str, **req: Any) -> dict[str, dict[str, Any]]:
    request = diagnose.DiagnoseRequest(env="prod", service="task-api", cluster=CLUSTER, services=["task-api"],
                                       only=list(only) or None, **req)
    out = diagnose.diagnose(src, request)
    return {c["name"]: c for c in out["checks"]}


def _series(ns: str, metric: str, *a: Any) -> list[tuple[datetime, float]]:
    value = {"RequestCount": 1000.0, "HTTPCode_Target_5XX_Count": 0.0}.get(metric, 30.0)
    return [(NOW - timedelta(minutes=10 * i), value) for i in range(12, 0, -1)]


def test_every_check_runs_in_the_guides_order_and_a_quiet_service_is_ok() -> None:
    checks = run(sources(metrics=Fake(series=_series)))
    assert list(checks) == list(diagnose.CHECK_NAMES)
    assert {n: c["verdict"] for n, c in checks.items()} == dict.fromkeys(diagnose.CHECK_NAMES, "ok")


def test_out_of_memory_kills_are_named() -> None:
    oom = {"taskArn": "arn:task/c/bbbb2222", "taskDefinitionArn": "arn:td/task-api:7", "lastStatus": "STOPPED",
           "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
           "stoppedAt": NOW - timedelta(minutes=5),
           "containers": [{"name": "app", "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to "
                                                                     "memory usage"}]}
    scaled_in = {**oom, "taskArn": "arn:task/c/cccc3333", "stopCode": "ServiceSchedulerInitiated",
                 "stoppedReason": "Scaling activity initiated by deployment", "containers": [
                     {"name": "app", "exitCode": 143}]}
    old = {**oom, "taskArn": "arn:task/c/dddd4444", "stoppedAt": NOW - timedelta(hours=3)}
    c = run(sources(FakeEcs(view(), [oom, scaled_in, old])), "stopped_tasks")["stopped_tasks"]
    assert c["verdict"] == "problem"
    assert c["summary"] == "1 task(s) stopped abnormally in the last 60m: out of memory (exit 137 / OutOfMemoryError)"
    assert "raise the task's memory" in c["next_step"]


def test_a_rollout_in_progress_for_hours_is_stuck_but_a_young_one_is_not() -> None:
    def rollout(age: timedelta) -> ServiceView:
        return view(running=2, desired=2, deployments=[
            {"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": "arn:td/task-api:8", "desiredCount": 2,
             "runningCount": 1, "rolloutState": "IN_PROGRESS", "createdAt": NOW - age},
            {"id": "ecs-svc/1", "status": "ACTIVE", "taskDefinition": "arn:td/task-api:7", "desiredCount": 1,
             "runningCount": 1, "rolloutState": "COMPLETED", "createdAt": NOW - timedelta(days=1)}])

    young = run(sources(FakeEcs(rollout(timedelta(minutes=5)))), "service")["service"]
    assert young["verdict"] == "ok"
    old = run(sources(FakeEcs(rollout(timedelta(hours=2)))), "service")["service"]
    assert old["verdict"] == "problem"
    assert "rollout ecs-svc/2 in progress for 2h (longer than 30m)" in old["summary"]


@pytest.mark.parametrize(("memory", "verdict", "text"), [
    ([30.0 + 3 * i for i in range(12)], "problem", "memory grows 18.0%/h and reaches 90% in about 2h (a leak?)"),
    ([40.0 + 0.01 * i for i in range(12)], "ok", "memory and CPU within limits"),
    ([91.0] * 12, "problem", "memory at 91% (limit 90%)"),
    ([30.0, 31.0], "unknown", "not enough ECS utilisation data"),
])
def test_memory_trend(memory: list[float], verdict: str, text: str) -> None:
    points = [(NOW - timedelta(minutes=10 * (len(memory) - i)), v) for i, v in enumerate(memory)]

    def series(ns: str, metric: str, *a: Any) -> list[tuple[datetime, float]]:
        return points if metric == "MemoryUtilization" else [(t, 10.0) for t, _ in points]

    c = run(sources(metrics=Fake(series=series)), "resources")["resources"]
    assert c["verdict"] == verdict and text in c["summary"]


def test_a_check_that_cannot_look_is_unknown_and_the_others_still_run() -> None:
    denied = RuntimeError("AccessDenied: not authorized to perform cloudwatch:DescribeAlarms")
    checks = run(sources(alarms=Fake(in_alarm=denied)), "alarms", "service")
    assert checks["alarms"]["verdict"] == "unknown" and "AccessDenied" in checks["alarms"]["summary"]
    assert checks["service"]["verdict"] == "ok"


def test_no_listener_to_the_service_is_a_problem() -> None:
    elb = Fake(target_groups=[{"TargetGroupArn": TG, "LoadBalancerArns": [LB]}],
               load_balancers=[{"LoadBalancerArn": LB, "LoadBalancerName": "task-api", "State": {"Code": "active"}}],
               listeners=[{"ListenerArn": "l1", "Port": 80, "Protocol": "HTTP",
                           "DefaultActions": [{"Type": "redirect"}]}], rules=[])
    c = run(sources(elb=elb), "load_balancer")["load_balancer"]
    assert c["verdict"] == "problem" and "no listener sends traffic" in c["summary"]


def test_a_configured_database_that_is_missing_is_a_problem_an_unconfigured_one_is_not() -> None:
    database = db.Database("task-api-prod", "database.instance in pipeline.yaml")
    configured = run(sources(), "database", database=database, database_configured=True)["database"]
    assert configured["verdict"] == "problem" and "not found" in configured["summary"]
    default = run(sources(), "database", database=db.Database("task-api-prod", "the default"))["database"]
    assert default["verdict"] == "ok"


# ---- db


def test_snapshot_names_are_valid_rds_identifiers() -> None:
    assert db.snapshot_name("task-api", "prod", "jenkins-task-api-main-42", NOW) == \
        "task-api-prod-jenkins-task-api-main-42-20260315-120000"
    assert db.snapshot_name("task_api", "prod", "PR #7", NOW) == "task-api-prod-PR-7-20260315-120000"
    assert db.snapshot_name("9lives", "prod", None, NOW).startswith("s-9lives-prod-manual-")
    with pytest.raises(BadInput):
        db.valid_identifier("ends-", "--target")


def test_times_without_an_offset_are_utc() -> None:
    assert db.parse_time("2026-03-15T11:00:00") == datetime(2026, 3, 15, 11, tzinfo=timezone.utc)
    assert db.parse_time("2026-03-15T13:00:00+02:00") == datetime(2026, 3, 15, 11, tzinfo=timezone.utc)
    with pytest.raises(BadInput, match="not an ISO 8601 time"):
        db.parse_time("an hour ago")


def source_instance(**extra: Any) -> dict[str, Any]:
    return {"DBInstanceIdentifier": "task-api-prod", "DBInstanceStatus": "available", "DBInstanceClass": "db.t3.small",
            "MultiAZ": True, "BackupRetentionPeriod": 7, "InstanceCreateTime": NOW - timedelta(days=100),
            "LatestRestorableTime": NOW - timedelta(minutes=5), "Endpoint": {"Address": "db", "Port": 5432},
            "DBSubnetGroup": {"DBSubnetGroupName": "task-api-prod"},
            "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-1"}],
            "DBParameterGroups": [{"DBParameterGroupName": "task-api-prod-postgres16"}],
            "MasterUserSecret": {"SecretArn": "arn:secret"}, "TagList": [{"Key": "Environment", "Value": "prod"}],
            **extra}


def test_a_point_in_time_restore_copies_where_the_source_lives_and_never_touches_it() -> None:
    restored = source_instance(DBInstanceIdentifier="task-api-prod-restore", Endpoint={"Address": "new", "Port": 5432})
    instances = {"task-api-prod": source_instance()}

    def restore_to_time(source: str, target: str, when: Any, **settings: Any) -> dict[str, Any]:
        instances[target] = restored
        return restored

    rds = Fake(instance=lambda i: instances.get(i), restore_to_time=restore_to_time)
    req = db.RestoreRequest(db.Database("task-api-prod", "test"), "task-api-prod-restore",
                            to_time=NOW - timedelta(days=2), poll_interval=1)
    out = db.restore(rds, req, FakeClock(NOW), Reporter(quiet=True))  # type: ignore[arg-type]
    assert out["status"] == "restored" and out["endpoint"] == "new:5432"
    (_, (source, target, when)), = [c for c in rds.calls if c[0] == "restore_to_time"]
    assert (source, target, when) == ("task-api-prod", "task-api-prod-restore", NOW - timedelta(days=2))
    assert out["settings"] == {"DBInstanceClass": "db.t3.small", "MultiAZ": True, "PubliclyAccessible": False,
                               "CopyTagsToSnapshot": True, "DeletionProtection": False,
                               "DBSubnetGroupName": "task-api-prod", "VpcSecurityGroupIds": ["sg-1"],
                               "DBParameterGroupName": "task-api-prod-postgres16", "Port": 5432,
                               "ManageMasterUserPassword": True}


@pytest.mark.parametrize(("when", "message"), [
    (NOW - timedelta(days=8), "outside the restore window of task-api-prod: 2026-03-08T12:00:00+00:00 to "
                              "2026-03-15T11:55:00+00:00 (backups kept 7 days)"),
    (NOW - timedelta(minutes=1), "outside the restore window"),
])
def test_a_time_outside_the_retention_window_is_bad_input(when: datetime, message: str) -> None:
    rds = Fake(instance=lambda i: source_instance() if i == "task-api-prod" else None)
    req = db.RestoreRequest(db.Database("task-api-prod", "test"), "restored", to_time=when)
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        db.restore(rds, req, FakeClock(NOW), Reporter(quiet=True))  # type: ignore[arg-type]
    assert [c[0] for c in rds.calls] == ["instance", "instance"]


# ---- terraform state lock


def test_backend_hcl_and_the_lock_id(tmp_path: Path) -> None:
    hcl = tmp_path / "backend.hcl"
    hcl.write_text('bucket = "b-state" # the bucket\nkey = "app/prod/terraform.tfstate"\nregion = "eu-west-1"\n'
                   'dynamodb_table = "locks"\nendpoints = {\n  s3 = "http://x"\n  key = "nested"\n}\n')
    backend = tflock.backend_of("s3", hcl, tmp_path / ".terraform", {})
    assert backend is not None
    assert (backend.lock_id, backend.table, backend.region) == ("b-state/app/prod/terraform.tfstate", "locks",
                                                                "eu-west-1")
    (tmp_path / ".terraform").mkdir()
    (tmp_path / ".terraform" / "environment").write_text("blue")
    assert tflock.backend_of("s3", hcl, tmp_path / ".terraform", {}).lock_id == \
        "b-state/env:/blue/app/prod/terraform.tfstate"  # type: ignore[union-attr]
    assert tflock.backend_of("local", hcl, tmp_path, {}) is None


def test_a_live_holder_is_found_by_its_data_dir(tmp_path: Path) -> None:
    env_dir, root = tmp_path / "environments" / "prod", tmp_path / "stack"
    data_dir = env_dir / ".terraform"
    procs = [
        {"pid": 11, "argv": ["terraform", f"-chdir={root}", "apply"], "cwd": str(env_dir),
         "tf_data_dir": str(data_dir)},
        {"pid": 12, "argv": ["terraform", "plan"], "cwd": str(tmp_path / "other"), "tf_data_dir": ""},
        {"pid": 13, "argv": ["/usr/bin/terraform", "console"], "cwd": str(env_dir), "tf_data_dir": None},
    ]
    assert [h["pid"] for h in tflock.holders_among(procs, data_dir, [env_dir, root])] == [11, 13]


class FakeLocks:
    def __init__(self, item: dict[str, Any] | None) -> None:
        self.item = item
        self.deleted: list[str] = []

    def get(self, table: str, lock_id: str, region: str | None = None) -> dict[str, Any] | None:
        return self.item

    def delete(self, table: str, lock_id: str, info: str, region: str | None = None) -> bool:
        if self.item is None or self.item["Info"] != info:
            return False
        self.deleted.append(lock_id)
        self.item = None
        return True


INFO = {"ID": "abc-123", "Operation": "OperationTypeApply", "Who": "jenkins@agent-3", "Version": "1.11.4",
        "Created": "2026-03-15T10:00:00.5Z", "Path": "b/k"}


def unlock(item: dict[str, Any] | None, lock_id: str | None, processes: list[dict[str, Any]],
           hostname: str = "laptop") -> tuple[FakeLocks, dict[str, Any]]:
    locks = FakeLocks(item)
    backend = tflock.StateBackend("b", "k", "locks", "us-east-1", "backend.hcl")
    req = tflock.UnlockRequest(backend, Path("/w/.terraform"), [Path("/w")], lock_id, "pipeline-py terraform unlock",
                               hostname=hostname)
    out = tflock.unlock(locks, req, Reporter(quiet=True), now=NOW, processes=lambda: processes)  # type: ignore[arg-type]
    return locks, out


def test_unlock_needs_the_lock_id_and_no_live_holder() -> None:
    item = {"LockID": "b/k", "Info": json.dumps(INFO)}
    locks, shown = unlock(item, None, [])
    assert shown["held"] and not shown["removed"] and locks.deleted == []
    with pytest.raises(BadInput, match="is not the lock's id"):
        unlock(item, "abc-124", [])
    live = [{"pid": 7, "argv": ["terraform", "apply"], "cwd": "/w", "tf_data_dir": "/w/.terraform"}]
    with pytest.raises(BadInput, match="pid 7"):
        unlock({**item, "Info": json.dumps({**INFO, "Who": "me@laptop"})}, "abc-123", live)
    locks, out = unlock(item, "abc-123", live)  # held by agent-3: its processes are not ours to see
    assert out["removed"] and out["holder_checked"] is False and locks.deleted == ["b/k"]
    assert tflock.StateLock.from_item(item).describe(NOW) == (
        "held by jenkins@agent-3 (apply, since 2026-03-15T10:00:00.5Z, 119m ago; lock ID abc-123)")


# ---- cost


def test_month_range_and_budget_state() -> None:
    assert cost.month_range(None, date(2026, 3, 15)) == (date(2026, 3, 1), date(2026, 3, 16), True)
    assert cost.month_range("2026-02", date(2026, 3, 15)) == (date(2026, 2, 1), date(2026, 3, 1), False)
    with pytest.raises(BadInput, match="in the future"):
        cost.month_range("2026-04", date(2026, 3, 15))
    budget = {"BudgetName": "b", "BudgetLimit": {"Amount": "100", "Unit": "USD"},
              "CalculatedSpend": {"ActualSpend": {"Amount": "50"}, "ForecastedSpend": {"Amount": "120"}}}
    assert cost.budget_status(budget, [], 80.0)["state"] == "forecast_over"
    notified = [{"NotificationType": "ACTUAL", "Threshold": 40.0, "ThresholdType": "PERCENTAGE"}]
    status = cost.budget_status(budget, notified, 80.0)
    assert (status["state"], status["alert_threshold_percent"], status["actual_percent"]) == ("alert", 40.0, 50.0)


def test_the_5xx_rate_against_the_environments_threshold() -> None:
    def series(ns: str, metric: str, *a: Any) -> list[tuple[datetime, float]]:
        return [(NOW, {"RequestCount": 10000.0, "HTTPCode_Target_5XX_Count": 25.0}[metric])]

    c = run(sources(metrics=Fake(series=series)), "error_rate", max_error_rate=0.001)["error_rate"]
    assert c["verdict"] == "problem"
    assert c["summary"] == "5XX rate 0.25% over 10000 requests in the last 15m (limit 0.10%)"
    assert run(sources(metrics=Fake(series=series)), "error_rate", max_error_rate=0.01)["error_rate"]["verdict"] == "ok"
    idle = run(sources(metrics=Fake(series=[])), "error_rate")["error_rate"]
    assert idle["verdict"] == "unknown" and "no requests" in idle["summary"]

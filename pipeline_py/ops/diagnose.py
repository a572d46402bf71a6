"""The seed's troubleshooting guide as one command: each check gives a verdict (ok / problem / unknown),
its evidence and the next step, in the guide's order.

1. the load balancer and its listeners ("application not accessible")
2. target health, with AWS's reasons
3. the service: deployments, a rollout stuck or failed, recent events
4. stopped tasks: reasons, exit codes, out-of-memory kills
5. alarms in ALARM, and the 5XX rate at the load balancer against the environment's threshold
6. ERROR lines in the service's logs over the last minutes ("high error rate")
7. the ECS memory and CPU trend ("memory leaks")
8. the RDS instance: status, Multi-AZ, ``DatabaseConnections``; with database access a real connection,
   ``pg_stat_activity`` by state and the slowest ``pg_stat_statements`` ("high database latency")
9. the terraform state lock ("deployments failing")

A check that cannot look (no permission, an API error) says ``unknown`` with the error; it never stops
the others. The verdict of the whole is "problems" when any check found one.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline_py.clock import Clock, age_text
from pipeline_py.deploy.views import ServiceView, StoppedTask, td_label
from pipeline_py.ops import db as ops_db
from pipeline_py.ops import logs as ops_logs
from pipeline_py.ops import pg, tflock
from pipeline_py.ops.adapters import Alarms, LoadBalancers, Logs, Metrics, Rds, Secrets, StateLocks
from pipeline_py.report import Reporter

OK, PROBLEM, UNKNOWN = "ok", "problem", "unknown"
MARK = {OK: "ok     ", PROBLEM: "PROBLEM", UNKNOWN: "unknown"}


@dataclass
class Check:
    name: str
    title: str
    verdict: str = OK
    summary: str = ""
    evidence: list[Any] = field(default_factory=list)
    next_step: str | None = None

    def problem(self, summary: str, next_step: str | None = None) -> Check:
        self.verdict, self.summary = PROBLEM, summary
        if next_step:
            self.next_step = next_step
        return self

    def ok(self, summary: str) -> Check:
        self.verdict, self.summary = OK, summary
        return self

    def unknown(self, summary: str, next_step: str | None = None) -> Check:
        self.verdict, self.summary = UNKNOWN, summary
        if next_step:
            self.next_step = next_step
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "verdict": self.verdict, "summary": self.summary,
                "evidence": self.evidence, "next_step": self.next_step}


@dataclass
class DiagnoseRequest:
    env: str
    service: str
    cluster: str
    services: list[str]
    alarms: list[str] = field(default_factory=list)
    alarm_prefix: str | None = None
    error_pattern: str = "[level = ERROR*, ...]"
    log_window: float = 900.0
    max_error_lines: int = 0
    max_error_rate: float = 0.01
    log_group: str | None = None
    stuck_after: float = 1800.0
    stopped_window: float = 3600.0
    trend_window: float = 10800.0
    memory_limit: float = 90.0
    cpu_limit: float = 90.0
    leak_horizon: float = 86400.0
    database: ops_db.Database | None = None
    database_configured: bool = False
    database_connect: bool = True
    state_backend: tflock.StateBackend | None = None
    state_backend_error: str | None = None
    state_backend_note: str | None = None
    only: list[str] | None = None


@dataclass
class Sources:
    ecs: ops_logs.EcsReader
    targets: Any  # deploy.ports.Targets
    elb: LoadBalancers
    alarms: Alarms
    logs: Logs
    metrics: Metrics
    rds: Rds
    secrets: Secrets
    locks: StateLocks
    clock: Clock
    reporter: Reporter
    connect: ops_db.Connector = pg.connect


class _Facts:
    """What several checks read, read once."""

    def __init__(self, src: Sources, req: DiagnoseRequest) -> None:
        self.src, self.req = src, req
        self._views: dict[str, ServiceView] | None = None
        self.weights: dict[str, int] = {}  # target group ARN -> production weight (from the listeners)
        self.listener_facts = False

    @property
    def views(self) -> dict[str, ServiceView]:
        if self._views is None:
            self._views = dict(self.src.ecs.describe(self.req.cluster, self.req.services))
        return self._views

    def target_groups(self) -> list[str]:
        out: list[str] = []
        for v in self.views.values():
            out.extend(tg for tg in v.target_groups if tg not in out)
        return out

    def idle(self, view: ServiceView) -> bool:
        """An idle colour: nothing asked of it and no traffic sent to it."""
        return (len(self.req.services) > 1 and view.desired == 0 and self.listener_facts
                and all(self.weights.get(tg, 0) == 0 for tg in view.target_groups))


CheckFn = Callable[[_Facts, Check], Check]


# ---- 1. load balancer


def _forwards(actions: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in actions or []:
        if a.get("Type") != "forward":
            continue
        groups = (a.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            for g in groups:
                out[g["TargetGroupArn"]] = out.get(g["TargetGroupArn"], 0) + int(g.get("Weight", 1))
        elif a.get("TargetGroupArn"):
            out[a["TargetGroupArn"]] = out.get(a["TargetGroupArn"], 0) + 1
    return out


def _tg_name(arn: str) -> str:
    return arn.split(":targetgroup/", 1)[-1].split("/", 1)[0] if ":targetgroup/" in arn else arn


def check_load_balancer(f: _Facts, c: Check) -> Check:
    tgs = f.target_groups()
    if not f.views:
        return c.problem(f"service(s) {', '.join(f.req.services)} not found in cluster {f.req.cluster}",
                         "check the cluster and service names (pipeline-py config show)")
    if not tgs:
        return c.ok("the service is not behind a load balancer: nothing to check")
    groups = f.src.elb.target_groups(tgs)
    lb_arns = sorted({arn for g in groups for arn in g.get("LoadBalancerArns") or []})
    if not lb_arns:
        return c.problem(f"target group(s) {', '.join(_tg_name(t) for t in tgs)} belong to no load balancer",
                         "attach a listener forwarding to the service's target group (terraform/modules/alb)")
    problems = []
    for lb in f.src.elb.load_balancers(lb_arns):
        state = (lb.get("State") or {}).get("Code", "unknown")
        name = lb.get("LoadBalancerName")
        parts = []
        for li in f.src.elb.listeners(lb["LoadBalancerArn"]):
            weights = _forwards(li.get("DefaultActions") or [])
            for rule in f.src.elb.rules(li["ListenerArn"]):
                if not rule.get("IsDefault"):
                    for tg, w in _forwards(rule.get("Actions") or []).items():
                        weights[tg] = weights.get(tg, 0) + w
            ours = {tg: w for tg, w in weights.items() if tg in tgs}
            for tg, w in ours.items():
                f.weights[tg] = f.weights.get(tg, 0) + w
            shown = ", ".join(f"{_tg_name(tg)} {w}" for tg, w in ours.items()) or "not to this service"
            parts.append(f":{li.get('Port')} {li.get('Protocol')} → {shown}")
        c.evidence.append(f"{name} ({state}, {lb.get('DNSName')}): " + "; ".join(parts or ["no listeners"]))
        if state not in ("active", "active_impaired"):
            problems.append(f"load balancer {name} is {state}")
    f.listener_facts = True
    if not any(f.weights.get(tg, 0) > 0 for tg in tgs):
        problems.append("no listener sends traffic to the service's target group(s)")
    if problems:
        return c.problem("; ".join(problems), "check the listeners' forward actions and weights "
                                              "(pipeline-py status) and the load balancer's state")
    return c.ok(f"{len(lb_arns)} load balancer(s) active, listeners forward to the service")


# ---- 2. targets


def check_targets(f: _Facts, c: Check) -> Check:
    tgs = f.target_groups()
    if not tgs:
        return c.ok("no target groups")
    problems = []
    for tg in tgs:
        states = f.src.targets.health(tg)
        counts: dict[str, int] = {}
        for t in states:
            counts[t.state] = counts.get(t.state, 0) + 1
        receives = f.weights.get(tg, 1 if not f.listener_facts else 0) > 0
        c.evidence.append(f"{_tg_name(tg)}: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or
                                                   "no targets") + ("" if receives else " (no traffic)"))
        for t in states:
            if t.state == "unhealthy":
                c.evidence.append(f"  {t.id}:{t.port} unhealthy: {t.reason or '-'} {t.description or ''}".rstrip())
        unhealthy = counts.get("unhealthy", 0)
        if unhealthy:
            reasons = sorted({t.reason or "?" for t in states if t.state == "unhealthy"})
            problems.append(f"{unhealthy} unhealthy target(s) in {_tg_name(tg)} ({', '.join(reasons)})")
        elif receives and not counts.get("healthy") and not counts.get("initial"):
            problems.append(f"{_tg_name(tg)} receives traffic but has no healthy target")
    if problems:
        return c.problem("; ".join(problems), "see why the health checks fail: the target's reason above, the app's "
                                              "logs (pipeline-py logs --since 15m) and its /health endpoint")
    return c.ok("every registered target is healthy")


# ---- 3. the service


def check_service(f: _Facts, c: Check) -> Check:
    now = f.src.clock.utcnow()
    problems = []
    missing = [n for n in f.req.services if n not in f.views]
    if missing:
        problems.append(f"service(s) {', '.join(missing)} not found")
    for name, v in f.views.items():
        c.evidence.append(f"{name}: {v.status}, {v.running}/{v.desired} running, {v.pending} pending, "
                          f"{td_label(v.task_definition)}")
        for d in v.deployments:
            started = f", started {age_text(now - d.created_at)} ago" if d.created_at else ""
            c.evidence.append(f"  {d.status} {d.id} {td_label(d.task_definition)} {d.running}/{d.desired} running "
                              f"{d.failed} failed {d.rollout_state or ''}{started}")
        for e in list(v.events)[:5]:
            c.evidence.append(f"  event: {e.get('message')}")
        if v.status != "ACTIVE":
            problems.append(f"{name} is {v.status}")
            continue
        if f.idle(v):
            continue
        if v.desired == 0:
            problems.append(f"{name} has desired count 0: it runs no tasks")
        elif v.running == 0:
            problems.append(f"{name} has no running task (0 of {v.desired})")
        for d in v.deployments:
            if d.rollout_state == "FAILED":
                problems.append(f"{name}: deployment {d.id} failed: {d.rollout_reason or 'no reason given'}")
            elif d.rollout_state == "IN_PROGRESS":
                age = now - d.created_at if d.created_at else timedelta(0)
                if d.failed > 0:
                    problems.append(f"{name}: rollout {d.id} ({td_label(d.task_definition)}) is stuck: {d.failed} "
                                    f"task(s) failed to start, {d.running}/{d.desired} running")
                elif age.total_seconds() > f.req.stuck_after:
                    problems.append(f"{name}: rollout {d.id} in progress for {age_text(age)} "
                                    f"(longer than {age_text(timedelta(seconds=f.req.stuck_after))})")
        if len(v.deployments) == 1 and 0 < v.running < v.desired:
            problems.append(f"{name}: {v.running} of {v.desired} tasks running")
    if problems:
        return c.problem("; ".join(problems), "read the events above and the stopped tasks below; roll back with "
                                              "`pipeline-py rollback` if the new revision is at fault")
    return c.ok("deployments steady, desired tasks running")


# ---- 4. stopped tasks


def _failure(t: StoppedTask) -> str | None:
    oom = any("OutOfMemory" in str(c.get("reason") or "") or c.get("exitCode") == 137 for c in t.containers)
    if oom:
        return "out of memory (exit 137 / OutOfMemoryError)"
    if t.stop_code == "TaskFailedToStart":
        return f"failed to start: {t.stopped_reason}"
    for c in t.containers:
        code = c.get("exitCode")
        if code not in (None, 0, 143):
            return f"container {c.get('name')} exited with code {code}"
    if t.stop_code == "EssentialContainerExited":
        return f"essential container exited: {t.stopped_reason}"
    return None


def check_stopped_tasks(f: _Facts, c: Check) -> Check:
    now = f.src.clock.utcnow()
    since = now - timedelta(seconds=f.req.stopped_window)
    failed: list[str] = []
    normal = 0
    for name in f.views:
        arns = f.src.ecs.list_task_arns(f.req.cluster, service=name, desired_status="STOPPED")
        tasks = [StoppedTask.from_api(t) for t in (f.src.ecs.describe_tasks(f.req.cluster, arns) if arns else [])]
        for t in sorted(tasks, key=lambda t: t.stopped_at or now, reverse=True):
            if t.stopped_at is not None and t.stopped_at < since:
                continue
            why = _failure(t)
            if why is None:
                normal += 1
                continue
            failed.append(why)
            if len([e for e in c.evidence if isinstance(e, str)]) < 8:
                c.evidence.append(f"{name}: {t.describe()} ({td_label(t.task_definition)})")
    window = age_text(timedelta(seconds=f.req.stopped_window))
    if failed:
        kinds = sorted(set(failed), key=failed.count, reverse=True)
        step = ("raise the task's memory or find the leak (memory trend below)" if any("memory" in k for k in kinds)
                else "read the app's last lines before it stopped: pipeline-py logs --task ID --since 1h")
        return c.problem(f"{len(failed)} task(s) stopped abnormally in the last {window}: {kinds[0]}"
                         + (f" (+{len(kinds) - 1} other reason(s))" if len(kinds) > 1 else ""), step)
    return c.ok(f"no task stopped abnormally in the last {window}" + (f" ({normal} replaced normally)" if normal
                                                                       else ""))


# ---- 5. alarms


def check_alarms(f: _Facts, c: Check) -> Check:
    prefix = f.req.alarm_prefix if f.req.alarm_prefix is not None else f"{f.req.service}-{f.req.env}-"
    firing = [a for a in f.src.alarms.in_alarm()
              if a.get("AlarmName") in f.req.alarms or (prefix and str(a.get("AlarmName", "")).startswith(prefix))]
    for a in firing:
        since = _iso(a.get("StateUpdatedTimestamp"))
        c.evidence.append(f"{a.get('AlarmName')}: {a.get('StateReason')} (since {since})")
    if firing:
        return c.problem(f"{len(firing)} alarm(s) in ALARM: {', '.join(a['AlarmName'] for a in firing)}",
                         "the alarm's metric says what is wrong; the error lines below usually say why")
    return c.ok(f"no alarm in ALARM (the configured ones and those named {prefix}*)")


# ---- 5b. error rate at the load balancer


def check_error_rate(f: _Facts, c: Check) -> Check:
    tgs = f.target_groups()
    if not tgs:
        return c.ok("the service is not behind a load balancer: no request metrics")
    now = f.src.clock.utcnow()
    start = now - timedelta(seconds=f.req.log_window)
    window = age_text(timedelta(seconds=f.req.log_window))
    requests = errors = 0.0
    for group in f.src.elb.target_groups(tgs):
        for lb in group.get("LoadBalancerArns") or []:
            dims = {"LoadBalancer": lb.split(":loadbalancer/", 1)[-1],
                    "TargetGroup": group["TargetGroupArn"].split(":", 5)[-1]}
            r = sum(v for _, v in f.src.metrics.series("AWS/ApplicationELB", "RequestCount", dims, start, now, 60,
                                                       "Sum"))
            e = sum(v for _, v in f.src.metrics.series("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dims,
                                                       start, now, 60, "Sum"))
            requests, errors = requests + r, errors + e
            c.evidence.append(f"{_tg_name(group['TargetGroupArn'])}: {e:.0f} 5XX of {r:.0f} requests")
    if requests <= 0:
        return c.unknown(f"no requests reached the service in the last {window}")
    rate = errors / requests
    limit = f.req.max_error_rate
    summary = f"5XX rate {rate:.2%} over {requests:.0f} requests in the last {window} (limit {limit:.2%})"
    if rate > limit:
        return c.problem(summary, "the error lines below say which requests fail; roll back with "
                                  "`pipeline-py rollback` if the last deploy started it")
    return c.ok(summary)


# ---- 6. error lines


def check_error_logs(f: _Facts, c: Check) -> Check:
    q = ops_logs.LogQuery(cluster=f.req.cluster, services=list(f.views) or f.req.services, since=f.req.log_window,
                          pattern=f.req.error_pattern, log_group=f.req.log_group)
    try:
        streams = ops_logs.resolve(f.src.ecs, q, essential_only=False)
    except Exception as exc:  # BadInput: no awslogs configuration
        return c.unknown(str(getattr(exc, "message", exc)), "send the containers' logs to CloudWatch (awslogs)")
    now = f.src.clock.utcnow()
    start = int((now.timestamp() - f.req.log_window) * 1000)
    events = ops_logs.fetch(f.src.logs, streams, start, f.req.error_pattern, limit=1000)
    window = age_text(timedelta(seconds=f.req.log_window))
    c.evidence.append(f"{', '.join(sorted(streams.by_group()))}: {len(streams.ids)} task stream(s), pattern "
                      f"{f.req.error_pattern!r}")
    for e in events[-5:]:
        c.evidence.append(e.line())
    if len(events) > f.req.max_error_lines:
        return c.problem(f"{len(events)}{'+' if len(events) >= 1000 else ''} error line(s) in the last {window}",
                         f"pipeline-py logs --since {window} --filter '{f.req.error_pattern}'")
    return c.ok(f"no error lines in the last {window}" if not events else
                f"{len(events)} error line(s) in the last {window} (at most {f.req.max_error_lines} allowed)")


# ---- 7. memory and CPU


def _slope_per_hour(points: list[tuple[datetime, float]]) -> float:
    xs = [(t - points[0][0]).total_seconds() / 3600 for t, _ in points]
    ys = [v for _, v in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def check_resources(f: _Facts, c: Check) -> Check:
    now = f.src.clock.utcnow()
    start = now - timedelta(seconds=f.req.trend_window)
    period = max(60, int(f.req.trend_window / 36) // 60 * 60)
    problems, unknown, oks = [], [], []
    for name in f.views:
        dims = {"ClusterName": f.req.cluster, "ServiceName": name}
        memory = f.src.metrics.series("AWS/ECS", "MemoryUtilization", dims, start, now, period, "Average")
        cpu = f.src.metrics.series("AWS/ECS", "CPUUtilization", dims, start, now, period, "Average")
        if len(memory) < 3:
            unknown.append(f"{name}: {len(memory)} MemoryUtilization datapoint(s) in the last "
                           f"{age_text(timedelta(seconds=f.req.trend_window))}")
            continue
        last = memory[-1][1]
        slope = _slope_per_hour(memory)
        rises = sum(1 for a, b in itertools.pairwise(memory) if b[1] > a[1]) / (len(memory) - 1)
        c.evidence.append(f"{name}: memory {memory[0][1]:.0f}% → {last:.0f}% ({slope:+.1f}%/h over "
                          f"{len(memory)} points)" + (f", CPU {cpu[-1][1]:.0f}%" if cpu else ""))
        if last >= f.req.memory_limit:
            problems.append(f"{name}: memory at {last:.0f}% (limit {f.req.memory_limit:.0f}%)")
        elif slope > 0 and rises >= 0.8 and (f.req.memory_limit - last) / slope * 3600 <= f.req.leak_horizon:
            hours = (f.req.memory_limit - last) / slope
            problems.append(f"{name}: memory grows {slope:.1f}%/h and reaches {f.req.memory_limit:.0f}% in about "
                            f"{hours:.0f}h (a leak?)")
        else:
            oks.append(name)
        if len(cpu) >= 3 and statistics.fmean(v for _, v in cpu[-3:]) >= f.req.cpu_limit:
            problems.append(f"{name}: CPU at {statistics.fmean(v for _, v in cpu[-3:]):.0f}% "
                            f"(limit {f.req.cpu_limit:.0f}%)")
    c.evidence.extend(unknown)
    if problems:
        return c.problem("; ".join(problems), "compare with the last deploy (a leak starts with a revision); "
                                              "raise the task's memory or scale out while it is found")
    if unknown and not oks:
        return c.unknown("not enough ECS utilisation data to judge a trend",
                         "Container Insights / ECS metrics appear a few minutes after tasks start")
    return c.ok("memory and CPU within limits, no growing memory")


# ---- 8. database


def check_database(f: _Facts, c: Check) -> Check:
    db = f.req.database
    if db is None:
        return c.ok("no database configured for this environment")
    inst = f.src.rds.instance(db.instance)
    if inst is None:
        if f.req.database_configured:
            return c.problem(f"RDS instance {db.instance} not found ({db.source})",
                             "check database.instance, or whether the instance was deleted")
        return c.ok(f"no RDS instance {db.instance} ({db.source})")
    info = ops_db.describe_instance(inst)
    c.evidence.append(f"{db.instance}: {info['instance_status']}, {info['engine']}, {info['class']}, "
                      f"Multi-AZ {'yes' if info['multi_az'] else 'no'}, endpoint {info['endpoint']}")
    now = f.src.clock.utcnow()
    conns = f.src.metrics.series("AWS/RDS", "DatabaseConnections", {"DBInstanceIdentifier": db.instance},
                                 now - timedelta(minutes=15), now, 60, "Maximum")
    c.evidence.append("DatabaseConnections (max, last 15m): " + (f"{max(v for _, v in conns):.0f}" if conns
                                                                 else "no data"))
    status = inst.get("DBInstanceStatus")
    if status != "available":
        return c.problem(f"{db.instance} is {status}",
                         "start it (aws rds start-db-instance) or read its events (aws rds describe-events)"
                         if status == "stopped" else "read the instance's events (aws rds describe-events)")
    if not f.req.database_connect:
        return c.ok(f"{db.instance} available (no connection tried: database.connect is false)")
    try:
        ep = ops_db.endpoint(f.src.rds, f.src.secrets, db, f.src.reporter, inst)
    except Exception as exc:  # BadInput: no credentials configured
        c.evidence.append(f"no connection tried: {getattr(exc, 'message', exc)}")
        return c.ok(f"{db.instance} available")
    try:
        conn = f.src.connect(ep)
    except Exception as exc:
        return c.problem(f"cannot connect to {ep.where()}: {pg.error_text(exc)}",
                         "check the security groups, the credentials in Secrets Manager and max_connections")
    try:
        about = pg.connectivity(conn)
        activity = pg.activity(conn)
        slowest = pg.slowest_statements(conn)
    finally:
        conn.close()
    c.evidence.append(f"connected as {ep.where()}: {about['version']}")
    c.evidence.append("pg_stat_activity: " + (", ".join(f"{n} {s}" for s, n in activity.items()) or "no sessions"))
    if slowest is None:
        c.evidence.append("pg_stat_statements: not installed (CREATE EXTENSION pg_stat_statements)")
    else:
        for s in slowest:
            c.evidence.append(f"slow: {s['mean_ms']:.1f} ms mean × {s['calls']}: {s['query']}")
    return c.ok(f"{db.instance} available, connection and query work")


# ---- 9. terraform state lock


def check_state_lock(f: _Facts, c: Check) -> Check:
    if f.req.state_backend_error:
        return c.unknown(f.req.state_backend_error)
    backend = f.req.state_backend
    if backend is None:
        return c.ok(f.req.state_backend_note or "the environment's terraform state is not in an S3 backend: "
                    "no lock to check")
    if not backend.table:
        return c.ok(f"{backend.lock_id}: the backend has no DynamoDB lock table")
    lock = tflock.read_lock(f.src.locks, backend)
    if lock is None:
        return c.ok(f"{backend.lock_id}: not locked")
    now = f.src.clock.utcnow()
    c.evidence.append(lock.to_dict())
    return c.problem(f"terraform state {backend.lock_id} is locked: {lock.describe(now)}",
                     f"if that run is dead: pipeline-py terraform unlock --env {f.req.env} --lock-id {lock.id}")


CHECKS: list[tuple[str, str, CheckFn]] = [
    ("load_balancer", "load balancer and listeners", check_load_balancer),
    ("targets", "target health", check_targets),
    ("service", "service and deployments", check_service),
    ("stopped_tasks", "stopped tasks", check_stopped_tasks),
    ("alarms", "alarms", check_alarms),
    ("error_rate", "5XX rate at the load balancer", check_error_rate),
    ("error_logs", "error lines in the logs", check_error_logs),
    ("resources", "memory and CPU trend", check_resources),
    ("database", "database", check_database),
    ("state_lock", "terraform state lock", check_state_lock),
]
CHECK_NAMES = tuple(name for name, _, _ in CHECKS)


def _iso(t: Any) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds") if isinstance(t, datetime) else str(t)


def diagnose(src: Sources, req: DiagnoseRequest) -> dict[str, Any]:
    """Run the checks in order; narrate each; the result has every check and the overall verdict."""
    facts = _Facts(src, req)
    checks: list[Check] = []
    for name, title, fn in CHECKS:
        if req.only and name not in req.only:
            continue
        check = Check(name, title)
        try:
            fn(facts, check)
        except Exception as exc:  # an unreadable source makes one check unknown, not the whole run
            msg = getattr(exc, "message", None) or f"{exc.__class__.__name__}: {exc}"
            check.unknown(f"could not look: {msg}", "check the permissions of the role pipeline-py runs with")
        checks.append(check)
        src.reporter.info(f"[{MARK[check.verdict]}] {title}: {check.summary}")
        for e in check.evidence:
            src.reporter.detail(e if isinstance(e, str) else ", ".join(f"{k}={v}" for k, v in e.items()))
        if check.verdict != OK and check.next_step:
            src.reporter.detail(f"next: {check.next_step}")
    problems = [c for c in checks if c.verdict == PROBLEM]
    unknown = [c for c in checks if c.verdict == UNKNOWN]
    verdict = "problems" if problems else "ok"
    src.reporter.info(f"diagnose {req.env}: " + (f"{len(problems)} problem(s): {', '.join(c.title for c in problems)}"
                                                 if problems else "no problems found")
                      + (f"; {len(unknown)} check(s) could not tell" if unknown else ""))
    return {"env": req.env, "cluster": req.cluster, "services": req.services, "verdict": verdict,
            "problems": [c.name for c in problems], "unknown": [c.name for c in unknown],
            "checks": [c.to_dict() for c in checks]}


"""The pure parts of the real data plane: the proxy configuration (checked by the real ``haproxy -c``),
request records → ALB metrics, real health checks against a loopback server, loopback addresses,
the ECR → local registry mapping, container definitions, docker log lines, the load generator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from pipeline_py.local import alb_plane, haproxy, loadgen
from pipeline_py.local.alb_plane import CheckSpec, RequestMetrics
from pipeline_py.local.docker_runtime import (
    AddressPool,
    Box,
    RegistryAccess,
    Spec,
    _condition_met,
    _log_lines,
    _start_order,
    local_reference,
)
from pipeline_py.local.haproxy import Backend, Condition, Frontend, ProxyConfig, RequestRecord, Rule, Server
from pipeline_py.local.traffic_sim import MetricPoint
from tests.conftest import serve_http

LB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/abc"
TG_A = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/111"
TG_B = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/green/222"


# ---- the proxy configuration


def _config() -> ProxyConfig:
    return ProxyConfig(
        frontends=(Frontend("l1", 18080, rules=(
            Rule(20, (Condition("host-header", ("*.example.com",)),), (("b3", 1),)),
            Rule(10, (Condition("path-pattern", ("/api/*", "/v?/x")), Condition("http-request-method", ("GET",))),
                 (("b1", 90), ("b2", 10))),
            Rule(30, (Condition("http-header", ("a'b",), header="X-Test"),), (("b1", 1),)),
        ), default=(("b1", 100), ("b2", 0))),),
        backends=(Backend("b1", (Server("t1", "127.10.1.1", 8080), Server("t2", "127.10.1.2", 8080))),
                  Backend("b2", ()),
                  Backend("b3", fixed_status=404, fixed_body='no "route"', fixed_content_type="text/plain")),
    )


def test_render_orders_rules_by_priority_and_splits_weights_by_a_random_pick(tmp_path: Path) -> None:
    text = haproxy.render(_config(), tmp_path)
    lines = [line.strip() for line in text.splitlines()]
    use = [line for line in lines if line.startswith("use_backend") or line.startswith("# rule")]
    assert use[0] == "# rule 10"
    assert use[1] == ("use_backend b1 if { path -m reg '^/api/.*$' '^/v./x$' } { method 'GET' } "
                      "{ var(txn.pick) -m int lt 900000 }")
    assert use[2] == "use_backend b2 if { path -m reg '^/api/.*$' '^/v./x$' } { method 'GET' }"
    assert use[3] == "# rule 20"
    assert use[4] == "use_backend b3 if { req.hdr(host),field(1,:) -m reg -i '^.*\\.example\\.com$' }"
    assert "# rule 30: a condition the local proxy cannot express; never matches" in lines
    # a zero weight leaves the group out: the default action sends everything to b1
    assert lines[-lines[::-1].index("# default action")] == "use_backend b1"
    assert "server t1 127.10.1.1:8080" in lines and "bind 127.0.0.1:18080" in lines
    assert 'http-request return status 404 content-type "text/plain" string "no \\"route\\""' in lines
    assert "backend none" in lines


def test_rendered_configuration_is_accepted_by_haproxy(tmp_path: Path) -> None:
    assert haproxy.check_config(haproxy.render(_config(), tmp_path), tmp_path) is None
    assert haproxy.check_config("frontend x\n    bind 127.0.0.1:1\n    use_backend nowhere\n", tmp_path)


def test_query_and_source_conditions() -> None:
    assert haproxy.condition_acl(Condition("query-string", ("debug=true", "=x*"))) == (
        "{ query -m reg '(^|&)debug=true(&|$)' '(^|&)[^&=]*=x.*(&|$)' }")
    assert haproxy.condition_acl(Condition("source-ip", ("127.0.0.0/8",))) == "{ src 127.0.0.0/8 }"
    assert haproxy.condition_acl(Condition("path-pattern", ())) is None
    assert haproxy.condition_acl(Condition("source-ip", ("not-an-ip",))) is None


def test_parse_record() -> None:
    ok = haproxy.parse_record("PPY1 l1 b1 t1 200 12 14 ---- 1796593358.131")
    assert ok == RequestRecord("l1", "b1", "t1", 200, 12, 14, "----", 1796593358.131)
    nosrv = haproxy.parse_record("PPY1 l1 none <NOSRV> 503 -1 0 SC-- 1796593358.2")
    assert nosrv is not None and nosrv.server is None and nosrv.response_ms is None
    assert haproxy.parse_record("Proxy l1 started.") is None
    assert haproxy.parse_record("PPY1 l1 b1 t1 two 1 1 ---- 1") is None


# ---- metrics from request records


def _metrics() -> tuple[RequestMetrics, list[MetricPoint]]:
    points: list[MetricPoint] = []
    names = {"b1": TG_A, "b2": TG_B, "fr1": ""}

    def resolve(record: RequestRecord) -> tuple[str | None, str | None, bool]:
        if record.frontend != "l1":
            return None, None, False
        tg = names.get(record.backend)
        return LB, tg or None, tg == ""

    return RequestMetrics(points.append, resolve), points


def _value(points: list[MetricPoint], name: str, tg: bool, second: int = 100) -> float | None:
    for p in points:
        if p.name == name and p.second == second and (len(p.dimensions) == 2) == tg:
            if p.distribution:
                return sum(c for _, c in p.distribution)
            return p.value
    return None


def test_request_records_become_alb_metrics_per_second() -> None:
    m, points = _metrics()
    rec = RequestRecord
    for ms in (10, 20, 30):
        m.add(rec("l1", "b1", "t1", 200, ms, ms, "----", 100.0), 100.2)
    m.add(rec("l1", "b1", "t1", 500, 40, 40, "----", 100.0), 100.3)
    m.add(rec("l1", "b1", "t1", 404, 5, 5, "----", 100.0), 100.3)
    m.add(rec("l1", "none", None, 503, None, 0, "SC--", 100.0), 100.4)        # no target: the ELB's 503
    m.add(rec("l1", "b1", "t2", 503, None, 3000, "SC--", 100.0), 100.5)       # target refused: counted, ELB 5XX
    m.add(rec("l1", "fr1", None, 404, None, 0, "LR--", 100.0), 100.6)         # fixed response
    m.add(rec("l9", "b1", "t1", 200, 1, 1, "----", 100.0), 100.6)             # an unknown frontend: ignored
    m.add(rec("l1", "b2", "t3", 200, 7, 7, "----", 101.0), 101.1)
    m.publish(101.5, {(LB, TG_A): (2, 1), (LB, TG_B): (1, 0)})
    assert _value(points, "RequestCount", tg=True) == 6 and _value(points, "RequestCount", tg=False) == 6
    assert _value(points, "HTTPCode_Target_2XX_Count", tg=True) == 3
    assert _value(points, "HTTPCode_Target_4XX_Count", tg=True) == 1
    assert _value(points, "HTTPCode_Target_5XX_Count", tg=True) == 1
    assert _value(points, "HTTPCode_ELB_503_Count", tg=False) == 2
    assert _value(points, "HTTPCode_ELB_5XX_Count", tg=False) == 2
    assert _value(points, "TargetConnectionErrorCount", tg=True) == 1
    assert _value(points, "HTTP_Fixed_Response_Count", tg=False) == 1
    assert _value(points, "TargetResponseTime", tg=True) == 5
    [rt] = [p for p in points if p.name == "TargetResponseTime" and len(p.dimensions) == 2 and p.second == 100]
    assert sorted(rt.distribution[0][0].values) == [0.005, 0.01, 0.02, 0.03, 0.04]
    assert _value(points, "HealthyHostCount", tg=True) == 2 and _value(points, "UnHealthyHostCount", tg=True) == 1
    assert _value(points, "RequestCountPerTarget", tg=True) == 3.0
    assert _value(points, "RequestCount", tg=True, second=101) is None  # second 101 is not over yet
    m.publish(102.0, {(LB, TG_B): (1, 0)})
    assert _value(points, "RequestCount", tg=True, second=101) == 1
    # a record arriving after its second was published counts in the next open one
    m.add(rec("l1", "b2", "t3", 200, 7, 7, "----", 100.0), 100.9)
    m.publish(103.5, {})
    assert _value(points, "RequestCount", tg=True, second=102) == 1


def test_host_counts_are_published_every_second_even_without_requests() -> None:
    m, points = _metrics()
    m.publish(100.5, {(LB, TG_A): (2, 0)})
    m.publish(103.5, {(LB, TG_A): (1, 1)})
    seconds = sorted(p.second for p in points if p.name == "HealthyHostCount")
    assert seconds == [100, 101, 102]  # from the first publish on, every second once
    assert not [p for p in points if p.name == "RequestCount"]


# ---- health checks


class _App(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            threading.Event().wait(1.0)
        code = {"/health": 200, "/missing": 404, "/slow": 200}.get(self.path.split("?")[0], 500)
        body = b"ok" if code == 200 else b"no"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def app() -> Iterator[int]:
    with serve_http(_App) as port:
        yield port


def test_real_health_checks_against_a_loopback_server(app: int) -> None:
    assert alb_plane.check(CheckSpec("127.0.0.1", app, "/health")) == alb_plane.Probe(True, 200)
    assert alb_plane.check(CheckSpec("127.0.0.1", app, "/missing")) == alb_plane.Probe(False, 404)
    assert alb_plane.check(CheckSpec("127.0.0.1", app, "/missing", matcher="200,404")).ok
    slow = alb_plane.check(CheckSpec("127.0.0.1", app, "/slow", timeout=0.2))
    assert slow.timed_out and not slow.ok
    assert alb_plane.check(CheckSpec("10.0.0.1", app, "/health", timeout=30)) == alb_plane.Probe(False, None)


def test_matcher_lists_and_ranges() -> None:
    m = alb_plane.matcher("200-299,302")
    assert [m(c) for c in (199, 200, 250, 299, 300, 302, 404)] == [False, True, True, True, False, True, False]
    assert alb_plane.matcher("200")(200) and not alb_plane.matcher("200")(204)


def test_health_checker_collects_answers_one_in_flight_per_target(app: int) -> None:
    from tests.conftest import wait_for

    checker = alb_plane.HealthChecker(workers=2)
    spec = CheckSpec("127.0.0.1", app, "/slow", timeout=5)
    assert checker.submit("a", spec) is True
    assert checker.submit("a", spec) is False  # still running
    results = wait_for(checker.drain, timeout=10, what="the check to finish")
    assert [(key, probe.code) for key, probe, _ in results] == [("a", 200)]
    checker.close()


# ---- addresses, images, container definitions, logs


def test_address_pool_hands_out_unique_loopback_addresses() -> None:
    pool = AddressPool("127.10.0.0/16", start=257, taken={"127.10.1.3"})
    first = [pool.allocate() for _ in range(300)]
    assert first[:3] == ["127.10.1.1", "127.10.1.2", "127.10.1.4"]  # another stack's address is skipped
    assert len(set(first)) == 300 and all(a.startswith("127.10.") for a in first)
    assert not any(a.endswith((".0", ".255")) for a in first)
    pool.release(first[0])
    assert pool.allocate() not in first  # not reused until the range wrapped
    wrapping = AddressPool("127.10.0.0/16", start=65534)
    assert [wrapping.allocate() for _ in range(2)] == ["127.10.255.254", "127.10.1.1"]
    with pytest.raises(ValueError):
        AddressPool("10.0.0.0/24")


def test_ecr_uris_map_to_the_local_registry_as_push_does() -> None:
    reg = RegistryAccess("127.0.0.1:5000", "AWS", "pw")
    digest = "sha256:" + "a" * 64
    uri = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/team/api@{digest}"
    assert local_reference(uri, reg, "123456789012", "us-east-1") == ("127.0.0.1:5000/team/api", digest)
    tagged = "123456789012.dkr.ecr.us-east-1.amazonaws.com/api:v1"
    assert local_reference(tagged, reg, "123456789012", "us-east-1") == ("127.0.0.1:5000/api", "v1")
    assert local_reference(tagged.replace(":v1", ""), reg, "123456789012", "us-east-1") == (
        "127.0.0.1:5000/api", "latest")
    assert local_reference(tagged, reg, "210987654321", "us-east-1") is None  # another account's ECR
    assert local_reference("busybox:latest", reg, "123456789012", "us-east-1") is None
    assert local_reference(tagged, None, "123456789012", "us-east-1") is None


def test_spec_reads_the_registered_container_definition() -> None:
    from pipeline_py.local.ecs_sim import ContainerDef

    raw = {"name": "app", "image": "i", "essential": False, "memory": 64, "memoryReservation": 32, "cpu": 128,
           "entryPoint": ["/bin/sh"], "command": ["-c", "true"], "user": "65534", "workingDirectory": "/app",
           "readonlyRootFilesystem": True, "stopTimeout": 5, "startTimeout": 9,
           "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
           "secrets": [{"name": "S", "valueFrom": "/p"}], "portMappings": [{"containerPort": 8080}],
           "environment": [{"name": "A", "value": "1"}],
           "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}}
    spec = Spec.of(ContainerDef.from_api(raw))
    assert (spec.essential, spec.memory, spec.memory_reservation, spec.cpu) == (False, 64, 32, 128)
    assert spec.entry_point == ("/bin/sh",) and spec.command == ("-c", "true")
    assert (spec.user, spec.working_directory, spec.readonly_root_filesystem) == ("65534", "/app", True)
    assert (spec.stop_timeout, spec.start_timeout) == (5, 9)
    assert spec.environment == (("A", "1"),) and spec.port_mappings == ({"containerPort": 8080},)
    assert spec.secrets[0]["valueFrom"] == "/p" and spec.log_configuration["logDriver"] == "awslogs"


def test_start_order_and_dependency_conditions() -> None:
    specs = [Spec("app", "i", depends_on=({"containerName": "sidecar", "condition": "HEALTHY"},)),
             Spec("sidecar", "i", depends_on=({"containerName": "init", "condition": "SUCCESS"},)),
             Spec("init", "i", essential=False)]
    assert _start_order(specs) == ["init", "sidecar", "app"]
    box = Box("init", essential=False, image="i")
    assert _condition_met(box, "START") is None and _condition_met(box, "SUCCESS") is None
    box.status = "RUNNING"
    assert _condition_met(box, "START") is True and _condition_met(box, "COMPLETE") is None
    box.status, box.exit_code = "STOPPED", 1
    assert _condition_met(box, "COMPLETE") is True and _condition_met(box, "SUCCESS") is False
    box.health = "UNHEALTHY"
    assert _condition_met(box, "HEALTHY") is False


def test_docker_log_lines_become_cloudwatch_events() -> None:
    chunks = [b"2026-12-06T21:43:07.123456789Z task-api: listening on :8080\n2026-12-06T21:4",
              b"3:08.5Z second line\n", b"not-a-stamp plain"]
    events = list(_log_lines(iter(chunks)))
    assert [e["message"] for e in events] == ["task-api: listening on :8080", "second line", "not-a-stamp plain"]
    assert events[0]["timestamp"] == 1796593387123
    assert events[1]["timestamp"] == 1796593388500


# ---- the load generator


def test_load_generator_sends_an_open_loop_rate_and_counts_answers(app: int) -> None:
    seen: list[dict[str, Any]] = []
    gen = loadgen.LoadGenerator(f"http://127.0.0.1:{app}/health", rate=40, duration=1.0, on_second=seen.append)
    result = gen.run()
    totals = result["totals"]
    assert totals["sent"] == 40 and totals["2xx"] == 40 and totals["failed"] == 0
    assert seen == result["seconds"] and sum(s["sent"] for s in seen) == 40
    bad = loadgen.LoadGenerator(f"http://127.0.0.1:{app}/boom", rate=20, duration=0.5).run()["totals"]
    assert bad["5xx"] == 10 and bad["failed"] == 10


def test_load_generator_counts_refused_connections_as_errors() -> None:
    from tests.conftest import free_port

    result = loadgen.LoadGenerator(f"http://127.0.0.1:{free_port()}/", rate=10, duration=0.5, timeout=1).run()
    refused = sum(second.get("error_kinds", {}).get("refused", 0) for second in result["seconds"])
    assert result["totals"]["errors"] == 5 and refused == 5  # the five may fall into two seconds


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://example.com/", "https://127.0.0.1/", "ftp://127.0.0.1/"])
def test_load_generator_refuses_anything_but_loopback_http(url: str) -> None:
    with pytest.raises(loadgen.LoadError):
        loadgen.check_target(url)


def test_load_generator_bounds() -> None:
    assert loadgen.check_target("http://localhost:8080/x?y=1") == ("localhost", 8080, "/x?y=1")
    for rate, duration in ((0, 1), (loadgen.MAX_RATE + 1, 1), (1, 0), (1, loadgen.MAX_DURATION + 1)):
        with pytest.raises(loadgen.LoadError):
            loadgen.check_bounds(rate, duration)
    assert loadgen.p99([0.1] * 99 + [5.0]) == 0.1 and loadgen.p99([0.1] * 98 + [5.0, 5.0]) == 5.0


def test_local_traffic_refuses_what_it_must_not_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import run_cli

    monkeypatch.setenv("PIPELINE_PY_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    private = run_cli("--json", "local", "traffic", "--url", "http://10.0.0.1/")
    assert private.code == 2 and "loopback addresses only" in private.json["message"]
    fast = run_cli("--json", "local", "traffic", "--url", "http://127.0.0.1:9/", "--rate", "5000")
    assert fast.code == 2 and "rate must be within" in fast.json["message"]
    nowhere = run_cli("--json", "local", "traffic", "--listener", "80")
    assert nowhere.code == 2 and "no local stack" in nowhere.json["message"]
    plan = run_cli("--json", "--dry-run", "local", "traffic", "--url", "http://127.0.0.1:9/x", "--rate", "5",
                   "--duration", "2", "--background")
    assert plan.code == 0
    assert plan.json["plan"] == ["send 5 requests/s to http://127.0.0.1:9/x for 2s in the background"]

"""The faults route's rules (pipeline_py/local/moto_ext/faults.py) without a server: parsing, the seeded
draw per service/operation/percentage, and each protocol's error shape as botocore parses it."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.parsers import create_parser

from pipeline_py.local.moto_ext.faults import Faults, Rule, cbor_map, error_response


def test_rules_are_validated() -> None:
    for bad in ({"fault": "explode"}, {"fault": "error", "status": 404}, {"fault": "throttle", "percent": -1},
                {"fault": "latency"}, {"fault": "latency", "ms": 10**6}, {"fault": "error", "count": 0},
                {"fault": "error", "when": "now"}, "throttle"):
        with pytest.raises(ValueError):
            Rule.parse(bad)
    rule = Rule.parse({"fault": "throttle", "service": "elbv2", "operation": "ModifyListener", "percent": 20})
    assert (rule.service, rule.operation, rule.percent, rule.status) == ("elasticloadbalancing", "ModifyListener",
                                                                         20.0, None)
    assert Rule.parse({"fault": "error_after"}).status == 500 and Rule.parse({"fault": "error"}).status == 503


def test_a_seeded_draw_per_matching_rule() -> None:
    def run(seed: int) -> list[str]:
        f = Faults()
        f.route("PUT", {"seed": seed, "rules": [{"fault": "latency", "ms": 5, "service": "ecs", "percent": 50},
                                                {"fault": "throttle", "service": "ecs", "percent": 25},
                                                {"fault": "error", "operation": "DescribeAlarms", "count": 2}]})
        out = []
        for op in ["ListTasks"] * 40 + ["DescribeAlarms"] * 3:
            d = f.decide("ecs" if op == "ListTasks" else "monitoring", op)
            out.append("-" if d is None else f"{d.latency:.3f}/{d.error.fault if d.error else ''}")
        return out

    first = run(5)
    assert first == run(5) and first != run(6)
    assert first[-3:] == ["0.000/error", "0.000/error", "-"]  # count: 2
    throttled = sum(o.endswith("/throttle") for o in first[:40])
    delayed = sum(o.startswith("0.005") for o in first[:40])
    assert 3 <= throttled <= 20 and 10 <= delayed <= 30
    f = Faults()
    f.route("POST", {"rules": [{"fault": "error"}]})
    assert f.route("DELETE", {})["injected"]["requests"] == 0 and f.decide("ecs", "ListTasks") is None


def parse_error(service: str, operation: str, environ: dict[str, Any], rule: dict[str, Any],
                signing: str) -> dict[str, Any]:
    """The error dict botocore makes of our answer, with the service's resolved protocol."""
    model = botocore.session.get_session().get_service_model(service)
    status, headers, body = error_response(Rule.parse(rule), _protocol(environ), signing, environ)
    parser = create_parser(model.resolved_protocol)
    response = {"status_code": int(status.split()[0]), "headers": {k.lower(): v for k, v in headers},
                "body": body}
    parsed = parser.parse(response, model.operation_model(operation).output_shape)
    return {"status": response["status_code"], **parsed["Error"]}


def _protocol(environ: dict[str, Any]) -> str:
    from pipeline_py.local.moto_ext.faults import protocol_of

    return protocol_of(environ) or "?"


JSON11 = {"HTTP_X_AMZ_TARGET": "AmazonEC2ContainerServiceV20141113.UpdateService",
          "CONTENT_TYPE": "application/x-amz-json-1.1"}
JSON10 = {"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem", "CONTENT_TYPE": "application/x-amz-json-1.0"}
QUERY = {"CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8"}
CW_JSON = {"HTTP_X_AMZ_TARGET": "GraniteServiceVersion20100801.DescribeAlarms",
           "CONTENT_TYPE": "application/x-amz-json-1.0"}


@pytest.mark.parametrize(("service", "operation", "environ", "signing", "throttle_code"), [
    ("ecs", "UpdateService", JSON11, "ecs", "ThrottlingException"),
    ("dynamodb", "PutItem", JSON10, "dynamodb", "ThrottlingException"),
    ("elbv2", "ModifyListener", QUERY, "elasticloadbalancing", "Throttling"),
    ("cloudwatch", "DescribeAlarms", CW_JSON, "monitoring", "Throttling"),
])
def test_error_shapes_as_botocore_reads_them(service: str, operation: str, environ: dict[str, Any], signing: str,
                                             throttle_code: str) -> None:
    throttled = parse_error(service, operation, environ, {"fault": "throttle"}, signing)
    assert throttled["status"] == 400 and throttled["Code"] == throttle_code
    assert parse_error(service, operation, environ, {"fault": "error"}, signing)["Code"] == "ServiceUnavailable"
    after = parse_error(service, operation, environ, {"fault": "error_after", "status": 502}, signing)
    assert after == {**after, "status": 502, "Code": "InternalFailure"}


def test_cbor_error_body() -> None:
    from moto.core.cbor import loads

    body = cbor_map({"__type": "Throttling", "message": "Rate exceeded" * 3})
    assert loads(body) == {"__type": "Throttling", "message": "Rate exceeded" * 3}
    status, headers, raw = error_response(Rule.parse({"fault": "throttle"}), "cbor", "monitoring",
                                          {"HTTP_SMITHY_PROTOCOL": "rpc-v2-cbor"})
    assert status.startswith("400") and ("x-amzn-query-error", "Throttling;Sender") in headers
    assert loads(raw)["__type"] == "Throttling"

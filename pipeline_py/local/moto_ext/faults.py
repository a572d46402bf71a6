"""Faults: the ``faults`` control route and the wrappers that obey it.

Two kinds. Named faults with a count (``{"elbv2.ignore_weight_changes": N}``) change what one moto
action does. Rules (``{"rules": [...], "seed": 7}``) act on any AWS request before moto sees it
(``pipeline_py.local.server.ControlMiddleware`` asks ``Faults.decide``), each for a service, an
operation and a percentage of the matching requests, drawn from a seeded RNG:

- ``throttle``: 400 with the protocol's own throttling error (JSON ``__type``/``x-amzn-ErrorType``
  ``ThrottlingException``; query XML ``<ErrorResponse><Error><Code>Throttling``; RPC v2 CBOR with the
  ``x-amzn-query-error`` header of query-compatible services such as CloudWatch);
- ``error``: a 5xx (``status``, default 503) before the call reaches moto;
- ``error_after``: the call is applied, then answered with a 5xx (default 500): what a client sees when
  AWS did the work but the response was lost;
- ``latency``: ``ms`` milliseconds added before the call (combines with one of the others).

A rule: ``{"fault": "throttle", "service": "ecs", "operation": "UpdateService", "percent": 20,
"count": N}``; ``service`` is the signing name or its boto3 alias (``elbv2``, ``cloudwatch``),
``service``/``operation`` default to ``*``, ``count`` caps how often the rule fires.
"""


from __future__ import annotations

import copy
import json
import logging
import random
import threading
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from pipeline_py.local.moto_ext.core import current, original_of, patch_moto

log = logging.getLogger("pipeline_py.local")




# moto internals used here (pinned in tests/unit/moto_pins/):
#   moto.elbv2.responses.ELBV2Response: modify_listener, modify_rule (wrapped)
#   ELBv2Backend.describe_listeners(load_balancer_arn, listener_arns), describe_rules(listener_arn,
#   rule_arns); FakeListener.default_actions/rules; FakeRule.actions/is_default

FAULTS = {
    "elbv2.ignore_weight_changes": "the next N ModifyListener/ModifyRule calls that set a weighted forward "
                                   "action answer 200 but the listener/rule keeps its previous actions",
}


RULE_FAULTS = ("throttle", "error", "error_after", "latency")
# boto3 client names → the signing names requests carry in their credential scope
SERVICE_ALIASES = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing", "cloudwatch": "monitoring",
                   "autoscaling": "application-autoscaling", "application-autoscaling": "application-autoscaling"}
DEFAULT_STATUS = {"error": 503, "error_after": 500}
RESERVED_KEYS = ("rules", "seed")


@dataclass
class Rule:
    fault: str
    service: str = "*"
    operation: str = "*"
    percent: float = 100.0
    status: int | None = None
    ms: int = 0
    count: int | None = None
    fired: int = 0

    @classmethod
    def parse(cls, raw: Any) -> Rule:
        if not isinstance(raw, dict):
            raise ValueError(f"faults: a rule is a JSON object, not {raw!r}")
        unknown = set(raw) - {"fault", "service", "operation", "percent", "status", "ms", "count"}
        if unknown:
            raise ValueError(f"faults: unknown rule field(s) {', '.join(sorted(unknown))}")
        fault = raw.get("fault")
        if fault not in RULE_FAULTS:
            raise ValueError(f"faults: rule fault must be one of {', '.join(RULE_FAULTS)}, not {fault!r}")
        percent = raw.get("percent", 100)
        if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
            raise ValueError(f"faults: percent must be 0..100, not {percent!r}")
        status = raw.get("status", DEFAULT_STATUS.get(fault))
        if fault in DEFAULT_STATUS and (not isinstance(status, int) or not 500 <= status <= 599):
            raise ValueError(f"faults: status of an {fault} rule must be 500..599, not {status!r}")
        ms = raw.get("ms", 0)
        if fault == "latency" and (isinstance(ms, bool) or not isinstance(ms, int) or not 0 < ms <= 30_000):
            raise ValueError(f"faults: a latency rule needs ms in 1..30000, not {ms!r}")
        count = raw.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError(f"faults: count must be a whole number >= 1, not {count!r}")
        service = str(raw.get("service", "*"))
        return cls(fault=fault, service=SERVICE_ALIASES.get(service, service), operation=str(raw.get("operation", "*")),
                   percent=float(percent), status=status if fault in DEFAULT_STATUS else None,
                   ms=ms if fault == "latency" else 0, count=count)

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation) and (
            self.count is None or self.fired < self.count)


@dataclass
class Decision:
    """What to do to one request: wait ``latency`` seconds, then answer with ``error`` (if any)."""

    latency: float = 0.0
    error: Rule | None = None


@dataclass
class Injected:
    by_fault: Counter[str] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "by_fault": dict(self.by_fault),
                "by_operation": dict(sorted(self.by_operation.items()))}


class Faults:
    """Failures injected on purpose, so that clients' defences can be tested end to end."""

    def __init__(self) -> None:
        self.active: dict[str, int] = {}
        self.rules: list[Rule] = []
        self.seed = 0
        self.rng = random.Random(0)
        self.injected = Injected()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.active.clear()
            self.rules.clear()
            self.seed = 0
            self.rng = random.Random(0)
            self.injected = Injected()

    def decide(self, service: str, operation: str) -> Decision | None:
        """Which rules fire for this request (one draw per matching rule, in rule order)."""
        with self._lock:
            if not self.rules:
                return None
            self.injected.requests += 1
            decision = Decision()
            for rule in self.rules:
                if not rule.matches(service, operation):
                    continue
                if rule.fault != "latency" and decision.error is not None:
                    continue
                if self.rng.random() * 100 >= rule.percent:
                    continue
                rule.fired += 1
                self.injected.by_fault[rule.fault] += 1
                self.injected.by_operation[f"{service}.{operation} {rule.fault}"] += 1
                if rule.fault == "latency":
                    decision.latency += rule.ms / 1000
                else:
                    decision.error = rule
            return decision if decision.latency or decision.error else None

    def _set_rules(self, payload: dict[str, Any], replace: bool) -> None:
        if not isinstance(payload.get("rules", []), list):
            raise ValueError("faults: rules must be a list")
        rules = [Rule.parse(r) for r in payload.get("rules") or []]
        seed = payload.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"faults: seed must be a whole number, not {seed!r}")
        with self._lock:
            if replace:
                self.rules = []
                self.injected = Injected()
            self.rules.extend(rules)
            if seed is not None:
                self.seed = seed
                self.rng = random.Random(seed)

    def consume(self, name: str) -> bool:
        left = self.active.get(name, 0)
        if left <= 0:
            return False
        if left == 1:
            del self.active[name]
        else:
            self.active[name] = left - 1
        return True

    def route(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if method in ("POST", "PUT"):
            if not isinstance(payload, dict):
                raise ValueError("faults: expected a JSON object {\"<fault>\": N} and/or {\"rules\": [...]}")
            named = {k: v for k, v in payload.items() if k not in RESERVED_KEYS}
            for name, count in named.items():
                if name not in FAULTS:
                    raise ValueError(f"faults: unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
                if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                    raise ValueError(f"faults: {name} must be a whole number >= 0 (got {count!r})")
            self._set_rules(payload, replace=method == "PUT")
            if method == "PUT":
                self.active.clear()
            for name, count in named.items():
                if count:
                    self.active[name] = count
                else:
                    self.active.pop(name, None)
        injected = self.injected.to_dict()
        if method == "DELETE":  # the answer still tells what was injected until now
            self.clear()
        elif method not in ("GET", "POST", "PUT"):
            raise ValueError(f"faults: method {method} not allowed (GET, POST merges, PUT replaces, DELETE clears)")
        with self._lock:
            return {"faults": dict(self.active), "known": dict(FAULTS), "rules": [asdict(r) for r in self.rules],
                    "rule_faults": list(RULE_FAULTS), "seed": self.seed,
                    "injected": injected if method == "DELETE" else self.injected.to_dict()}


# ---- error answers in each protocol's own shape

QUERY_NAMESPACES = {"elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
                    "monitoring": "http://monitoring.amazonaws.com/doc/2010-08-01/",
                    "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}
REASONS = {400: "Bad Request", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def protocol_of(environ: dict[str, Any]) -> str | None:
    """``json``, ``query`` or ``cbor`` (smithy RPC v2), from the request; None for the others (REST)."""
    if environ.get("HTTP_SMITHY_PROTOCOL", "").startswith("rpc-v2-cbor"):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        return "query"
    return None


# Services that moved from the query protocol to JSON / RPC v2 CBOR and still answer errors with their
# query codes in ``x-amzn-query-error`` (``awsQueryCompatible`` in botocore's model). With botocore 1.44
# CloudWatch resolves to JSON (botocore prefers json over smithy-rpc-v2-cbor); ELBv2 and STS are query;
# ECS, DynamoDB, ECR, Application Auto Scaling and CloudWatch Logs are JSON.
QUERY_COMPATIBLE = frozenset({"monitoring", "sqs"})


def _error_code(rule: Rule, legacy: bool) -> tuple[str, str]:
    """(code, query type) of the error a rule answers with; ``legacy``: the query protocol's codes."""
    if rule.fault == "throttle":
        return ("Throttling" if legacy else "ThrottlingException"), "Sender"
    if rule.status == 503:
        return "ServiceUnavailable", "Receiver"
    return "InternalFailure", "Receiver"


def _cbor_text(value: str) -> bytes:
    data = value.encode("utf-8")
    n = len(data)
    head = bytes([0x60 | n]) if n < 24 else bytes([0x78, n]) if n < 256 else bytes([0x79]) + n.to_bytes(2, "big")
    return head + data


def cbor_map(values: dict[str, str]) -> bytes:
    """A CBOR map of text to text (all an RPC v2 error body needs; at most 23 entries)."""
    out = bytes([0xA0 | len(values)])
    for k, v in values.items():
        out += _cbor_text(k) + _cbor_text(v)
    return out


def error_response(rule: Rule, protocol: str, service: str, environ: dict[str, Any]
                   ) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of the error ``rule`` answers with, shaped as ``protocol``."""
    status = 400 if rule.fault == "throttle" else int(rule.status or 500)
    legacy = protocol in ("query", "cbor") or service in QUERY_COMPATIBLE
    code, kind = _error_code(rule, legacy)
    message = "Rate exceeded" if rule.fault == "throttle" else f"injected fault: {rule.fault} ({status})"
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "json":
        qualified = f"com.amazonaws.dynamodb.v20120810#{code}" if service == "dynamodb" else code
        body = json.dumps({"__type": qualified, "message": message}).encode()
        headers += [("Content-Type", environ.get("CONTENT_TYPE") or "application/x-amz-json-1.1"),
                    ("x-amzn-ErrorType", code)]
        if service in QUERY_COMPATIBLE:
            headers.append(("x-amzn-query-error", f"{code};{kind}"))
    elif protocol == "cbor":
        body = cbor_map({"__type": code, "message": message})
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                    ("x-amzn-query-error", f"{code};{kind}")]
    else:
        ns = QUERY_NAMESPACES.get(service, "")
        body = (f'<ErrorResponse xmlns="{ns}"><Error><Type>{kind}</Type><Code>{code}</Code>'
                f"<Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers += [("Content-Type", "text/xml")]
    headers.append(("Content-Length", str(len(body))))
    return f"{status} {REASONS.get(status, 'Error')}", headers, body


def install() -> None:
    from moto.elbv2.responses import ELBV2Response as R

    patch_moto(R, "modify_listener", _elb_modify_listener)
    patch_moto(R, "modify_rule", _elb_modify_rule)


def _sets_weights(actions: list[dict[str, Any]]) -> bool:
    return any(a.get("Type") == "forward" and (a.get("ForwardConfig") or {}).get("TargetGroups")
               for a in actions or [])


def _elb_modify_listener(self: Any) -> Any:
    fid = current()
    with fid.lock:
        fid.advance_metrics()
        original = original_of(type(self), "modify_listener")
        if not (_sets_weights(self._get_param("DefaultActions", []))
                and fid.faults.consume("elbv2.ignore_weight_changes")):
            return original(self)
        listener = self.elbv2_backend.describe_listeners(None, [self._get_param("ListenerArn")])[0]
        default_rule = next((r for r in listener.rules.values() if r.is_default), None)
        kept = (listener.default_actions, default_rule.actions if default_rule is not None else None)
        result = original(self)
        shown = copy.copy(listener)
        listener.default_actions = kept[0]
        if default_rule is not None:
            default_rule.actions = kept[1]
        result.result["Listeners"] = [shown]
        log.info("fault elbv2.ignore_weight_changes: ModifyListener %s accepted but not applied", listener.arn)
        return result


def _elb_modify_rule(self: Any) -> Any:
    fid = current()
    with fid.lock:
        fid.advance_metrics()
        original = original_of(type(self), "modify_rule")
        if not (_sets_weights(self._get_param("Actions", []))
                and fid.faults.consume("elbv2.ignore_weight_changes")):
            return original(self)
        rules = self.elbv2_backend.describe_rules(None, [self._get_param("RuleArn")])
        kept = rules[0].actions if rules else None
        result = original(self)
        if rules:
            shown = copy.copy(rules[0])
            rules[0].actions = kept
            result.result["Rules"] = [shown]
            log.info("fault elbv2.ignore_weight_changes: ModifyRule %s accepted but not applied", rules[0].arn)
        return result

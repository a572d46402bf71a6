"""The *traffic* port: ALB listener (or listener-rule) weights between the blue and green target
groups. Weights are read from AWS every time (never from local state) and verified after every
change by reading them back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code
from pipeline_py.clock import Clock
from pipeline_py.config import BlueGreenConfig
from pipeline_py.errors import BadInput

COLOURS = ("blue", "green")


def other(colour: str) -> str:
    return "green" if colour == "blue" else "blue"


class TrafficError(Exception):
    """Weights could not be set or did not read back as set."""


@dataclass(frozen=True)
class Topology:
    services: dict[str, str]
    target_groups: dict[str, str]
    listener_arn: str
    rule_arn: str | None
    test_listener_arn: str | None

    @classmethod
    def from_config(cls, bg: BlueGreenConfig, strategy: str) -> Topology:
        missing = [name for name, value in (
            ("blue_green.services.blue", bg.services.blue),
            ("blue_green.services.green", bg.services.green),
            ("blue_green.target_groups.blue", bg.target_groups.blue),
            ("blue_green.target_groups.green", bg.target_groups.green),
            ("blue_green.listener_arn", bg.listener_arn),
        ) if not value]
        if missing:
            raise BadInput(f"the {strategy} strategy needs two services behind weighted target groups; "
                           f"missing: {', '.join(missing)} (set them, or from_terraform_outputs: true)")
        if bg.services.blue == bg.services.green or bg.target_groups.blue == bg.target_groups.green:
            raise BadInput(f"the {strategy} strategy needs two different services and target groups for blue and green")
        return cls(
            services={"blue": bg.services.blue, "green": bg.services.green},  # type: ignore[dict-item]
            target_groups={"blue": bg.target_groups.blue, "green": bg.target_groups.green},  # type: ignore[dict-item]
            listener_arn=bg.listener_arn,  # type: ignore[arg-type]
            rule_arn=bg.rule_arn,
            test_listener_arn=bg.test_listener_arn,
        )

    def colour_of_target_group(self, arn: str) -> str | None:
        return next((c for c, tg in self.target_groups.items() if tg == arn), None)


def resolve(aws: AwsFactory, bg: BlueGreenConfig) -> BlueGreenConfig:
    """Fill in ARNs from names: target groups given by name, listeners by ALB name + port."""
    elbv2 = aws.client("elbv2")
    updates: dict[str, Any] = {}
    tgs = {c: getattr(bg.target_groups, c) for c in COLOURS}
    names = [v for v in tgs.values() if v and not v.startswith("arn:")]
    if names:
        try:
            found = {t["TargetGroupName"]: t["TargetGroupArn"]
                     for t in elbv2.describe_target_groups(Names=names)["TargetGroups"]}
        except ClientError as exc:
            raise BadInput(f"target group(s) {', '.join(names)} not found: {exc}") from None
        updates["target_groups"] = bg.target_groups.model_copy(
            update={c: found.get(v, v) for c, v in tgs.items() if v})
    if bg.load_balancer and (not bg.listener_arn or (bg.test_listener_port and not bg.test_listener_arn)):
        try:
            lb = elbv2.describe_load_balancers(Names=[bg.load_balancer])["LoadBalancers"][0]
        except (ClientError, IndexError):
            raise BadInput(f"load balancer {bg.load_balancer!r} not found") from None
        ports = {li["Port"]: li["ListenerArn"]
                 for li in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
        if not bg.listener_arn:
            if bg.listener_port not in ports:
                raise BadInput(f"load balancer {bg.load_balancer} has no listener on port {bg.listener_port} "
                               f"(ports: {sorted(ports)})")
            updates["listener_arn"] = ports[bg.listener_port]
        if bg.test_listener_port and not bg.test_listener_arn:
            if bg.test_listener_port not in ports:
                raise BadInput(f"load balancer {bg.load_balancer} has no test listener on port "
                               f"{bg.test_listener_port} (ports: {sorted(ports)})")
            updates["test_listener_arn"] = ports[bg.test_listener_port]
    return bg.model_copy(update=updates) if updates else bg


def forward_weights(actions: list[dict[str, Any]]) -> dict[str, int]:
    """Target group ARN → weight from a listener's/rule's actions (a plain forward is 100%)."""
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            return {g["TargetGroupArn"]: int(g.get("Weight", 1)) for g in groups}
        if action.get("TargetGroupArn"):
            return {action["TargetGroupArn"]: 100}
    return {}


class Traffic:
    def __init__(self, aws: AwsFactory, bg: BlueGreenConfig | Topology, strategy: str = "blue-green") -> None:
        self.aws = aws
        self.topology = bg if isinstance(bg, Topology) else Topology.from_config(resolve(aws, bg), strategy)

    @property
    def elbv2(self) -> Any:
        return self.aws.client("elbv2")

    def _actions(self) -> list[dict[str, Any]]:
        t = self.topology
        try:
            if t.rule_arn:
                rules = self.elbv2.describe_rules(RuleArns=[t.rule_arn])["Rules"]
                return rules[0]["Actions"] if rules else []
            listeners = self.elbv2.describe_listeners(ListenerArns=[t.listener_arn])["Listeners"]
            return listeners[0]["DefaultActions"] if listeners else []
        except ClientError as exc:
            if error_code(exc) in ("ListenerNotFound", "RuleNotFound"):
                raise BadInput(f"listener/rule not found: {t.rule_arn or t.listener_arn}") from None
            raise

    def read(self) -> dict[str, int]:
        """Weights per colour, as percentages (normalised when the listener's weights do not sum to 100)."""
        raw = forward_weights(self._actions())
        by_colour = {c: raw.get(tg, 0) for c, tg in self.topology.target_groups.items()}
        unknown = [arn for arn in raw if self.topology.colour_of_target_group(arn) is None and raw[arn] > 0]
        if unknown:
            raise TrafficError(f"the listener forwards to target groups outside blue/green: {', '.join(unknown)}")
        total = sum(by_colour.values())
        if total == 0:
            raise TrafficError("the listener forwards no traffic to either colour")
        if total != 100:
            by_colour = {c: round(100 * w / total) for c, w in by_colour.items()}
        return by_colour

    def live_colour(self, weights: dict[str, int] | None = None) -> str:
        w = weights or self.read()
        return max(COLOURS, key=lambda c: (w.get(c, 0), c == "blue"))

    def set(self, weights: dict[str, int]) -> None:
        """One modify_listener/modify_rule call carrying both target groups' weights."""
        action = {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": self.topology.target_groups[c], "Weight": int(weights.get(c, 0))}
                    for c in COLOURS
                ],
                "TargetGroupStickinessConfig": {"Enabled": False},
            },
        }
        if self.topology.rule_arn:
            self.elbv2.modify_rule(RuleArn=self.topology.rule_arn, Actions=[action])
        else:
            self.elbv2.modify_listener(ListenerArn=self.topology.listener_arn, DefaultActions=[action])

    def set_and_verify(self, weights: dict[str, int], clock: Clock, *, retries: int = 5,
                       interval: float = 1.0) -> dict[str, int]:
        """Set, read back, retry until the read-back matches; ``TrafficError`` when it never does."""
        want = {c: int(weights.get(c, 0)) for c in COLOURS}
        seen: dict[str, int] = {}
        last_error = ""
        for attempt in range(1, retries + 1):
            try:
                self.set(want)
                seen = self.read()
                if seen == want:
                    return seen
                last_error = f"read back {seen}"
            except (ClientError, TrafficError) as exc:
                last_error = str(exc)
            if attempt < retries:
                clock.sleep(interval)
        raise TrafficError(f"listener weights did not take effect after {retries} attempts: wanted {want}, "
                           f"{last_error}")

    def point_test_listener(self, colour: str) -> None:
        t = self.topology
        if not t.test_listener_arn:
            return
        self.elbv2.modify_listener(
            ListenerArn=t.test_listener_arn,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": t.target_groups[colour]}],
        )

    def test_listener_colour(self) -> str | None:
        t = self.topology
        if not t.test_listener_arn:
            return None
        actions = self.elbv2.describe_listeners(ListenerArns=[t.test_listener_arn])["Listeners"][0]["DefaultActions"]
        weights = forward_weights(actions)
        live = [arn for arn, w in weights.items() if w > 0]
        return t.colour_of_target_group(live[0]) if len(live) == 1 else None

    def load_balancer_arn(self) -> str:
        t = self.topology
        listener = self.elbv2.describe_listeners(ListenerArns=[t.listener_arn])["Listeners"][0]
        return listener["LoadBalancerArn"]

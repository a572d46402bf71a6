"""The targets and traffic-router ports on ELBv2: target health, and one listener's (or rule's)
weights between the blue and green target groups."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code
from pipeline_py.config import BlueGreenConfig
from pipeline_py.deploy.topology import COLOURS, Topology, forward_weights
from pipeline_py.deploy.views import TargetState
from pipeline_py.errors import BadInput


class ElbTargets:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    def health(self, target_group_arn: str) -> list[TargetState]:
        resp = self.aws.client("elbv2").describe_target_health(TargetGroupArn=target_group_arn)
        out = []
        for d in resp.get("TargetHealthDescriptions", []):
            th = d.get("TargetHealth", {})
            out.append(TargetState(id=d["Target"]["Id"], port=d["Target"].get("Port"),
                                   state=th.get("State", "unknown"), reason=th.get("Reason"),
                                   description=th.get("Description")))
        return out

    def deregistration_delay(self, target_group_arn: str) -> float | None:
        try:
            attrs = self.aws.client("elbv2").describe_target_group_attributes(TargetGroupArn=target_group_arn)
        except ClientError:
            return None
        for a in attrs.get("Attributes", []):
            if a.get("Key") == "deregistration_delay.timeout_seconds":
                try:
                    return float(a["Value"])
                except (TypeError, ValueError):
                    return None
        return None


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


class ListenerRouter:
    def __init__(self, aws: AwsFactory, topology: Topology) -> None:
        self.aws = aws
        self.topology = topology

    @classmethod
    def from_config(cls, aws: AwsFactory, bg: BlueGreenConfig, strategy: str) -> ListenerRouter:
        return cls(aws, Topology.from_config(resolve(aws, bg), strategy))

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

    def weights(self) -> dict[str, int]:
        return self.topology.weights_from_actions(self._actions())

    def set_weights(self, weights: dict[str, int]) -> None:
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
        live = [arn for arn, w in forward_weights(actions).items() if w > 0]
        return t.colour_of_target_group(live[0]) if len(live) == 1 else None

    def load_balancer_arn(self) -> str:
        listener = self.elbv2.describe_listeners(ListenerArns=[self.topology.listener_arn])["Listeners"][0]
        return str(listener["LoadBalancerArn"])

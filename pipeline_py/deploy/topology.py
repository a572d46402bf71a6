"""The two-colour topology: which ECS service and target group is blue and which is green, and the
listener (or rule) that weighs them. Pure: the names are resolved to ARNs by the router adapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline_py.config import BlueGreenConfig
from pipeline_py.errors import BadInput

COLOURS = ("blue", "green")


def other(colour: str) -> str:
    return "green" if colour == "blue" else "blue"


class TrafficError(Exception):
    """Weights could not be read or set, or did not read back as set."""


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
        assert bg.services.blue and bg.services.green and bg.target_groups.blue and bg.target_groups.green
        assert bg.listener_arn
        return cls(
            services={"blue": bg.services.blue, "green": bg.services.green},
            target_groups={"blue": bg.target_groups.blue, "green": bg.target_groups.green},
            listener_arn=bg.listener_arn,
            rule_arn=bg.rule_arn,
            test_listener_arn=bg.test_listener_arn,
        )

    def colour_of_target_group(self, arn: str) -> str | None:
        return next((c for c, tg in self.target_groups.items() if tg == arn), None)

    def colour_of_service(self, name: str) -> str | None:
        return next((c for c, s in self.services.items() if s == name), None)

    def weights_from_actions(self, actions: list[dict[str, Any]]) -> dict[str, int]:
        """Percent per colour from a listener's or rule's actions (normalised to 100)."""
        raw = forward_weights(actions)
        by_colour = {c: raw.get(tg, 0) for c, tg in self.target_groups.items()}
        unknown = [arn for arn in raw if self.colour_of_target_group(arn) is None and raw[arn] > 0]
        if unknown:
            raise TrafficError(f"the listener forwards to target groups outside blue/green: {', '.join(unknown)}")
        total = sum(by_colour.values())
        if total == 0:
            raise TrafficError("the listener forwards no traffic to either colour")
        if total != 100:
            by_colour = {c: round(100 * w / total) for c, w in by_colour.items()}
        return by_colour


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


def live_colour(weights: dict[str, int]) -> str:
    """The colour carrying most traffic (blue on a tie)."""
    return max(COLOURS, key=lambda c: (weights.get(c, 0), c == "blue"))

"""The scaling port on Application Auto Scaling: a service's ``ecs:service:DesiredCount`` bounds."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from pipeline_py.aws import AwsFactory, error_code

DIMENSION = "ecs:service:DesiredCount"


class AppAutoScaling:
    def __init__(self, aws: AwsFactory) -> None:
        self.aws = aws

    @property
    def client(self) -> Any:
        return self.aws.client("application-autoscaling")

    @staticmethod
    def resource_id(cluster: str, service: str) -> str:
        return f"service/{cluster}/{service}"

    def bounds(self, cluster: str, service: str) -> tuple[int, int] | None:
        """None when the service has no scalable target, or the role may not read them (then
        autoscaling is not something this deploy can manage, and it is left alone)."""
        try:
            resp = self.client.describe_scalable_targets(
                ServiceNamespace="ecs", ResourceIds=[self.resource_id(cluster, service)], ScalableDimension=DIMENSION)
        except ClientError as exc:
            if error_code(exc) in ("AccessDeniedException", "AccessDenied"):
                return None
            raise
        targets = resp.get("ScalableTargets", [])
        if not targets:
            return None
        return int(targets[0]["MinCapacity"]), int(targets[0]["MaxCapacity"])

    def set_bounds(self, cluster: str, service: str, minimum: int, maximum: int) -> None:
        self.client.register_scalable_target(
            ServiceNamespace="ecs", ResourceId=self.resource_id(cluster, service), ScalableDimension=DIMENSION,
            MinCapacity=minimum, MaxCapacity=maximum)

"""The AWS adapters of the deploy engine's ports, built in one place from the one boto3 factory."""

from __future__ import annotations

from pipeline_py.aws import AwsFactory
from pipeline_py.clock import Clock
from pipeline_py.config import DEFAULT_LOCK_TABLE, BlueGreenConfig
from pipeline_py.deploy.adapters.autoscaling import AppAutoScaling
from pipeline_py.deploy.adapters.cloudwatch import CloudWatchAlarms, CloudWatchMetrics
from pipeline_py.deploy.adapters.dynamodb import DynamoLocks
from pipeline_py.deploy.adapters.ecs import EcsServices
from pipeline_py.deploy.adapters.elbv2 import ElbTargets, ListenerRouter
from pipeline_py.deploy.ports import Ports
from pipeline_py.deploy.topology import Topology
from pipeline_py.report import Reporter


def aws_ports(aws: AwsFactory, reporter: Reporter, clock: Clock, *, lock_table: str = DEFAULT_LOCK_TABLE) -> Ports:
    def router_for(bg: BlueGreenConfig, strategy: str) -> ListenerRouter:
        return ListenerRouter.from_config(aws, bg, strategy)

    def metrics_for(load_balancer_arn: str, period: int) -> CloudWatchMetrics:
        return CloudWatchMetrics(aws.client("cloudwatch"), load_balancer_arn, period)

    def topology_router(topology: Topology) -> ListenerRouter:
        return ListenerRouter(aws, topology)

    return Ports(
        services=EcsServices(aws, clock),
        targets=ElbTargets(aws),
        alarms=CloudWatchAlarms(aws),
        scaling=AppAutoScaling(aws),
        locks=DynamoLocks(aws, lock_table),
        reporter=reporter,
        clock=clock,
        router_for=router_for,
        metrics_for=metrics_for,
        api_calls=aws.counter.snapshot,
        topology_router=topology_router,
    )

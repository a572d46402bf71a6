"""The bundle of ports and helpers a strategy runs with."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline_py.aws import AwsFactory
from pipeline_py.clock import Clock
from pipeline_py.deploy.ecs import Alarms, EcsServices, Targets
from pipeline_py.deploy.watch import DeploymentWatcher, EventLog
from pipeline_py.report import Reporter


@dataclass
class Ports:
    aws: AwsFactory
    reporter: Reporter
    clock: Clock
    services: EcsServices = field(init=False)
    targets: Targets = field(init=False)
    alarms: Alarms = field(init=False)
    log: EventLog = field(init=False)

    def __post_init__(self) -> None:
        self.services = EcsServices(self.aws)
        self.targets = Targets(self.aws)
        self.alarms = Alarms(self.aws)
        self.log = EventLog(self.reporter)

    @property
    def watcher(self) -> DeploymentWatcher:
        return DeploymentWatcher(self.services, self.alarms, self.targets, self.reporter, self.clock, self.log)

"""What a deploy is asked to do, built once from the effective settings and the command's options.

Every strategy takes the same request; each reads the fields it needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline_py.config import BlueGreenConfig, CanaryConfig, LockConfig, NativeConfig, Settings, SmokeCheck
from pipeline_py.errors import BadInput

_AS_SET = ("desired_count", "timeout", "poll_interval", "rollback_timeout", "max_failed_tasks", "bake_seconds",
           "preexisting_alarms", "alarm_grace", "smoke", "blue_green", "canary", "native", "lock")
"""Request fields that take the setting of the same name as it is."""


@dataclass
class DeployRequest:
    strategy: str
    cluster: str
    service: str
    """The ECS service of a rolling deploy (``ecs_service``, default ``service``)."""
    label: str = ""
    """The service identity (``service``) and environment, for narration."""
    task_definition: dict[str, Any] | None = None
    task_definition_arn: str | None = None
    desired_count: int | None = None
    force_new_deployment: bool = False
    pause_at: int | None = None
    pause_at_stage: str | None = None
    """ECS-native strategies: leave the deployment waiting at the PAUSE hook of this lifecycle stage."""
    timeout: float = 900.0
    poll_interval: float = 5.0
    rollback_timeout: float = 600.0
    max_failed_tasks: int = 3
    bake_seconds: float = 0.0
    alarms: list[str] = field(default_factory=list)
    preexisting_alarms: str = "wait"
    alarm_grace: float = 300.0
    smoke: SmokeCheck | None = None
    blue_green: BlueGreenConfig = field(default_factory=BlueGreenConfig)
    canary: CanaryConfig = field(default_factory=CanaryConfig)
    native: NativeConfig = field(default_factory=NativeConfig)
    lock: LockConfig = field(default_factory=LockConfig)
    wait_for_lock: float | None = None
    """``--wait-for-lock``; None = ``lock.wait``"""

    @classmethod
    def from_settings(cls, s: Settings, *, env: str | None = None, strategy: str | None = None,
                      **kw: Any) -> DeployRequest:
        if not s.cluster:
            raise BadInput("no cluster configured for this environment (set `cluster`, or from_terraform_outputs)")
        req = cls(
            strategy=strategy or s.strategy,
            cluster=s.cluster,
            service=s.service_name,
            label=f"{s.service}" + (f" in {env}" if env else ""),
            alarms=list(s.alarms),
            **{name: getattr(s, name) for name in _AS_SET},
            **kw,
        )
        if req.pause_at is not None and not 0 < req.pause_at < 100:
            raise BadInput(f"--pause-at {req.pause_at}: must be a traffic percentage between 1 and 99")
        return req

    def lock_services(self) -> list[str]:
        """The services a deploy of this request changes (what its lock covers)."""
        bg = self.blue_green
        if self.strategy in ("blue-green", "canary", "linear") and bg.services.blue and bg.services.green:
            return [bg.services.blue, bg.services.green]
        return [self.service]

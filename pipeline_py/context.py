"""What every command receives: parsed options, narration, the clock, config and AWS access."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any

from pipeline_py.aws import ApiCallCounter, AwsFactory, AwsSettings
from pipeline_py.clock import Clock, SystemClock
from pipeline_py.config import LoadedConfig, Settings, load_config, parse_assignment
from pipeline_py.errors import BadInput
from pipeline_py.report import Reporter


@dataclass
class Context:
    args: argparse.Namespace
    reporter: Reporter
    clock: Clock = field(default_factory=SystemClock)
    counter: ApiCallCounter = field(default_factory=ApiCallCounter)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    _loaded: LoadedConfig | None = None
    _aws: AwsFactory | None = None

    @property
    def json(self) -> bool:
        return bool(getattr(self.args, "json", False))

    @property
    def dry_run(self) -> bool:
        return bool(getattr(self.args, "dry_run", False))

    @property
    def env(self) -> str | None:
        return getattr(self.args, "env", None) or self.environ.get("PIPELINE_PY_ENV") or None

    @property
    def config_path(self) -> str:
        return getattr(self.args, "config", None) or self.environ.get("PIPELINE_PY_CONFIG") or "pipeline.yaml"

    def loaded(self) -> LoadedConfig:
        if self._loaded is None:
            self._loaded = load_config(self.config_path)
        return self._loaded

    def require_env(self) -> str:
        env = self.env
        if not env:
            known = ", ".join(self.loaded().environments) or "none defined"
            raise BadInput(f"this command needs --env NAME (known environments: {known})")
        return env

    def set_overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for item in getattr(self.args, "set", None) or []:
            k, v = parse_assignment(item, "--set")
            self.reporter.redact.add_named(k.rsplit(".", 1)[-1], v)
            out[k] = v
        return out

    def settings(self, overrides: dict[str, Any] | None = None, *, env_required: bool = True,
                 sources: dict[str, str] | None = None) -> Settings:
        """Effective settings: file < env section < params file < flags.

        ``overrides`` are the command's own options mapped to config paths (only those given);
        ``--set`` pairs come last since they are the most explicit.
        """
        env = self.require_env() if env_required else self.env
        merged = dict(overrides or {})
        sets = self.set_overrides()
        merged.update(sets)
        named = {**(sources or {}), **{k: f"--set {k}" for k in sets}}
        return self.loaded().settings(env, merged, sources=named)

    def aws(self, settings: Settings | None = None) -> AwsFactory:
        if self._aws is None:
            s = settings
            self._aws = AwsFactory(
                AwsSettings(
                    region=(s.region if s else None) or self.environ.get("AWS_REGION")
                    or self.environ.get("AWS_DEFAULT_REGION"),
                    profile=s.profile if s else None,
                    role_arn=s.role_arn if s else None,
                    external_id=s.external_id if s else None,
                ),
                counter=self.counter,
            )
        return self._aws

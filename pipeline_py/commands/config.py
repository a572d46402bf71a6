"""``pipeline-py config``: print the effective, validated configuration for an environment."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command

if TYPE_CHECKING:
    from pipeline_py.context import Context


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    loaded = ctx.loaded()
    settings = ctx.settings(env_required=False)
    ctx.reporter.info(f"{loaded.path}: valid ({len(loaded.environments)} environments: "
                      f"{', '.join(loaded.environments) or 'none'})")
    return {
        "config_file": str(loaded.path),
        "env": ctx.env,
        "environments": loaded.environments,
        "config": settings.model_dump(mode="json", by_alias=True),
    }


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    add_command(subparsers, add_globals, "config", run,
                "print the effective, validated config for an environment")

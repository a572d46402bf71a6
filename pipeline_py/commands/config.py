"""``pipeline-py config``: print the effective, validated configuration for an environment."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command

if TYPE_CHECKING:
    from pipeline_py.context import Context


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any] | None:
    from pipeline_py.commands._shared import check_template

    loaded = ctx.loaded()
    settings = ctx.settings(env_required=False)
    loaded.check_templates()
    check_template(ctx, settings)  # as --set made it
    ctx.reporter.info(f"{loaded.path}: valid ({len(loaded.environments)} environments: "
                      f"{', '.join(loaded.environments) or 'none'})")
    config = settings.model_dump(mode="json", by_alias=True)
    if not ctx.json:
        import yaml

        # no line folding: a folded value could not be recognised (and redacted) as one string
        text = yaml.safe_dump(config, sort_keys=False, width=2**31 - 1, allow_unicode=True)
        print(ctx.reporter.redact(text), end="", flush=True)
        return None
    return {
        "config_file": str(loaded.path),
        "env": ctx.env,
        "environments": loaded.environments,
        "config": config,
    }


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    add_command(subparsers, add_globals, "config", run,
                "print the effective, validated config for an environment")

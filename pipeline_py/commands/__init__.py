"""One module per verb (ecspresso-style). Each module defines ``register(subparsers, add_globals)``.

Modules are discovered, so adding a verb never edits the CLI. A handler is ``run(ctx, args)``
returning the result dict (exit 0) or raising a ``PipelineError`` (exit 1/2/3).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

AddGlobals = Callable[[argparse.ArgumentParser], None]


def register_all(subparsers: Any, add_globals: AddGlobals) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers, add_globals)


def add_command(
    subparsers: Any,
    add_globals: AddGlobals,
    name: str,
    handler: Callable[..., Any],
    help: str,
    *,
    path: list[str] | None = None,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """Add one (sub)command parser with the global options and its handler wired in."""
    p = subparsers.add_parser(name, help=help, description=description or help)
    add_globals(p)
    p.set_defaults(handler=handler, command_path=path or [name])
    return p


def add_group(subparsers: Any, add_globals: AddGlobals, name: str, help: str) -> Any:
    """A command with sub-actions (``local up``, ``terraform plan``, ``jenkins sync``)."""
    p = subparsers.add_parser(name, help=help, description=help)
    add_globals(p)
    sub = p.add_subparsers(dest=f"{name}_action", metavar="ACTION", parser_class=type(p))
    sub.required = True
    return sub

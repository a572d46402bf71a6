"""``pipeline-py build``: build the service image with tags from git/Jenkins/flags and OCI labels.

Writes ``<config dir>/.pipeline-py/last-build.json`` so ``push`` finds the image without
copy-paste. ``--dry-run`` shows the tags, labels and build args and needs no Docker engine.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command

if TYPE_CHECKING:
    from pipeline_py.context import Context


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.images.build import build_image, plan_build
    from pipeline_py.images.state import write_last_build

    overrides = {k: v for k, v in {"image.target": args.target, "image.platform": args.platform}.items()
                 if v is not None}
    settings = ctx.settings(overrides, env_required=False)
    base_dir = ctx.loaded().base_dir.resolve()
    plan = plan_build(
        settings.image, repository=settings.repository, service=settings.service, base_dir=base_dir,
        environ=ctx.environ, now=ctx.clock.utcnow(), cli_tags=args.tag or [],
        cli_build_args=args.build_arg or [], cli_cache_from=args.cache_from or [], no_cache=args.no_cache,
    )
    for note in plan.source.notes:
        ctx.reporter.warn(note)
    for t in plan.tags:
        ctx.reporter.detail(f"tag {t.tag}  ({t.source})")
    if ctx.dry_run:
        ctx.reporter.info(f"dry run: would build {plan.references[0]} from {plan.dockerfile}")
        return {"dry_run": True, **plan.describe()}
    from pipeline_py.images.engine import connect

    result = build_image(connect(), plan, ctx.reporter, ctx.clock)
    state = write_last_build(base_dir, {
        "image_id": result["image_id"],
        "repository": result["repository"],
        "tags": result["tags"],
        "references": result["references"],
        "built_at": ctx.clock.utcnow().isoformat(),
    })
    return {**result, "state_file": str(state)}


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "build", run,
                    "build the service image (tags from git/Jenkins, OCI labels, build log streamed)")
    p.add_argument("--tag", action="append", metavar="TAG", help="extra tag (repeatable)")
    p.add_argument("--build-arg", action="append", metavar="NAME=VALUE",
                   help="build argument; NAME alone takes the value from the environment (repeatable)")
    p.add_argument("--target", help="Dockerfile stage to build (overrides image.target)")
    p.add_argument("--platform", help="target platform, e.g. linux/amd64 (overrides image.platform)")
    p.add_argument("--cache-from", action="append", metavar="REF",
                   help="local image to use as layer cache (repeatable; added to image.cache_from)")
    p.add_argument("--no-cache", action="store_true", help="do not use the layer cache")

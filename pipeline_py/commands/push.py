"""``pipeline-py push``: push the built image to ECR under every tag; the result pins it by digest.

Without ``--image`` the image and its tags come from ``.pipeline-py/last-build.json`` (written by
``build``). Writes ``.pipeline-py/last-push.json`` whose ``image`` (``<repository_uri>@sha256:…``)
``render``/``deploy`` use when no ``--image`` is given. ``--dry-run`` shows the repository, which
tags would be pushed, which are unchanged and what would be created, and changes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline_py.commands import AddGlobals, add_command
from pipeline_py.errors import OperationFailed

if TYPE_CHECKING:
    from pipeline_py.config import Settings
    from pipeline_py.context import Context


def _source(ctx: Context, settings: Settings, base_dir: Path, args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """The local image and its tags: ``--image`` (tags derived now), else the last build."""
    from pipeline_py.images.state import read_last_build
    from pipeline_py.images.tags import derive_tags, read_source_info, validate_tag

    extra = [validate_tag(t, "--tag") for t in args.tag or []]
    last = None if args.image else read_last_build(base_dir)
    if last is not None:
        ctx.reporter.detail(f"image {last['image_id'][:19]} from the last build ({', '.join(last['tags'])})")
        return last["image_id"], list(dict.fromkeys([*last["tags"], *extra]))
    info = read_source_info(base_dir / settings.image.context, ctx.environ)
    derived = derive_tags(info, immutable=settings.image.tag_immutability, now=ctx.clock.utcnow(),
                          config_tags=settings.image.tags, cli_tags=extra)
    return args.image, [t.tag for t in derived]


def run(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from pipeline_py.images.build import validate_repository
    from pipeline_py.images.push import PushRequest, push_image
    from pipeline_py.images.state import write_last_push

    settings = ctx.settings(env_required=False)
    base_dir = ctx.loaded().base_dir.resolve()
    repository = validate_repository(settings.repository)
    image_ref, tags = _source(ctx, settings, base_dir, args)
    from pipeline_py.images.engine import connect

    try:
        client = connect()
    except OperationFailed:
        if not ctx.dry_run:
            raise
        client = None
    result = push_image(
        PushRequest(repository=repository, image_ref=image_ref, tags=tags, config=settings.image),
        docker_client=client, ecr_client=ctx.aws(settings).client("ecr"), reporter=ctx.reporter,
        clock=ctx.clock, environ=ctx.environ, dry_run=ctx.dry_run,
    )
    if ctx.dry_run:
        return result
    state = write_last_push(base_dir, {
        "image": result["image"],
        "repository_uri": result["repository_uri"],
        "digest": result["digest"],
        "tags": result["tags"],
        "pushed_at": ctx.clock.utcnow().isoformat(),
    })
    return {**result, "state_file": str(state)}


def register(subparsers: Any, add_globals: AddGlobals) -> None:
    p = add_command(subparsers, add_globals, "push", run,
                    "push the built image to ECR (repository ensured, immutable tags checked, digest pinned)")
    p.add_argument("--tag", action="append", metavar="TAG", help="extra tag (repeatable)")
    p.add_argument("--image", metavar="REF",
                   help="local image id or reference to push (default: the last `build` of this config directory)")
